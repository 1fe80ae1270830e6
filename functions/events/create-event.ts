import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { events } from '../../lib/booking/db/schema.ts';
import { type EventCreated, encodeMessage } from '../../lib/booking/messages.ts';
import { OnSaleAt, QueueSettings } from '../../lib/booking/queue/settings.ts';
import { connected, withRedis } from '../../lib/booking/seats/availability.ts';
import { gridSeatNumbers } from '../../lib/booking/seats/numbers.ts';
import { unknownEvents } from '../../lib/booking/unknown-events.ts';
import { authenticate, requireAdmin } from '../../lib/platform/auth.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { idempotency } from '../../lib/platform/idempotency.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { Id, validate } from '../../lib/platform/validation.ts';
import { EventView, eventView } from './event-view.ts';
import { eventViews } from './event-views.ts';

/**
 * The most seats one event may have (a stadium), and the largest grid. What grows with it: the
 * one statement that inserts the seats, warming the seat cache (1,000 seats a Lua call), the 201
 * (about 2 MB for 50,000 seats), and the seat map, which for an event this large is best read
 * compactly (GET /events/:eventId/seat-map and /seat-layout: under 20 KB compressed, where GET
 * /events/seats/:eventId is 190 to 300 KB).
 */
export const MAX_SEATS = 50_000;
const MAX_ROWS = 702; // A..ZZ
const MAX_SEATS_PER_ROW = 1_000;

const Text = (max: number) =>
  v.pipe(v.string(), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(max));
const Count = (max: number) =>
  v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(max, `must be at most ${max}`));

/**
 * A new event and its seat layout: `rows` × `seats_per_row` (numbered A1, A2, ..., B1, ...), or an
 * explicit list of `seat_numbers`, one of the two.
 */
export const CreateEventBody = v.pipe(
  v.strictObject({
    name: Text(255),
    date: v.pipe(
      v.string(),
      v.isoTimestamp('must be a date and time with its zone, e.g. 2030-01-01T20:00:00Z'),
    ),
    location: Text(255),
    rows: v.optional(Count(MAX_ROWS)),
    seats_per_row: v.optional(Count(MAX_SEATS_PER_ROW)),
    seat_numbers: v.optional(
      v.pipe(
        v.array(Text(32)),
        v.minLength(1, 'at least one seat is needed'),
        v.maxLength(MAX_SEATS, `at most ${MAX_SEATS} seats`),
        v.check((numbers) => new Set(numbers).size === numbers.length, 'seat numbers must not repeat'),
      ),
    ),
    on_sale_at: v.optional(OnSaleAt),
    queue: v.optional(QueueSettings),
  }),
  v.check(
    (body) =>
      body.seat_numbers === undefined
        ? body.rows !== undefined && body.seats_per_row !== undefined
        : body.rows === undefined && body.seats_per_row === undefined,
    'give either rows and seats_per_row, or seat_numbers',
  ),
  v.check(
    (body) => (body.rows ?? 0) * (body.seats_per_row ?? 0) <= MAX_SEATS,
    `rows × seats_per_row must be at most ${MAX_SEATS} seats`,
  ),
);

/** 201 of POST /events: the event, and its seats' ids and numbers. */
export const CreatedEventBody = v.object({
  ...EventView.entries,
  seats: v.array(v.object({ seat_id: Id, seat_number: v.string() })),
});
export type CreatedEventBody = v.InferOutput<typeof CreatedEventBody>;

/**
 * POST /events (admin only):
 * creates the event and all its seats in one transaction, which also queues `EventCreated` on
 * `booking-events`, so an event exists exactly when its EventCreated was sent: if Kafka cannot
 * take it, nothing is created (503). Once committed, the seat cache is warmed here at once (the
 * seat-projector warms it again on EventCreated; the first read warms it if Redis was down).
 */
export const createEvent = new Hono<AppEnv>().post(
  '/events',
  describeRoute({
    summary: 'Create an event and its seats (admin)',
    responses: {
      201: jsonResponse('Created, with its seats', CreatedEventBody),
      ...problemResponses({ 503: 'Kafka cannot take the event now; nothing was created' }),
    },
  }),
  authenticate(),
  requireAdmin(),
  async (c, next) => {
    // The idempotency store is Redis, which this function does not need to start.
    await connected(c.get('services').redis).catch(() => {});
    await next();
  },
  idempotency(),
  validate('json', CreateEventBody),
  async (c) => {
    const { db, kafka, seats: cache, redis } = c.get('services');
    const body = c.req.valid('json');
    const numbers = body.seat_numbers ?? gridSeatNumbers(body.rows ?? 0, body.seats_per_row ?? 0);

    const created = await db.transaction(async (tx) => {
      const [event] = await tx
        .insert(events)
        .values({
          name: body.name,
          date: new Date(body.date),
          location: body.location,
          totalSeats: numbers.length,
          onSaleAt: body.on_sale_at ? new Date(body.on_sale_at) : null,
          queue: body.queue ?? null,
        })
        .returning();
      if (!event) throw new Error('insert returned no event');
      // One statement, the numbers as one array parameter: 50,000 seats in about 0.7 s, where
      // inserts of 1,000 rows each (2 parameters a row, under Postgres's 65,535) took 4 s.
      const { rows } = await tx.execute<{ seat_id: number; seat_number: string }>(sql`
        insert into seats (event_id, seat_number)
        select ${event.id}, number from unnest(${sql.param(numbers)}::text[]) with ordinality as t(number, position)
        order by position
        returning id as seat_id, seat_number`);
      // Ids are drawn in the order of the numbers; the answer lists the seats in that order.
      rows.sort((a, b) => a.seat_id - b.seat_id);
      const announcement: EventCreated = {
        type: 'EventCreated',
        eventId: event.id,
        name: event.name,
        date: event.date.toISOString(),
        location: event.location,
        totalSeats: event.totalSeats,
        createdAt: event.createdAt.toISOString(),
      };
      try {
        await kafka.send('bookingEvents', [encodeMessage(announcement)]);
      } catch (error) {
        c.get('logger').error({ err: error }, 'could not announce the event (Kafka); nothing created');
        throw new ApiError('SERVICE_UNAVAILABLE', {
          detail:
            'Events cannot be created right now (Kafka is unavailable); nothing was created. Retry shortly.',
          headers: { 'retry-after': '2' },
        });
      }
      return { event, rows };
    });

    const { event, rows } = created;
    // A scan may have asked for this id before it existed: it is an event now, in this process at once.
    unknownEvents(c.get('services')).delete(event.id);
    eventViews(c.get('services')).forget();
    await withRedis(redis, () => cache.warm(event.id)).catch((error: unknown) => {
      c.get('logger').warn(
        { err: error, eventId: event.id },
        'could not warm the seat cache; the first read will',
      );
    });
    c.header('location', `/events/${event.id}`);
    const answer: CreatedEventBody = {
      ...eventView({
        id: event.id,
        name: event.name,
        date: event.date,
        location: event.location,
        total_seats: event.totalSeats,
        created_at: event.createdAt,
        on_sale_at: event.onSaleAt,
        queue: event.queue,
        free_seats: rows.length,
      }),
      seats: rows,
    };
    return c.json(answer, 201);
  },
);
