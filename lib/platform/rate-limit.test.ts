import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import bookFunction from '../../functions/book/index.ts';
import eventSeats from '../../functions/event-seats/index.ts';
import events from '../../functions/events/index.ts';
import { bearer, createTestEvent, testServices } from '../../test/support.ts';
import { closeServices, pingDependencies } from '../services.ts';
import { createFunctionApp } from './app.ts';

/**
 * Requests the limiter counts but the booking refuses (422, a seat not of the event): nothing is
 * ever booked here. `book` counts its limits in the seat script, so only requests that reach an
 * event's seats are counted (not a 400, nor a seat this process already knows is taken).
 */
const refusedBooking = async (
  app: ReturnType<typeof createFunctionApp>,
  eventId: number,
  userId: number,
  address: string,
) =>
  app.request('/bookings/book', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...(await bearer(userId)) },
    body: JSON.stringify({ event_id: eventId, seat_ids: [2_000_000_000] }),
  });

describe('rate limits on book', () => {
  const services = testServices({
    RATE_LIMIT_PER_USER: '3',
    RATE_LIMIT_PER_ADDRESS: '5',
    RATE_LIMIT_WINDOW_S: '60',
    TRUST_PROXY: 'true',
  });
  const app = createFunctionApp(bookFunction, services);
  let eventId: number;
  before(async () => {
    await pingDependencies(services, ['redis', 'postgres']);
    ({ eventId } = await createTestEvent(services, 1));
  });
  after(() => closeServices(services));

  it('answers the (N+1)th request of a user in the window with 429, Retry-After and RateLimit headers', async () => {
    const userId = randomInt(1_000_000, 2_000_000_000);
    const address = `10.0.${randomInt(256)}.${randomInt(256)}`;
    for (let i = 3; i > 0; i--) {
      const response = await refusedBooking(app, eventId, userId, address);
      assert.equal(response.status, 422);
      assert.equal(response.headers.get('ratelimit-limit'), '3');
      assert.equal(response.headers.get('ratelimit-remaining'), String(i - 1));
    }
    const limited = await refusedBooking(app, eventId, userId, address);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('content-type'), 'application/problem+json');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(limited.headers.get('ratelimit-remaining'), '0');
    assert.ok(Number(limited.headers.get('ratelimit-reset')) <= 60);
  });

  it('a 429 is not what an Idempotency-Key remembers: the retry after Retry-After runs', async () => {
    const oneASecond = testServices({ RATE_LIMIT_PER_USER: '1', RATE_LIMIT_WINDOW_S: '1' });
    try {
      await pingDependencies(oneASecond, ['redis']);
      const limitedApp = createFunctionApp(bookFunction, oneASecond);
      const userId = randomInt(1_000_000, 2_000_000_000);
      const send = async (key: string) =>
        limitedApp.request('/bookings/book', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key, ...(await bearer(userId)) },
          body: JSON.stringify({ event_id: eventId, seat_ids: [2_000_000_000] }),
        });
      assert.equal((await send(randomUUID())).status, 422);
      const key = randomUUID();
      assert.equal((await send(key)).status, 429);
      // Two windows later neither bucket counts the first request.
      await sleep(2_100);
      const retried = await send(key);
      assert.equal(retried.status, 422);
      assert.equal(retried.headers.get('idempotent-replayed'), null);
      assert.equal((await send(key)).headers.get('idempotent-replayed'), 'true', 'the 422 is remembered');
    } finally {
      await closeServices(oneASecond);
    }
  });

  it('limits a client address across users', async () => {
    const address = `10.1.${randomInt(256)}.${randomInt(256)}`;
    const statuses = [];
    for (let i = 0; i < 6; i++)
      statuses.push(
        (await refusedBooking(app, eventId, randomInt(1_000_000, 2_000_000_000), address)).status,
      );
    assert.deepEqual(statuses, [422, 422, 422, 422, 422, 429]);
  });

  it('lets requests through when Redis is down', async () => {
    // Reads are limited by the middleware (book's limits fail open with its seat script).
    const noRedis = testServices({ REDIS_URL: 'redis://127.0.0.1:1/0', RATE_LIMIT_READS_PER_ADDRESS: '1' });
    try {
      const eventsWithoutRedis = createFunctionApp(events, noRedis);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await eventsWithoutRedis.request('/events')).status);
      assert.deepEqual(statuses, [200, 200, 200]);
    } finally {
      await closeServices(noRedis);
    }
  });
});

describe('rate limits on public reads', () => {
  const services = testServices({
    RATE_LIMIT_READS_PER_ADDRESS: '4',
    RATE_LIMIT_WINDOW_S: '60',
    TRUST_PROXY: 'true',
  });
  const eventsApp = createFunctionApp(events, services);
  const seatsApp = createFunctionApp(eventSeats, services);
  after(() => closeServices(services));

  it('gives an address one budget across the event and seat reads; another address has its own', async () => {
    await pingDependencies(services, ['redis']);
    const { eventId } = await createTestEvent(services, 2);
    const address = `10.3.${randomInt(256)}.${randomInt(256)}`;
    const read = (app: typeof eventsApp, path: string, from = address) =>
      app.request(path, { headers: { 'x-forwarded-for': from } });
    const answers = [
      await read(eventsApp, '/events?limit=1'),
      await read(eventsApp, `/events/${eventId}`),
      await read(seatsApp, `/events/seats/${eventId}`),
      await read(eventsApp, '/events/2000000000'),
      await read(seatsApp, `/events/seats/${eventId}`),
    ];
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [200, 200, 200, 404, 429],
    );
    assert.deepEqual(
      answers.map((answer) => answer.headers.get('ratelimit-remaining')),
      ['3', '2', '1', '0', '0'],
    );
    const limited = answers[4] as Response;
    assert.equal(limited.headers.get('content-type'), 'application/problem+json');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.match((await limited.json()).detail, /Too many requests/);

    assert.equal((await read(seatsApp, `/events/seats/${eventId}`, `${address}1`)).status, 200);
  });

  it('is off at 0', async () => {
    const unlimited = testServices({ RATE_LIMIT_READS_PER_ADDRESS: '0' });
    try {
      const response = await createFunctionApp(events, unlimited).request('/events?limit=1');
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('ratelimit-limit'), null);
    } finally {
      await closeServices(unlimited);
    }
  });

  it('lets reads through when Redis is down: seats come from Postgres', async () => {
    const noRedis = testServices({ REDIS_URL: 'redis://127.0.0.1:1/0', RATE_LIMIT_READS_PER_ADDRESS: '1' });
    try {
      const { eventId } = await createTestEvent(services, 2);
      for (let i = 0; i < 3; i++) {
        const seats = await createFunctionApp(eventSeats, noRedis).request(`/events/seats/${eventId}`);
        assert.equal(seats.status, 200);
        assert.equal(seats.headers.get('x-data-source'), 'postgres');
        assert.equal((await createFunctionApp(events, noRedis).request(`/events/${eventId}`)).status, 200);
      }
    } finally {
      await closeServices(noRedis);
    }
  });
});
