/** How booking outcomes look to clients; shared by book, cancel and booking-status. */

import { withDeadline } from './deadline.ts';
import { ApiError, type ErrorCode } from './errors.ts';
import {
  type BookedSeat,
  type BookingCommand,
  type BookingEvent,
  encodeEvent,
  type RejectionReason,
} from './events.ts';
import { type Settled, settleRequest, type UncertainRequest } from './requests.ts';
import type { Services } from './services.ts';

/** Redis marker of a request accepted but not decided yet (it holds the user id), for booking-status. */
export const pendingRequestKey = (requestId: string) => `request:${requestId}`;
export const PENDING_REQUEST_TTL_S = 86_400;

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

/**
 * Sends a command to `booking-commands` and returns its outcome if it arrives within
 * BOOK_WAIT_MS (undefined: answer 202). The waiter is registered before the send, so no outcome
 * slips past; the pending marker lets booking-status answer PENDING meanwhile.
 *
 * A send that fails or is not acknowledged within KAFKA_SEND_TIMEOUT_MS may still have been
 * written, so it is not a "no" yet: the request is settled in Postgres first. If the processor
 * decided it meanwhile, that is the outcome; otherwise it is withdrawn, `undo` runs (releasing
 * seat locks) and the answer is a 503 that is true: nothing changed. If even Postgres cannot
 * settle it, the 503 says the outcome is unknown and how to learn it (the request id, and a retry
 * with the same Idempotency-Key).
 */
export async function sendCommand(
  services: Services,
  command: BookingCommand,
  options: { wait: boolean; undo?: () => Promise<unknown>; refusal: string },
): Promise<BookingEvent | undefined> {
  const { outcomes, kafka, redis, config, logger, db } = services;
  const { requestId } = command;
  const waiting = options.wait
    ? await outcomes
        .ready()
        .then(() => outcomes.expect(requestId, config.BOOK_WAIT_MS))
        .catch(() => undefined) // without pub/sub the client polls
    : undefined;
  try {
    await withDeadline(
      Promise.all([
        kafka.send('bookingCommands', [encodeEvent(command)]),
        redis.set(pendingRequestKey(requestId), command.userId, 'EX', PENDING_REQUEST_TTL_S).catch(() => {}),
      ]),
      config.KAFKA_SEND_TIMEOUT_MS,
    );
  } catch (error) {
    waiting?.cancel();
    logger.error(
      { err: error, requestId, type: command.type },
      'Kafka did not take the command; settling it',
    );
    let settled: Settled;
    try {
      settled = await settleRequest(db, uncertainRequestOf(command));
    } catch (settleError) {
      logger.error({ err: settleError, requestId }, 'could not settle the request (Postgres)');
      throw new ApiError('SERVICE_UNAVAILABLE', {
        detail: `${options.refusal}: Kafka did not acknowledge it and its outcome is not known yet. Retry with the same Idempotency-Key, or follow status_url.`,
        headers: { 'retry-after': '2' },
        extensions: { request_id: requestId, status_url: statusUrl(requestId) },
      });
    }
    if (settled.kind === 'decided') return settled.outcome;
    await options.undo?.().catch(() => {});
    await redis.del(pendingRequestKey(requestId)).catch(() => {});
    throw new ApiError('SERVICE_UNAVAILABLE', {
      detail: `${options.refusal} (Kafka is unavailable); nothing changed. Retry shortly.`,
      headers: { 'retry-after': '2' },
      extensions: { request_id: requestId },
    });
  }
  return waiting?.outcome;
}

/**
 * Settles an earlier attempt of an idempotent request (see lib/idempotency.ts). Without Postgres
 * its outcome stays unknown: a 503 the client retries with the same key.
 */
export async function settleEarlier(services: Services, request: UncertainRequest): Promise<Settled> {
  try {
    return await settleRequest(services.db, request);
  } catch (error) {
    services.logger.error(
      { err: error, requestId: request.requestId },
      'could not settle an earlier attempt',
    );
    throw new ApiError('SERVICE_UNAVAILABLE', {
      detail: `The outcome of an earlier attempt with this Idempotency-Key (request ${request.requestId}) is not known yet; retry shortly with the same key.`,
      headers: { 'retry-after': '2' },
      extensions: { request_id: request.requestId, status_url: statusUrl(request.requestId) },
    });
  }
}

export function uncertainRequestOf(command: BookingCommand): UncertainRequest {
  return {
    requestId: command.requestId,
    kind: command.type === 'BookingRequested' ? 'BOOK' : 'CANCEL',
    userId: command.userId,
    eventId: command.eventId,
    seatIds: command.type === 'BookingRequested' ? command.seatIds : [],
  };
}
