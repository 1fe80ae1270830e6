import { asc, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { events } from '../../lib/booking/db/schema.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { CachedBody, cachedResponse } from '../../lib/platform/http-cache.ts';
import { jsonResponse } from '../../lib/platform/openapi.ts';
import { Cursor, Limit, nextLink } from '../../lib/platform/pagination.ts';
import { rateLimitReads } from '../../lib/platform/rate-limit.ts';
import { validate } from '../../lib/platform/validation.ts';
import { EventView, eventColumns, eventView } from './event-view.ts';
import { EVENTS_CACHE_CONTROL, eventViews } from './event-views.ts';

const Query = v.strictObject({ limit: Limit(100, 500), cursor: Cursor });

/**
 * GET /events: the events, soonest first, in the seed's shape plus their free-seat count; `limit`
 * at a time, with a `Link: <...>; rel="next"` while more follow. The cursor is the id of the
 * page's last event: the next page starts after its (date, id). Limited per address as a public
 * read. Served from memory for EVENTS_MAX_AGE_MS (functions/events/event-views.ts), with an ETag
 * (304 to an If-None-Match naming it), compressed as Accept-Encoding asks, cacheable for a second.
 */
export const listEvents = new Hono<AppEnv>().get(
  '/events',
  describeRoute({
    summary: 'The events, soonest first',
    responses: {
      200: jsonResponse(
        'A page of events; `Link: rel="next"` while more follow. With an `ETag`: to an `If-None-Match` ' +
          'naming it the answer is 304, with no body',
        v.array(EventView),
      ),
    },
  }),
  rateLimitReads,
  validate('query', Query),
  async (c) => {
    const services = c.get('services');
    const { limit, cursor } = c.req.valid('query');
    const { body, next } = await eventViews(services).get(`page:${limit}:${cursor ?? ''}`, async () => {
      const rows = await services.db
        .select(eventColumns)
        .from(events)
        .where(
          cursor === undefined
            ? undefined
            : sql`(${events.date}, ${events.id}) > (select e.date, e.id from events e where e.id = ${cursor})`,
        )
        .orderBy(asc(events.date), asc(events.id))
        .limit(limit + 1);
      const listed = rows.slice(0, limit);
      return {
        body: CachedBody.json(listed.map(eventView)),
        next: rows.length > limit ? listed.at(-1)?.id : undefined,
      };
    });
    return cachedResponse(c, body, {
      cacheControl: EVENTS_CACHE_CONTROL,
      headers: nextLink(c.req.url, next),
    });
  },
);
