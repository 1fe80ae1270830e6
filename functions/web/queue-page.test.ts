/**
 * The seat-map page's waiting room in a real browser (chromium.ts), against every function running
 * in this process over the real Postgres, Redis and Kafka, and a 4,000-seat map at a laptop's and a
 * phone's width. The admission function's timer is not started: a test lets buyers in when it
 * wants, with one run of that function (POST / to its app, as its trigger does), so the page is
 * seen at each step. Screenshots of the steps go to QUEUE_PAGE_SCREENSHOTS (a directory) if set.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, type BrowserContextOptions, chromium, type Page } from 'playwright-core';
import type { QueueSettings } from '../../lib/booking/queue/settings.ts';
import type { QueueTicketBody } from '../../lib/booking/queue/tickets.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import { issueToken } from '../../lib/platform/auth.ts';
import type { RunningFunctions } from '../../lib/platform/runner.ts';
import { closeServices } from '../../lib/services.ts';
import { bearer, createTestUsers, testServices } from '../../test/support.ts';
import { startSystem } from '../../test/system.ts';
import queueAdmission from '../queue-admission/index.ts';
import { CHROMIUM, CHROMIUM_ARGS, reportingContext, skipWithoutChromium, useToken } from './chromium.ts';

/** Two sessions at once, let in as fast as they free up. */
const QUEUE = { admit_per_minute: 6_000, max_active: 2, session_minutes: 5, prequeue_minutes: 15 };
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const WAIT_MS = 10_000;

