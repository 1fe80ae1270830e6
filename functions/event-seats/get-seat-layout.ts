import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { SeatLayoutBody } from '../../lib/booking/responses.ts';
import { seatMapSnapshots } from '../../lib/booking/seats/snapshots.ts';
import { findEvent } from '../../lib/booking/unknown-events.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { cachedResponse } from '../../lib/platform/http-cache.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { rateLimitReads } from '../../lib/platform/rate-limit.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';

const Params = v.object({ eventId: IdParam });

/**
 * An event's seats are never added, removed or renumbered once it exists, so a browser or CDN
 * may keep the layout for an hour; a client that sees a seat map's `layout_etag` differ from its
 * layout's ETag fetches the layout again, revalidating (304 while it is the same).
 */
export const SEAT_LAYOUT_CACHE_CONTROL = 'public, max-age=3600';

/**
 * GET /events/:eventId/seat-layout: an event's seats (ids and numbers) in id order, as runs of
 * seats whose ids and numbers count up together (lib/booking/seats/seat-layout.ts): a grid of
 * 50,000 seats in rows of 50 is 1,000 runs. GET /events/:eventId/seat-map gives their states in
 * this order. From the process's seat-map snapshot, whatever its age (the layout does not change
 * with the states), with a long-lived ETag and Cache-Control.
 */
export const getSeatLayout = new Hono<AppEnv>().get(
  '/events/:eventId/seat-layout',
  describeRoute({
    summary: "An event's seat layout: its seats' ids and numbers, compactly",
    responses: {
      200: jsonResponse(
        "The event's seats in id order, as runs. With an `ETag` (the seat map's `layout_etag`): " +
          'to an `If-None-Match` naming it the answer is 304, with no body',
        SeatLayoutBody,
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
      seatMapSnapshots(services).getAnyAge(eventId, c.get('logger')),
    );
    if (!snapshot) throw new ApiError('NOT_FOUND', { detail: `No event ${eventId}` });
    return cachedResponse(c, snapshot.seatLayout, { cacheControl: SEAT_LAYOUT_CACHE_CONTROL });
  },
);
