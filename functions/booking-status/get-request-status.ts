import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { pendingRequestKey } from '../../lib/booking/commands.ts';
import {
  type DecidedRequest,
  decidedOutcome,
  findDecided,
  type RequestSeat,
  seatsOfRequest,
} from '../../lib/booking/decided.ts';
import { bookingView, pendingBody, RequestStatusBody } from '../../lib/booking/responses.ts';
import { assertActsFor, authenticate } from '../../lib/platform/auth.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { validate } from '../../lib/platform/validation.ts';

const Params = v.object({ requestId: v.pipe(v.string(), v.uuid('must be a request id (a UUID)')) });

/**
 * GET /bookings/requests/:requestId: PENDING while the request waits in Kafka, then CONFIRMED
 * or CANCELED with its bookings, or REJECTED with the reason, from Postgres.
 */
export const getRequestStatus = new Hono<AppEnv>().get(
  '/bookings/requests/:requestId',
  describeRoute({
    summary: 'The outcome of a booking or cancel request',
    responses: {
      200: jsonResponse('Pending, or what was decided', RequestStatusBody),
      ...problemResponses({ 404: 'No such request' }),
    },
  }),
  authenticate(),
  validate('param', Params),
  async (c) => {
    const { db, redis } = c.get('services');
    const { requestId } = c.req.valid('param');
    const find = async () => (await findDecided(db, [requestId])).get(requestId);
    let request = await find();
    let pendingFor: string | null = null;
    if (!request) {
      pendingFor = await redis.get(pendingRequestKey(requestId)).catch(() => null);
      // The projector drops the marker once the request is decided: look again before a 404.
      if (pendingFor === null) request = await find();
    }
    if (!request) {
      if (pendingFor === null) throw new ApiError('NOT_FOUND', { detail: `No booking request ${requestId}` });
      assertActsFor(c.get('caller'), Number(pendingFor));
      return c.json(pendingBody(requestId));
    }
    assertActsFor(c.get('caller'), request.userId);
    return c.json(decidedBody(request, await seatsOfRequest(db, request)));
  },
);

function decidedBody(request: DecidedRequest, seats: readonly RequestSeat[]): RequestStatusBody {
  const decided = {
    request_id: request.id,
    kind: request.kind,
    user_id: request.userId,
    event_id: request.eventId,
  };
  const outcome = decidedOutcome(request, seats);
  switch (outcome.type) {
    case 'BookingRejected':
      return {
        ...decided,
        status: 'REJECTED',
        reason: outcome.reason,
        offending_ids: outcome.offendingSeatIds,
      };
    case 'CancelRejected':
      return {
        ...decided,
        status: 'REJECTED',
        reason: outcome.reason,
        offending_ids: request.offendingIds ?? [],
      };
    case 'BookingConfirmed':
    case 'BookingCancelled':
      return {
        ...decided,
        status: outcome.type === 'BookingConfirmed' ? 'CONFIRMED' : 'CANCELED',
        bookings: seats.map((seat) => bookingView(request, seat, seat.status)),
      };
  }
}
