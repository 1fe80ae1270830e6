/**
 * The bodies clients read that more than one function answers or reads (book, cancel,
 * booking-status, event-seats, the seat stream, the seat-map page), as valibot schemas: the
 * OpenAPI document shows them, the handlers build bodies of their inferred types, and the tests
 * parse real answers with them. Nothing validates an answer at run time. A body only one route
 * answers is declared in that route's file.
 */

import * as v from 'valibot';
import { ApiError, type ErrorCode } from '../platform/errors.ts';
import { Id } from '../platform/validation.ts';
import { BOOKING_STATUSES, REQUEST_KINDS } from './db/schema.ts';
import { type BookedSeat, REJECTION_REASONS, type RejectionReason } from './messages.ts';

export const statusUrl = (requestId: string) => `/bookings/requests/${requestId}`;

export const RequestId = v.pipe(v.string(), v.uuid());

/** A time in a body: ISO 8601 with its zone, as `Date.prototype.toISOString` writes it. */
export const Timestamp = v.pipe(v.string(), v.isoTimestamp());

/** A seat as the seat map shows it: free to book, held by a request being decided, or booked. */
export const SeatState = v.picklist(['available', 'held', 'booked']);

/**
 * Where a request stands, one spelling in every body: PENDING until the processor decides it,
 * then CONFIRMED (a booking), CANCELED (a cancel, as bookings are spelled) or REJECTED.
 */
export type RequestStatus = 'PENDING' | 'CONFIRMED' | 'CANCELED' | 'REJECTED';

/** The statuses after which a request's status no longer changes: a poller stops at these. */
export const DECIDED_STATUSES: ReadonlySet<string> = new Set<RequestStatus>([
  'CONFIRMED',
  'CANCELED',
  'REJECTED',
]);

export const BookingView = v.pipe(
  v.object({
    id: Id,
    user_id: Id,
    event_id: Id,
    seat_id: Id,
    seat_number: v.string(),
    status: v.picklist(BOOKING_STATUSES),
  }),
  v.metadata({ ref: 'BookingView' }),
);
export type BookingView = v.InferOutput<typeof BookingView>;

export function bookingView(
  request: { userId: number; eventId: number },
  seat: Pick<BookedSeat, 'bookingId' | 'seatId' | 'seatNumber'>,
  status: BookingView['status'],
): BookingView {
  return {
    id: seat.bookingId,
    user_id: request.userId,
    event_id: request.eventId,
    seat_id: seat.seatId,
    seat_number: seat.seatNumber,
    status,
  };
}

/** 201 of POST /bookings/book: the request and the bookings it made. */
export const ConfirmedBody = v.pipe(
  v.object({
    request_id: RequestId,
    status: v.literal('CONFIRMED'),
    user_id: Id,
    event_id: Id,
    bookings: v.array(BookingView),
  }),
  v.metadata({ ref: 'ConfirmedBody' }),
);
export type ConfirmedBody = v.InferOutput<typeof ConfirmedBody>;

export function confirmedBody(
  request: { requestId: string; userId: number; eventId: number },
  seats: readonly BookedSeat[],
): ConfirmedBody {
  return {
    request_id: request.requestId,
    status: 'CONFIRMED',
    user_id: request.userId,
    event_id: request.eventId,
    bookings: seats.map((seat) => bookingView(request, seat, 'CONFIRMED')),
  };
}

/** 202 of book and cancel, and booking-status before the decision: where to poll. */
export const PendingBody = v.pipe(
  v.object({ request_id: RequestId, status: v.literal('PENDING'), status_url: v.string() }),
  v.metadata({ ref: 'PendingBody' }),
);
export type PendingBody = v.InferOutput<typeof PendingBody>;

export function pendingBody(requestId: string): PendingBody {
  return { request_id: requestId, status: 'PENDING', status_url: statusUrl(requestId) };
}

/**
 * An event's seats (GET /events/seats/:eventId, the seat stream's snapshot, the seat-map page):
 * the seed's seat-id lists, plus every seat's number and state.
 */
export const EventSeatsBody = v.pipe(
  v.object({
    event_id: Id,
    /** Seat ids, as the seed system answered: booked, and free to book now. */
    booked_seats: v.array(Id),
    available_seats: v.array(Id),
    /** Seat ids held by a request being decided: neither free nor booked yet. */
    held_seats: v.array(Id),
    seats: v.array(
      v.object({
        seat_id: Id,
        seat_number: v.string(),
        state: SeatState,
        /** For a held seat read from Redis: when the hold lapses (ms since the epoch). */
        expires_at: v.optional(v.number()),
      }),
    ),
  }),
  v.metadata({ ref: 'EventSeatsBody' }),
);
export type EventSeatsBody = v.InferOutput<typeof EventSeatsBody>;

/**
 * GET /events/:eventId/seat-layout: an event's seats in id order, compactly
 * (lib/booking/seats/seat-layout.ts), described in the document too: the encoding is this API's own.
 */
