/**
 * The seat map in a real browser: Debian's Chromium (`apt-get install chromium`) driven by
 * playwright-core, against every function running in this process over the real Postgres, Redis
 * and Kafka.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Locator,
  type Page,
} from 'playwright-core';
import { events } from '../../lib/booking/db/schema.ts';
import { issueToken } from '../../lib/platform/auth.ts';
import { type RunningFunctions, startFunctions } from '../../lib/platform/runner.ts';
import { closeServices, type Services } from '../../lib/services.ts';
import { createTestEvent, createTestUsers, type TestEvent, testServices } from '../../test/support.ts';
import { startSystem } from '../../test/system.ts';
import { CHROMIUM, CHROMIUM_ARGS, reportingContext, skipWithoutChromium, useToken } from './chromium.ts';
import { HOME_PAGE_EVENTS } from './home-page.ts';
import web from './index.ts';

const OIDC_CLIENT_ID = 'seat-map-test';

/**
 * A tiny OpenID Connect provider for the page's sign-in: discovery, an authorization endpoint that
 * signs `signedInUser` in at once, and a token endpoint that checks the PKCE verifier against the
 * challenge before it issues an access token the API accepts (HS256, the test secret).
 */
async function startOidcProvider(issueAccessToken: (userId: number) => string) {
  const codes = new Map<string, { challenge: string; redirectUri: string; userId: number }>();
  const provider = { issuer: '', signedInUser: 0, tokenRequests: 0, server: undefined as Server | undefined };
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', provider.issuer);
    const json = (status: number, body: unknown) =>
      response
        .writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' })
        .end(JSON.stringify(body));
    if (url.pathname === '/oidc/.well-known/openid-configuration') {
      return json(200, {
        issuer: provider.issuer,
        authorization_endpoint: `${provider.issuer}/authorize`,
        token_endpoint: `${provider.issuer}/token`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/oidc/authorize') {
      const parameters = url.searchParams;
      assert.equal(parameters.get('client_id'), OIDC_CLIENT_ID);
      assert.equal(parameters.get('code_challenge_method'), 'S256');
      const code = randomUUID();
      codes.set(code, {
        challenge: parameters.get('code_challenge') ?? '',
        redirectUri: parameters.get('redirect_uri') ?? '',
        userId: provider.signedInUser,
      });
      const back = new URL(parameters.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', parameters.get('state') ?? '');
      return response.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/oidc/token' && request.method === 'POST') {
      provider.tokenRequests++;
      let body = '';
      for await (const chunk of request) body += chunk;
      const form = new URLSearchParams(body);
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verified =
        grant &&
        form.get('grant_type') === 'authorization_code' &&
        form.get('client_id') === OIDC_CLIENT_ID &&
        form.get('redirect_uri') === grant.redirectUri &&
        createHash('sha256')
          .update(form.get('code_verifier') ?? '')
          .digest('base64url') === grant.challenge;
      if (!verified) return json(400, { error: 'invalid_grant' });
      return json(200, {
        access_token: issueAccessToken(grant.userId),
        token_type: 'Bearer',
        expires_in: 600,
      });
    }
    return json(404, { error: 'not_found' });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  provider.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oidc`;
  provider.server = server;
  return provider;
}

describe('web: the seat map in Chromium', { skip: skipWithoutChromium }, () => {
  let services: Services;
  let oidc: Awaited<ReturnType<typeof startOidcProvider>>;
  let system: RunningFunctions;
  let browser: Browser;
  let users: number[];
  const pages: Page[] = [];
  /** What the pages' Content-Security-Policy refused: nothing, unless a test does it on purpose. */
  const violations: string[] = [];
  afterEach(() => assert.deepEqual(violations.splice(0), [], 'Content-Security-Policy violations'));

  before(async () => {
    oidc = await startOidcProvider((userId) => tokenFor(userId));
    services = testServices({ AUTH_OIDC_ISSUER: oidc.issuer, AUTH_OIDC_CLIENT_ID: OIDC_CLIENT_ID });
    system = await startSystem(services);
    users = await createTestUsers(services, 2);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    // The pages' event streams must be gone before the server can close.
    await Promise.all(pages.map((page) => page.close()));
    await browser?.close();
    await system?.stop();
    await closeServices(services);
    services.subscriber.disconnect();
    oidc?.server?.close();
  });

  /** An access token for the page's token field. */
  const tokenFor = (userId: number) => issueToken(services.config, { id: userId, role: 'user' });

  const signedInAs = async (page: Page) => {
    await page.locator('#signed-in:not([hidden])').waitFor({ timeout: 5_000 });
    return text(page.locator('#who'));
  };

  /** A browser context of its own (its own storage) that reports each CSP violation of its pages. */
  const newContext = (options: BrowserContextOptions = {}): Promise<BrowserContext> =>
    reportingContext(browser, violations, options);

  /** A seat map in a browser context of its own (its own storage), once it is live. */
  async function openMap(
    event: TestEvent,
    userId?: number,
    options: { stream?: boolean } = {},
  ): Promise<Page> {
    const context = await newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    pages.push(page);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    if (options.stream === false) {
      // As the stream answers while Redis is down.
      await page.route('**/events/*/stream*', (route) =>
        route.fulfill({
          status: 503,
          headers: { 'content-type': 'application/problem+json', 'retry-after': '2' },
          body: JSON.stringify({ title: 'Service unavailable', status: 503, detail: 'Redis' }),
        }),
      );
    }
    await page.goto(`${system.url}/map/${event.eventId}`);
    await page.locator(`.seat[data-seat-id="${event.seatIds.at(-1)}"][data-state]`).waitFor();
    if (options.stream !== false) await page.locator('#live[data-live="live"]').waitFor();
    if (userId) {
      await useToken(page, tokenFor(userId));
      assert.equal(await signedInAs(page), `user ${userId}`);
    }
    assert.deepEqual(errors, []);
    return page;
  }

  /** Waits until the page has said what came of its booking ("Booking …" is an info message). */
  const answered = (page: Page) =>
    page.waitForFunction(() => {
      const kind = (document.querySelector('#message') as HTMLElement | null)?.dataset.kind;
      return kind !== undefined && kind !== 'info';
    });
  const text = async (locator: Locator) => (await locator.textContent()) ?? '';
  const seat = (page: Page, seatId: number) => page.locator(`.seat[data-seat-id="${seatId}"]`);
  const message = (page: Page) => page.locator('#message');

  /** Records, in the page, when a seat's state changes (epoch ms, same clock as the other page). */
  async function watchSeat(page: Page, seatId: number): Promise<void> {
    await page.evaluate((id) => {
      const log: { state: string | undefined; at: number }[] = [];
      (window as unknown as { seatLog: typeof log }).seatLog = log;
      const button = document.querySelector(`.seat[data-seat-id="${id}"]`) as HTMLElement;
      new MutationObserver(() => log.push({ state: button.dataset.state, at: Date.now() })).observe(button, {
        attributes: true,
        attributeFilter: ['data-state'],
      });
    }, seatId);
  }
  const seatLog = (page: Page) =>
    page.evaluate(() => (window as unknown as { seatLog: { state: string; at: number }[] }).seatLog);

  it('lists the soonest events at / with a link to each seat map, at most HOME_PAGE_EVENTS of them', async () => {
    const event = await createTestEvent(services, 3, 'Listed in the browser');
    // The soonest of all, so it is on the page however many events earlier tests left.
    await services.db
      .update(events)
      .set({ date: new Date('2029-01-01T20:00:00Z') })
      .where(eq(events.id, event.eventId));
    const extra = HOME_PAGE_EVENTS + 1 - (await services.db.$count(events));
    for (let i = 0; i < extra; i++) await createTestEvent(services, 0, 'Filler');
    const home = await (await fetch(system.url)).text();
    assert.equal(home.match(/<a href="\/map\/\d+">/g)?.length, HOME_PAGE_EVENTS, 'the list is bounded');
    assert.match(home, /The first 100 events/);
    const context = await newContext();
    const page = await context.newPage();
    pages.push(page);
    await page.goto(system.url);
    const link = page.locator(`a[href="/map/${event.eventId}"]`);
    assert.match(await text(link), /^Listed in the browser /);
    await link.click();
    await page.locator(`.seat[data-seat-id="${event.seatIds.at(-1)}"]`).waitFor();
    assert.equal(await page.locator('.seat[data-seat-id]').count(), 3);
  });

  it('runs only its own files: an injected inline script or style is refused (Content-Security-Policy)', async () => {
    const event = await createTestEvent(services, 2, 'Injected');
    const page = await openMap(event);
    const injected = await page.evaluate(async () => {
      const script = document.createElement('script');
      script.textContent = 'window.injectedScriptRan = true';
      document.body.append(script);
      document.body.insertAdjacentHTML('beforeend', '<p id="injected" style="color: rgb(255, 0, 0)">x</p>');
      return {
        scriptRan: (window as unknown as { injectedScriptRan?: boolean }).injectedScriptRan === true,
        color: getComputedStyle(document.querySelector('#injected') as Element).color,
      };
    });
    assert.deepEqual(injected, { scriptRan: false, color: 'rgb(29, 36, 48)' });
    // Reported as the browser gets to them; the after-each check must not see these two.
    const deadline = Date.now() + 5_000;
    while (violations.length < 2 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(
      violations
        .splice(0)
        .map((violation) => violation.split(' ')[0])
        .sort(),
      ['script-src-elem', 'style-src-attr'],
    );
  });

  it('a seat booked in one page shows as booked in the other within a second', async (t) => {
    const event = await createTestEvent(services, 40, 'Two browsers');
    const [a, b] = [await openMap(event, users[0]), await openMap(event, users[1])];
    const target = event.seatIds[21] as number; // B2
    assert.equal(await seat(b, target).getAttribute('data-state'), 'available');
    await watchSeat(b, target);

    const clickedAt = Date.now();
    await seat(a, target).click();
    assert.equal(await text(a.locator('#selection')), 'B2');
    await a.click('#book');
    await a.locator('#message[data-kind="ok"]').waitFor({ timeout: 10_000 });
    const confirmedAt = Date.now();
    assert.match(await text(message(a)), /^Booked: B2\./);
    assert.match((await seat(a, target).getAttribute('class')) ?? '', /\bmine\b/);

    await seat(b, target).and(b.locator('[data-state="booked"]')).waitFor({ timeout: 1_000 });
    const log = await seatLog(b);
    const held = log.find((entry) => entry.state === 'held');
    const booked = log.find((entry) => entry.state === 'booked');
    assert.ok(booked, 'the other page saw it booked');
    t.diagnostic(
      `other page: held ${held ? held.at - clickedAt : '-'} ms and booked ${booked.at - clickedAt} ms after the click; ` +
        `booked ${booked.at - confirmedAt} ms after the booking page's confirmation`,
    );
    assert.ok(booked.at - confirmedAt < 1_000, `${booked.at - confirmedAt} ms after the confirmation`);
    if (held) assert.ok(held.at - clickedAt < 1_000, 'the hold shows at once');

    // The other page cannot pick it, and says why.
    await seat(b, target).click();
    assert.match(await text(message(b)), /Seat B2 is booked/);
    assert.equal(await text(b.locator('#selection')), 'none');
    assert.match(await text(b.locator('#counts')), /^39 free · 0 held · 1 booked$/);

    const file = process.env.SEAT_MAP_SCREENSHOT;
    if (file) await b.screenshot({ path: file, fullPage: true });
  });

  it('unselects a seat someone else takes meanwhile, and says so', async () => {
    const event = await createTestEvent(services, 10, 'Taken meanwhile');
    const page = await openMap(event, users[0]);
    const [first, second] = event.seatIds as [number, number];
    await seat(page, first).click();
    await seat(page, second).click();
    assert.equal(await text(page.locator('#selection')), 'A1 and A2');
    await services.seats.take(event.eventId, [second], randomUUID(), 60_000);
    await page.locator(`.seat[data-seat-id="${second}"][data-state="held"]`).waitFor({ timeout: 1_000 });
    assert.match(await text(message(page)), /A2 was just taken by someone else/);
    assert.equal(await text(page.locator('#selection')), 'A1');
  });

  it('frees a held seat when its hold lapses, with no change sent', async () => {
    const event = await createTestEvent(services, 4, 'Lapsing hold');
    const page = await openMap(event);
    const target = event.seatIds[0] as number;
    await services.seats.take(event.eventId, [target], randomUUID(), 1_200);
    await page.locator(`.seat[data-seat-id="${target}"][data-state="held"]`).waitFor({ timeout: 1_000 });
    await page.locator(`.seat[data-seat-id="${target}"][data-state="available"]`).waitFor({ timeout: 2_000 });
  });

  it('says when the seats were taken first (409), even with its live updates cut off', async () => {
    const event = await createTestEvent(services, 6, 'Offline page');
    // Without its stream the page draws from GET /events/seats/:id and does not hear of the hold.
    const page = await openMap(event, users[1], { stream: false });
    assert.match(await text(page.locator('#live')), /paused/);
    const target = event.seatIds[2] as number;
    await services.seats.take(event.eventId, [target], randomUUID(), 60_000);
    await seat(page, target).click();
    await page.click('#book');
    await page.locator('#message[data-kind="warn"]').waitFor({ timeout: 5_000 });
    assert.match(
      await text(message(page)),
      /^Sorry, A3 was just taken by someone else\. Nothing was booked; pick other seats and try again\.$/,
    );
  });

  it('gives a clear message for every other answer', async () => {
    const event = await createTestEvent(services, 4, 'Messages');
    const page = await openMap(event);
    const bookFirst = async () => {
      await seat(page, event.seatIds[0] as number).click();
      await page.click('#book');
    };

    await bookFirst();
    assert.match(await text(message(page)), /^Sign in before booking\.$/);

    // A forged token is refused at sign-in (GET /auth/me), and the page stays signed out.
    await useToken(page, 'not.a.token');
    await answered(page);
    assert.match(
      await text(message(page)),
      /^This access token is not accepted: The bearer token is not valid/,
    );
    assert.equal(await page.locator('#signed-in').getAttribute('hidden'), '');

    await useToken(page, tokenFor(2_000_000_000));
    assert.equal(await signedInAs(page), 'user 2000000000');
    await page.click('#book');
    await answered(page);
    assert.match(
      await text(message(page)),
      /^There is no user 2000000000\. Nothing was booked; sign in as another user\.$/,
    );

    // Rate limits (the edges issue) and outages cannot be made to order here: the page's answers
    // to them are checked with those responses served in place of the real one.
    const answers: [number, Record<string, string>, RegExp][] = [
      [429, { 'retry-after': '7' }, /^Too many requests right now\. Please wait 7 s and try again\.$/],
      [
        503,
        { 'retry-after': '2' },
        /^Booking is unavailable right now\. Nothing was booked; try again in 2 s\.$/,
      ],
      [500, {}, /^Something went wrong on our side \(HTTP 500\)\. Please try again\.$/],
      [
        403,
        {},
        new RegExp(
          `^Signed in as user ${users[0]}, you may not book for user ${users[0]}\\. Nothing was booked\\.$`,
        ),
      ],
      // A token that expired or was revoked since: the page signs out and says so.
      [
        401,
        {},
        /^Your sign-in is no longer accepted \(expired or revoked\)\. Nothing was booked; sign in again\.$/,
      ],
    ];
    await page.click('#sign-out');
    await useToken(page, tokenFor(users[0] as number));
    await signedInAs(page);
    for (const [status, headers, expected] of answers) {
      await page.route('**/bookings/book', (route) =>
        route.fulfill({
          status,
          headers: { 'content-type': 'application/problem+json', ...headers },
          body: JSON.stringify({ type: 'about:blank', title: 'x', status, detail: 'x' }),
        }),
      );
      if ((await text(page.locator('#selection'))) === 'none')
        await seat(page, event.seatIds[1] as number).click();
      await page.click('#book');
      await answered(page);
      assert.match(await text(message(page)), expected, String(status));
      await page.unroute('**/bookings/book');
    }
    assert.equal(await page.locator('#signed-out').getAttribute('hidden'), null, 'signed out after the 401');
    await useToken(page, tokenFor(users[0] as number));
    await signedInAs(page);
    await page.route('**/bookings/book', (route) => route.abort());
    await page.click('#book');
    await answered(page);
    assert.match(await text(message(page)), /^Could not reach the server/);
    await page.unroute('**/bookings/book');
  });

  it('follows a 202 until the request is decided', async () => {
    const event = await createTestEvent(services, 2, 'Queued');
    const page = await openMap(event, users[0]);
    // A request left waiting in the queue cannot be made to order either: served in its place.
    const statusUrl = '/bookings/requests/00000000-0000-4000-8000-000000000000';
    await page.route('**/bookings/book', (route) =>
      route.fulfill({
        status: 202,
        json: { request_id: 'queued', status: 'PENDING', status_url: statusUrl },
      }),
    );
    let polls = 0;
    await page.route(`**${statusUrl}`, (route) =>
      route.fulfill({ json: { status: ++polls < 3 ? 'PENDING' : 'CONFIRMED' } }),
    );
    await seat(page, event.seatIds[1] as number).click();
    await page.click('#book');
    await page.locator('#message[data-kind="ok"]').waitFor({ timeout: 5_000 });
    assert.match(await text(message(page)), /^Booked: A2\./);
    assert.equal(polls, 3);
  });

  it('signs in as a demo user, books, and shows the seats as yours, after a reload too', async () => {
    const event = await createTestEvent(services, 6, 'Demo sign-in');
    const page = await openMap(event);
    assert.equal(await page.locator('#signed-in').getAttribute('hidden'), '', 'signed out at first');
    const options = page.locator('#demo-user option');
    assert.ok((await options.count()) >= 1 && (await options.count()) <= 5, 'a short list of users');
    const userId = Number(await options.first().getAttribute('value'));
    await page.selectOption('#demo-user', String(userId));
    await page.click('#demo-sign-in');
    assert.match(await signedInAs(page), new RegExp(`\\(user ${userId}\\)$`));

    const [first, second] = event.seatIds as [number, number];
    await seat(page, first).click();
    await seat(page, second).click();
    await page.click('#book');
    await page.locator('#message[data-kind="ok"]').waitFor({ timeout: 10_000 });
    assert.match(await text(message(page)), /^Booked: A1 and A2\./);
    for (const id of [first, second]) {
      assert.match((await seat(page, id).getAttribute('aria-label')) ?? '', /, booked, yours$/);
    }

    // The sign-in lasts for the tab's session; the seats are still shown as this person's.
    await page.reload();
    assert.match(await signedInAs(page), new RegExp(`\\(user ${userId}\\)$`));
    await page
      .locator(`.seat.mine[data-seat-id="${second}"][data-state="booked"]`)
      .waitFor({ timeout: 5_000 });
    assert.equal(await page.locator('#grid .seat.mine').count(), 2);

    await page.click('#sign-out');
    await page.locator('#signed-out:not([hidden])').waitFor();
    assert.equal(await page.locator('#grid .seat.mine').count(), 0);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('seatrush.identity')), null);
  });

  it('POST /auth/demo: a short-lived token for a known user, a 422 problem for an unknown one', async () => {
    const [userId] = users as [number];
    const signIn = (body: unknown) =>
      fetch(`${system.url}/auth/demo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const response = await signIn({ user_id: userId });
    assert.equal(response.status, 200);
    const signedIn = (await response.json()) as { token: string; user_id: number; expires_at: string };
    assert.equal(signedIn.user_id, userId);
    const lifetime = Date.parse(signedIn.expires_at) - Date.now();
    assert.ok(lifetime > 0 && lifetime <= 3_600_000, `expires in ${lifetime} ms`);
    const me = await fetch(`${system.url}/auth/me`, {
      headers: { authorization: `Bearer ${signedIn.token}` },
    });
    assert.deepEqual(await me.json(), { user_id: userId, role: 'user' });

    const unknown = await signIn({ user_id: 2_000_000_000 });
    assert.equal(unknown.status, 422);
    assert.match(unknown.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(((await unknown.json()) as { detail: string }).detail, 'No user 2000000000');
    assert.equal((await signIn({ user_id: 'admin' })).status, 400);
    assert.equal((await fetch(`${system.url}/auth/me`)).status, 401);
  });

  it('signs in with the OIDC provider (authorization code with PKCE), then books as that user', async () => {
    const event = await createTestEvent(services, 4, 'OIDC sign-in');
    const [, userId] = users as [number, number];
    oidc.signedInUser = userId;
    const tokenRequests = oidc.tokenRequests;
    const page = await openMap(event);
    await page.click('#oidc-sign-in');
    // To the provider and back; the page exchanges the code and forgets it.
    assert.equal(await signedInAs(page), `user ${userId}`);
    assert.equal(oidc.tokenRequests, tokenRequests + 1);
    assert.equal(new URL(page.url()).search, '');
    await page.locator('#live[data-live="live"]').waitFor();

    await seat(page, event.seatIds[3] as number).click();
    await page.click('#book');
    await page.locator('#message[data-kind="ok"]').waitFor({ timeout: 10_000 });
    assert.match((await seat(page, event.seatIds[3] as number).getAttribute('class')) ?? '', /\bmine\b/);
    const [booking] = (await (
      await fetch(`${system.url}/bookings/user/${userId}?limit=1`, {
        headers: { authorization: `Bearer ${tokenFor(userId)}` },
      })
    ).json()) as { event_id: number; seat_id: number }[];
    assert.deepEqual(booking && [booking.event_id, booking.seat_id], [event.eventId, event.seatIds[3]]);

    // A return that does not match what this tab sent (another state) is refused.
    await page.click('#sign-out');
    await page.route(`${oidc.issuer}/authorize*`, (route) => {
      const back = new URL(new URL(route.request().url()).searchParams.get('redirect_uri') ?? '');
      back.search = '?code=forged&state=forged';
      return route.fulfill({ status: 302, headers: { location: back.href } });
    });
    await page.click('#oidc-sign-in');
    await page.locator('#message[data-kind="error"]').waitFor({ timeout: 5_000 });
    assert.match(await text(message(page)), /^Could not sign in: /);
    assert.equal(await page.locator('#signed-in').getAttribute('hidden'), '');
  });

  it('in production without OIDC: no demo users, and the page says sign-in is not configured', async () => {
    const production = testServices({ NODE_ENV: 'production', JWT_SECRET: randomUUID() + randomUUID() });
    const running = await startFunctions([web], production, { host: '127.0.0.1', port: 0 });
    try {
      const event = await createTestEvent(services, 2, 'Production page');
      const response = await fetch(`${running.url}/map/${event.eventId}`);
      assert.equal(response.status, 200);
      const page = await response.text();
      assert.match(page, /<p id="no-sign-in">Sign-in is not configured on this site/);
      assert.doesNotMatch(page, /demo-user|oidc-sign-in/);
      // No provider's origin in the policy either.
      assert.doesNotMatch(response.headers.get('content-security-policy') ?? '', /127\.0\.0\.1/);

      const demo = await fetch(`${running.url}/auth/demo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: users[0] }),
      });
      assert.equal(demo.status, 404);
      assert.match(demo.headers.get('content-type') ?? '', /^application\/problem\+json/);
    } finally {
      await running.stop();
      await closeServices(production);
      production.subscriber.disconnect();
    }
  });

  it('answers an HTML 404 for an unknown event', async () => {
    const response = await fetch(`${system.url}/map/2000000000`);
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await response.text(), /There is no event 2000000000/);
  });
});
