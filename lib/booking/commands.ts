/**
 * The write path's one step into Kafka: `book` and `cancel` send their commands here, and an
 * uncertain send is settled before anyone hears "no" (lib/booking/requests.ts).
 */
import { withDeadline } from '../platform/deadline.ts';
import { ApiError } from '../platform/errors.ts';
import type { Services } from '../services.ts';
import { type BookingCommand, type BookingEvent, encodeMessage } from './messages.ts';
import { type Settled, settleRequest, type UncertainRequest } from './requests.ts';
import { statusUrl } from './responses.ts';

/** Redis marker of a request accepted but not decided yet (it holds the user id), for booking-status. */
export const pendingRequestKey = (requestId: string) => `request:${requestId}`;
export const PENDING_REQUEST_TTL_S = 86_400;

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
        kafka.send('bookingCommands', [encodeMessage(command)]),
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
 * Settles an earlier attempt of an idempotent request (see lib/platform/idempotency.ts). Without Postgres
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
