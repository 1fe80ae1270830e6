import { Hono } from 'hono';
import {
  type BookedSeat,
  BookingCommand,
  type BookingEvent,
  decodeEvent,
  encodeEvent,
  type RejectionReason,
} from '../../lib/booking/messages.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { KafkaBatchSchema } from '../../lib/platform/kafka/batch.ts';
import { validate } from '../../lib/platform/validation.ts';
import { type Decision, decide } from './decide.ts';
import { applyDecisions, bookedSeatsOf, type DecidedRequest, findDecided, loadContext } from './queries.ts';

/**
 * POST / with one batch of `booking-commands` (from the Kafka trigger): decides every command in
 * order in one Postgres transaction, then publishes each outcome to `booking-events`. Answering
 * only after the outcomes are on Kafka means a crash at any point replays the batch, and the
 * replay re-announces what was decided instead of deciding it again.
 */
export const processBatch = new Hono<AppEnv>().post('/', validate('json', KafkaBatchSchema), async (c) => {
  const { db, kafka, logger } = c.get('services');
  const commands = parseCommands(c.req.valid('json').messages);

  const { decided, fresh, bookedSeats } = await db.transaction(async (tx) => {
    const decided = await findDecided(
      tx,
      commands.map((command) => command.requestId),
    );
    const pending = commands.filter((command) => !decided.has(command.requestId));
    const fresh = pending.length ? decide(pending, await loadContext(tx, pending)) : [];
    const bookedSeats = fresh.length ? await applyDecisions(tx, fresh) : new Map<string, BookedSeat[]>();
    if (decided.size > 0) {
      for (const [id, seats] of await bookedSeatsOf(tx, [...decided.values()])) bookedSeats.set(id, seats);
    }
    return { decided, fresh, bookedSeats };
  });

  const decidedAt = new Date().toISOString();
  const freshById = new Map(fresh.map((decision) => [decision.command.requestId, decision]));
  const outcomes = commands.flatMap((command) => {
    const decision = freshById.get(command.requestId);
    return decision
      ? [outcomeOf(decision, bookedSeats.get(command.requestId) ?? [], decidedAt)]
      : replayedOutcomeOf(command, decided.get(command.requestId) as DecidedRequest, bookedSeats);
  });
  await kafka.send('bookingEvents', outcomes.map(encodeEvent));

  const confirmed = fresh.filter((decision) => decision.kind === 'confirm').length;
  logger.info(
    { commands: commands.length, fresh: fresh.length, confirmed, replayed: decided.size },
    'decided',
  );
  return c.json({ decided: fresh.length, replayed: decided.size });
});

/** Duplicates (a producer retry) count once; a message that is not a command makes it a 422. */
function parseCommands(messages: { offset: string; value: string | null }[]): BookingCommand[] {
  const byRequest = new Map<string, BookingCommand>();
  for (const message of messages) {
    const command = decodeEvent(BookingCommand, message);
    if (!byRequest.has(command.requestId)) byRequest.set(command.requestId, command);
  }
  return [...byRequest.values()];
}

function outcomeOf(decision: Decision, bookings: BookedSeat[], decidedAt: string): BookingEvent {
  const { command } = decision;
  const base = { requestId: command.requestId, userId: command.userId, eventId: command.eventId, decidedAt };
  switch (decision.kind) {
    case 'confirm':
      return { ...base, type: 'BookingConfirmed', holdToken: decision.command.holdToken, bookings };
    case 'reject':
      return {
        ...base,
        type: 'BookingRejected',
        seatIds: decision.command.seatIds,
        holdToken: decision.command.holdToken,
        reason: decision.reason,
        offendingSeatIds: decision.offendingIds,
      };
    case 'cancel':
      return { ...base, type: 'BookingCancelled', bookings };
    case 'cancel-reject':
      return {
        ...base,
        type: 'CancelRejected',
        bookingIds: decision.command.bookingIds,
        reason: decision.reason,
      };
  }
}

/**
 * What an earlier delivery decided, announced again (its publish may have been lost). A
 * confirmation whose bookings were all cancelled since has nothing left to announce.
 */
function replayedOutcomeOf(
  command: BookingCommand,
  request: DecidedRequest,
  bookedSeats: Map<string, BookedSeat[]>,
): BookingEvent[] {
  const base = {
    requestId: command.requestId,
    userId: command.userId,
    eventId: command.eventId,
    decidedAt: request.decidedAt.toISOString(),
  };
  const seats = bookedSeats.get(command.requestId) ?? [];
  if (command.type === 'BookingRequested') {
    if (request.status === 'CONFIRMED') {
      return seats.length > 0
        ? [{ ...base, type: 'BookingConfirmed', holdToken: command.holdToken, bookings: seats }]
        : [];
    }
    return [
      {
        ...base,
        type: 'BookingRejected',
        seatIds: command.seatIds,
        holdToken: command.holdToken,
        reason: request.reason as RejectionReason,
        offendingSeatIds: request.offendingIds ?? [],
      },
    ];
  }
  if (request.status === 'CONFIRMED' && seats.length > 0) {
    return [{ ...base, type: 'BookingCancelled', bookings: seats }];
  }
  const reason = request.reason === 'WITHDRAWN' ? 'WITHDRAWN' : 'ALREADY_CANCELLED';
  return [{ ...base, type: 'CancelRejected', bookingIds: command.bookingIds, reason }];
}
