import { asc } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { events } from '../../lib/booking/db/schema.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { jsonResponse } from '../../lib/platform/openapi.ts';
import { EventView, eventColumns, eventView } from './event-view.ts';

/** GET /events: every event, soonest first, in the seed's shape plus its free-seat count. */
export const listEvents = new Hono<AppEnv>().get(
  '/events',
  describeRoute({
    summary: 'Every event, soonest first',
    responses: { 200: jsonResponse('The events', v.array(EventView)) },
  }),
  async (c) => {
    const { db } = c.get('services');
    const rows = await db.select(eventColumns).from(events).orderBy(asc(events.date), asc(events.id));
    return c.json(rows.map(eventView));
  },
);
