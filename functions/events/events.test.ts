import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { eq } from 'drizzle-orm';
import * as v from 'valibot';
import { events as eventsTable, seats } from '../../lib/booking/db/schema.ts';
import { EventCreated } from '../../lib/booking/messages.ts';
import { seatKeys } from '../../lib/booking/seats/keys.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import { closeServices, pingDependencies, type Services } from '../../lib/services.ts';
import { bearer, createTestEvent, testServices } from '../../test/support.ts';
import { CreatedEventBody } from './create-event.ts';
import { EventView } from './event-view.ts';
import events from './index.ts';

// These read Postgres on every request; the answers kept in memory have tests of their own below.
const services = testServices({ EVENTS_MAX_AGE_MS: '0' });
// Long enough that only creating an event here drops an answer in these tests.
const caching = testServices({ EVENTS_MAX_AGE_MS: '600000' });
after(async () => {
  for (const s of [services, caching]) {
    await closeServices(s);
    s.subscriber.disconnect();
  }
});

/** Every event, page by page (`limit=100`), following each Link to the next. */
async function allEvents(query = ''): Promise<EventView[]> {
  const app = createFunctionApp(events, services);
  const listed: EventView[] = [];
  let url: string | undefined = `/events?limit=100&${query}`;
  while (url) {
    const page = await app.request(url);
    listed.push(...((await page.json()) as EventView[]));
    url = page.headers.get('link')?.match(/^<([^>]+)>/)?.[1];
  }
  return listed;
}

/** The seed's fields, plus free seats and the sale's settings (on-sale time, waiting room). */
const EVENT_FIELDS = [
  'created_at',
  'date',
  'free_seats',
  'id',
  'location',
  'name',
  'on_sale_at',
  'queue',
  'total_seats',
];

it('GET /events lists events in the seed shape, plus their free seats', async () => {
  const { eventId, seatIds } = await createTestEvent(services, 3, 'Listed');
  await services.db
    .update(seats)
    .set({ isBooked: true })
    .where(eq(seats.id, seatIds[0] as number));
  const response = await createFunctionApp(events, services).request('/events?limit=500');
  assert.equal(response.status, 200);
  const json = await response.json();
  const body = v.parse(v.array(EventView), json);
  assert.deepEqual(body, json, 'nothing but the contract');
  const listed = (await allEvents()).find((event) => event.id === eventId);
  assert.ok(listed, 'the new event is listed');
  assert.deepEqual(Object.keys(listed).sort(), EVENT_FIELDS);
  assert.equal(listed.total_seats, 3);
  assert.equal(listed.free_seats, 2);
  assert.equal(listed.date, '2030-01-01T20:00:00.000Z');
});

it('GET /events answers a page at a time, soonest first, with a Link to the next page', async () => {
  const app = createFunctionApp(events, services);
  const early = await createTestEvent(services, 1, 'Early');
  const late = await createTestEvent(services, 1, 'Late');
  await services.db
    .update(eventsTable)
    .set({ date: new Date('2029-12-31T20:00:00Z') })
    .where(eq(eventsTable.id, late.eventId));
  const first = await app.request(`/events?limit=1&cursor=${late.eventId}`);
  const [next] = (await first.json()) as EventView[];
  assert.ok(next);
  assert.equal(first.headers.get('link'), `</events?limit=1&cursor=${next.id}>; rel="next"`);
  // `late` was created second but is sooner: `early` comes after it, nothing before it does.
  const later = await allEvents(`cursor=${late.eventId}`);
  assert.ok(!later.some((event) => event.id === late.eventId), 'nothing up to the cursor');
  assert.ok(
    later.some((event) => event.id === early.eventId),
    'a later date, on a later page',
  );
  const dates = later.map((event) => event.date);
  assert.deepEqual(dates, [...dates].sort(), 'soonest first');

  const tooMany = await app.request('/events?limit=501');
  assert.equal(tooMany.status, 400);
  assert.match(JSON.stringify(await tooMany.json()), /from 1 to 500/);
});

it('GET /events/:eventId answers one event, 404 for none, 400 for a bad id', async () => {
  const app = createFunctionApp(events, services);
  const { eventId } = await createTestEvent(services, 2, 'One');
  const response = await app.request(`/events/${eventId}`);
  assert.equal(response.status, 200);
  const json = await response.json();
  const body = v.parse(EventView, json);
  assert.deepEqual(body, json, 'nothing but the contract');
  assert.deepEqual(Object.keys(body).sort(), EVENT_FIELDS);
  assert.equal(body.free_seats, 2);
  assert.equal((await app.request('/events/2000000000')).status, 404);
  const bad = await app.request('/events/first');
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get('content-type'), 'application/problem+json');
});