describe('web: the waiting room and a 4,000-seat map in Chromium', { skip: skipWithoutChromium }, () => {
  // Sale settings read fresh and every position sent at once, so each step shows without delay.
  const services = testServices({
    SALE_SETTINGS_MAX_AGE_MS: '0',
    QUEUE_UPDATE_MS: '0',
    SSE_MAX_PER_ADDRESS: '100',
  });
  const admission = createFunctionApp(queueAdmission, services);
  let system: RunningFunctions;
  let browser: Browser;
  let admin: { authorization: string };
  const pages: Page[] = [];
  /** What the pages' Content-Security-Policy refused: nothing. */
  const violations: string[] = [];
  afterEach(() => assert.deepEqual(violations.splice(0), [], 'Content-Security-Policy violations'));

  before(async () => {
    system = await startSystem(services, { except: ['queue-admission'] });
    const [adminId] = await createTestUsers(services, 1);
    admin = await bearer(adminId as number, 'admin');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    // The pages' streams must be gone before the server can close.
    await Promise.all(pages.map((page) => page.close()));
    await browser?.close();
    await system?.stop();
    await closeServices(services);
    services.subscriber.disconnect();
  });

  /** One run of the admission function, over every open line. */
  async function admit(): Promise<void> {
    const response = await admission.request('/', { method: 'POST' });
    assert.equal(response.status, 200, await response.text());
  }

  async function createEvent(
    rows: number,
    seatsPerRow: number,
    sale: { queue?: Partial<QueueSettings>; on_sale_at?: string } = {},
  ): Promise<{ eventId: number; seatIds: number[] }> {
    const response = await fetch(`${system.url}/events`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'On-sale in the browser',
        date: '2030-01-01T20:00:00Z',
        location: 'Hall',
        rows,
        seats_per_row: seatsPerRow,
        ...sale,
      }),
    });
    const body = (await response.json()) as { id: number; seats: { seat_id: number }[] };
    assert.equal(response.status, 201, JSON.stringify(body));
    return { eventId: body.id, seatIds: body.seats.map((seat) => seat.seat_id) };
  }

  /** POST /events/:eventId/queue as the user, as another buyer's browser would. */
  async function joinLine(eventId: number, userId: number): Promise<QueueTicketBody> {
    const response = await fetch(`${system.url}/events/${eventId}/queue`, {
      method: 'POST',
      headers: await bearer(userId),
    });
    assert.equal(response.status, 201);
    return (await response.json()) as QueueTicketBody;
  }

  async function ticketOf(eventId: number, userId: number, ticketId: string): Promise<QueueTicketBody> {
    const response = await fetch(`${system.url}/events/${eventId}/queue/${ticketId}`, {
      headers: await bearer(userId),
    });
    assert.equal(response.status, 200);
    return (await response.json()) as QueueTicketBody;
  }

  async function bookWith(userId: number, eventId: number, seatIds: number[], token: string) {
    const response = await fetch(`${system.url}/bookings/book`, {
      method: 'POST',
      headers: { ...(await bearer(userId)), 'content-type': 'application/json' },
      body: JSON.stringify({ event_id: eventId, seat_ids: seatIds, admission_token: token }),
    });
    assert.equal(response.status, 201, await response.text());
  }

  /** The event's page, signed in as the user if one is given. */
  async function openPage(eventId: number, userId?: number, options: BrowserContextOptions = {}) {
    // Times on the page read as this test expects them: 24-hour clock, UTC.
    const context = await reportingContext(browser, violations, {
      viewport: LAPTOP,
      locale: 'en-GB',
      timezoneId: 'UTC',
      ...options,
    });
    const page = await context.newPage();
    pages.push(page);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${system.url}/map/${eventId}`);
    if (userId) {
      await useToken(page, issueToken(services.config, { id: userId, role: 'user' }));
      await page.locator('#signed-in:not([hidden])').waitFor({ timeout: WAIT_MS });
    }
    return { page, errors };
  }

  const text = async (page: Page, selector: string) => (await page.locator(selector).textContent()) ?? '';
  /** Waits until the line's status reads `expected`. */
  const lineSays = (page: Page, expected: RegExp) =>
    page.locator('#line-status').filter({ hasText: expected }).waitFor({ timeout: WAIT_MS });
  const seat = (page: Page, seatId: number) => page.locator(`.seat[data-seat-id="${seatId}"]`);
  /** Whether the page is no wider than its window (nothing runs off the right edge). */
  const fitsWindow = (page: Page) =>
    page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

  async function screenshot(page: Page, name: string): Promise<void> {
    const directory = process.env.QUEUE_PAGE_SCREENSHOTS;
    if (directory) await page.screenshot({ path: join(directory, `${name}.png`), fullPage: true });
  }

  it('joins the line, watches its place, is let in and books a seat (laptop width)', async () => {
    const event = await createEvent(2, 10, { queue: QUEUE });
    const [first, second, buyer] = (await createTestUsers(services, 3)) as [number, number, number];
    const firstJoined = await joinLine(event.eventId, first);
    await joinLine(event.eventId, second);

    const { page, errors } = await openPage(event.eventId, buyer);
    const seatStreams: string[] = [];
    const bookBodies: { admission_token?: string }[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith(`/events/${event.eventId}/stream`)) seatStreams.push(request.url());
      if (request.url().endsWith('/bookings/book')) bookBodies.push(request.postDataJSON());
    });
    // The line instead of the seats.
    assert.equal(await page.locator('#seats-view').isHidden(), true);
    assert.equal(await text(page, '#line-status'), 'This on-sale has a waiting line.');
    await page.click('#join-line');
    await lineSays(page, /^You are number 3 in line\.$/);
    assert.match(await text(page, '#line-detail'), /^Estimated wait: about \d+ min\.$/);
    assert.match(await text(page, '#line-announce'), /^You are number 3 in line\. Estimated wait: /);
    assert.equal(await page.locator('#line-announce').getAttribute('role'), 'status');
    assert.equal(await page.locator('#join-line').isHidden(), true);
    await screenshot(page, 'queue-1-in-line');

    // A reload finds the same place (the ticket kept for this tab), without joining again.
    await page.reload();
    await lineSays(page, /^You are number 3 in line\.$/);
    assert.equal(await page.locator('#join-line').isHidden(), true);
    await page.locator('#line-live[data-live="live"]').waitFor({ timeout: WAIT_MS });

    // The two ahead are let in (max_active 2): the page hears its new place live.
    await admit();
    await lineSays(page, /^You are number 1 in line\.$/);
    // Both sessions still run: nobody else is let in.
    await admit();
    await sleep(300);
    assert.equal(await text(page, '#line-status'), 'You are number 1 in line.');
    assert.deepEqual(seatStreams, [], 'no seat stream while in line');

    // The first books, which ends their session: the next run lets the buyer in.
    const firstTicket = await ticketOf(event.eventId, first, firstJoined.ticket_id);
    assert.equal(firstTicket.status, 'admitted');
    await bookWith(first, event.eventId, [event.seatIds[0] as number], firstTicket.admission_token ?? '');
    await admit();
    await lineSays(page, /^It's your turn: pick your seats and book them\.$/);
    assert.match(await text(page, '#line-detail'), /^Time left to book: [45]:\d\d \(until \d\d:\d\d\)\.$/);
    assert.equal(await text(page, '#line-announce'), "It's your turn: pick your seats and book them.");
    await page.locator('#live[data-live="live"]').waitFor({ timeout: WAIT_MS });
    await seat(page, event.seatIds[0] as number)
      .and(page.locator('[data-state="booked"]'))
      .waitFor({ timeout: WAIT_MS });
    assert.equal(seatStreams.length, 1, 'the seats are streamed once let in');
    const { admission_token } = await ticketOf(event.eventId, buyer, await keptTicketId(page, event.eventId));
    assert.ok(admission_token);

    const target = event.seatIds[2] as number; // A3
    await seat(page, target).click();
    await page.click('#book');
    await page.locator('#message[data-kind="ok"]').waitFor({ timeout: WAIT_MS });
    assert.match(await text(page, '#message'), /^Booked: A3\./);
    assert.match((await seat(page, target).getAttribute('class')) ?? '', /\bmine\b/);
    assert.deepEqual(
      bookBodies.map((body) => body.admission_token),
      [admission_token],
      'booked with the admission',
    );
    await screenshot(page, 'queue-2-booked');

    // Booking ended the session: the page says so, and books no more.
    await admit();
    await lineSays(page, /^You booked your seats: your turn in line is over\.$/);
    assert.equal(await page.locator('#book').isDisabled(), true);
    await seat(page, event.seatIds[3] as number).click();
    assert.match(await text(page, '#message'), /^Booking here goes through the waiting line/);
    assert.equal(await page.locator('#line-live').isHidden(), true, 'the stream ended');
    assert.equal(await fitsWindow(page), true);
    assert.deepEqual(errors, []);
  });

  it('is told sold out in line, at phone width', async () => {
    const event = await createEvent(1, 1, { queue: { ...QUEUE, max_active: 1 } });
    const [first, buyer] = (await createTestUsers(services, 2)) as [number, number];
    const firstTicket = await joinLine(event.eventId, first);
    const { page, errors } = await openPage(event.eventId, buyer, {
      viewport: PHONE,
      isMobile: true,
      hasTouch: true,
    });
    await page.click('#join-line');
    await lineSays(page, /^You are number 2 in line\.$/);
    await admit();
    await lineSays(page, /^You are number 1 in line\.$/);
    const admitted = await ticketOf(event.eventId, first, firstTicket.ticket_id);
    await bookWith(first, event.eventId, event.seatIds, admitted.admission_token ?? '');
    await admit();
    await lineSays(page, /^Sold out\.$/);
    assert.equal(await page.locator('#line-status').getAttribute('data-status'), 'sold_out');
    assert.match(await text(page, '#line-detail'), /keep this page open/);
    assert.equal(await text(page, '#line-announce'), 'Sold out.');
    assert.equal(await page.locator('#seats-view').isHidden(), true);
    assert.equal(await fitsWindow(page), true);
    await screenshot(page, 'queue-3-sold-out-phone');
    assert.deepEqual(errors, []);
  });

  it('waits in the pre-queue until on-sale, then is let in', async () => {
    // Far enough ahead for a slow machine; then brought forward (PATCH), rather than waited for.
    const onSaleAt = new Date(Date.now() + 10 * 60_000);
    const event = await createEvent(1, 4, { queue: QUEUE, on_sale_at: onSaleAt.toISOString() });
    const [buyer] = (await createTestUsers(services, 1)) as [number];
    const { page, errors } = await openPage(event.eventId, buyer);
    await page.click('#join-line');
    await lineSays(page, /^Pre-queue: your place is drawn at on-sale \(\d\d:\d\d\)\.$/);
    const [hours, minutes] = (await text(page, '#line-status')).match(/\d\d/g) ?? [];
    assert.deepEqual(
      [Number(hours), Number(minutes)],
      [onSaleAt.getUTCHours(), onSaleAt.getUTCMinutes()],
      'the on-sale time',
    );
    await screenshot(page, 'queue-4-prequeue');
    const onSaleNow = await fetch(`${system.url}/events/${event.eventId}`, {
      method: 'PATCH',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ on_sale_at: new Date().toISOString() }),
    });
    assert.equal(onSaleNow.status, 200, await onSaleNow.text());
    await admit();
    await lineSays(page, /^It's your turn/);
    await page.locator(`.seat[data-seat-id="${event.seatIds[3]}"][data-state="available"]`).waitFor();
    assert.deepEqual(errors, []);
  });

  it('opens the line stream again when it drops, reading the ticket while the stream is refused', async () => {
    const event = await createEvent(1, 4, { queue: QUEUE });
    const [buyer] = (await createTestUsers(services, 1)) as [number];
    const ticket = await joinLine(event.eventId, buyer);
    const { page, errors } = await openPage(event.eventId, buyer);
    const ticketReads: string[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith(`/queue/${ticket.ticket_id}`)) ticketReads.push(request.method());
    });
    // The first stream is cut after one event, which puts the buyer 7th; the second is refused as
    // while Redis is down; the third is the real one.
    let streams = 0;
    await page.route('**/queue/*/stream', (route) => {
      streams++;
      if (streams === 1) {
        const seventh = { ...ticket, status: 'waiting', position: 7, estimated_wait_s: 1_050 };
        return route.fulfill({
          headers: { 'content-type': 'text/event-stream' },
          body: `: hello\n\nevent: position\ndata: ${JSON.stringify(seventh)}\n\n`,
        });
      }
      if (streams === 2) {
        return route.fulfill({
          status: 503,
          headers: { 'content-type': 'application/problem+json', 'retry-after': '2' },
          body: JSON.stringify({ title: 'Service unavailable', status: 503, detail: 'Redis' }),
        });
      }
      return route.continue();
    });
    await page.click('#join-line');
    // Joined before: the same place.
    await page.locator('#message', { hasText: 'You are already in line: same place.' }).waitFor();
    await lineSays(page, /^You are number 7 in line\.$/);
    assert.equal(await text(page, '#line-detail'), 'Estimated wait: about 18 min.');
    await page.locator('#line-live[data-live="reconnecting"]').waitFor({ timeout: WAIT_MS });
    // The refused stream's place is read instead: the real one.
    await lineSays(page, /^You are number 1 in line\.$/);
    assert.deepEqual(ticketReads, ['GET']);
    await page.locator('#line-live[data-live="live"]').waitFor({ timeout: WAIT_MS });
    assert.equal(streams, 3);
    assert.deepEqual(errors, []);
  });

  it('fits a 4,000-seat map to a laptop, and scrolls it in its box on a phone', async () => {
    const event = await createEvent(40, 100);
    const last = event.seatIds.at(-1) as number;
    const hall = (page: Page) =>
      page.evaluate(() => {
        const box = document.querySelector('#hall') as HTMLElement;
        const seat = document.querySelector('#grid .seat') as HTMLElement;
        return {
          scrolls: box.scrollWidth > box.clientWidth,
          side: seat.getBoundingClientRect().width,
          fitPressed: document.querySelector('#zoom-fit')?.getAttribute('aria-pressed'),
        };
      });

    const laptop = await openPage(event.eventId);
    await laptop.page.locator(`.seat[data-seat-id="${last}"][data-state="available"]`).waitFor();
    assert.equal(await laptop.page.locator('#grid .seat').count(), 4_000);
    assert.equal(await fitsWindow(laptop.page), true);
    const fitted = await hall(laptop.page);
    assert.equal(fitted.scrolls, false, 'the widest row fits the box');
    assert.ok(fitted.side >= 10, `seats of ${fitted.side} px`);
    await screenshot(laptop.page, 'map-4000-laptop');
    // A fitted seat is picked with a click.
    await seat(laptop.page, last).click();
    assert.equal(await text(laptop.page, '#selection'), 'AN100');
    // Zoomed in, the map scrolls inside its box, not the page; "Fit width" fits it again.
    await laptop.page.click('#zoom-in');
    await laptop.page.click('#zoom-in');
    const zoomed = await hall(laptop.page);
    assert.equal(zoomed.scrolls, true);
    assert.ok(zoomed.side > fitted.side);
    assert.equal(zoomed.fitPressed, 'false');
    assert.equal(await fitsWindow(laptop.page), true);
    await laptop.page.click('#zoom-fit');
    assert.deepEqual(await hall(laptop.page), fitted);

    for (const touch of [true, false]) {
      const phone = await openPage(event.eventId, undefined, {
        viewport: PHONE,
        isMobile: touch,
        hasTouch: touch,
      });
      await phone.page.locator(`.seat[data-seat-id="${last}"][data-state="available"]`).waitFor();
      assert.equal(await fitsWindow(phone.page), true, 'the page is no wider than the phone');
      const drawn = await hall(phone.page);
      assert.equal(drawn.scrolls, true, 'the map scrolls in its box');
      // A finger needs a larger seat than a mouse.
      assert.ok(drawn.side >= (touch ? 24 : 10), `seats of ${drawn.side} px`);
      // Scrolled sideways, the row labels stay in view at the box's left edge.
      const label = await phone.page.evaluate(() => {
        const box = document.querySelector('#hall') as HTMLElement;
        box.scrollLeft = box.scrollWidth / 2;
        const edge = box.getBoundingClientRect().left + box.clientLeft;
        return Math.round(
          (document.querySelector('.row-label') as HTMLElement).getBoundingClientRect().left - edge,
        );
      });
      assert.equal(label, 0);
      if (touch) await screenshot(phone.page, 'map-4000-phone');
      assert.deepEqual(phone.errors, []);
    }
    assert.deepEqual(laptop.errors, []);
  });
});

/** The ticket id the page keeps for this tab (sessionStorage). */
async function keptTicketId(page: Page, eventId: number): Promise<string> {
  const kept = await page.evaluate((key) => sessionStorage.getItem(key), `seatrush.queue.${eventId}`);
  return (JSON.parse(kept ?? '{}') as { ticket_id: string }).ticket_id;
}
