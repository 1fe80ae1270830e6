import { and, eq, inArray } from 'drizzle-orm';
import { Hono } from 'hono';
import * as v from 'valibot';
import { pendingRequestKey } from '../../lib/booking/commands.ts';
import { bookingRequests, bookings, seats } from '../../lib/booking/db/schema.ts';
import { bookingViews, pendingBody } from '../../lib/booking/responses.ts';
import { assertActsFor, authenticate } from '../../lib/platform/auth.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { validate } from '../../lib/platform/validation.ts';

const Params = v.object({ requestId: v.pipe(v.string(), v.uuid('must be a request id (a UUID)')) });

/**
 * GET /bookings/requests/:requestId: PENDING while the request waits in Kafka, then CONFIRMED
 * with its bookings or REJECTED with the reason, from Postgres.
 */
export const getRequestStatus = new Hono<AppEnv>().get(
  '/bookings/requests/:requestId',
  authenticate(),
  validate('param', Params),
  async (c) => {
    const { db, redis } = c.get('services');
    const { requestId } = c.req.valid('param');
    const find = async () =>
      (await db.select().from(bookingRequests).where(eq(bookingRequests.id, requestId)))[0];
    let request = await find();
    let pendingFor: string | null = null;
    if (!request) {
      pendingFor = await redis.get(pendingRequestKey(requestId)).catch(() => null);
      // The projector drops the marker once the request is decided: look again before a 404.
      if (pendingFor === null) request = await find();
    }
    if (!request) {
      if (pendingFor === null) throw new ApiError('NOT_FOUND', { detail: `No booking request ${requestId}` });
      assertActsFor(c.get('caller'), Number(pendingFor));
      return c.json(pendingBody(requestId));
    }
    assertActsFor(c.get('caller'), request.userId);

    const base = {
      request_id: request.id,
      kind: request.kind,
      user_id: request.userId,
      event_id: request.eventId,
    };
    if (request.status === 'REJECTED') {
      return c.json({
        ...base,
        status: 'REJECTED',
        reason: request.reason,
        offending_ids: request.offendingIds ?? [],
      });
    }
    const rows = await db
      .select({
        bookingId: bookings.id,
        seatId: bookings.seatId,
        seatNumber: seats.seatNumber,
        status: bookings.status,
      })
      .from(bookings)
      .innerJoin(seats, eq(seats.id, bookings.seatId))
      .where(
        request.kind === 'BOOK'
          ? eq(bookings.requestId, request.id)
          : and(inArray(bookings.id, request.bookingIds ?? []), inArray(bookings.seatId, request.seatIds)),
      )
      .orderBy(bookings.id);
    const owner = { userId: request.userId, eventId: request.eventId };
    return c.json({
      ...base,
      status: request.kind === 'BOOK' ? 'CONFIRMED' : 'CANCELLED',
      bookings: rows.flatMap((row) => bookingViews(owner, [row], row.status)),
    });
  },
);