it('answers 503 when an answer takes longer than REQUEST_TIMEOUT_MS (a Postgres that never answers)', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as AddressInfo;
  const stalled = testServices({
    DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/seatrush_test`,
    REQUEST_TIMEOUT_MS: '300',
  });
  try {
    const response = await createFunctionApp(events, stalled).request('/events/1');
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    assert.match((await response.json()).detail, /No answer within 300 ms/);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
    await closeServices(stalled);
    stalled.subscriber.disconnect();
  }
});

describe('GET /events and GET /events/:eventId from memory', () => {
  const app = createFunctionApp(events, caching);
  const bookOne = (seatId: number) =>
    services.db.update(seats).set({ isBooked: true }).where(eq(seats.id, seatId));

  it('answers the same bytes for EVENTS_MAX_AGE_MS, with an ETag, 304 and Cache-Control', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 3, 'Cached');
    const first = await app.request(`/events/${eventId}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('cache-control'), 'public, max-age=1');
    assert.equal(first.headers.get('content-encoding'), null, 'a few hundred bytes are sent as they are');
    const etag = first.headers.get('etag') ?? '';
    assert.match(etag, /^W\/"[\w-]+"$/);
    assert.equal(((await first.json()) as EventView).free_seats, 3);

    await bookOne(seatIds[0] as number);
    const again = await app.request(`/events/${eventId}`);
    assert.equal(again.headers.get('etag'), etag, 'from memory');
    assert.equal(((await again.json()) as EventView).free_seats, 3);
    const unchanged = await app.request(`/events/${eventId}`, { headers: { 'if-none-match': etag } });
    assert.equal(unchanged.status, 304);
    assert.equal(await unchanged.text(), '');
    // Read afresh where nothing is kept.
    const uncached = await createFunctionApp(events, services).request(`/events/${eventId}`);
    assert.equal(((await uncached.json()) as EventView).free_seats, 2);
  });

  it('compresses a page large enough, and keeps its Link', async () => {
    const firstEvent = await createTestEvent(services, 1, 'Page');
    for (let i = 0; i < 9; i++) await createTestEvent(services, 1, 'Page');
    const path = `/events?limit=8&cursor=${firstEvent.eventId}`;
    const plain = await app.request(path);
    const text = await plain.text();
    assert.ok(Buffer.byteLength(text) >= 1_024, 'large enough to compress');
    const gzipped = await app.request(path, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gzipped.headers.get('content-encoding'), 'gzip');
    assert.equal(gzipped.headers.get('vary'), 'accept-encoding');
    assert.equal(gunzipSync(Buffer.from(await gzipped.arrayBuffer())).toString(), text);
    const next = (JSON.parse(text) as EventView[]).at(-1)?.id;
    for (const answer of [plain, gzipped])
      assert.equal(answer.headers.get('link'), `</events?limit=8&cursor=${next}>; rel="next"`);
  });

  it('is read again after EVENTS_MAX_AGE_MS', async () => {
    const shortLived = testServices({ EVENTS_MAX_AGE_MS: '100' });
    try {
      const target = createFunctionApp(events, shortLived);
      const { eventId, seatIds } = await createTestEvent(services, 2, 'Short');
      const freeSeats = async () =>
        ((await (await target.request(`/events/${eventId}`)).json()) as EventView).free_seats;
      assert.equal(await freeSeats(), 2);
      await bookOne(seatIds[0] as number);
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(await freeSeats(), 1);
    } finally {
      await closeServices(shortLived);
      shortLived.subscriber.disconnect();
    }
  });
});

