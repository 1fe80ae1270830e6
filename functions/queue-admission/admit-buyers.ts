import { Hono } from 'hono';
import { replaceSessions } from '../../lib/booking/queue/sessions.ts';
import type { LineUpdate } from '../../lib/booking/queue/updates.ts';
import { publishLineUpdate } from '../../lib/booking/queue/updates.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { metrics } from '../../lib/platform/metrics.ts';
import type { Services } from '../../lib/services.ts';
import {
  activeAndLeft,
  admit,
  endBookedSessions,
  lockLine,
  type OpenLine,
  openLines,
  runningSessions,
  saveLine,
  shufflePrequeue,
} from './queries.ts';

/**
 * POST / (from the schedule trigger, every QUEUE_TICK_MS): one run over every open waiting room.
 * For each, in one transaction on the line's row:
 * 1. at on-sale, the pre-queue is placed by lot in front of everyone who joined since;
 * 2. sessions under which a booking was confirmed end;
 * 3. it lets in the next buyers in line: as many as the time since the last run earned at
 *    admit_per_minute (never more than one run's share at once), while sessions stay within
 *    max_active and within the seats not yet booked × QUEUE_ADMIT_FACTOR;
 * 4. with no seat left it marks the line sold out (and lifts that when seats come back).
 * Then it rewrites the event's sessions in Redis for `book`, which also refills a restarted Redis,
 * and tells every stream the line's state. Credit is earned by the database's clock since the
 * last run of any instance, so several instances share the rate rather than multiply it.
 */
export const admitBuyers = new Hono<AppEnv>().post('/', async (c) => {
  const services = c.get('services');
  const logger = c.get('logger');
  const lines = await openLines(services.db);
  const failed: number[] = [];
  let admitted = 0;
  for (const line of lines) {
    try {
      admitted += await runLine(services, line);
    } catch (error) {
      failed.push(line.eventId);
      logger.error(
        { err: error, eventId: line.eventId },
        'could not run a waiting room; the next run retries',
      );
    }
  }
  metrics.queueAdmitted.inc(admitted);
  const counts = { lines: lines.length, admitted, failed };
  if (admitted > 0) logger.info(counts, 'let buyers in');
  else logger.debug(counts, 'waiting rooms run');
  return c.json(counts, failed.length > 0 ? 500 : 200);
});

async function runLine(services: Services, { eventId, onSaleAt, settings }: OpenLine): Promise<number> {
  const { config } = services;
  const perRun = Math.max(1, (settings.admit_per_minute * config.QUEUE_TICK_MS) / 60_000);
  const outcome = await services.db.transaction(async (tx) => {
    const line = await lockLine(tx, eventId);
    if (!line) return undefined;
    let { shuffled } = line;
    if (!shuffled && (onSaleAt === null || line.now >= onSaleAt)) {
      await shufflePrequeue(tx, eventId);
      shuffled = true;
    }
    const ended = await endBookedSessions(tx, eventId);
    const { active, seatsLeft } = await activeAndLeft(tx, eventId);
    const earned = ((line.sinceLastTickMs ?? config.QUEUE_TICK_MS) * settings.admit_per_minute) / 60_000;
    let credit = Math.min(perRun, line.admitCredit + earned);
    let count = 0;
    if (shuffled) {
      const capacity = Math.floor(seatsLeft * config.QUEUE_ADMIT_FACTOR);
      count = Math.max(
        0,
        Math.min(
          Math.floor(credit),
          settings.max_active - active,
          capacity - active,
          line.joined - line.admittedThrough,
        ),
      );
      if (count > 0) await admit(tx, eventId, line.admittedThrough, count, settings.session_minutes);
      credit -= count;
    }
    const update: LineUpdate = {
      eventId,
      admittedThrough: line.admittedThrough + count,
      soldOut: seatsLeft === 0,
      shuffled,
      ended,
    };
    await saveLine(tx, eventId, { ...update, admitCredit: credit });
    return { update, sessions: await runningSessions(tx, eventId), count };
  });
  if (!outcome) return 0;
  await replaceSessions(services, eventId, outcome.sessions);
  await publishLineUpdate(services, outcome.update);
  return outcome.count;
}
