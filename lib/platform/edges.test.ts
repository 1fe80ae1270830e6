/**
 * The trust boundaries of the HTTP functions (issue 17): whose address the per-address limit
 * counts (TRUST_PROXY, over a real socket), which other sites' pages may call the API (CORS) and
 * what every answer says about its type (nosniff).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { type ServerType, serve } from '@hono/node-server';
import bookFunction from '../../functions/book/index.ts';
import eventsFunction from '../../functions/events/index.ts';
import { bearer, createTestEvent, testServices } from '../../test/support.ts';
import { closeServices, pingDependencies, type Services } from '../services.ts';
import { createFunctionApp } from './app.ts';
import { ConfigError, parseConfig } from './config.ts';
import { gatewayApp } from './gateway.ts';

/** Two HTTP functions behind one gateway, as every function is in `npm start` and on workerd. */
const gateway = (services: Services) =>
  gatewayApp(
    [eventsFunction, bookFunction].map((definition) => ({
      definition,
      app: createFunctionApp(definition, services),
    })),
    { services },
  );

/** A loopback address of this run's own (all of 127/8 is loopback on Linux): a fresh count. */
const loopbackAddress = () => `127.${randomInt(1, 255)}.${randomInt(256)}.${randomInt(1, 255)}`;
/** A client address as a proxy would report it, of this run's own. */
const clientAddress = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

describe('TRUST_PROXY: whose address the per-address limit counts', () => {
  const LIMIT = 3;
  const servers: { services: Services; server: ServerType; port: number }[] = [];
  /** An event of the tests' own: `book` counts a request once it reaches the event's seats. */
  let eventId: number | undefined;

  /** `book` alone on a real socket, as in its container, counting only per client address. */
  async function serveBook(trustProxy: boolean) {
    const services = testServices({
      RATE_LIMIT_PER_USER: '0',
      RATE_LIMIT_PER_ADDRESS: String(LIMIT),
      RATE_LIMIT_WINDOW_S: '60',
      TRUST_PROXY: String(trustProxy),
    });
    await pingDependencies(services, ['redis', 'postgres']);
    eventId ??= (await createTestEvent(services, 1)).eventId;
    const server = serve({
      fetch: createFunctionApp(bookFunction, services).fetch,
      hostname: '127.0.0.1',
      port: 0,
    });
    await new Promise((resolve) => server.once('listening', resolve));
    const running = { services, server, port: (server.address() as AddressInfo).port };
    servers.push(running);
    return running;
  }
  after(async () => {
    for (const { services, server } of servers) {
      await new Promise((resolve) => server.close(resolve));
      await closeServices(services);
    }
  });

  /**
   * Bookings of a seat not of the event (422 once counted: nothing is ever booked) from the
   * socket address `from`, each with its X-Forwarded-For; the statuses, in order.
   */
  async function statuses(port: number, from: string, forwardedFor: string[]): Promise<number[]> {
    const { authorization } = await bearer(randomInt(1_000_000, 2_000_000_000));
    const answers: number[] = [];
    for (const forwarded of forwardedFor) {
      answers.push(
        await new Promise<number>((resolve, reject) => {
          const sent = request(
            {
              host: '127.0.0.1',
              port,
              localAddress: from,
              method: 'POST',
              path: '/bookings/book',
              headers: { authorization, 'content-type': 'application/json', 'x-forwarded-for': forwarded },
            },
            (response) => {
              response.resume();
              resolve(response.statusCode ?? 0);
            },
          );
          sent.once('error', reject);
          sent.end(JSON.stringify({ event_id: eventId, seat_ids: [2_000_000_000] }));
        }),
      );
    }
    return answers;
  }
  const limitedAtLast = [...Array(LIMIT).fill(422), 429];
  const distinctAddresses = () => Array.from({ length: LIMIT + 1 }, clientAddress);

  it('off: a spoofed X-Forwarded-For is ignored; the socket address is counted', async () => {
    const { port } = await serveBook(false);
    assert.deepEqual(await statuses(port, loopbackAddress(), distinctAddresses()), limitedAtLast);
  });

  it('on: the address the proxy reports is counted, not the socket it connects from', async () => {
    const { port } = await serveBook(true);
    const proxy = loopbackAddress();
    const one = clientAddress();
    assert.deepEqual(await statuses(port, proxy, distinctAddresses()), Array(LIMIT + 1).fill(422));
    assert.deepEqual(await statuses(port, proxy, Array(LIMIT + 1).fill(one)), limitedAtLast);
  });

  it('on, behind a proxy that appends: what the client wrote before its entry is ignored', async () => {
    const { port } = await serveBook(true);
    const real = clientAddress();
    const spoofed = distinctAddresses().map((address) => `${address}, ${real}`);
    assert.deepEqual(await statuses(port, loopbackAddress(), spoofed), limitedAtLast);
  });
});