describe('POST /events', () => {
  const app = createFunctionApp(events, services);
  const post = async (body: unknown, target = app, headers: Record<string, string> = {}) =>
    target.request('/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await bearer(1, 'admin')), ...headers },
      body: JSON.stringify(body),
    });
  const base = { name: 'Opening Night', date: '2031-05-01T19:30:00+02:00', location: 'Main Hall' };

  before(async () => {
    await pingDependencies(services, ['postgres', 'redis', 'kafka']);
    await services.kafka.ensureTopics();
  });

  it('creates the event and its rows × seats grid in one go, warms the cache and announces it', async () => {
    const topic = services.kafka.topic('bookingEvents');
    const admin = services.kafka.kafka.admin();
    await admin.connect();
    try {
      const offsetsBefore = await admin.fetchTopicOffsets(topic);
      const response = await post({ ...base, rows: 3, seats_per_row: 4 });
      assert.equal(response.status, 201);
      const body = v.parse(CreatedEventBody, await response.json());
      assert.equal(response.headers.get('location'), `/events/${body.id}`);
      assert.equal(body.date, '2031-05-01T17:30:00.000Z');
      assert.equal(body.total_seats, 12);
      assert.equal(body.free_seats, 12);
      assert.deepEqual(
        body.seats.map((s) => s.seat_number),
        ['A1', 'A2', 'A3', 'A4', 'B1', 'B2', 'B3', 'B4', 'C1', 'C2', 'C3', 'C4'],
      );

      const rows = await services.db.select().from(seats).where(eq(seats.eventId, body.id));
      assert.deepEqual(
        rows.map((r) => r.id).sort((a, b) => a - b),
        body.seats.map((s) => s.seat_id),
      );
      const cached = await services.seats.snapshot(body.id);
      assert.equal(cached?.length, 12, 'the cache is warm');
      assert.ok(cached?.every((seat) => seat.state === 'available'));

      // EventCreated went to booking-events, keyed by the event: its partition grew by one message.
      const offsetsAfter = await admin.fetchTopicOffsets(topic);
      const grown = offsetsAfter.filter(
        (after) => after.high !== offsetsBefore.find((b) => b.partition === after.partition)?.high,
      );
      assert.ok(grown.length >= 1, 'a message was added');
      const announced = await readMessages(services, topic, grown, offsetsBefore);
      const mine = announced.find((message) => message.key === String(body.id));
      assert.ok(mine, 'EventCreated keyed by the event id');
      const event = v.parse(EventCreated, JSON.parse(mine.value));
      assert.equal(event.type, 'EventCreated');
      assert.equal(event.eventId, body.id);
      assert.equal(event.totalSeats, 12);
      assert.equal(event.name, 'Opening Night');
    } finally {
      await admin.disconnect();
    }
  });

  it('drops the answers kept in memory when an event is created through the same process', async () => {
    await pingDependencies(caching, ['postgres', 'redis', 'kafka']);
    const cachedApp = createFunctionApp(events, caching);
    const { eventId, seatIds } = await createTestEvent(services, 2, 'Before');
    const page = `/events?limit=500&cursor=${eventId}`;
    const listedBefore = (await (await cachedApp.request(page)).json()) as EventView[];
    assert.equal((await (await cachedApp.request(`/events/${eventId}`)).json()).free_seats, 2);
    await services.db
      .update(seats)
      .set({ isBooked: true })
      .where(eq(seats.id, seatIds[0] as number));

    const created = await post({ ...base, name: 'Dropped the cache', rows: 1, seats_per_row: 1 }, cachedApp);
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as CreatedEventBody;
    const listedAfter = (await (await cachedApp.request(page)).json()) as EventView[];
    assert.ok(!listedBefore.some((event) => event.id === id));
    assert.ok(
      listedAfter.some((event) => event.id === id),
      'listed at once',
    );
    assert.equal((await (await cachedApp.request(`/events/${eventId}`)).json()).free_seats, 1);
  });

  it('creates a 50,000-seat stadium, warms its cache, and refuses one seat more', async () => {
    const response = await post({ ...base, name: 'Stadium', rows: 250, seats_per_row: 200 });
    assert.equal(response.status, 201);
    const body = (await response.json()) as CreatedEventBody;
    assert.equal(body.total_seats, 50_000);
    assert.equal(body.seats.length, 50_000);
    assert.deepEqual([body.seats[0]?.seat_number, body.seats.at(-1)?.seat_number], ['A1', 'IP200']);
    assert.equal(await services.redis.hlen(seatKeys.seatMap(body.id)), 50_000, 'the cache is warm');
    const over = await post({ ...base, rows: 250, seats_per_row: 201 });
    assert.equal(over.status, 400);
    assert.match(await over.text(), /at most 50000 seats/);
  });

  it('creates an explicit list of seat numbers', async () => {
    const response = await post({ ...base, seat_numbers: ['Box 1', 'Box 2', 'Stall 7'] });
    assert.equal(response.status, 201);
    const body = (await response.json()) as CreatedEventBody;
    assert.deepEqual(
      body.seats.map((s) => s.seat_number),
      ['Box 1', 'Box 2', 'Stall 7'],
    );
    const [event] = await services.db.select().from(eventsTable).where(eq(eventsTable.id, body.id));
    assert.equal(event?.totalSeats, 3);
  });

  it('refuses bad input with the offending fields, and creates nothing', async () => {
    const count = async () =>
      Number((await services.db.$client.query('select count(*)::int as n from events')).rows[0].n);
    const before = await count();
    const cases: [string, unknown, RegExp][] = [
      ['no layout', base, /either rows and seats_per_row, or seat_numbers/],
      ['both layouts', { ...base, rows: 1, seats_per_row: 2, seat_numbers: ['A1'] }, /either rows/],
      ['rows without seats_per_row', { ...base, rows: 2 }, /either rows/],
      ['too many seats', { ...base, rows: 51, seats_per_row: 1000 }, /at most 50000 seats/],
      ['zero rows', { ...base, rows: 0, seats_per_row: 2 }, /body\.rows/],
      ['fractional seats', { ...base, rows: 1, seats_per_row: 2.5 }, /body\.seats_per_row/],
      ['repeated seat numbers', { ...base, seat_numbers: ['A1', 'A1'] }, /must not repeat/],
      ['an empty seat number', { ...base, seat_numbers: ['A1', '  '] }, /body\.seat_numbers\[1\]/],
      ['a long seat number', { ...base, seat_numbers: ['x'.repeat(33)] }, /body\.seat_numbers\[0\]/],
      ['no name', { ...base, name: '', rows: 1, seats_per_row: 1 }, /body\.name/],
      ['a date without zone', { ...base, date: '2031-05-01 19:30', rows: 1, seats_per_row: 1 }, /body\.date/],
      ['a number as date', { ...base, date: 20310501, rows: 1, seats_per_row: 1 }, /body\.date/],
      ['an unknown field', { ...base, rows: 1, seats_per_row: 1, price: 10 }, /price/],
      ['not an object', [1, 2], /body/],
    ];
    for (const [what, body, detail] of cases) {
      const response = await post(body);
      assert.equal(response.status, 400, what);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      assert.match(await response.text(), detail, what);
    }
    assert.equal(await count(), before);
  });

  it('answers 503 and creates nothing when Kafka cannot take EventCreated', async () => {
    const noKafka: Services = testServices({ KAFKA_BROKERS: '127.0.0.1:1' });
    try {
      const name = `Unannounced ${Date.now()}`;
      const response = await post(
        { ...base, name, rows: 2, seats_per_row: 2 },
        createFunctionApp(events, noKafka),
      );
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '2');
      const { rows } = await services.db.$client.query(
        'select count(*)::int as n from events where name = $1',
        [name],
      );
      assert.equal(rows[0].n, 0);
    } finally {
      await closeServices(noKafka);
      noKafka.subscriber.disconnect();
    }
  });

  it('replays the answer for a retried Idempotency-Key instead of creating the event twice', async () => {
    const key = `create-${Date.now()}`;
    const body = { ...base, name: `Once ${key}`, rows: 1, seats_per_row: 3 };
    const first = await post(body, app, { 'idempotency-key': key });
    const retry = await post(body, app, { 'idempotency-key': key });
    assert.equal(first.status, 201);
    assert.equal(retry.status, 201);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(await retry.json(), await first.json());
    const { rows } = await services.db.$client.query(
      'select count(*)::int as n from events where name = $1',
      [body.name],
    );
    assert.equal(rows[0].n, 1);
  });
});

/** Reads the messages added to the given partitions since `from`, with a throwaway consumer group. */
async function readMessages(
  services: Services,
  topic: string,
  partitions: { partition: number; high: string }[],
  from: { partition: number; offset: string }[],
): Promise<{ key: string; value: string }[]> {
  const groupId = `${services.kafka.prefix}events-test-${Date.now()}`;
  const consumer = services.kafka.kafka.consumer({ groupId });
  const wanted = partitions.reduce((sum, p) => {
    const start = Number(from.find((f) => f.partition === p.partition)?.offset ?? 0);
    return sum + Number(p.high) - start;
  }, 0);
  const messages: { key: string; value: string }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('EventCreated not read within 20 s')), 20_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (!partitions.some((p) => p.partition === partition)) return;
          messages.push({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
          if (messages.length >= wanted) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const p of partitions) {
          const offset = from.find((f) => f.partition === p.partition)?.offset ?? '0';
          consumer.seek({ topic, partition: p.partition, offset });
        }
      });
    });
  } finally {
    await consumer.disconnect();
    const admin = services.kafka.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
  }
  return messages;
}
