/**
 * Making an uncertain request certain. When `book` or `cancel` cannot tell whether Kafka took a
 * command (a timeout, a connection lost after the broker may have written it), or a retry with
 * the same Idempotency-Key finds an earlier attempt that never answered, the request is settled
 * in Postgres: either the processor already decided it (that is its real outcome), or it is
 * recorded as WITHDRAWN in `booking_requests` first, so that the command, if it ever arrives, finds
 * its request decided and changes nothing. Only then may the client hear "nothing changed".
 * The primary key of `booking_requests` orders a withdrawal against the processor's decision.
 */
import { sql } from 'drizzle-orm';
import type { Database } from './db/client.ts';
import type { BookedSeat, BookingEvent, RejectionReason } from './messages.ts';

export interface UncertainRequest {
  requestId: string;
  kind: 'BOOK' | 'CANCEL';
  userId: number;
  eventId: number;
  /** The seats a booking asked for (empty for a cancel). */
  seatIds: readonly number[];
}

export type Settled = { kind: 'withdrawn' } | { kind: 'decided'; outcome: BookingEvent };

interface RequestRow {
  kind: 'BOOK' | 'CANCEL';
  status: 'CONFIRMED' | 'REJECTED';
  reason: string | null;
  seat_ids: number[];
  booking_ids: number[] | null;
  offending_ids: number[] | null;
  decided_at: Date;
}

export async function settleRequest(db: Database, request: UncertainRequest): Promise<Settled> {
  const withdrawn = await db.execute(sql`
    insert into booking_requests (id, kind, user_id, event_id, seat_ids, status, reason, requested_at)
    values (${request.requestId}, ${request.kind}, ${request.userId}, ${request.eventId},
      ${sql.param([...request.seatIds])}::int[], 'REJECTED', 'WITHDRAWN', now())
    on conflict (id) do nothing`);
  if (withdrawn.rowCount === 1) return { kind: 'withdrawn' };

  const {
    rows: [row],
  } = await db.execute<RequestRow & Record<string, unknown>>(sql`
    select kind, status, reason, seat_ids, booking_ids, offending_ids, decided_at
    from booking_requests where id = ${request.requestId}`);
  if (!row || row.reason === 'WITHDRAWN') return { kind: 'withdrawn' };
  return { kind: 'decided', outcome: await outcomeOf(db, request, row) };
}

/** The event the processor announced for a decided request, rebuilt from Postgres. */
async function outcomeOf(db: Database, request: UncertainRequest, row: RequestRow): Promise<BookingEvent> {
  const base = {
    requestId: request.requestId,
    userId: request.userId,
    eventId: request.eventId,
    decidedAt: new Date(row.decided_at).toISOString(),
  };
  if (row.kind === 'BOOK' && row.status === 'REJECTED') {
    return {
      ...base,
      type: 'BookingRejected',
      seatIds: row.seat_ids,
      holdToken: null,
      reason: row.reason as RejectionReason,
      offendingSeatIds: row.offending_ids ?? [],
    };
  }
  if (row.kind === 'CANCEL' && row.status === 'REJECTED') {
    return {
      ...base,
      type: 'CancelRejected',
      bookingIds: row.booking_ids ?? [],
      reason: 'ALREADY_CANCELLED',
    };
  }
  const { rows } = await db.execute<{
    booking_id: number;
    seat_id: number;
    seat_number: string;
    version: number | null;
  }>(
    row.kind === 'BOOK'
      ? sql`
        select b.id as booking_id, b.seat_id, s.seat_number, b.booked_version as version
        from bookings b join seats s on s.id = b.seat_id
        where b.request_id = ${request.requestId} order by b.id`
      : sql`
        select b.id as booking_id, b.seat_id, s.seat_number, b.cancelled_version as version
        from bookings b join seats s on s.id = b.seat_id
        where b.id = any(${sql.param(row.booking_ids ?? [])}::int[])
          and b.seat_id = any(${sql.param(row.seat_ids)}::int[])
        order by b.id`,
  );
  const bookings: BookedSeat[] = rows.map((seat) => ({
    bookingId: seat.booking_id,
    seatId: seat.seat_id,
    seatNumber: seat.seat_number,
    version: seat.version ?? 0,
  }));
  return row.kind === 'BOOK'
    ? { ...base, type: 'BookingConfirmed', holdToken: null, bookings }
    : { ...base, type: 'BookingCancelled', bookings };
}
