/**
 * The HTTP functions on workerd: `wrangler dev` with the committed wrangler.toml, against the real
 * Postgres, Redis and Kafka. The Kafka functions run on Node beside it, as in a real deployment.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FUNCTIONS } from '../functions/registry.ts';
import { type RunningFunctions, startFunctions } from '../lib/platform/runner.ts';
import { closeServices } from '../lib/services.ts';
import { bearer, createTestEvent, createTestUsers, testServices } from '../test/support.ts';
import { freePort, type Spawned, spawnProcess } from './spawned.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WRANGLER = `${ROOT}node_modules/wrangler/bin/wrangler.js`;
/** Topics and groups of their own, so these consumers never take messages other tests wait for. */
const PREFIX = `${process.env.KAFKA_PREFIX ?? 'test.'}deploy.`;

/** The settings the test processes use, handed to the Worker as vars (lib/platform/config.ts reads them). */
function settings(): string[] {
  const vars: Record<string, string | undefined> = {
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS,
    KAFKA_PREFIX: PREFIX,
    LOG_LEVEL: 'silent',
    // The Worker verifies the bearer tokens that bearer() signs with this process's settings
    // (wrangler.toml says production, where the test secret would not start).
    NODE_ENV: process.env.NODE_ENV,
    JWT_SECRET: process.env.JWT_SECRET,
  };
  return Object.entries(vars).flatMap(([name, value]) =>
    value === undefined ? [] : ['--var', `${name}:${value}`],
  );
}

describe('the HTTP functions on workerd (wrangler dev)', { timeout: 180_000 }, () => {
  const services = testServices({ KAFKA_PREFIX: PREFIX });
  let worker: Spawned;
  let url: string;
  let state: string;

  before(async () => {
    state = await mkdtemp(`${tmpdir()}/seatrush-wrangler-`);
    const port = await freePort();
    worker = spawnProcess(
      process.execPath,
      [WRANGLER, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state, ...settings()],
      {
        cwd: ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
        ready: /Ready on (http:\/\/\S+)/,
      },
    );
    [, url = ''] = await worker.ready;
  });
  after(async () => {
    await worker?.stop();
    await rm(state, { recursive: true, force: true });
    await closeServices(services);
  });

  it('serves every HTTP function of the registry, and no Kafka function', async () => {
    const response = await fetch(`${url}/healthz`);
    assert.equal(response.status, 200, worker.output());
    const body = (await response.json()) as { functions: string[]; runtime: string };
    assert.equal(body.runtime, 'workerd');
    assert.deepEqual(
      body.functions,
      FUNCTIONS.filter((definition) => definition.trigger.kind === 'http').map(
        (definition) => definition.name,
      ),
    );
    assert.equal((await fetch(`${url}/readyz`)).status, 200, 'Postgres, Redis and Kafka answer from workerd');
  });

  it('reads: GET /events/:id shows an event just created in Postgres, GET /events a page of them', async () => {
    const { eventId } = await createTestEvent(services, 3, 'On workerd');
    const response = await fetch(`${url}/events/${eventId}`);
    assert.equal(response.status, 200, worker.output());
    assert.equal(((await response.json()) as { total_seats: number }).total_seats, 3);
    const page = await fetch(`${url}/events?limit=2`);
    assert.equal(page.status, 200);
    assert.equal(((await page.json()) as unknown[]).length, 2);
    const missing = await fetch(`${url}/no/such/route`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('content-type'), 'application/problem+json');
  });

  const book = FUNCTIONS.find((definition) => definition.name === 'book');
  describe('books through workerd', { skip: book ? false : 'no book function registered' }, () => {
    let consumers: RunningFunctions;
    before(async () => {
      consumers = await startFunctions(
        FUNCTIONS.filter((definition) => definition.trigger.kind === 'kafka'),
        services,
        { host: '127.0.0.1', port: 0 },
      );
    });
    after(() => consumers?.stop());

    it('confirms a booking (201, kafkajs on workerd), and answers 409 for a seat it holds', async () => {
      const event = await createTestEvent(services, 3, 'Booked on workerd');
      const [first = 0, second = 0] = await createTestUsers(services, 2);
      const [a, b, c] = event.seatIds;
      const bookSeats = async (userId: number, seatIds: (number | undefined)[]) =>
        fetch(`${url}/bookings/book`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(await bearer(userId)) },
          body: JSON.stringify({ event_id: event.eventId, seat_ids: seatIds }),
        });

      const anonymous = await fetch(`${url}/bookings/book`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event_id: event.eventId, seat_ids: [a] }),
      });
      assert.equal(anonymous.status, 401, 'no bearer token, no booking');

      const booked = await bookSeats(first, [a, b]);
      const bookedBody = (await booked.json()) as { status: string; request_id: string };
      assert.equal(booked.status, 201, JSON.stringify(bookedBody));
      assert.equal(bookedBody.status, 'CONFIRMED');

      const taken = await bookSeats(second, [b, c]);
      assert.equal(taken.status, 409);
      assert.deepEqual(((await taken.json()) as { taken_seat_ids: number[] }).taken_seat_ids, [b]);

      const status = await fetch(`${url}/bookings/requests/${bookedBody.request_id}`, {
        headers: await bearer(first),
      });
      assert.equal(status.status, 200, worker.output());
      assert.equal(((await status.json()) as { status: string }).status, 'CONFIRMED');
    });
  });
});
