import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { SeatMapBody } from '../../lib/booking/responses.ts';
import { seatMapSnapshots } from '../../lib/booking/seats/snapshots.ts';
import { findEvent } from '../../lib/booking/unknown-events.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { cachedResponse } from '../../lib/platform/http-cache.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { rateLimitReads } from '../../lib/platform/rate-limit.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';
import { DATA_SOURCE_HEADER, SEAT_MAP_CACHE_CONTROL } from './get-event-seats.ts';

const Params = v.object({ eventId: IdParam });

/**
 * GET /events/:eventId/seat-map: the seat map of a large event in few bytes. The states only, one
 * character a seat in the order of GET /events/:eventId/seat-layout (which the body names by its
 * ETag, `layout_etag`, and which a client fetches once), and the expiries of the held seats: a
 * 50,000-seat event's states are a few KB compressed where GET /events/seats/:eventId is 270 KB.
 * A separate URL rather than a media type on that one: a CDN keys its cache by URL (few honour
 * `Vary: Accept`), and each URL keeps one body and one ETag. Served like it from the process's
 * snapshot (lib/booking/seats/snapshots.ts): ETag and 304, Brotli or gzip, cacheable for a second,
 * from Redis or, while Redis does not answer, from Postgres (`x-data-source`, no holds there).
 */
export const getSeatMap = new Hono<AppEnv>().get(
  '/events/:eventId/seat-map',
  describeRoute({
    summary: "An event's seat states, compactly: one character a seat",
    responses: {
      200: jsonResponse(
        "The event's seat states, in the order of its seat layout (the one whose ETag is `layout_etag`). " +
          'With an `ETag`: to an `If-None-Match` naming it the answer is 304, with no body',
        SeatMapBody,
      ),
      ...problemResponses({ 404: 'No such event' }),
    },
  }),
  rateLimitReads,
  validate('param', Params),
  async (c) => {
    const { eventId } = c.req.valid('param');
    const services = c.get('services');
    const snapshot = await findEvent(services, eventId, () =>
      seatMapSnapshots(services).get(eventId, c.get('logger'), { settling: true }),
    );
    if (!snapshot) throw new ApiError('NOT_FOUND', { detail: `No event ${eventId}` });
    return cachedResponse(c, snapshot.seatMap, {
      cacheControl: SEAT_MAP_CACHE_CONTROL,
      headers: { [DATA_SOURCE_HEADER]: snapshot.source },
    });
  },
);
