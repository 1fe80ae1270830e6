import { Hono } from 'hono';
import type { AppEnv } from '../../lib/platform/env.ts';
import { metrics } from '../../lib/platform/metrics.ts';
import { seatTruths } from './queries.ts';

/**
 * POST / (from the schedule trigger): for each event whose seats are in Redis, reads its seats
 * from Postgres and applies them to Redis wherever they differ, unless Redis already shows a newer
 * version (a change the projector applied after this read). Holds are left alone. Repairs are
 * announced on the seat stream like any change. One event that fails does not stop the others
 * (it is logged as an error and listed in `failed`); the next run tries it again. If Redis cannot
 * list the cached events the run fails as a whole (500) and the trigger logs it.
 */
export const reconcile = new Hono<AppEnv>().post('/', async (c) => {
  const { db, seats } = c.get('services');
  const logger = c.get('logger');
  const eventIds = await seats.cachedEventIds();
  const repairs: { eventId: number; seatIds: number[] }[] = [];
  const failures: { eventId: number; reason: string }[] = [];

  for (const eventId of eventIds) {
    try {
      const { repairedSeatIds } = await seats.syncFromPostgres(eventId, await seatTruths(db, eventId), {
        announce: true,
      });
      if (repairedSeatIds.length > 0) repairs.push({ eventId, seatIds: repairedSeatIds });
    } catch (error) {
      failures.push({ eventId, reason: error instanceof Error ? error.message : String(error) });
    }
  }

  const counts = {
    events: eventIds.length,
    repaired: repairs.reduce((sum, repair) => sum + repair.seatIds.length, 0),
    failed: failures.map((failure) => failure.eventId),
  };
  metrics.reconcilerRepairs.inc(counts.repaired);
  // Drift should be rare: every repair is a warning naming its seats, so it is seen and explained.
  if (failures.length > 0) logger.error({ ...counts, repairs, failures }, 'reconciled with failures');
  else if (repairs.length > 0) logger.warn({ ...counts, repairs }, 'reconciled: repaired drift');
  else logger.info(counts, 'reconciled');
  return c.json(counts);
});