export const SeatLayoutBody = v.pipe(
  v.object({
    event_id: Id,
    seat_count: v.pipe(v.number(), v.integer(), v.minValue(0)),
    runs: v.pipe(
      v.array(
        v.union([
          v.tuple([
            Id,
            v.string(),
            v.pipe(v.number(), v.integer(), v.minValue(0)),
            v.pipe(v.number(), v.integer(), v.minValue(1)),
          ]),
          v.tuple([Id, v.string()]),
        ]),
      ),
      v.description(
        'The seats in id order. `[first_seat_id, prefix, first_number, count]` is the seats ' +
          '`first_seat_id + i` numbered `prefix` followed by `first_number + i`, for i from 0 to count - 1; ' +
          '`[seat_id, seat_number]` is one seat whose number does not end in digits',
      ),
    ),
  }),
  v.metadata({ ref: 'SeatLayoutBody' }),
);
export type SeatLayoutBody = v.InferOutput<typeof SeatLayoutBody>;

/** GET /events/:eventId/seat-map: an event's seat states compactly, for the layout `layout_etag` names. */
export const SeatMapBody = v.pipe(
  v.object({
    event_id: Id,
    layout_etag: v.pipe(
      v.string(),
      v.description(
        'The ETag of the seat layout (GET /events/{eventId}/seat-layout) the states are in the order of',
      ),
    ),
    states: v.pipe(
      v.string(),
      v.regex(/^[ahb]*$/),
      v.description("One character a seat, in the layout's order: `a` available, `h` held, `b` booked"),
    ),
    hold_expires_at: v.pipe(
      v.array(v.number()),
      v.description('For each `h` in `states`, in turn: when its hold lapses (ms since the epoch)'),
    ),
  }),
  v.metadata({ ref: 'SeatMapBody' }),
);
export type SeatMapBody = v.InferOutput<typeof SeatMapBody>;

const REJECTIONS: Record<RejectionReason, { code: ErrorCode; detail: string; field: string }> = {
  SEATS_TAKEN: { code: 'CONFLICT', detail: 'Some seats are already held or booked', field: 'taken_seat_ids' },
  UNKNOWN_EVENT: { code: 'NOT_FOUND', detail: 'No such event', field: 'event_id' },
  UNKNOWN_SEATS: {
    code: 'UNPROCESSABLE',
    detail: 'Some seats are not seats of this event',
    field: 'unknown_seat_ids',
  },
  UNKNOWN_USER: { code: 'UNPROCESSABLE', detail: 'No such user', field: 'user_id' },
  WITHDRAWN: {
    code: 'SERVICE_UNAVAILABLE',
    detail: 'The request could not be queued and was withdrawn',
    field: 'seat_ids',
  },
};

/** GET /bookings/requests/:requestId (booking-status), and the page that follows a 202. */
const DecidedFields = { request_id: RequestId, kind: v.picklist(REQUEST_KINDS), user_id: Id, event_id: Id };

/** PENDING, or decided: CONFIRMED or CANCELED with the bookings, or REJECTED with the reason. */
export const RequestStatusBody = v.union([
  PendingBody,
  v.object({
    ...DecidedFields,
    status: v.picklist(['CONFIRMED', 'CANCELED']),
    /** Each booking as it stands now: one a booking request made may have been cancelled since. */
    bookings: v.array(BookingView),
  }),
  v.object({
    ...DecidedFields,
    status: v.literal('REJECTED'),
    reason: v.picklist([...REJECTION_REASONS, 'ALREADY_CANCELLED']),
    /** The seats (or, for a cancel, the bookings) that decided the rejection. */
    offending_ids: v.array(Id),
  }),
]);
export type RequestStatusBody = v.InferOutput<typeof RequestStatusBody>;

/** The seat stream's (seat-stream) `event: snapshot` data: the event's seats, and the server's clock for `expires_at`. */
export const SnapshotData = v.intersect([EventSeatsBody, v.object({ server_time: v.number() })]);
export type SnapshotData = v.InferOutput<typeof SnapshotData>;

/** The seat stream's `event: change` data: seats that took a state (a held seat with when its hold lapses). */
export const ChangeData = v.object({
  event_id: Id,
  state: SeatState,
  seat_ids: v.array(Id),
  expires_at: v.optional(v.number()),
});
export type ChangeData = v.InferOutput<typeof ChangeData>;

/** The problem a rejected booking answers with: 409 for taken seats, 404/422 for unknown ids. */
export function rejectionError(
  reason: RejectionReason,
  request: { requestId?: string; eventId: number; userId: number },
  offendingIds: readonly number[],
): ApiError {
  const { code, detail, field } = REJECTIONS[reason];
  const offending =
    reason === 'UNKNOWN_EVENT' ? request.eventId : reason === 'UNKNOWN_USER' ? request.userId : offendingIds;
  const list = Array.isArray(offending) ? offending.join(', ') : String(offending);
  return new ApiError(code, {
    detail: `${detail}: ${list}. Nothing was booked.`,
    extensions: {
      reason,
      [field]: offending,
      ...(request.requestId ? { request_id: request.requestId } : {}),
    },
  });
}
