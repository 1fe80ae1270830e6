import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { eq, inArray } from 'drizzle-orm';
import * as v from 'valibot';
import { events, seats } from '../../lib/booking/db/schema.ts';
import { EventSeatsBody, SeatLayoutBody, SeatMapBody } from '../../lib/booking/responses.ts';
import { seatKeys } from '../../lib/booking/seats/keys.ts';
import { gridSeatNumbers } from '../../lib/booking/seats/numbers.ts';
import { seatsOfRuns } from '../../lib/booking/seats/seat-layout.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import { closeServices, pingDependencies, type Services } from '../../lib/services.ts';
import { createTestEvent, createTestUsers, testServices } from '../../test/support.ts';
import eventSeats from './index.ts';

describe('event-seats', () => {
  const services = testServices();
  // Nothing listens on port 1: every Redis command fails at once, as when Redis is down.
  const noRedis: Services = testServices({ REDIS_URL: 'redis://127.0.0.1:1/0' });
  const app = createFunctionApp(eventSeats, services);
  const appWithoutRedis = createFunctionApp(eventSeats, noRedis);
  let userId: number;

  before(async () => {
    await pingDependencies(services, ['postgres', 'redis']);
    [userId] = (await createTestUsers(services, 1)) as [number];
  });
  after(async () => {
    await Promise.all([closeServices(services), closeServices(noRedis)]);
    services.subscriber.disconnect();
    noRedis.subscriber.disconnect();
  });

  /** Books seats in Postgres as the processor does, and forgets the event's cache. */
  async function bookInPostgres(eventId: number, seatIds: number[]) {
    await services.db
      .update(seats)
      .set({ isBooked: true, bookedBy: userId })
      .where(inArray(seats.id, seatIds));
    await services.redis.del(seatKeys.seatMap(eventId), ...seatIds.map((id) => seatKeys.seat(eventId, id)));
  }

  it('answers the seed shape with each seat number and state, from Redis, warming a cold cache', async () => {
    const event = await createTestEvent(services, 5);
    const [a, b, c, d, e] = event.seatIds as [number, number, number, number, number];
    await bookInPostgres(event.eventId, [b, d]);
    assert.equal(await services.redis.exists(seatKeys.seatMap(event.eventId)), 0, 'not cached yet');

    const response = await app.request(`/events/seats/${event.eventId}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-data-source'), 'redis');
    const body = await response.json();
    assert.deepEqual(v.parse(EventSeatsBody, body), body, 'the contract holds');
    assert.deepEqual(body, {
      event_id: event.eventId,
      booked_seats: [b, d],
      available_seats: [a, c, e],
      held_seats: [],
      seats: event.seatIds.map((seat_id, i) => ({
        seat_id,
        seat_number: event.seatNumbers[i],
        state: seat_id === b || seat_id === d ? 'booked' : 'available',
      })),
    });
    assert.equal(await services.redis.exists(seatKeys.seatMap(event.eventId)), 1, 'warmed');
  });

  it('shows a held seat as held, with when the hold lapses', async () => {
    const event = await createTestEvent(services, 3);
    const [a, b, c] = event.seatIds as [number, number, number];
    await services.seats.warm(event.eventId);
    const held = await services.seats.take(event.eventId, [b], randomUUID(), 30_000);
    assert.equal(held.kind, 'held');
    const body = (await (await app.request(`/events/seats/${event.eventId}`)).json()) as EventSeatsBody;
    assert.deepEqual([body.available_seats, body.held_seats, body.booked_seats], [[a, c], [b], []]);
    const seat = body.seats.find((s) => s.seat_id === b);
    assert.equal(seat?.state, 'held');
    assert.ok(held.kind === 'held' && Math.abs((seat?.expires_at ?? 0) - held.expiresAt) < 50);
  });

  it('gives the same answer from Postgres when Redis is down, and says so', async () => {
    const event = await createTestEvent(services, 25);
    await bookInPostgres(
      event.eventId,
      event.seatIds.filter((_, i) => i % 3 === 0),
    );
    const fromRedis = await app.request(`/events/seats/${event.eventId}`);
    const fromPostgres = await appWithoutRedis.request(`/events/seats/${event.eventId}`);
    assert.equal(fromRedis.headers.get('x-data-source'), 'redis');
    assert.equal(fromPostgres.status, 200);
    assert.equal(fromPostgres.headers.get('x-data-source'), 'postgres');
    assert.deepEqual(await fromPostgres.json(), await fromRedis.json());

    const unknown = await appWithoutRedis.request('/events/seats/2000000000');
    assert.equal(unknown.status, 404);
  });

  it('answers from Postgres within about a second when Redis accepts connections but never answers', async () => {
    const silent = createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    // Without the read limiter, whose first command would find the client still connecting.
    const hung = testServices({
      REDIS_URL: `redis://127.0.0.1:${port}/0`,
      RATE_LIMIT_READS_PER_ADDRESS: '0',
    });
    try {
      const event = await createTestEvent(services, 2);
      const started = performance.now();
      const response = await createFunctionApp(eventSeats, hung).request(`/events/seats/${event.eventId}`);
      const ms = performance.now() - started;
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-data-source'), 'postgres');
      assert.ok(ms >= 900 && ms < 2_000, `${ms} ms`);
    } finally {
      hung.redis.disconnect();
      hung.subscriber.disconnect();
      await closeServices(hung);
      silent.close();
    }
  });

  it('answers every event with "*", a page at a time, with a Link to the next page', async () => {
    const first = await createTestEvent(services, 2);
    const second = await createTestEvent(services, 3);
    const third = await createTestEvent(services, 1);
    await bookInPostgres(second.eventId, [second.seatIds[0] as number]);

    const url = `/events/seats/*?limit=2&cursor=${first.eventId - 1}`;
    for (const target of [app, appWithoutRedis]) {
      const page = await target.request(url);
      assert.equal(page.status, 200);
      const body = (await page.json()) as EventSeatsBody[];
      assert.deepEqual(
        body.map((e) => [e.event_id, e.booked_seats.length, e.available_seats.length]),
        [
          [first.eventId, 0, 2],
          [second.eventId, 1, 2],
        ],
      );
      const link = page.headers.get('link');
      assert.equal(link, `</events/seats/*?limit=2&cursor=${second.eventId}>; rel="next"`);
      const next = await target.request(/<([^>]+)>/.exec(link ?? '')?.[1] as string);
      const nextBody = (await next.json()) as EventSeatsBody[];
      assert.equal(nextBody[0]?.event_id, third.eventId);
    }

    // The last page has no next link.
    const [{ max }] = (await services.db.$client.query('select max(id)::int as max from events')).rows;
    const last = await app.request(`/events/seats/*?cursor=${max - 1}&limit=100`);
    assert.equal(((await last.json()) as EventSeatsBody[])[0]?.event_id, max);
    assert.equal(last.headers.get('link'), null);
  });

  it('ends a page of "*" before its events pass 20,000 seats, one large event alone on its page', async () => {
    const large = await createTestEvent(services, 1);
    const medium = await createTestEvent(services, 1);
    const another = await createTestEvent(services, 1);
    // Only the seat counts the page is cut by; the seat rows stay few.
    const claim = (event: { eventId: number }, totalSeats: number) =>
      services.db.update(events).set({ totalSeats }).where(eq(events.id, event.eventId));
    await Promise.all([claim(large, 15_000), claim(medium, 5_000), claim(another, 20_000)]);
    const ids = async (url: string) => {
      const page = await app.request(url);
      return {
        ids: ((await page.json()) as EventSeatsBody[]).map((e) => e.event_id),
        next: /cursor=(\d+)/.exec(page.headers.get('link') ?? '')?.[1],
      };
    };
    const first = await ids(`/events/seats/*?limit=100&cursor=${large.eventId - 1}`);
    assert.equal(first.ids[0], large.eventId);
    assert.ok(first.ids.includes(medium.eventId) || first.ids.length === 1, '15,000 + 5,000 fit');
    assert.ok(!first.ids.includes(another.eventId), '40,000 do not');
    assert.equal(first.next, String(first.ids.at(-1)));
    const alone = await ids(`/events/seats/*?limit=100&cursor=${another.eventId - 1}`);
    assert.equal(alone.ids[0], another.eventId);
    assert.equal(alone.ids.length, 1, 'the largest event fills a page by itself');
  });

  it('answers problems for bad input and unknown events', async () => {
    const cases: [string, number, RegExp][] = [
      ['/events/seats/2000000000', 404, /No event 2000000000/],
      ['/events/seats/abc', 400, /param\.eventId: must be a positive integer, or \* for every event/],
      ['/events/seats/0', 400, /param\.eventId/],
      ['/events/seats/-1', 400, /param\.eventId/],
      ['/events/seats/99999999999', 400, /param\.eventId/],
      ['/events/seats/*?limit=0', 400, /query\.limit/],
      ['/events/seats/*?limit=101', 400, /query\.limit: must be an integer from 1 to 100/],
      ['/events/seats/*?cursor=x', 400, /query\.cursor/],
      ['/events/seats/*?offset=3', 400, /offset/],
    ];
    for (const [path, status, detail] of cases) {
      const response = await app.request(path);
      assert.equal(response.status, status, path);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      const text = await response.text();
      assert.match(text, detail, path);
      assert.doesNotMatch(text, /at .+\.ts:\d+/, 'no stack trace');
    }
  });

  it('answers an ETag, and 304 with no body to an If-None-Match naming it, cacheable for a second', async () => {
    // Large enough to be compressed (lib/platform/http-cache.ts), so the answer varies by encoding.
    const event = await createTestEvent(services, 30);
    const path = `/events/seats/${event.eventId}`;
    const first = await app.request(path);
    const etag = first.headers.get('etag') ?? '';
    assert.match(etag, /^W\/"[\w-]+"$/);
    assert.equal(first.headers.get('cache-control'), 'public, max-age=1');
    assert.equal(first.headers.get('vary'), 'accept-encoding');
    const body = await first.text();

    for (const ifNoneMatch of [etag, `"other", ${etag.slice(2)}`, '*']) {
      const unchanged = await app.request(path, { headers: { 'if-none-match': ifNoneMatch } });
      assert.equal(unchanged.status, 304, ifNoneMatch);
      assert.equal(await unchanged.text(), '');
      assert.equal(unchanged.headers.get('etag'), etag);
      assert.equal(unchanged.headers.get('cache-control'), 'public, max-age=1');
    }
    const other = await app.request(path, { headers: { 'if-none-match': 'W/"other"' } });
    assert.equal(other.status, 200);
    assert.equal(await other.text(), body);
  });

  it('compresses as Accept-Encoding asks, Brotli before gzip when both are as welcome', async () => {
    const event = await createTestEvent(services, 40);
    const path = `/events/seats/${event.eventId}`;
    const plain = await (await app.request(path)).text();
    const cases: [string | undefined, string | null][] = [
      [undefined, null],
      ['identity', null],
      ['gzip', 'gzip'],
      ['gzip, deflate, br', 'br'],
      ['br;q=0.5, gzip', 'gzip'],
      ['br;q=0, gzip;q=0', null],
      ['*', null],
    ];
    for (const [acceptEncoding, expected] of cases) {
      const headers: Record<string, string> =
        acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding };
      const response = await app.request(path, { headers });
      assert.equal(response.headers.get('content-encoding'), expected, String(acceptEncoding));
      assert.equal(response.headers.get('content-type'), 'application/json');
      const bytes = Buffer.from(await response.arrayBuffer());
      const decoded =
        expected === 'br' ? brotliDecompressSync(bytes) : expected === 'gzip' ? gunzipSync(bytes) : bytes;
      assert.equal(decoded.toString(), plain, String(acceptEncoding));
      if (expected) assert.ok(bytes.length < Buffer.byteLength(plain), 'smaller');
    }
  });

  it('an event without seats answers empty lists', async () => {
    const event = await createTestEvent(services, 0);
    for (const target of [app, appWithoutRedis]) {
      const body = (await (await target.request(`/events/seats/${event.eventId}`)).json()) as EventSeatsBody;
      assert.deepEqual(body, {
        event_id: event.eventId,
        booked_seats: [],
        available_seats: [],
        held_seats: [],
        seats: [],
      });
    }
  });
  describe('the compact seat map: GET /events/:eventId/seat-layout and /seat-map', () => {
    /** The seats as a client puts them together from the layout and the states. */
    async function compactSeats(target: typeof app, eventId: number) {
      const layoutAnswer = await target.request(`/events/${eventId}/seat-layout`);
      const mapAnswer = await target.request(`/events/${eventId}/seat-map`);
      assert.equal(layoutAnswer.status, 200);
      assert.equal(mapAnswer.status, 200);
      const layout = await layoutAnswer.json();
      const map = await mapAnswer.json();
      assert.deepEqual(v.parse(SeatLayoutBody, layout), layout, 'the layout contract holds');
      assert.deepEqual(v.parse(SeatMapBody, map), map, 'the seat map contract holds');
      assert.equal(map.layout_etag, layoutAnswer.headers.get('etag'));
      const { seatIds, seatNumbers } = seatsOfRuns((layout as SeatLayoutBody).runs);
      let held = 0;
      return {
        layoutAnswer,
        mapAnswer,
        seats: seatIds.map((seat_id, i) => {
          const state = { a: 'available', h: 'held', b: 'booked' }[(map as SeatMapBody).states[i] as 'a'];
          const expires_at = state === 'held' ? (map as SeatMapBody).hold_expires_at[held++] : undefined;
          return { seat_id, seat_number: seatNumbers[i], state, ...(expires_at ? { expires_at } : {}) };
        }),
      };
    }

    it('says what GET /events/seats/:eventId says, held seats and their expiries too', async () => {
      const event = await createTestEvent(services, 45);
      await bookInPostgres(
        event.eventId,
        event.seatIds.filter((_, i) => i % 4 === 1),
      );
      await services.seats.warm(event.eventId);
      const held = await services.seats.take(event.eventId, event.seatIds.slice(6, 9), randomUUID(), 30_000);
      assert.equal(held.kind, 'held');
      const seed = (await (await app.request(`/events/seats/${event.eventId}`)).json()) as EventSeatsBody;
      const { seats, mapAnswer, layoutAnswer } = await compactSeats(app, event.eventId);
      assert.deepEqual(seats, seed.seats);
      assert.equal(mapAnswer.headers.get('x-data-source'), 'redis');
      assert.equal(mapAnswer.headers.get('cache-control'), 'public, max-age=1');
      assert.equal(layoutAnswer.headers.get('cache-control'), 'public, max-age=3600');
      const layout = (await (
        await app.request(`/events/${event.eventId}/seat-layout`)
      ).json()) as SeatLayoutBody;
      assert.equal(layout.runs.length, 3, 'rows of 20: one run a row');

      // Without Redis: from Postgres, which knows no holds; the same layout.
      const fromPostgres = await compactSeats(appWithoutRedis, event.eventId);
      assert.equal(fromPostgres.mapAnswer.headers.get('x-data-source'), 'postgres');
      assert.equal(fromPostgres.layoutAnswer.headers.get('etag'), layoutAnswer.headers.get('etag'));
      assert.deepEqual(
        fromPostgres.seats,
        seed.seats.map(({ expires_at: _, ...seat }) =>
          seat.state === 'held' ? { ...seat, state: 'available' } : seat,
        ),
      );
    });

    it('answers ETags and 304s, compressed as asked; the layout keeps its ETag while the states change', async () => {
      const event = await createTestEvent(services, 1_200);
      const mapPath = `/events/${event.eventId}/seat-map`;
      const layoutPath = `/events/${event.eventId}/seat-layout`;
      const map = await app.request(mapPath, { headers: { 'accept-encoding': 'br' } });
      const layout = await app.request(layoutPath, { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(map.headers.get('content-encoding'), 'br');
      assert.equal(layout.headers.get('content-encoding'), 'gzip');
      assert.equal(
        JSON.parse(brotliDecompressSync(Buffer.from(await map.arrayBuffer())).toString()).states,
        'a'.repeat(1_200),
      );
      for (const [path, answer] of [
        [mapPath, map],
        [layoutPath, layout],
      ] as const) {
        const etag = answer.headers.get('etag') ?? '';
        assert.match(etag, /^W\/"[\w-]+"$/);
        const unchanged = await app.request(path, { headers: { 'if-none-match': etag } });
        assert.equal(unchanged.status, 304, path);
        assert.equal(await unchanged.text(), '');
      }

      await services.seats.take(event.eventId, [event.seatIds[0] as number], randomUUID(), 30_000);
      let changed = map;
      for (let i = 0; i < 100 && changed.headers.get('etag') === map.headers.get('etag'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        changed = await app.request(mapPath);
      }
      assert.notEqual(changed.headers.get('etag'), map.headers.get('etag'), 'the states changed');
      assert.match((await changed.json()).states, /^ha{1199}$/);
      const stillSame = await app.request(layoutPath, {
        headers: { 'if-none-match': layout.headers.get('etag') ?? '' },
      });
      assert.equal(stillSame.status, 304, 'the layout did not');
    });

    it('fits a 50,000-seat event in well under 100 KB compressed, layout and states together', async () => {
      const [event] = await services.db
        .insert(events)
        .values({
          name: 'Stadium',
          date: new Date('2030-01-01T20:00:00Z'),
          location: 'Test',
          totalSeats: 50_000,
        })
        .returning({ id: events.id });
      assert.ok(event);
      // Booked at random (4 in 10), the least compressible the states get.
      await services.db.$client.query(
        `insert into seats (event_id, seat_number, is_booked)
         select $1, number, random() < 0.4 from unnest($2::text[]) as t(number)`,
        [event.id, gridSeatNumbers(1_000, 50)],
      );
      let total = 0;
      for (const path of [`/events/${event.id}/seat-layout`, `/events/${event.id}/seat-map`]) {
        for (const encoding of ['br', 'gzip']) {
          const answer = await app.request(path, { headers: { 'accept-encoding': encoding } });
          assert.equal(answer.headers.get('content-encoding'), encoding);
          const bytes = (await answer.arrayBuffer()).byteLength;
          if (encoding === 'gzip') total += bytes;
          assert.ok(bytes < 20_000, `${path} ${encoding}: ${bytes} bytes`);
        }
      }
      assert.ok(total < 100_000, `${total} bytes`);
    });

    it('answers problems for bad ids and unknown events', async () => {
      for (const kind of ['seat-map', 'seat-layout']) {
        const cases: [string, number, RegExp][] = [
          [`/events/2000000000/${kind}`, 404, /No event 2000000000/],
          [`/events/abc/${kind}`, 400, /param\.eventId/],
          [`/events/0/${kind}`, 400, /param\.eventId/],
        ];
        for (const [path, status, detail] of cases) {
          const response = await app.request(path);
          assert.equal(response.status, status, path);
          assert.equal(response.headers.get('content-type'), 'application/problem+json');
          assert.match(await response.text(), detail, path);
        }
      }
    });
  });
});
