/**
 * Invariants 1–5 of docs/invariants.md, checked against Postgres and Redis for one event. Used
 * by the tests and by the benchmark after every run (the chaos suite has its own: chaos/checks.ts).
 */
import { sql } from 'drizzle-orm';
import type { Services } from '../lib/services.ts';

/** What the clients were told, per request. */
export interface Answer {
  status: number;
  requestId?: string;
  userId: number;
  seatIds: number[];
  /** For a 201: the booking ids answered. */
  bookingIds?: number[];
}

export interface InvariantReport {
  violations: string[];
  confirmedSeats: number;
}

export async function checkInvariants(
  services: Services,
  eventId: number,
  answers: readonly Answer[],
): Promise<InvariantReport> {
  const { db, seats } = services;
  const violations: string[] = [];
  const first = <T>(rows: T[], what: string) => {
    if (rows.length > 0) violations.push(`${what}: ${JSON.stringify(rows.slice(0, 5))}`);
  };

  // 1. At most one CONFIRMED booking per seat, and the seat row agrees with it.
  const doubled = await db.execute(sql`
    select seat_id, count(*)::int as confirmed from bookings
    where event_id = ${eventId} and status = 'CONFIRMED' group by seat_id having count(*) > 1`);
  first(doubled.rows, 'invariant 1: seats with more than one CONFIRMED booking');
  const disagreeing = await db.execute(sql`
    select s.id, s.is_booked, s.booked_by, b.user_id from seats s
    left join bookings b on b.seat_id = s.id and b.status = 'CONFIRMED'
    where s.event_id = ${eventId} and (s.is_booked <> (b.id is not null) or s.booked_by is distinct from b.user_id)`);
  first(disagreeing.rows, 'invariant 1: seat rows that disagree with their bookings');

  // 2. Every 201 has its bookings in Postgres, CONFIRMED or since cancelled, for its seats.
  const answered201 = answers.filter((answer) => answer.status === 201);
  const bookingIds = answered201.flatMap((answer) => answer.bookingIds ?? []);
  const { rows: found } = await db.execute<{ id: number; seat_id: number; user_id: number }>(sql`
    select id, seat_id, user_id from bookings where id = any(${sql.param(bookingIds)}::int[])`);
  const foundById = new Map(found.map((row) => [row.id, row]));
  first(
    answered201.filter(
      (answer) =>
        (answer.bookingIds ?? []).length !== answer.seatIds.length ||
        (answer.bookingIds ?? []).some((id) => {
          const row = foundById.get(id);
          return !row || row.user_id !== answer.userId || !answer.seatIds.includes(row.seat_id);
        }),
    ),
    'invariant 2: 201 answers whose bookings are not in Postgres',
  );

  // 3. A 4xx changed nothing: no booking carries its request id.
  const refused = answers.filter((answer) => answer.status >= 400 && answer.status < 500 && answer.requestId);
  const { rows: refusedBooked } = await db.execute(sql`
    select request_id, seat_id from bookings
    where request_id = any(${sql.param(refused.map((answer) => answer.requestId))}::uuid[])`);
  first(refusedBooked, 'invariant 3: refused requests that booked seats');

  // 4. Every accepted request (201/202) was decided: none is lost.
  const accepted = answers.filter(
    (answer) => (answer.status === 201 || answer.status === 202) && answer.requestId,
  );
  const { rows: decided } = await db.execute<{ id: string }>(sql`
    select id from booking_requests where id = any(${sql.param(accepted.map((answer) => answer.requestId))}::uuid[])`);
  const decidedIds = new Set(decided.map((row) => row.id));
  first(
    accepted
      .filter((answer) => !decidedIds.has(answer.requestId as string))
      .map((answer) => answer.requestId),
    'invariant 4: accepted requests never decided',
  );
  // ...and every request confirmed has exactly its seats booked, never half of them.
  const { rows: partial } = await db.execute(sql`
    select r.id, cardinality(r.seat_ids) as requested, count(b.id)::int as booked
    from booking_requests r left join bookings b on b.request_id = r.id
    where r.event_id = ${eventId} and r.kind = 'BOOK'
    group by r.id having (r.status = 'CONFIRMED') <> (count(b.id) = cardinality(r.seat_ids))
      or (r.status = 'REJECTED' and count(b.id) > 0)`);
  first(partial, 'invariant 4: requests half applied');

  // 5. Once quiet, Redis shows every seat as Postgres does (no hold left behind).
  const { rows: pgSeats } = await db.execute<{
    id: number;
    is_booked: boolean;
    booked_by: number | null;
  }>(sql`
    select id, is_booked, booked_by from seats where event_id = ${eventId} order by id`);
  const cached = await seats.snapshot(eventId);
  if (!cached) {
    violations.push('invariant 5: the event is not in the Redis cache');
  } else {
    const cachedById = new Map(cached.map((seat) => [seat.seatId, seat]));
    first(
      pgSeats.filter((row) => {
        const seat = cachedById.get(row.id);
        return row.is_booked
          ? seat?.state !== 'booked' || seat.userId !== row.booked_by
          : seat?.state !== 'available';
      }),
      'invariant 5: seats whose Redis state differs from Postgres',
    );
  }

  return { violations, confirmedSeats: pgSeats.filter((row) => row.is_booked).length };
}
