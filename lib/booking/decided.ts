/**
 * What was decided about a booking or cancel request, read back from Postgres: its row in
 * `booking_requests`, the seats it changed, and the event that announces it. The processor
 * announces a replayed request again with it, `book` and `cancel` settle an uncertain request with
 * it (requests.ts), booking-status answers from it; the processor's fresh decisions are announced
 * through the same constructors.
 */
import { sql } from 'drizzle-orm';
import type { Database } from './db/client.ts';
import type { BookingStatus, bookingRequests } from './db/schema.ts';
import type {
  BookedSeat,
  BookingCancelled,
  BookingCommand,
  BookingConfirmed,
  BookingRejected,
  CancelRejected,
  RejectionReason,
} from './messages.ts';

/** Postgres, or a transaction in it. */
type Queryable = Pick<Database, 'execute'>;

/** A request's row in `booking_requests`: decided by the processor, or withdrawn (requests.ts). */
export type DecidedRequest = Omit<typeof bookingRequests.$inferSelect, 'requestedAt'>;

/** A seat a confirmed request changed, with the version the change gave it and its booking's status now. */
export interface RequestSeat extends BookedSeat {
  status: BookingStatus;
}

/** The outcome events of a booking or cancel request. */
export type RequestOutcome = BookingConfirmed | BookingRejected | BookingCancelled | CancelRejected;

/** The request an outcome answers, and when it was decided. */
export interface OutcomeOf {
  requestId: string;
  userId: number;
  eventId: number;
  decidedAt: string;
}

export const bookingConfirmed = (
  of: OutcomeOf,
  holdToken: string | null,
  bookings: BookedSeat[],
): BookingConfirmed => ({ ...of, type: 'BookingConfirmed', holdToken, bookings });

export const bookingRejected = (
  of: OutcomeOf,
  request: { seatIds: number[]; holdToken: string | null },
  reason: RejectionReason,
  offendingSeatIds: number[],
): BookingRejected => ({
  ...of,
  type: 'BookingRejected',
  seatIds: request.seatIds,
  holdToken: request.holdToken,
  reason,
  offendingSeatIds,
});

export const bookingCancelled = (of: OutcomeOf, bookings: BookedSeat[]): BookingCancelled => ({
  ...of,
  type: 'BookingCancelled',
  bookings,
});

export const cancelRejected = (
  of: OutcomeOf,
  bookingIds: number[],
  reason: CancelRejected['reason'],
): CancelRejected => ({ ...of, type: 'CancelRejected', bookingIds, reason });

/** The rows of those requests that are decided or withdrawn, by request id: one query. */
export async function findDecided(
  db: Queryable,
  requestIds: readonly string[],
): Promise<Map<string, DecidedRequest>> {
  const { rows } = await db.execute<{
    id: string;
    kind: DecidedRequest['kind'];
    user_id: number;
    event_id: number;
    seat_ids: number[];
    booking_ids: number[] | null;
    status: DecidedRequest['status'];
    reason: string | null;
    offending_ids: number[] | null;
    decided_at: Date;
  }>(sql`
    select id, kind, user_id, event_id, seat_ids, booking_ids, status, reason, offending_ids, decided_at
    from booking_requests where id = any(${sql.param([...requestIds])}::uuid[])`);
  return new Map(
    rows.map((row) => [
      row.id,
      {
        id: row.id,
        kind: row.kind,
        userId: row.user_id,
        eventId: row.event_id,
        seatIds: row.seat_ids,
        bookingIds: row.booking_ids,
        status: row.status,
        reason: row.reason,
        offendingIds: row.offending_ids,
        decidedAt: new Date(row.decided_at),
      },
    ]),
  );
}

/**
 * The seats confirmed requests changed, by request id, in booking order; a rejected request
 * changed none. A booking's are the bookings it made, with the seat version each gave; a cancel's
 * are the bookings it cancelled, with the version each cancellation gave. One query for any
 * number of requests.
 */
export async function seatsOfRequests(
  db: Queryable,
  requests: readonly DecidedRequest[],
): Promise<Map<string, RequestSeat[]>> {
  const confirmed = requests.filter((request) => request.status === 'CONFIRMED');
  const result = new Map<string, RequestSeat[]>(requests.map((request) => [request.id, []]));
  if (confirmed.length === 0) return result;
  const bookIds = confirmed.filter((request) => request.kind === 'BOOK').map((request) => request.id);
  const cancelledIds = confirmed.flatMap((request) =>
    request.kind === 'CANCEL' ? (request.bookingIds ?? []) : [],
  );
  const { rows } = await db.execute<{
    booking_id: number;
    seat_id: number;
    seat_number: string;
    request_id: string | null;
    status: BookingStatus;
    booked_version: number | null;
    cancelled_version: number | null;
  }>(sql`
    select b.id as booking_id, b.seat_id, s.seat_number, b.request_id, b.status,
      b.booked_version, b.cancelled_version
    from bookings b join seats s on s.id = b.seat_id
    where b.request_id = any(${sql.param(bookIds)}::uuid[]) or b.id = any(${sql.param(cancelledIds)}::int[])
    order by b.id`);
  const seatOf = (row: (typeof rows)[number], version: number | null): RequestSeat => ({
    bookingId: row.booking_id,
    seatId: row.seat_id,
    seatNumber: row.seat_number,
    version: version ?? 0,
    status: row.status,
  });
  for (const request of confirmed) {
    const seats =
      request.kind === 'BOOK'
        ? rows.filter((row) => row.request_id === request.id).map((row) => seatOf(row, row.booked_version))
        : rows
            .filter(
              (row) => request.bookingIds?.includes(row.booking_id) && request.seatIds.includes(row.seat_id),
            )
            .map((row) => seatOf(row, row.cancelled_version));
    result.set(request.id, seats);
  }
  return result;
}

export async function seatsOfRequest(db: Queryable, request: DecidedRequest): Promise<RequestSeat[]> {
  return (await seatsOfRequests(db, [request])).get(request.id) ?? [];
}

/**
 * The event that announces a decided request, from its row and the seats it changed. What only
 * the command carries is taken from it when given: the hold token, and the bookings a withdrawn
 * cancel named.
 */
export function decidedOutcome(
  request: DecidedRequest,
  seats: readonly BookedSeat[],
  command?: BookingCommand,
): RequestOutcome {
  const of: OutcomeOf = {
    requestId: request.id,
    userId: request.userId,
    eventId: request.eventId,
    decidedAt: request.decidedAt.toISOString(),
  };
  // The seats as the event carries them, without a RequestSeat's booking status.
  const bookings = seats.map(({ bookingId, seatId, seatNumber, version }) => ({
    bookingId,
    seatId,
    seatNumber,
    version,
  }));
  if (request.kind === 'BOOK') {
    const holdToken = command?.type === 'BookingRequested' ? command.holdToken : null;
    return request.status === 'CONFIRMED'
      ? bookingConfirmed(of, holdToken, bookings)
      : bookingRejected(
          of,
          { seatIds: request.seatIds, holdToken },
          request.reason as RejectionReason,
          request.offendingIds ?? [],
        );
  }
  if (request.status === 'CONFIRMED') return bookingCancelled(of, bookings);
  const bookingIds = request.bookingIds ?? (command?.type === 'CancelRequested' ? command.bookingIds : []);
  return cancelRejected(of, bookingIds, request.reason === 'WITHDRAWN' ? 'WITHDRAWN' : 'ALREADY_CANCELLED');
}
