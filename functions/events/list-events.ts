import { asc } from 'drizzle-orm';
import { Hono } from 'hono';
import type { AppEnv } from '../../lib/app.ts';
import { events } from '../../lib/db/schema.ts';

/** GET /events: every event, soonest first, in the seed's shape. */
export const listEvents = new Hono<AppEnv>().get('/events', async (c) => {
  const rows = await c.var.services.db
    .select({
      id: events.id,
      name: events.name,
      date: events.date,
      location: events.location,
      total_seats: events.totalSeats,
      created_at: events.createdAt,
    })
    .from(events)
    .orderBy(asc(events.date), asc(events.id));
  return c.json(rows);
});
