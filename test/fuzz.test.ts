import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import * as v from 'valibot';
import { BookSeatsBody } from '../functions/book/book-seats.ts';
import { CreateEventBody } from '../functions/events/create-event.ts';
import type { RunningFunctions } from '../lib/platform/runner.ts';
import { closeServices } from '../lib/services.ts';
import { bearer, testServices } from './support.ts';
import { startSystem } from './system.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

/** A path segment that is not a valid id: what a real id could change is out of scope here. */
const notAnId = fc
  .oneof(
    fc.string(),
    fc.integer({ min: -1e12, max: 0 }).map(String),
    fc.constant('99999999999'),
    fc.double().map(String),
  )
  .filter((segment) => !/^[1-9]\d{0,9}$/.test(segment));
const anyQuery = fc.dictionary(
  fc.string({ maxLength: 12 }),
  fc.oneof(fc.string(), fc.integer().map(String)),
  { maxKeys: 4 },
);
const anyBody = fc.oneof(
  fc.anything(),
  fc.record(
    {
      user_id: fc.anything(),
      event_id: fc.anything(),
      seat_ids: fc.oneof(fc.anything(), fc.array(fc.integer())),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      name: fc.anything(),
      date: fc.anything(),
      location: fc.anything(),
      rows: fc.anything(),
      seats_per_row: fc.anything(),
    },
    { requiredKeys: [] },
  ),
);
const rawBody = fc.oneof(
  anyBody.map((body) => JSON.stringify(body) ?? 'undefined'),
  fc.string(),
  fc.constant('{"user_id": 1,'),
  fc.string({ minLength: 17_000, maxLength: 17_100 }),
);
const contentType = fc.constantFrom(
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  '',
);

const query = (params: Record<string, string>) => {
  const search = new URLSearchParams(params).toString();
  return search ? `?${search}` : '';
};

/**
 * Thousands of random and malformed requests to every endpoint: never a 5xx, never a stack
 * trace, never a row changed. Requests that would be valid are filtered out (they may book).
 */
describe('fuzz: malformed requests', () => {
  const services = testServices();
  let system: RunningFunctions;
  let user: Record<string, string>;
  let admin: Record<string, string>;

  const fingerprint = async () =>
    (
      await services.db.$client.query(`
        select (select count(*) || ':' || coalesce(sum(hashtext(t::text)), 0) from users t) as users,
               (select count(*) || ':' || coalesce(sum(hashtext(t::text)), 0) from events t) as events,
               (select count(*) || ':' || coalesce(sum(hashtext(t::text)), 0) from seats t) as seats,
               (select count(*) || ':' || coalesce(sum(hashtext(t::text)), 0) from bookings t) as bookings,
               (select count(*) from booking_requests) as requests`)
    ).rows[0];

  before(async () => {
    system = await startSystem(services);
    user = await bearer(1);
    admin = await bearer(1, 'admin');
  });
  after(async () => {
    await system.stop();
    await closeServices(services);
  });

  const send = async (method: string, path: string, headers: Record<string, string>, body?: string) => {
    const response = await fetch(`${system.url}${path}`, { method, headers, body });
    const text = await response.text();
    assert.ok(response.status < 500, `${method} ${path} ${body?.slice(0, 200)} → ${response.status} ${text}`);
    assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
    return response.status;
  };

  it('every endpoint survives them and nothing changes', async () => {
    const before = await fingerprint();

    await fc.assert(
      fc.asyncProperty(rawBody, contentType, fc.boolean(), async (body, type, asAdmin) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {}
        fc.pre(!v.is(BookSeatsBody, parsed) && !v.is(CreateEventBody, parsed));
        const headers = { ...(asAdmin ? admin : user), ...(type ? { 'content-type': type } : {}) };
        await send('POST', '/bookings/book', headers, body);
        await send('POST', '/events', headers, body);
      }),
      { numRuns: RUNS },
    );

    const readPaths = [
      (id: string, q: string) => `/bookings/cancel/${id}${q}`,
      (id: string, q: string) => `/bookings/requests/${id}${q}`,
      (id: string, q: string) => `/bookings/user/${id}${q}`,
      (id: string, q: string) => `/events/${id}${q}`,
      (id: string, q: string) => `/events/seats/${id}${q}`,
      (id: string, q: string) => `/events/${id}/stream${q}`,
      (id: string, q: string) => `/map/${id}${q}`,
    ];
    await fc.assert(
      fc.asyncProperty(
        notAnId,
        anyQuery,
        fc.constantFrom(...readPaths),
        fc.boolean(),
        async (id, params, path, token) => {
          const url = path(encodeURIComponent(id), query(params));
          const method = url.startsWith('/bookings/cancel/') ? 'DELETE' : 'GET';
          await send(method, url, token ? user : {});
        },
      ),
      { numRuns: RUNS * 3 },
    );

    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
        fc.webPath(),
        rawBody,
        async (method, path, body) => {
          await send(method, path || '/', {}, method === 'GET' || method === 'OPTIONS' ? undefined : body);
        },
      ),
      { numRuns: RUNS },
    );

    assert.deepEqual(await fingerprint(), before);
  });
});
