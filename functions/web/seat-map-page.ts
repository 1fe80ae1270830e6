import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { html } from 'hono/html';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { events } from '../../lib/booking/db/schema.ts';
import { findEvent } from '../../lib/booking/unknown-events.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { textResponse } from '../../lib/platform/openapi.ts';
import { rateLimitReads } from '../../lib/platform/rate-limit.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';
import { formatDate, layout, pageSecurityHeaders } from './layout.ts';
import { demoSignInEnabled, demoUsers } from './sign-in.ts';

const Params = v.object({ eventId: IdParam });

/** How the person may sign in: the provider, a demo user (development), or neither, said plainly. */
function signInChoices(oidc: boolean, demo: { id: number; name: string }[] | undefined) {
  const provider = oidc ? html`<button id="oidc-sign-in" class="book" type="button">Sign in</button>` : '';
  if (demo?.length) {
    return html`${provider}<label>Sign in as a demo user<select id="demo-user">${demo.map(
      (user) => html`<option value="${user.id}">${user.name} (user ${user.id})</option>`,
    )}</select></label>
<button id="demo-sign-in" class="clear" type="button">Sign in</button>`;
  }
  if (demo) return html`${provider}<p>No demo users yet: <code>npm run db:seed</code> adds them.</p>`;
  return (
    provider ||
    html`<p id="no-sign-in">Sign-in is not configured on this site: booking here needs an access token from its operator.</p>`
  );
}

/**
 * GET /map/:eventId: the event's seat map. The page is a shell; its script draws the seats from
 * GET /events/:eventId/stream and books with POST /bookings/book as the person signed in: through
 * the OIDC provider of AUTH_OIDC_ISSUER (its settings are in the sign-in section's data attributes),
 * as one of the demo users listed here in development, or with an access token pasted in.
 * For an event whose waiting line is on (its `queue`), the page shows the line (#waiting-room)
 * instead, and the seats once the buyer has joined it and been let in.
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
  rateLimitReads,
  validate('param', Params),
  pageSecurityHeaders,
  async (c) => {
    const { eventId } = c.req.valid('param');
    const { db, config } = c.get('services');
    // An id that named no event a moment ago costs Postgres nothing (a scan of ids).
    const event = await findEvent(c.get('services'), eventId, async () => {
      const [found] = await db
        .select({
          id: events.id,
          name: events.name,
          date: events.date,
          location: events.location,
          onSaleAt: events.onSaleAt,
          queue: events.queue,
        })
        .from(events)
        .where(eq(events.id, eventId));
      return found;
    });

    if (!event) {
      return c.html(
        layout({
          title: 'No such event',
          header: html`<a href="/">← All events</a><h1>No such event</h1>`,
          main: html`<p>There is no event ${eventId}. <a href="/">See every event</a>.</p>`,
        }),
        404,
      );
    }

    const demo = demoSignInEnabled(config) ? await demoUsers(db) : undefined;
    // With a waiting line the seats show once the buyer is let in; until then, the line.
    const lineRequired = event.queue?.enabled === true;
    return c.html(
      layout({
        title: event.name,
        script: true,
        header: html`<a href="/">← All events</a>
<h1>${event.name}</h1>
<p>${formatDate(event.date)} · ${event.location}</p>`,
        main: html`<div id="seat-map" data-event-id="${event.id}" data-max-seats="${config.MAX_SEATS_PER_REQUEST}" data-line="${lineRequired ? 'required' : 'none'}" data-on-sale-at="${event.onSaleAt?.toISOString() ?? ''}">
<section id="sign-in" aria-label="Sign-in" data-oidc-issuer="${config.AUTH_OIDC_ISSUER}" data-oidc-client-id="${config.AUTH_OIDC_CLIENT_ID}" data-oidc-scope="${config.AUTH_OIDC_SCOPE}" data-oidc-audience="${config.AUTH_OIDC_AUDIENCE}">
<div id="signed-out"><div class="controls">
${signInChoices(config.AUTH_OIDC_ISSUER !== '', demo)}
<details><summary>Use an access token</summary>
<label>Access token<input id="token" class="token" type="password" autocomplete="off" spellcheck="false"></label>
<button id="token-sign-in" class="clear" type="button">Use token</button>
</details>
</div></div>
<p id="signed-in" hidden>Signed in as <strong id="who"></strong> <button id="sign-out" class="clear" type="button">Sign out</button></p>
</section>
<section id="waiting-room" class="waiting-room" aria-labelledby="line-title"${lineRequired ? '' : html` hidden`}>
<h2 id="line-title">Waiting line</h2>
<p id="line-status" class="line-status"></p>
<p id="line-detail" class="line-detail"></p>
<p><span id="line-live" class="live" hidden></span></p>
<button id="join-line" class="book" type="button" hidden>Join the line</button>
<p id="line-announce" class="visually-hidden" role="status" aria-live="polite" aria-atomic="true"></p>
</section>
<p id="message" class="message" role="status" aria-live="polite"></p>
<div id="seats-view"${lineRequired ? html` hidden` : ''}>
<section class="controls" aria-label="Booking">
<div class="selection">Selected: <strong id="selection">none</strong></div>
<button id="book" class="book" type="button" disabled>Book seat</button>
<button id="clear" class="clear" type="button">Clear</button>
</section>
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
<div class="map-tools" role="group" aria-label="Zoom">
<span>Zoom</span>
<button id="zoom-out" type="button" aria-label="Zoom out">−</button>
<button id="zoom-in" type="button" aria-label="Zoom in">+</button>
<button id="zoom-fit" type="button" aria-pressed="true">Fit width</button>
</div>
<div id="hall" class="hall">
<div class="stage">Stage</div>
<div id="grid" class="grid" role="group" aria-label="Seats"></div>
</div>
</div>
</div>`,
      }),
      200,
    );
  },
);
