import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { bookings, events } from '../lib/booking/db/schema.ts';
import { issueToken } from '../lib/platform/auth.ts';
import { parseConfig } from '../lib/platform/config.ts';
import type { RunningFunctions } from '../lib/platform/runner.ts';
import { closeServices } from '../lib/services.ts';
import { FORGERIES, type Forgery } from './jwks.ts';
import { bearer, createTestEvent, createTestUsers, type TestEvent, testServices } from './support.ts';
import { book, startSystem } from './system.ts';

type Who = 'no token' | Forgery | 'other user' | 'owner' | 'admin';
const FORGED = Object.keys(FORGERIES) as Forgery[];
const WHO: Who[] = ['no token', ...FORGED, 'other user', 'owner', 'admin'];

/**
 * Every route × {no token, an expired token, one without `exp`, an unsigned one (`alg: none`),
 * one of another algorithm, another user, the owner, an admin}: writes and personal reads need a
 * valid token and the right user; POST /events needs an admin; event and seat reads are public.
 * The forged tokens claim to be an admin, so any that passed would act. Every refusal is a problem
 * document, and changed nothing.
 */
describe('authorization matrix', () => {
  const services = testServices();
  let system: RunningFunctions;
  let owner: number;
  let other: number;
  let event: TestEvent;
  const forged = new Map<Forgery, string>();
  const headersOf = async (who: Who): Promise<Record<string, string>> => {
    if (who === 'no token') return {};
    const token = forged.get(who as Forgery);
    if (token) return { authorization: `Bearer ${token}` };
    return bearer(who === 'other user' ? other : owner, who === 'admin' ? 'admin' : 'user');
  };

  before(async () => {
    system = await startSystem(services);
    [owner, other] = (await createTestUsers(services, 2)) as [number, number];
    event = await createTestEvent(services, 30);
    for (const forgery of FORGED) {
      forged.set(forgery, await FORGERIES[forgery](services.config.JWT_SECRET, { id: owner, role: 'admin' }));
    }
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

  /** A request, and what a refusal of it must have left as it was. */
  type Attempt = { response: Response; unchanged?: () => Promise<void> };

  /** A route's answers to no token, to each forged token, to another user, the owner and an admin. */
  const answers = (noToken: number, forgedToken: number, otherUser: number, owners: number, admin: number) =>
    ({
      'no token': noToken,
      ...Object.fromEntries(FORGED.map((forgery) => [forgery, forgedToken])),
      'other user': otherUser,
      owner: owners,
      admin,
    }) as Record<Who, number>;

  const expectations: [string, (who: Who) => Promise<Attempt>, Record<Who, number>][] = [
    [
      'POST /bookings/book (for the owner)',
      async (who) => {
        const seatId = event.seatIds[nextSeat++] as number;
        const response = await call(who, 'POST', '/bookings/book', {
          user_id: owner,
          event_id: event.eventId,
          seat_ids: [seatId],
        });
        const unchanged = async () =>
          assert.deepEqual(await services.db.select().from(bookings).where(eq(bookings.seatId, seatId)), []);
        return { response, unchanged };
      },
      answers(401, 401, 403, 201, 201),
    ],
    [
      "DELETE /bookings/cancel/:id (the owner's booking)",
      async (who) => {
        const bookingId = (await ownersBooking()).bookingIds?.[0] as number;
        const response = await call(who, 'DELETE', `/bookings/cancel/${bookingId}`);
        const unchanged = async () => {
          const [booking] = await services.db
            .select({ status: bookings.status })
            .from(bookings)
            .where(eq(bookings.id, bookingId));
          assert.equal(booking?.status, 'CONFIRMED');
        };
        return { response, unchanged };
      },
      answers(401, 401, 403, 200, 200),
    ],
    [
      "GET /bookings/requests/:id (the owner's request)",
      async (who) => ({
        response: await call(who, 'GET', `/bookings/requests/${(await ownersBooking()).requestId}`),
      }),
      answers(401, 401, 403, 200, 200),
    ],
    [
      "GET /bookings/user/:id (the owner's bookings)",
      async (who) => ({ response: await call(who, 'GET', `/bookings/user/${owner}`) }),
      answers(401, 401, 403, 200, 200),
    ],
    [
      'POST /events',
      async (who) => {
        const name = `Authz ${who} ${randomUUID().slice(0, 8)}`;
        const response = await call(who, 'POST', '/events', {
          name,
          date: '2031-01-01T20:00:00Z',
          location: 'Hall',
          rows: 1,
          seats_per_row: 2,
        });
        const unchanged = async () =>
          assert.deepEqual(await services.db.select().from(events).where(eq(events.name, name)), []);
        return { response, unchanged };
      },
      answers(401, 401, 403, 403, 201),
    ],
    [
      'GET /events',
      async (who) => ({ response: await call(who, 'GET', '/events') }),
      answers(200, 200, 200, 200, 200),
    ],
    [
      'GET /events/:id',
      async (who) => ({ response: await call(who, 'GET', `/events/${event.eventId}`) }),
      answers(200, 200, 200, 200, 200),
    ],
    [
      'GET /events/seats/:id',
      async (who) => ({ response: await call(who, 'GET', `/events/seats/${event.eventId}`) }),
      answers(200, 200, 200, 200, 200),
    ],
  ];

  for (const [route, request, expected] of expectations) {
    it(route, async () => {
      const attempts = await Promise.all(WHO.map(async (who) => [who, await request(who)] as const));
      const statuses = Object.fromEntries(attempts.map(([who, { response }]) => [who, response.status]));
      assert.deepEqual(statuses, expected);
      for (const [who, { response, unchanged }] of attempts) {
        if (response.ok) continue;
        assert.equal(response.headers.get('content-type'), 'application/problem+json', who);
        await unchanged?.();
      }
    });
  }

  it('a token signed with another secret, or whose user id is no id, is a 401 problem', async () => {
    const forgedSecret = issueToken({ JWT_SECRET: 'x'.repeat(40) }, { id: owner, role: 'admin' });
    // Past Postgres' integer: the same Id type as every id in a path or body.
    const outOfRange = issueToken(parseConfig(), { id: 2 ** 31, role: 'admin' });
    for (const token of [forgedSecret, outOfRange, 'not-a-jwt']) {
      const response = await fetch(`${system.url}/bookings/user/${owner}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
    }
  });
});
