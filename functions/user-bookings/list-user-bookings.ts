import { and, desc, eq, lt } from 'drizzle-orm';
import { Hono } from 'hono';
import * as v from 'valibot';
import { bookings, events, seats, users } from '../../lib/booking/db/schema.ts';
import { assertActsFor, authenticate } from '../../lib/platform/auth.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { Cursor, Limit, nextLink } from '../../lib/platform/pagination.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';

const Params = v.object({ userId: IdParam });
const Query = v.strictObject({ limit: Limit(50, 200), cursor: Cursor });

/**
 * GET /bookings/user/:userId: the user's bookings, newest first (by booking id, which follows
 * creation order), each with its event's name, date and place, the seat number and the status
 * (CONFIRMED or CANCELED). An array, as the seed answered; `limit` at a time, with a
 * `Link: <...>; rel="next"` while more follow. Read from Postgres, the truth. A user sees only
 * their own bookings; an admin anyone's.
 */
export const listUserBookings = new Hono<AppEnv>().get(
  '/bookings/user/:userId',
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
    for (const [name, value] of Object.entries(
      nextLink(c.req.url, rows.length > limit ? page.at(-1)?.id : undefined),
    )) {
      c.header(name, value);
    }
    return c.json(page);
  },
);
