/** The bench database: a clean start, its users, fresh copies of the event, and what Postgres says after a run. */
import type pg from 'pg';
import { gridSeatNumbers } from '../lib/booking/seats/numbers.ts';
import type { Answer } from '../test/invariants.ts';
import type { ConfirmedRequest, RecordedTicket } from './queue-report.ts';

/**
 * Event ids of the bench start here. Redis pub/sub channels are shared by every database index,
 * so the bench's seat changes must never name an event id that a dev or test database also has.
 */
const FIRST_EVENT_ID = 1_000_000_001;

/** Empties the tables a run writes (users are kept: they are the same every run). */
export async function resetDatabase(pool: pg.Pool): Promise<void> {
  // Cascade: the waiting rooms' lines and tickets go with their events.
  await pool.query('truncate bookings, booking_requests, seats, events cascade');
  await pool.query(`select setval('events_id_seq', $1, false)`, [FIRST_EVENT_ID]);
}

/** Makes sure users bench-1..bench-count exist; returns their ids, user index i at [i]. */
export async function ensureUsers(pool: pg.Pool, count: number): Promise<number[]> {
  await pool.query(
    // Only the missing ones, so no id is burnt on a conflict and the ids stay one block.
    `insert into users (name, email)
     select 'Bench user ' || i, 'bench-' || i || '@bench.example' from generate_series(1, $1::int) as i
     where not exists (select 1 from users where email = 'bench-' || i || '@bench.example')
     order by i
     on conflict (email) do nothing`,
    [count],
  );
  const { rows } = await pool.query<{ id: number; i: number }>(
    `select id, substring(email from '^bench-(\\d+)@')::int as i from users
     where email like 'bench-%@bench.example'`,
  );
  const ids = new Array<number>(count);
  for (const row of rows) if (row.i >= 1 && row.i <= count) ids[row.i - 1] = row.id;
  return ids;
}

export interface BenchEvent {
  eventId: number;
  /** Seat ids in seat-number order: the demand's seat index i is seatIds[i]. */
  seatIds: number[];
}

