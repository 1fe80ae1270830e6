/** How booking outcomes look to clients; shared by book, cancel and booking-status. */

import { ApiError, type ErrorCode } from '../platform/errors.ts';
import type { BookedSeat, RejectionReason } from './messages.ts';

export const statusUrl = (requestId: string) => `/bookings/requests/${requestId}`;

export interface BookingView {
  id: number;
  user_id: number;
  event_id: number;
  seat_id: number;
  seat_number: string;
  status: 'CONFIRMED' | 'CANCELED';
}

export function bookingViews(
  request: { userId: number; eventId: number },
  seats: readonly Omit<BookedSeat, 'version'>[],
  status: BookingView['status'],
): BookingView[] {
  return seats.map((seat) => ({
    id: seat.bookingId,
    user_id: request.userId,
    event_id: request.eventId,
    seat_id: seat.seatId,
    seat_number: seat.seatNumber,
    status,
  }));
}

export function confirmedBody(
  request: { requestId: string; userId: number; eventId: number },
  seats: readonly BookedSeat[],
) {
  return {
    request_id: request.requestId,
    status: 'CONFIRMED' as const,
    user_id: request.userId,
    event_id: request.eventId,
    bookings: bookingViews(request, seats, 'CONFIRMED'),
  };
}

export function pendingBody(requestId: string) {
  return { request_id: requestId, status: 'PENDING' as const, status_url: statusUrl(requestId) };
}

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
