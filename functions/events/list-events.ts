import { asc, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { events } from '../../lib/booking/db/schema.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { jsonResponse } from '../../lib/platform/openapi.ts';
import { Cursor, Limit, nextLink } from '../../lib/platform/pagination.ts';
import { rateLimitReads } from '../../lib/platform/rate-limit.ts';
import { validate } from '../../lib/platform/validation.ts';
import { EventView, eventColumns, eventView } from './event-view.ts';

const Query = v.strictObject({ limit: Limit(100, 500), cursor: Cursor });

/**
 * GET /events: the events, soonest first, in the seed's shape plus their free-seat count; `limit`
 * at a time, with a `Link: <...>; rel="next"` while more follow. The cursor is the id of the
 * page's last event: the next page starts after its (date, id). Limited per address as a public
 * read.
 */
export const listEvents = new Hono<AppEnv>().get(
  '/events',
  describeRoute({
    summary: 'The events, soonest first',
    responses: {
      200: jsonResponse('A page of events; `Link: rel="next"` while more follow', v.array(EventView)),
    },
  }),
  rateLimitReads,
  validate('query', Query),
  async (c) => {
    const { db } = c.get('services');
    const { limit, cursor } = c.req.valid('query');
    const rows = await db
      .select(eventColumns)
      .from(events)
      .where(
        cursor === undefined
          ? undefined
          : sql`(${events.date}, ${events.id}) > (select e.date, e.id from events e where e.id = ${cursor})`,
      )
      .orderBy(asc(events.date), asc(events.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    return c.json(
      page.map(eventView),
      200,
      nextLink(c.req.url, rows.length > limit ? page.at(-1)?.id : undefined),
    );
  },
);