/** A fresh event of `seats` seats, laid out `perRow` to a row (A1, A2, ..., B1, ...). */
export async function createEvent(
  pool: pg.Pool,
  name: string,
  seats: number,
  perRow: number,
): Promise<BenchEvent> {
  const numbers = gridSeatNumbers(Math.ceil(seats / perRow), perRow).slice(0, seats);
  const client = await pool.connect();
  try {
    await client.query('begin');
    const { rows } = await client.query<{ id: number }>(
      `insert into events (name, date, location, total_seats)
       values ($1, '2030-01-01T20:00:00Z', 'Bench Arena', $2) returning id`,
      [name, seats],
    );
    const eventId = rows[0]?.id as number;
    const inserted = await client.query<{ id: number; seat_number: string }>(
      `insert into seats (event_id, seat_number) select $1, unnest($2::text[]) returning id, seat_number`,
      [eventId, numbers],
    );
    await client.query('commit');
    const idByNumber = new Map(inserted.rows.map((row) => [row.seat_number, row.id]));
    return { eventId, seatIds: numbers.map((seatNumber) => idByNumber.get(seatNumber) as number) };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

export interface Confirmations {
  /** Bookings (one per seat) confirmed in Postgres. */
  bookings: number;
  /** Requests confirmed (each of 1–4 seats). */
  requests: number;
  /** Epoch ms of the last confirmation. */
  lastAt: number | undefined;
}

/** The system's confirmations: booking_requests.decided_at is set in the deciding transaction. */
export async function systemConfirmations(pool: pg.Pool, eventId: number): Promise<Confirmations> {
  const { rows } = await pool.query<{ requests: number; last_at: number | null }>(
    `select count(*)::int as requests, (extract(epoch from max(decided_at)) * 1000)::float8 as last_at
     from booking_requests where event_id = $1 and kind = 'BOOK' and status = 'CONFIRMED'`,
    [eventId],
  );
  return {
    ...(await countBookings(pool, eventId)),
    requests: rows[0]?.requests ?? 0,
    lastAt: rows[0]?.last_at ?? undefined,
  };
}

/** The obvious design's confirmations: bookings.created_at is the booking transaction's time. */
export async function baselineConfirmations(pool: pg.Pool, eventId: number): Promise<Confirmations> {
  const { rows } = await pool.query<{ requests: number; last_at: number | null }>(
    `select count(distinct user_id)::int as requests, (extract(epoch from max(created_at)) * 1000)::float8 as last_at
     from bookings where event_id = $1 and status = 'CONFIRMED'`,
    [eventId],
  );
  return {
    ...(await countBookings(pool, eventId)),
    requests: rows[0]?.requests ?? 0,
    lastAt: rows[0]?.last_at ?? undefined,
  };
}

async function countBookings(pool: pg.Pool, eventId: number): Promise<{ bookings: number }> {
  const { rows } = await pool.query<{ n: number }>(
    `select count(*)::int as n from bookings where event_id = $1 and status = 'CONFIRMED'`,
    [eventId],
  );
  return { bookings: rows[0]?.n ?? 0 };
}

/** How many of the event's requests the processor has decided. */
export async function decidedCount(pool: pg.Pool, eventId: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'select count(*)::int as n from booking_requests where event_id = $1',
    [eventId],
  );
  return rows[0]?.n ?? 0;
}

/** booking_requests.requested_at (set by `book` once the locks are held) → decided_at, per confirmed request. */
export async function requestToDecision(
  pool: pg.Pool,
  eventId: number,
): Promise<Map<string, { requestedAt: number; decidedAt: number }>> {
  const { rows } = await pool.query<{ id: string; requested_at: number; decided_at: number }>(
    `select id, (extract(epoch from requested_at) * 1000)::float8 as requested_at,
            (extract(epoch from decided_at) * 1000)::float8 as decided_at
     from booking_requests where event_id = $1 and kind = 'BOOK' and status = 'CONFIRMED'`,
    [eventId],
  );
  return new Map(rows.map((row) => [row.id, { requestedAt: row.requested_at, decidedAt: row.decided_at }]));
}

/**
 * Invariants 1–3 of docs/invariants.md for the obvious design's event (it has no requests table,
 * Kafka or Redis, so 4 and 5 do not apply). Every request comes from its own user, so a booking is
 * tied to its request by the user: a refused user must own nothing.
 */
export async function checkBaselineInvariants(
  pool: pg.Pool,
  eventId: number,
  answers: readonly Answer[],
): Promise<string[]> {
  const violations: string[] = [];
  const first = (rows: unknown[], what: string) => {
    if (rows.length > 0) violations.push(`${what}: ${JSON.stringify(rows.slice(0, 5))}`);
  };
  first(
    (
      await pool.query(
        `select seat_id, count(*)::int as confirmed from bookings
         where event_id = $1 and status = 'CONFIRMED' group by seat_id having count(*) > 1`,
        [eventId],
      )
    ).rows,
    'invariant 1: seats with more than one CONFIRMED booking',
  );
  first(
    (
      await pool.query(
        `select s.id, s.is_booked, s.booked_by, b.user_id from seats s
         left join bookings b on b.seat_id = s.id and b.status = 'CONFIRMED'
         where s.event_id = $1 and (s.is_booked <> (b.id is not null) or s.booked_by is distinct from b.user_id)`,
        [eventId],
      )
    ).rows,
    'invariant 1: seat rows that disagree with their bookings',
  );
  const { rows: booked } = await pool.query<{ id: number; user_id: number; seat_id: number }>(
    `select id, user_id, seat_id from bookings where event_id = $1 and status = 'CONFIRMED'`,
    [eventId],
  );
  const byId = new Map(booked.map((row) => [row.id, row]));
  first(
    answers.filter(
      (answer) =>
        answer.status === 201 &&
        ((answer.bookingIds ?? []).length !== answer.seatIds.length ||
          (answer.bookingIds ?? []).some((id) => {
            const row = byId.get(id);
            return !row || row.user_id !== answer.userId || !answer.seatIds.includes(row.seat_id);
          })),
    ),
    'invariant 2: 201 answers whose bookings are not in Postgres',
  );
  violations.push(...refusedButBooked(booked, answers));
  return violations;
}

/**
 * Invariant 3 by user: every request has its own user, so any booking of a user whose request was
 * refused (4xx) is a change that should not exist. Used for both designs: the system's lock
 * refusals carry no request id, so test/invariants.ts cannot tie them to bookings.
 */
export function refusedButBooked(
  booked: readonly { id: number; user_id: number; seat_id: number }[],
  answers: readonly Answer[],
): string[] {
  const refused = new Map(
    answers
      .filter((answer) => answer.status >= 400 && answer.status < 500)
      .map((answer) => [answer.userId, answer]),
  );
  const offending = booked.filter((row) => refused.has(row.user_id));
  return offending.length === 0
    ? []
    : [
        `invariant 3: refused requests whose user booked seats: ${JSON.stringify(
          offending.slice(0, 5).map((row) => ({ ...row, answer: refused.get(row.user_id) })),
        )}`,
      ];
}

export async function bookingsOf(pool: pg.Pool, eventId: number) {
  const { rows } = await pool.query<{ id: number; user_id: number; seat_id: number }>(
    `select id, user_id, seat_id from bookings where event_id = $1 and status = 'CONFIRMED'`,
    [eventId],
  );
  return rows;
}

/** The event's tickets as the waiting room recorded them (queue_tickets), times in epoch ms. */
export async function recordedTickets(pool: pg.Pool, eventId: number): Promise<RecordedTicket[]> {
  const epochMs = (column: string) => `(extract(epoch from ${column}) * 1000)::float8`;
  const { rows } = await pool.query<{
    user_id: number;
    position: number | null;
    admitted_at: number | null;
    ended_at: number | null;
    session_expires_at: number | null;
  }>(
    `select user_id, position, ${epochMs('admitted_at')} as admitted_at, ${epochMs('ended_at')} as ended_at,
            ${epochMs('session_expires_at')} as session_expires_at
     from queue_tickets where event_id = $1`,
    [eventId],
  );
  return rows.map((row) => ({
    userId: row.user_id,
    position: row.position,
    admittedAt: row.admitted_at,
    endedAt: row.ended_at,
    sessionExpiresAt: row.session_expires_at,
  }));
}

/** The event's confirmed booking requests: when each was decided, and how many seats it booked. */
export async function confirmedRequests(pool: pg.Pool, eventId: number): Promise<ConfirmedRequest[]> {
  const { rows } = await pool.query<{ decided_at: number; seats: number }>(
    `select (extract(epoch from decided_at) * 1000)::float8 as decided_at, cardinality(seat_ids) as seats
     from booking_requests where event_id = $1 and kind = 'BOOK' and status = 'CONFIRMED'`,
    [eventId],
  );
  return rows.map((row) => ({ decidedAt: row.decided_at, seats: row.seats }));
}
