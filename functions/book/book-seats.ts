import { randomUUID } from 'node:crypto';
import { type Context, Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { sendCommand, settleEarlier } from '../../lib/booking/commands.ts';
import type { BookingEvent, BookingRequested, RejectionReason } from '../../lib/booking/messages.ts';
import { type SaleSettings, saleSettings } from '../../lib/booking/queue/sale.ts';
import { endSession, findSession } from '../../lib/booking/queue/sessions.ts';
import {
  ConfirmedBody,
  confirmedBody,
  PendingBody,
  pendingBody,
  rejectionError,
  statusUrl,
} from '../../lib/booking/responses.ts';
import { seatKeys } from '../../lib/booking/seats/keys.ts';
import type { TakeResult } from '../../lib/booking/seats/scripts.ts';
import { takenSeats } from '../../lib/booking/seats/taken.ts';
import { assertActsFor, authenticate } from '../../lib/platform/auth.ts';
import type { AppEnv, AuthenticatedEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { idempotency } from '../../lib/platform/idempotency.ts';
import { metrics } from '../../lib/platform/metrics.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { enforceLimits, limitChecks, slidingWindows } from '../../lib/platform/rate-limit.ts';
import { isOutOfMemory } from '../../lib/platform/redis.ts';
import { slidingWindowResults } from '../../lib/platform/sliding-window.ts';
import { trace, tracing } from '../../lib/platform/tracing.ts';
import { Id, validate } from '../../lib/platform/validation.ts';

export const BookSeatsBody = v.strictObject({
  /** Optional: the token's user. An admin may book for another user. */
  user_id: v.optional(Id),
  event_id: Id,
  seat_ids: v.pipe(
    v.array(Id),
    v.minLength(1, 'at least one seat is needed'),
    v.check((ids) => new Set(ids).size === ids.length, 'seat ids must not repeat'),
  ),
  /** For an event with a waiting room: the token the buyer was let in with. */
  admission_token: v.optional(v.pipe(v.string(), v.maxLength(64))),
});

/**
 * POST /bookings/book: all the seats or none, first come first served. The seats' Redis locks
 * are taken in one Lua call (the first request to reach Redis wins; a later one gets 409 at
 * once); the request then goes to Kafka for the processor to confirm in Postgres. The answer is
 * 201 with the bookings if the outcome arrives within BOOK_WAIT_MS, else 202 to poll.
 *
 * Most requests of an on-sale are refused, so a refusal is kept cheap: a seat this process knows
 * is taken (lib/booking/seats/taken.ts) is refused from memory, and otherwise the per-user and
 * per-address rate limits are counted by the same Lua call that takes the seats, so a refused
 * request costs one round trip. Their keys carry the event's hash tag (one slot on a Redis
 * Cluster), so the limits of `book` count per event.
 */
export const bookSeats = new Hono<AppEnv>().post(
  '/bookings/book',
  describeRoute({
    summary: 'Book seats, all of them or none',
    responses: {
      201: jsonResponse('Booked: the bookings', ConfirmedBody),
      202: jsonResponse(
        'Queued but not decided yet (or `Prefer: respond-async`): poll status_url',
        PendingBody,
      ),
      ...problemResponses({
        404: 'No such event',
        409: 'Some seats are taken (`taken_seat_ids`); nothing was booked',
        422: 'Seats not of this event, or no such user',
        503: 'Bookings cannot be queued right now; nothing changed',
      }),
    },
  }),
  authenticate(),
  idempotency(),
  validate('json', BookSeatsBody),
  async (c) => {
    const { config, seats, logger } = c.get('services');
    const { user_id, event_id: eventId, seat_ids: seatIds, admission_token } = c.req.valid('json');
    const userId = user_id ?? c.get('caller').id;
    assertActsFor(c.get('caller'), userId);
    // An admin (the box office) books outside the sale's times and line.
    const admission =
      c.get('caller').role === 'admin' ? null : await admitted(c, eventId, userId, admission_token);
    if (seatIds.length > config.MAX_SEATS_PER_REQUEST) {
      throw new ApiError('BAD_REQUEST', {
        detail: `At most ${config.MAX_SEATS_PER_REQUEST} seats can be booked in one request`,
        extensions: {
          errors: [{ path: 'body.seat_ids', message: `at most ${config.MAX_SEATS_PER_REQUEST} seats` }],
        },
      });
    }
    // A hold outlives its request only if the processor decides it within HOLD_TTL_MS: while the
    // queue is half that long, a new request would risk a hold that lapses (and a seat sold twice
    // in Redis, one buyer then refused after a 202). Refuse it instead; nothing changes.
    const waitingMs = c.get('services').commandBacklog.oldestWaitingMs();
    if (waitingMs * 2 >= config.HOLD_TTL_MS) {
      throw new ApiError('SERVICE_UNAVAILABLE', {
        detail: `Bookings are ${Math.round(waitingMs / 1000)} s behind; nothing changed. Retry shortly.`,
        headers: { 'retry-after': '5' },
      });
    }
    const attempt = c.get('attempt');
    const requestId = attempt?.requestId ?? randomUUID();
    const respondAsync = /\brespond-async\b/.test(c.req.header('prefer') ?? '');
    const request = { requestId, eventId, userId };
    const memory = takenSeats(c.get('services'));

    // An earlier attempt's own hold may be what memory remembers: those settle first, below.
    metrics.bookingsRequested.inc();
    if (!attempt?.earlier.length) {
      const known = memory.knownTaken(eventId, seatIds);
      if (known.length > 0) throw refused('SEATS_TAKEN', request, known);
    }

    // An earlier attempt with this Idempotency-Key that never answered: its real outcome first.
    for (const earlierId of attempt?.earlier ?? []) {
      const settled = await settleEarlier(c.get('services'), {
        requestId: earlierId,
        kind: 'BOOK',
        userId,
        eventId,
        seatIds,
      });
      if (settled.kind === 'decided') return answer(c, settled.outcome);
      await seats.release(eventId, seatIds, earlierId).catch(() => {});
    }

    // The request id is also the locks' owner token. Without Redis no lock is taken: the
    // processor's transaction alone then keeps each seat to one owner, in Kafka order.
    let holdToken: string | null = requestId;
    const checks = limitChecks(c);
    const windows = checks.length > 0 ? slidingWindows(c, 'book', checks, seatKeys.tag(eventId)) : undefined;
    try {
      const take = () => seats.take(eventId, seatIds, requestId, config.HOLD_TTL_MS, windows);
      let held: TakeResult = await take();
      if (held.kind === 'cold') {
        if (!(await seats.warm(eventId))) throw refused('UNKNOWN_EVENT', request, []);
        held = await take();
      }
      if (windows) enforceLimits(c, 'book', slidingWindowResults(windows, held.left ?? []));
      if (held.kind === 'taken') {
        memory.learn(eventId, held.seatIds, held.lapsesAt);
        throw refused('SEATS_TAKEN', request, held.seatIds);
      }
      if (held.kind !== 'held') {
        throw refused('UNKNOWN_SEATS', request, held.kind === 'unknown' ? held.seatIds : seatIds);
      }
      metrics.holdsTaken.inc(seatIds.length);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      // Fail open, also when Redis is full (OOM): the processor's transaction alone still keeps
      // one owner per seat, and the reconciler repairs the view once Redis takes writes again.
      logger.warn(
        { err: error, requestId, redisOutOfMemory: isOutOfMemory(error) },
        'seat locks unavailable (Redis); the processor alone decides',
      );
      holdToken = null;
    }

    const command: BookingRequested = {
      type: 'BookingRequested',
      requestId,
      userId,
      eventId,
      seatIds,
      holdToken,
      requestedAt: new Date().toISOString(),
    };
    const outcome = await sendCommand(c.get('services'), command, {
      // Without a hold nothing in Redis will show the outcome soon: let the client poll.
      wait: !respondAsync && holdToken !== null,
      undo: async () => holdToken && seats.release(eventId, seatIds, holdToken),
      refusal: 'Bookings cannot be queued right now',
    });
    // The trace of this request went through the processor and the projector: it ends here.
    if (outcome && tracing.on)
      trace.getActiveSpan()?.addEvent('outcome received', { 'seatrush.outcome': outcome.type });
    if (outcome?.type === 'BookingConfirmed' && admission) {
      // The session is over once it booked; the admission function records it within a run.
      await endSession(c.get('services'), eventId, admission).catch((error: unknown) => {
        logger.warn({ err: error, eventId }, 'could not end an admission session (Redis)');
      });
    }
    if (outcome) return answer(c, outcome);
    c.header('location', statusUrl(requestId));
    if (respondAsync) c.header('preference-applied', 'respond-async');
    return c.json(pendingBody(requestId), 202);
  },
);

/**
 * Whether this buyer may book the event now: not before its on-sale time, and for an event with a
 * waiting room only with an admission token of this buyer's running session. The token, or null
 * when the event has no waiting room; else a 403 problem saying what to do.
 */
async function admitted(
  c: Context<AuthenticatedEnv>,
  eventId: number,
  userId: number,
  token: string | undefined,
): Promise<string | null> {
  const services = c.get('services');
  let sale: SaleSettings | null;
  try {
    sale = await saleSettings(services, eventId);
  } catch (error) {
    c.get('logger').warn({ err: error, eventId }, 'cannot read the sale settings (Postgres)');
    throw new ApiError('SERVICE_UNAVAILABLE', {
      detail:
        'Bookings for this event cannot be checked right now (Postgres); nothing changed. Retry shortly.',
      headers: { 'retry-after': '2' },
    });
  }
  // No such event: the seat cache answers that (404).
  if (!sale) return null;
  if (sale.onSaleAt && Date.now() < sale.onSaleAt.getTime()) {
    throw new ApiError('FORBIDDEN', {
      detail: `Not on sale yet: booking opens at ${sale.onSaleAt.toISOString()}`,
      extensions: { reason: 'not_on_sale', on_sale_at: sale.onSaleAt.toISOString() },
    });
  }
  if (!sale.queue?.enabled) return null;
  const queueUrl = `/events/${eventId}/queue`;
  const session = token ? await findSession(services, eventId, token) : null;
  if (!token || !session || session.userId !== userId || session.expiresAtMs <= Date.now()) {
    throw new ApiError('FORBIDDEN', {
      detail: token
        ? `No running session to book under this admission token (it ended, ran out, or is another buyer's); join the line (POST ${queueUrl})`
        : `This event sells through a waiting room: join it (POST ${queueUrl}) and book with the admission_token you are given`,
      extensions: { reason: 'admission_required', queue_url: queueUrl },
    });
  }
  return token;
}

/** The problem of a request refused at once, counted. */
function refused(
  reason: RejectionReason,
  request: Parameters<typeof rejectionError>[1],
  offendingIds: readonly number[],
): ApiError {
  metrics.bookingsRejected.inc({ reason });
  return rejectionError(reason, request, offendingIds);
}

/** 201 with the bookings, or the rejection's problem. */
function answer(c: Context<AuthenticatedEnv>, outcome: BookingEvent) {
  if (outcome.type === 'BookingConfirmed') return c.json(confirmedBody(outcome, outcome.bookings), 201);
  if (outcome.type === 'BookingRejected')
    throw rejectionError(outcome.reason, outcome, outcome.offendingSeatIds);
  throw new Error(`a booking request got a ${outcome.type}`);
}
