/**
 * The obvious design, for comparison: one Hono endpoint that books with one synchronous
 * transaction per request. It locks the seats (SELECT ... FOR UPDATE, in id order so two requests
 * never deadlock), checks they are free, marks them booked, inserts the bookings and commits,
 * then answers 201 with the bookings, or 409 naming the seats already taken. Same tables, same
 * request and answer shapes as `book`, and the same authentication: `lib/platform/auth.ts`'s own
 * `authenticate()`, so both designs always pay the same for checking a bearer token, and a user
 * books only for themselves. It has no rate limit (the system limits each user).
 *
 * Its seat map (the read storm's) is as obvious: GET /events/seats/:eventId reads the event's
 * seats from Postgres on every request and answers the same body as `event-seats`, uncompressed,
 * with no ETag or cache headers.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type pg from 'pg';
import { authenticate } from '../../lib/platform/auth.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import type { Services } from '../../lib/services.ts';

interface BookBody {
  user_id: number;
  event_id: number;
  seat_ids: number[];
}

const isId = (value: unknown): value is number =>
  Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 2_147_483_647;

function parseBody(body: unknown): BookBody | string {
  if (typeof body !== 'object' || body === null) return 'the body must be a JSON object';
  const { user_id, event_id, seat_ids } = body as Record<string, unknown>;
  if (!isId(user_id)) return 'user_id must be a positive integer';
  if (!isId(event_id)) return 'event_id must be a positive integer';
  if (!Array.isArray(seat_ids) || seat_ids.length === 0 || seat_ids.length > 10 || !seat_ids.every(isId))
    return 'seat_ids must be 1 to 10 positive integers';
  if (new Set(seat_ids).size !== seat_ids.length) return 'seat ids must not repeat';
  return { user_id, event_id, seat_ids };
}

const problem = (status: number, title: string, detail: string, extra: Record<string, unknown> = {}) =>
  new Response(JSON.stringify({ type: 'about:blank', title, status, detail, ...extra }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });

/** 40P01 deadlock and 40001 serialization failure: the transaction may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);

export function baselineApp(pool: pg.Pool, options: { jwtSecret: string }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // authenticate() reads the secret from the services a function gets; this is all it needs.
  const services = { config: { JWT_SECRET: options.jwtSecret } } as unknown as Services;
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.use('/bookings/*', async (c, next) => {
    c.set('services', services);
    await next();
  });
  app.post('/bookings/book', authenticate(), async (c) => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      return problem(400, 'Bad request', 'the body must be JSON');
    }
    const body = parseBody(raw);
    if (typeof body === 'string') return problem(400, 'Bad request', body);
    const caller = c.get('caller');
    if (caller?.role !== 'admin' && caller?.id !== body.user_id)
      return problem(
        403,
        'Forbidden',
        `The token's user (${caller?.id}) cannot book for user ${body.user_id}`,
      );
    for (let attempt = 1; ; attempt++) {
      try {
        return await bookOnce(pool, body);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < 3) continue;
        if (code === '23503') return problem(422, 'Unprocessable content', 'No such user');
        throw error;
      }
    }
  });
  app.get('/events/seats/:eventId', async (c) => {
    const eventId = Number(c.req.param('eventId'));
    if (!isId(eventId)) return problem(400, 'Bad request', 'eventId must be a positive integer');
    const { rows } = await pool.query<{ id: number; seat_number: string; is_booked: boolean }>(
      'select id, seat_number, is_booked from seats where event_id = $1 order by id',
      [eventId],
    );
    if (rows.length === 0) return problem(404, 'Not found', `No event ${eventId}`);
    return c.json({
      event_id: eventId,
      booked_seats: rows.filter((seat) => seat.is_booked).map((seat) => seat.id),
      available_seats: rows.filter((seat) => !seat.is_booked).map((seat) => seat.id),
      held_seats: [],
      seats: rows.map((seat) => ({
        seat_id: seat.id,
        seat_number: seat.seat_number,
        state: seat.is_booked ? 'booked' : 'available',
      })),
    });
  });
  app.onError((error) =>
    error instanceof ApiError || error instanceof HTTPException
      ? problem(error.status, error.status === 401 ? 'Unauthorized' : 'Error', error.message)
      : problem(500, 'Internal server error', error.message),
  );
  return app;
}

async function bookOnce(pool: pg.Pool, body: BookBody): Promise<Response> {
  const { user_id: userId, event_id: eventId, seat_ids: seatIds } = body;
  const client = await pool.connect();
  try {
    await client.query('begin');
    const { rows: seats } = await client.query<{ id: number; seat_number: string; is_booked: boolean }>(
      `select id, seat_number, is_booked from seats
       where id = any($1::int[]) and event_id = $2 order by id for update`,
      [seatIds, eventId],
    );
    if (seats.length !== seatIds.length) {
      await client.query('rollback');
      const known = new Set(seats.map((seat) => seat.id));
      return problem(422, 'Unprocessable content', 'Some seats are not seats of this event', {
        reason: 'UNKNOWN_SEATS',
        unknown_seat_ids: seatIds.filter((id) => !known.has(id)),
      });
    }
    const taken = seats.filter((seat) => seat.is_booked).map((seat) => seat.id);
    if (taken.length > 0) {
      await client.query('rollback');
      return problem(
        409,
        'Conflict',
        `Some seats are already booked: ${taken.join(', ')}. Nothing was booked.`,
        {
          reason: 'SEATS_TAKEN',
          taken_seat_ids: taken,
        },
      );
    }
    await client.query('update seats set is_booked = true, booked_by = $1 where id = any($2::int[])', [
      userId,
      seatIds,
    ]);
    const { rows: inserted } = await client.query<{ id: number; seat_id: number }>(
      `insert into bookings (user_id, event_id, seat_id)
       select $1, $2, seat_id from unnest($3::int[]) as seat_id returning id, seat_id`,
      [userId, eventId, seatIds],
    );
    await client.query('commit');
    const numbers = new Map(seats.map((seat) => [seat.id, seat.seat_number]));
    return Response.json(
      {
        status: 'CONFIRMED',
        user_id: userId,
        event_id: eventId,
        bookings: inserted.map((row) => ({
          id: row.id,
          user_id: userId,
          event_id: eventId,
          seat_id: row.seat_id,
          seat_number: numbers.get(row.seat_id),
          status: 'CONFIRMED',
        })),
      },
      { status: 201 },
    );
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
