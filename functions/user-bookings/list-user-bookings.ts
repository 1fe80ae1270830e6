import { and, desc, eq, lt } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { BOOKING_STATUSES, bookings, events, seats, users } from '../../lib/booking/db/schema.ts';
import { Timestamp } from '../../lib/booking/responses.ts';
import { assertActsFor, authenticate } from '../../lib/platform/auth.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { Cursor, Limit, nextLink } from '../../lib/platform/pagination.ts';
import { Id, IdParam, validate } from '../../lib/platform/validation.ts';

const Params = v.object({ userId: IdParam });
const Query = v.strictObject({ limit: Limit(50, 200), cursor: Cursor });

/** A booking with its event's name, date and place, as the user's list shows it. */
export const UserBooking = v.object({
  id: Id,
  user_id: Id,
  event_id: Id,
  event_name: v.string(),
  event_date: Timestamp,
  event_location: v.string(),
  seat_id: Id,
  seat_number: v.string(),
  status: v.picklist(BOOKING_STATUSES),
  created_at: Timestamp,
});
export type UserBooking = v.InferOutput<typeof UserBooking>;

/**
 * GET /bookings/user/:userId: the user's bookings, newest first (by booking id, which follows
 * creation order), each with its event's name, date and place, the seat number and the status
 * (CONFIRMED or CANCELED). An array, as the seed answered; `limit` at a time, with a
 * `Link: <...>; rel="next"` while more follow. Read from Postgres, the truth. A user sees only
 * their own bookings; an admin anyone's.
 */
export const listUserBookings = new Hono<AppEnv>().get(
  '/bookings/user/:userId',
  describeRoute({
    summary: "A user's bookings, newest first",
    responses: {
      200: jsonResponse('A page of bookings; `Link: rel="next"` while more follow', v.array(UserBooking)),
      ...problemResponses({ 404: 'No such user' }),
    },
  }),
  authenticate(),
  validate('param', Params),
  validate('query', Query),
  async (c) => {
    const { db } = c.get('services');
    const { userId } = c.req.valid('param');
    assertActsFor(c.get('caller'), userId);
    const { limit, cursor } = c.req.valid('query');
    const rows = await db
      .select({
        id: bookings.id,
        user_id: bookings.userId,
        event_id: bookings.eventId,
        event_name: events.name,
        event_date: events.date,
        event_location: events.location,
        seat_id: bookings.seatId,
        seat_number: seats.seatNumber,
        status: bookings.status,
        created_at: bookings.createdAt,
      })
      .from(bookings)
      .innerJoin(events, eq(events.id, bookings.eventId))
      .innerJoin(seats, eq(seats.id, bookings.seatId))
      .where(and(eq(bookings.userId, userId), cursor === undefined ? undefined : lt(bookings.id, cursor)))
      .orderBy(desc(bookings.id))
      .limit(limit + 1);

    if (rows.length === 0 && cursor === undefined) {
      const [user] = await db.select({ id: users.id }).from(users).where(eq(users.id, userId));
      if (!user) throw new ApiError('NOT_FOUND', { detail: `No user ${userId}` });
    }
    const page = rows.slice(0, limit);
    return c.json(
      page.map(
        (row): UserBooking => ({
          ...row,
          event_date: row.event_date.toISOString(),
          created_at: row.created_at.toISOString(),
        }),
      ),
      200,
      nextLink(c.req.url, rows.length > limit ? page.at(-1)?.id : undefined),
    );
  },
);
