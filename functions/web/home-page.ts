import { asc, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { html } from 'hono/html';
import { describeRoute } from 'hono-openapi';
import { events } from '../../lib/booking/db/schema.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { textResponse } from '../../lib/platform/openapi.ts';
import { rateLimitReads } from '../../lib/platform/rate-limit.ts';
import { formatDate, layout, pageSecurityHeaders } from './layout.ts';

/** The page lists at most this many events; GET /events pages through all of them. */
export const HOME_PAGE_EVENTS = 100;

/** GET /: the events, soonest first, each linking to its seat map. */
export const homePage = new Hono<AppEnv>().get(
  '/',
  describeRoute({
    summary: 'The events page',
    responses: { 200: textResponse('The events, each linking to its seat map', 'text/html') },
  }),
  rateLimitReads,
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
      .orderBy(asc(events.date), asc(events.id))
      .limit(HOME_PAGE_EVENTS + 1);
    const more = rows.length > HOME_PAGE_EVENTS;

    const list =
      rows.length === 0
        ? html`<p>No events yet.</p>`
        : html`<table class="events">
<thead><tr><th>Event</th><th>When</th><th>Where</th><th>Free seats</th></tr></thead>
<tbody>
${rows.slice(0, HOME_PAGE_EVENTS).map(
  (event) => html`<tr>
<td><a href="/map/${event.id}">${event.name}</a></td>
<td>${formatDate(event.date)}</td>
<td>${event.location}</td>
<td class="number">${event.freeSeats} / ${event.totalSeats}</td>
</tr>
`,
)}</tbody>
</table>${more ? html`<p>The first ${HOME_PAGE_EVENTS} events; <a href="/events">GET /events</a> pages through all.</p>` : ''}`;

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
