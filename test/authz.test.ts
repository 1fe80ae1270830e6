import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { issueToken } from '../lib/platform/auth.ts';
import { parseConfig } from '../lib/platform/config.ts';
import type { RunningFunctions } from '../lib/platform/runner.ts';
import { closeServices } from '../lib/services.ts';
import { bearer, createTestEvent, createTestUsers, type TestEvent, testServices } from './support.ts';
import { book, startSystem } from './system.ts';

type Who = 'no token' | 'other user' | 'owner' | 'admin';
const WHO: Who[] = ['no token', 'other user', 'owner', 'admin'];

/**
 * Every route × {no token, another user, the owner, an admin}: writes and personal reads need a
 * token and the right user; POST /events needs an admin; event and seat reads are public.
 */
describe('authorization matrix', () => {
  const services = testServices();
  let system: RunningFunctions;
  let owner: number;
  let other: number;
  let event: TestEvent;
  const headersOf = async (who: Who): Promise<Record<string, string>> =>
    who === 'no token'
      ? {}
      : bearer(who === 'other user' ? other : owner, who === 'admin' ? 'admin' : 'user');

  before(async () => {
    system = await startSystem(services);
    [owner, other] = (await createTestUsers(services, 2)) as [number, number];
    event = await createTestEvent(services, 20);
  });
  after(async () => {
    await system.stop();
    await closeServices(services);
  });

  const call = async (who: Who, method: string, path: string, body?: unknown) =>
    fetch(`${system.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(await headersOf(who)) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  let nextSeat = 0;
  /** A fresh confirmed booking of the owner, to act on. */
  const ownersBooking = async () => {
    const answer = await book(system.url, {
      user_id: owner,
      event_id: event.eventId,
      seat_ids: [event.seatIds[nextSeat++] as number],
    });
    assert.equal(answer.status, 201);
    return answer;
  };

  const expectations: [string, (who: Who) => Promise<Response>, Record<Who, number>][] = [
    [
      'POST /bookings/book (for the owner)',
      (who) =>
        call(who, 'POST', '/bookings/book', {
          user_id: owner,
          event_id: event.eventId,
          seat_ids: [event.seatIds[nextSeat++]],
        }),
      { 'no token': 401, 'other user': 403, owner: 201, admin: 201 },
    ],
    [
      "DELETE /bookings/cancel/:id (the owner's booking)",
      async (who) => call(who, 'DELETE', `/bookings/cancel/${(await ownersBooking()).bookingIds?.[0]}`),
      { 'no token': 401, 'other user': 403, owner: 200, admin: 200 },
    ],
    [
      "GET /bookings/requests/:id (the owner's request)",
      async (who) => call(who, 'GET', `/bookings/requests/${(await ownersBooking()).requestId}`),
      { 'no token': 401, 'other user': 403, owner: 200, admin: 200 },
    ],
    [
      "GET /bookings/user/:id (the owner's bookings)",
      (who) => call(who, 'GET', `/bookings/user/${owner}`),
      { 'no token': 401, 'other user': 403, owner: 200, admin: 200 },
    ],
    [
      'POST /events',
      (who) =>
        call(who, 'POST', '/events', {
          name: 'Authz',
          date: '2031-01-01T20:00:00Z',
          location: 'Hall',
          rows: 1,
          seats_per_row: 2,
        }),
      { 'no token': 401, 'other user': 403, owner: 403, admin: 201 },
    ],
    [
      'GET /events',
      (who) => call(who, 'GET', '/events'),
      { 'no token': 200, 'other user': 200, owner: 200, admin: 200 },
    ],
    [
      'GET /events/:id',
      (who) => call(who, 'GET', `/events/${event.eventId}`),
      { 'no token': 200, 'other user': 200, owner: 200, admin: 200 },
    ],
    [
      'GET /events/seats/:id',
      (who) => call(who, 'GET', `/events/seats/${event.eventId}`),
      { 'no token': 200, 'other user': 200, owner: 200, admin: 200 },
    ],
  ];

  for (const [route, request, expected] of expectations) {
    it(route, async () => {
      const statuses = Object.fromEntries(
        await Promise.all(WHO.map(async (who) => [who, (await request(who)).status] as const)),
      );
      assert.deepEqual(statuses, expected);
    });
  }

  it('an expired or forged token, or one whose user id is no id, is a 401 problem', async () => {
    const expired = issueToken(parseConfig(), { id: owner, role: 'user' }, -60);
    const forged = issueToken({ JWT_SECRET: 'x'.repeat(40) }, { id: owner, role: 'admin' });
    // Past Postgres' integer: the same Id type as every id in a path or body.
    const outOfRange = issueToken(parseConfig(), { id: 2 ** 31, role: 'admin' });
    for (const token of [expired, forged, outOfRange, 'not-a-jwt']) {
      const response = await fetch(`${system.url}/bookings/user/${owner}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
    }
  });
});
