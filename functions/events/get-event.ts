import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { events } from '../../lib/booking/db/schema.ts';
import { findEvent } from '../../lib/booking/unknown-events.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { CachedBody, cachedResponse } from '../../lib/platform/http-cache.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { rateLimitReads } from '../../lib/platform/rate-limit.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';
import { EventView, eventColumns, eventView } from './event-view.ts';
import { EVENTS_CACHE_CONTROL, eventViews } from './event-views.ts';

const Params = v.object({ eventId: IdParam });

/**
 * GET /events/:eventId: one event, as GET /events lists it; limited per address as a public read.
 * Served from memory like GET /events (functions/events/event-views.ts), with an ETag (304 to an
 * If-None-Match naming it), cacheable for a second.
 */
export const getEvent = new Hono<AppEnv>().get(
  '/events/:eventId',
  describeRoute({
    summary: 'One event',
    responses: {
      200: jsonResponse(
        'The event. With an `ETag`: to an `If-None-Match` naming it the answer is 304, with no body',
        EventView,
      ),
      ...problemResponses({ 404: 'No such event' }),
    },
  }),
  rateLimitReads,
  validate('param', Params),
  async (c) => {
    const { eventId } = c.req.valid('param');
    const services = c.get('services');
    const event = await findEvent(services, eventId, () =>
      eventViews(services).get(`event:${eventId}`, async () => {
        const [row] = await services.db.select(eventColumns).from(events).where(eq(events.id, eventId));
        return row && { body: CachedBody.json(eventView(row)) };
      }),
    );
    if (!event) throw new ApiError('NOT_FOUND', { detail: `No event ${eventId}` });
    return cachedResponse(c, event.body, { cacheControl: EVENTS_CACHE_CONTROL });
  },
);
