import { asc, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { html } from 'hono/html';
import { describeRoute } from 'hono-openapi';
import { events } from '../../lib/booking/db/schema.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { textResponse } from '../../lib/platform/openapi.ts';
import { formatDate, layout, pageSecurityHeaders } from './layout.ts';

/** GET /: the events, soonest first, each linking to its seat map. */
export const homePage = new Hono<AppEnv>().get(
  '/',
  describeRoute({
    summary: 'The events page',
    responses: { 200: textResponse('The events, each linking to its seat map', 'text/html') },
  }),
  pageSecurityHeaders,
  async (c) => {
    const { db } = c.get('services');
    const rows = await db
      .select({
        id: events.id,
        name: events.name,
        date: events.date,
        location: events.location,
        totalSeats: events.totalSeats,
        freeSeats: sql<number>`(select count(*)::int from seats s where s.event_id = "events"."id" and not s.is_booked)`,
      })
      .from(events)
      .orderBy(asc(events.date), asc(events.id));

    const list =
      rows.length === 0
        ? html`<p>No events yet.</p>`
        : html`<table class="events">
<thead><tr><th>Event</th><th>When</th><th>Where</th><th>Free seats</th></tr></thead>
<tbody>
${rows.map(
  (event) => html`<tr>
<td><a href="/map/${event.id}">${event.name}</a></td>
<td>${formatDate(event.date)}</td>
<td>${event.location}</td>
<td class="number">${event.freeSeats} / ${event.totalSeats}</td>
</tr>
`,
)}</tbody>
</table>`;

    return c.html(
      layout({
        title: 'Events',
        header: html`<h1>Events</h1><p>Pick an event to see its seats live and book them.</p>`,
        main: list,
      }),
      200,
    );
  },
);
