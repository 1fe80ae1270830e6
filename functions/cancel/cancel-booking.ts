import { randomUUID } from 'node:crypto';
import { eq, or, sql } from 'drizzle-orm';
import { type Context, Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { sendCommand, settleEarlier } from '../../lib/booking/commands.ts';
import { bookings, seats } from '../../lib/booking/db/schema.ts';
import type { BookingEvent, CancelRequested } from '../../lib/booking/messages.ts';
import {
  BookingView,
  bookingView,
  PendingBody,
  pendingBody,
  RequestId,
  statusUrl,
} from '../../lib/booking/responses.ts';
import { assertActsFor, authenticate } from '../../lib/platform/auth.ts';
import type { AppEnv, AuthenticatedEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { idempotency } from '../../lib/platform/idempotency.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { rateLimit } from '../../lib/platform/rate-limit.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';

const Params = v.object({ bookingId: IdParam });

/** The seed's form: `?event_id=1&seat_id=1`; `seat_id` may repeat to cancel a request's other seats. */
const Query = v.strictObject({
  event_id: v.optional(IdParam),
  seat_id: v.optional(
    v.pipe(
      v.union([IdParam, v.array(IdParam)]),
      v.transform((value) => (Array.isArray(value) ? value : [value])),
    ),
  ),
});

/** 200 of a cancel: the bookings it cancelled. */
export const CanceledBody = v.object({
  request_id: RequestId,
  status: v.literal('CANCELED'),
  bookings: v.array(BookingView),
});
export type CanceledBody = v.InferOutput<typeof CanceledBody>;

/**
 * DELETE /bookings/cancel/:bookingId: cancels a booking, or with several `seat_id`s the bookings
 * of those seats made by the same request. The seats are free again, in Postgres and Redis, by
 * the time it answers 200; 202 if the processor did not answer within BOOK_WAIT_MS.
 */
export const cancelBooking = new Hono<AppEnv>().delete(
  '/bookings/cancel/:bookingId',
  describeRoute({
    summary: 'Cancel a booking, or several of one request',
    responses: {
      200: jsonResponse('Cancelled: the seats are free again', CanceledBody),
      202: jsonResponse('Queued but not decided yet: poll status_url', PendingBody),
      ...problemResponses({
        404: 'No such booking, or it does not cover the seats given',
        409: 'Already cancelled',
        503: 'The cancel cannot be queued right now; nothing changed',
      }),
    },
  }),
  authenticate(),
  rateLimit('cancel'),
  idempotency(),
  validate('param', Params),
  validate('query', Query),
  async (c) => {
    const { db } = c.get('services');
    const { bookingId } = c.req.valid('param');
    const { event_id: eventId, seat_id: seatIds } = c.req.valid('query');
    const attempt = c.get('attempt');

    // The booking named, and its siblings from the same request (for more than one seat_id).
    const rows = await db
      .select({
        bookingId: bookings.id,
        userId: bookings.userId,
        eventId: bookings.eventId,
        seatId: bookings.seatId,
        seatNumber: seats.seatNumber,
        status: bookings.status,
      })
      .from(bookings)
      .innerJoin(seats, eq(seats.id, bookings.seatId))
      .where(
        or(
          eq(bookings.id, bookingId),
          sql`${bookings.requestId} = (select request_id from bookings where id = ${bookingId})`,
        ),
      );
    const named = rows.find((row) => row.bookingId === bookingId);
    if (!named || (eventId !== undefined && eventId !== named.eventId)) {
      throw new ApiError('NOT_FOUND', {
        detail: `No booking ${bookingId}${eventId ? ` for event ${eventId}` : ''}`,
      });
    }
    assertActsFor(c.get('caller'), named.userId);
    const targets = seatIds ? rows.filter((row) => seatIds.includes(row.seatId)) : [named];
    const unmatched = (seatIds ?? []).filter((seatId) => !targets.some((row) => row.seatId === seatId));
    if (unmatched.length > 0 || !targets.includes(named)) {
      throw new ApiError('NOT_FOUND', {
        detail: `Booking ${bookingId} does not cover seat(s) ${unmatched.join(', ') || named.seatId}`,
        extensions: { unmatched_seat_ids: unmatched },
      });
    }

    // An earlier attempt with this Idempotency-Key that never answered: its real outcome first.
    for (const earlierId of attempt?.earlier ?? []) {
      const settled = await settleEarlier(c.get('services'), {
        requestId: earlierId,
        kind: 'CANCEL',
        userId: named.userId,
        eventId: named.eventId,
        seatIds: [],
      });
      if (settled.kind === 'decided') return answer(c, settled.outcome, bookingId);
    }

    const live = targets.filter((row) => row.status === 'CONFIRMED');
    if (live.length === 0) {
      throw new ApiError('CONFLICT', { detail: `Booking ${bookingId} is already cancelled` });
    }

    const requestId = attempt?.requestId ?? randomUUID();
    const command: CancelRequested = {
      type: 'CancelRequested',
      requestId,
      userId: named.userId,
      eventId: named.eventId,
      bookingIds: live.map((row) => row.bookingId),
      requestedAt: new Date().toISOString(),
    };
    const outcome = await sendCommand(c.get('services'), command, {
      wait: true,
      refusal: 'Cancellations cannot be queued right now',
    });
    if (outcome) return answer(c, outcome, bookingId);
    c.header('location', statusUrl(requestId));
    return c.json(pendingBody(requestId), 202);
  },
);

/** 200 with the cancelled bookings, or 409 when they were cancelled already. */
function answer(c: Context<AuthenticatedEnv>, outcome: BookingEvent, bookingId: number) {
  if (outcome.type === 'BookingCancelled') {
    const body: CanceledBody = {
      request_id: outcome.requestId,
      status: 'CANCELED',
      bookings: outcome.bookings.map((seat) => bookingView(outcome, seat, 'CANCELED')),
    };
    return c.json(body);
  }
  if (outcome.type === 'CancelRejected') {
    throw new ApiError('CONFLICT', { detail: `Booking ${bookingId} is already cancelled` });
  }
  throw new Error(`a cancel request got a ${outcome.type}`);
}
