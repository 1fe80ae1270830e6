import { Hono } from 'hono';
import {
  bookingCancelled,
  bookingConfirmed,
  bookingRejected,
  cancelRejected,
  type DecidedRequest,
  decidedOutcome,
  findDecided,
  type OutcomeOf,
  type RequestOutcome,
  type RequestSeat,
  seatsOfRequests,
} from '../../lib/booking/decided.ts';
import { type BookedSeat, BookingCommand, decodeMessage, encodeMessage } from '../../lib/booking/messages.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { KafkaBatchSchema } from '../../lib/platform/kafka/batch.ts';
import { metrics } from '../../lib/platform/metrics.ts';
import { messageSpan } from '../../lib/platform/tracing.ts';
import { validate } from '../../lib/platform/validation.ts';
import { type Decision, decide } from './decide.ts';
import { applyDecisions, loadContext } from './queries.ts';

/**
 * POST / with one batch of `booking-commands` (from the Kafka trigger): decides every command in
 * order in one Postgres transaction, then publishes each outcome to `booking-events`. Answering
 * only after the outcomes are on Kafka means a crash at any point replays the batch, and the
 * replay re-announces what was decided instead of deciding it again.
 */
export const processBatch = new Hono<AppEnv>().post('/', validate('json', KafkaBatchSchema), async (c) => {
  const { db, kafka, logger } = c.get('services');
  const parsed = parseCommands(c.req.valid('json').messages);
  const commands = parsed.map(({ command }) => command);
  // Each command's span, in the trace of the request that sent it, for as long as its batch runs.
  const spans = new Map(
    parsed.map(({ command, headers }) => [
      command.requestId,
      messageSpan('booking-processor decide', headers, { 'seatrush.request_id': command.requestId }),
    ]),
  );

  const { decided, fresh, changedSeats, decidedSeats } = await db.transaction(async (tx) => {
    const decided = await findDecided(
      tx,
      commands.map((command) => command.requestId),
    );
    const pending = commands.filter((command) => !decided.has(command.requestId));
    const fresh = pending.length ? decide(pending, await loadContext(tx, pending)) : [];
    const changedSeats = fresh.length ? await applyDecisions(tx, fresh) : new Map<string, BookedSeat[]>();
    const decidedSeats =
      decided.size > 0 ? await seatsOfRequests(tx, [...decided.values()]) : new Map<string, RequestSeat[]>();
    return { decided, fresh, changedSeats, decidedSeats };
  });

  const decidedAt = new Date().toISOString();
  const freshById = new Map(fresh.map((decision) => [decision.command.requestId, decision]));
  const outcomes = commands.flatMap((command) => {
    const headers = spans.get(command.requestId)?.headers;
    const decision = freshById.get(command.requestId);
    if (decision)
      return [
        encodeMessage(outcomeOf(decision, changedSeats.get(command.requestId) ?? [], decidedAt), headers),
      ];
    const request = decided.get(command.requestId) as DecidedRequest;
    return replayedOutcomeOf(command, request, decidedSeats.get(command.requestId) ?? []).map((outcome) =>
      encodeMessage(outcome, headers),
    );
  });
  await kafka.send('bookingEvents', outcomes);
  for (const span of spans.values()) span.end();

  const confirmed = countDecisions(fresh, c.get('services').config.HOLD_TTL_MS);
  logger.info(
    { commands: commands.length, fresh: fresh.length, confirmed, replayed: decided.size },
    'decided',
  );
  return c.json({ decided: fresh.length, replayed: decided.size });
});

/**
 * Counts the batch's fresh decisions in the metrics; the bookings confirmed. A request decided
 * later than its hold's TTL after it was made had its hold lapse in Redis meanwhile (the seat was
 * open to another buyer there, and only Postgres kept it one owner's): counted as expired holds.
 */
function countDecisions(fresh: readonly Decision[], holdTtlMs: number): number {
  let confirmed = 0;
  const now = Date.now();
  for (const decision of fresh) {
    if (decision.kind === 'confirm') {
      confirmed++;
      metrics.bookingsConfirmed.inc();
    } else if (decision.kind === 'reject') {
      metrics.bookingsRejected.inc({ reason: decision.reason });
    } else continue;
    const { command } = decision;
    if (command.holdToken && now - Date.parse(command.requestedAt) > holdTtlMs)
      metrics.holdsExpired.inc(command.seatIds.length);
  }
  return confirmed;
}

/**
 * The batch's commands, each with its message's headers; duplicates (a producer retry) count
 * once; a message that is not a command makes it a 422.
 */
function parseCommands(
  messages: { offset: string; value: string | null; headers: Record<string, string> }[],
): { command: BookingCommand; headers: Record<string, string> }[] {
  const byRequest = new Map<string, { command: BookingCommand; headers: Record<string, string> }>();
  for (const message of messages) {
    const command = decodeMessage(BookingCommand, message);
    if (!byRequest.has(command.requestId))
      byRequest.set(command.requestId, { command, headers: message.headers });
  }
  return [...byRequest.values()];
}

function outcomeOf(decision: Decision, bookings: BookedSeat[], decidedAt: string): RequestOutcome {
  const { command } = decision;
  const of: OutcomeOf = {
    requestId: command.requestId,
    userId: command.userId,
    eventId: command.eventId,
    decidedAt,
  };
  switch (decision.kind) {
    case 'confirm':
      return bookingConfirmed(of, decision.command.holdToken, bookings);
    case 'reject':
      return bookingRejected(of, decision.command, decision.reason, decision.offendingIds);
    case 'cancel':
      return bookingCancelled(of, bookings);
    case 'cancel-reject':
      return cancelRejected(of, decision.command.bookingIds, decision.reason);
  }
}

/**
 * What an earlier delivery decided, announced again (its publish may have been lost). A booking
 * cancelled since is left out of its request's confirmation: the cancellation is the newer news
 * (and Redis would ignore the older version anyway); with no seat left there is nothing to announce.
 */
function replayedOutcomeOf(
  command: BookingCommand,
  request: DecidedRequest,
  seats: readonly RequestSeat[],
): RequestOutcome[] {
  if (request.status === 'REJECTED') return [decidedOutcome(request, seats, command)];
  const announced = request.kind === 'BOOK' ? seats.filter((seat) => seat.status === 'CONFIRMED') : seats;
  return announced.length > 0 ? [decidedOutcome(request, announced, command)] : [];
}