describe('CORS: which other sites may call the API', () => {
  const SHOP = 'https://shop.example';
  const defaults = testServices();
  const listed = testServices({ CORS_ORIGINS: `${SHOP}, http://localhost:5173` });
  const anyOrigin = testServices({ CORS_ORIGINS: '*' });
  after(() => Promise.all([defaults, listed, anyOrigin].map(closeServices)));

  const preflight = (origin: string) => ({
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, idempotency-key',
    },
  });

  it('answers a listed origin with Access-Control-Allow-Origin, never with credentials', async () => {
    const response = await gateway(listed).request('/events', { headers: { origin: SHOP } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), SHOP);
    assert.match(response.headers.get('vary') ?? '', /\borigin\b/i);
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /\bretry-after\b/);
    assert.equal(response.headers.get('access-control-allow-credentials'), null);
  });

  it('gives any other origin no Access-Control-Allow-Origin, so its browser keeps the answer from it', async () => {
    for (const services of [listed, defaults]) {
      const response = await gateway(services).request('/events', {
        headers: { origin: 'https://evil.example' },
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('access-control-allow-origin'), null);
    }
  });

  it('answers a preflight with 204 (not a 405), through the gateway and from the function alone', async () => {
    for (const app of [gateway(listed), createFunctionApp(bookFunction, listed)]) {
      const allowed = await app.request('/bookings/book', preflight(SHOP));
      assert.equal(allowed.status, 204);
      assert.equal(allowed.headers.get('access-control-allow-origin'), SHOP);
      assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/);
      assert.equal(
        allowed.headers.get('access-control-allow-headers'),
        'authorization,content-type,idempotency-key,prefer,last-event-id',
      );
      assert.equal(allowed.headers.get('access-control-allow-credentials'), null);

      const refused = await app.request('/bookings/book', preflight('https://evil.example'));
      assert.equal(refused.status, 204);
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
    }
    const unlisted = await gateway(defaults).request('/bookings/book', preflight(SHOP));
    assert.equal(unlisted.status, 204);
    assert.equal(unlisted.headers.get('access-control-allow-origin'), null);
    assert.equal((await gateway(listed).request('/nowhere', preflight(SHOP))).status, 404);
  });

  it('`*` allows every origin, still without credentials', async () => {
    const response = await gateway(anyOrigin).request('/events', {
      headers: { origin: 'https://any.example' },
    });
    assert.equal(response.headers.get('access-control-allow-origin'), '*');
    assert.equal(response.headers.get('access-control-allow-credentials'), null);
  });

  it('refuses a CORS_ORIGINS that is not a list of origins, in one line naming it', () => {
    for (const value of ['https://shop.example/', 'shop.example', '*, https://shop.example', 'null']) {
      assert.throws(
        () => parseConfig({ NODE_ENV: 'test', CORS_ORIGINS: value }),
        (error: Error) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, /^config: CORS_ORIGINS=".*" is invalid: /);
          return true;
        },
      );
    }
  });
});

describe('X-Content-Type-Options: nosniff on every answer of an HTTP function', () => {
  const services = testServices();
  const app = gateway(services);
  after(() => closeServices(services));

  it('on JSON documents and on problems alike', async () => {
    const answers = [
      await app.request('/events'),
      await app.request('/events/abc'),
      await app.request('/bookings/book', { method: 'POST' }),
    ];
    assert.deepEqual(
      answers.map((response) => [response.status, response.headers.get('x-content-type-options')]),
      [
        [200, 'nosniff'],
        [400, 'nosniff'],
        [401, 'nosniff'],
      ],
    );
  });
});
