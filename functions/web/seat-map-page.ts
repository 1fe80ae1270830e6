import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { html } from 'hono/html';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { events } from '../../lib/booking/db/schema.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { textResponse } from '../../lib/platform/openapi.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';
import { formatDate, layout, PAGE_HEADERS } from './layout.ts';

const Params = v.object({ eventId: IdParam });

/**
 * GET /map/:eventId: the event's seat map. The page is a shell; its script draws the seats from
 * GET /events/:eventId/stream and books with POST /bookings/book for the user id typed in, sending
 * the access token typed in (if any) as its bearer token.
 */
export const seatMapPage = new Hono<AppEnv>().get(
  '/map/:eventId',
  describeRoute({
    summary: "An event's seat map page",
    responses: {
      200: textResponse('The seat map, live, with a form to book', 'text/html'),
      404: textResponse('No such event: a page saying so', 'text/html'),
    },
  }),
  validate('param', Params),
  async (c) => {
    const { eventId } = c.req.valid('param');
    const { db, config } = c.get('services');
    const [event] = await db
      .select({ id: events.id, name: events.name, date: events.date, location: events.location })
      .from(events)
      .where(eq(events.id, eventId));

    if (!event) {
      return c.html(
        layout({
          title: 'No such event',
          header: html`<a href="/">← All events</a><h1>No such event</h1>`,
          main: html`<p>There is no event ${eventId}. <a href="/">See every event</a>.</p>`,
        }),
        404,
        PAGE_HEADERS,
      );
    }

    return c.html(
      layout({
        title: event.name,
        script: true,
        header: html`<a href="/">← All events</a>
<h1>${event.name}</h1>
<p>${formatDate(event.date)} · ${event.location}</p>`,
        main: html`<div id="seat-map" data-event-id="${event.id}" data-max-seats="${config.MAX_SEATS_PER_REQUEST}">
<section class="controls" aria-label="Booking">
<label>Your user id<input id="user-id" type="number" min="1" step="1" inputmode="numeric" autocomplete="off"></label>
<label>Access token, if asked for<input id="token" class="token" type="password" autocomplete="off" spellcheck="false"></label>
<div class="selection">Selected: <strong id="selection">none</strong></div>
<button id="book" class="book" type="button" disabled>Book seat</button>
<button id="clear" class="clear" type="button">Clear</button>
</section>
<p id="message" class="message" role="status" aria-live="polite"></p>
<div class="status-bar">
<span id="live" class="live" data-live="connecting">Connecting…</span>
<span id="counts"></span>
<ul class="legend" aria-label="Legend">
<li><span class="seat" data-state="available"></span>Free</li>
<li><span class="seat selected"></span>Selected</li>
<li><span class="seat" data-state="held"></span>Held</li>
<li><span class="seat" data-state="booked"></span>Booked</li>
<li><span class="seat mine" data-state="booked"></span>Yours</li>
</ul>
</div>
<div class="hall">
<div class="stage">Stage</div>
<div id="grid" class="grid" role="group" aria-label="Seats"></div>
</div>
</div>`,
      }),
      200,
      PAGE_HEADERS,
    );
  },
);
