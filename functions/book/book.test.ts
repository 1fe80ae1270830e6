import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as v from 'valibot';
import { ConfirmedBody, PendingBody, RequestStatusBody } from '../../lib/booking/responses.ts';
import { seatKeys } from '../../lib/booking/seats/keys.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import type { RunningFunctions } from '../../lib/platform/runner.ts';
import { closeServices, pingDependencies } from '../../lib/services.ts';
import { checkInvariants } from '../../test/invariants.ts';
import { bearer, createTestEvent, createTestUsers, testServices } from '../../test/support.ts';
import { book, startSystem, waitUntilDecided } from '../../test/system.ts';
import bookFunction from './index.ts';

describe('book', () => {
  const services = testServices();
  let system: RunningFunctions;
  let url: string;
  let userIds: number[];

  before(async () => {
    system = await startSystem(services);
    url = system.url;
    userIds = await createTestUsers(services, 3);
  });
  after(async () => {
    await system.stop();
    await closeServices(services);
  });

  it('books all the seats and answers 201 with the bookings', async () => {
    const event = await createTestEvent(services, 10);
    const answer = await book(url, {
      user_id: userIds[0] as number,
      event_id: event.eventId,
      seat_ids: event.seatIds.slice(0, 2),
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const booked = v.parse(ConfirmedBody, answer.body);
    assert.equal(booked.status, 'CONFIRMED');
    assert.deepEqual(
      booked.bookings.map((b) => [b.seat_id, b.seat_number, b.status]),
      [
        [event.seatIds[0], 'A1', 'CONFIRMED'],
        [event.seatIds[1], 'A2', 'CONFIRMED'],
      ],
    );
    const status = v.parse(
      RequestStatusBody,
      await (
        await fetch(`${url}/bookings/requests/${answer.requestId}`, {
          headers: await bearer(userIds[0] as number),
        })
      ).json(),
    );
    assert.equal(status.status, 'CONFIRMED');
    assert.deepEqual((await checkInvariants(services, event.eventId, [answer])).violations, []);
  });

  it('answers 409 at once naming the taken seats, and books none of the others', async () => {
    const event = await createTestEvent(services, 10);
    const [a, b, c] = event.seatIds as [number, number, number];
    const first = await book(url, {
      user_id: userIds[0] as number,
      event_id: event.eventId,
      seat_ids: [a, b],
    });
    assert.equal(first.status, 201);
    const second = await book(url, {
      user_id: userIds[1] as number,
      event_id: event.eventId,
      seat_ids: [c, b],
    });
    assert.equal(second.status, 409);
    assert.deepEqual(second.body.taken_seat_ids, [b]);
    assert.equal(second.body.reason, 'SEATS_TAKEN');
    // seat c stayed free: someone else can book it
    const third = await book(url, { user_id: userIds[2] as number, event_id: event.eventId, seat_ids: [c] });
    assert.equal(third.status, 201);
    assert.deepEqual((await checkInvariants(services, event.eventId, [first, second, third])).violations, []);
  });

  it('refuses a seat it knows is taken from memory, without a round trip to Redis', async () => {
    const event = await createTestEvent(services, 3);
    const [a] = event.seatIds as [number];
    const request = (userId: number) =>
      book(url, { user_id: userId, event_id: event.eventId, seat_ids: [a] });
    assert.equal((await request(userIds[0] as number)).status, 201);
    // Refused by Redis or already from memory: either way `book` now knows the seat is taken.
    assert.equal((await request(userIds[1] as number)).status, 409);

    // Free the seat in Redis alone, behind memory's back: a take would now hold it.
    await services.redis.del(seatKeys.seat(event.eventId, a));
    const refused = await request(userIds[2] as number);
    assert.equal(refused.status, 409);
    assert.deepEqual(refused.body.taken_seat_ids, [a]);
    assert.equal(await services.redis.exists(seatKeys.seat(event.eventId, a)), 0, 'Redis was not asked');
  });

  it('answers 202 with a Location at once for Prefer: respond-async, and the request is confirmed', async () => {
    const event = await createTestEvent(services, 4);
    const response = await fetch(`${url}/bookings/book`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        prefer: 'respond-async',
        ...(await bearer(userIds[0] as number)),
      },
      body: JSON.stringify({ user_id: userIds[0], event_id: event.eventId, seat_ids: [event.seatIds[3]] }),
    });
    assert.equal(response.status, 202);
    assert.equal(response.headers.get('preference-applied'), 'respond-async');
    const body = v.parse(PendingBody, await response.json());
    assert.equal(response.headers.get('location'), `/bookings/requests/${body.request_id}`);
    await waitUntilDecided(url, [body.request_id]);
    const status = await (
      await fetch(`${url}${response.headers.get('location')}`, {
        headers: await bearer(userIds[0] as number),
      })
    ).json();
    assert.equal(status.status, 'CONFIRMED');
    assert.equal(status.bookings[0].seat_id, event.seatIds[3]);
  });

  it('replays the first answer for a retried Idempotency-Key, and refuses the key with another body', async () => {
    const event = await createTestEvent(services, 4);
    const key = randomUUID();
    const body = {
      user_id: userIds[0] as number,
      event_id: event.eventId,
      seat_ids: [event.seatIds[0] as number],
    };
    const first = await book(url, body, { 'idempotency-key': key });
    const retry = await book(url, body, { 'idempotency-key': key });
    assert.equal(first.status, 201);
    assert.equal(retry.status, 201);
    assert.deepEqual(retry.body, first.body);
    const other = await book(
      url,
      { ...body, seat_ids: [event.seatIds[1] as number] },
      { 'idempotency-key': key },
    );
    assert.equal(other.status, 422);
    const { rows } = await services.db.$client.query(
      'select count(*)::int as n from bookings where event_id = $1',
      [event.eventId],
    );
    assert.equal(rows[0].n, 1);
  });

  it('frees a hold that is never confirmed once its TTL passes', async () => {
    const event = await createTestEvent(services, 2);
    const seatId = event.seatIds[0] as number;
    await services.seats.warm(event.eventId);
    // A hold whose request never reached Kafka (the process died in between).
    const lost = await services.seats.take(event.eventId, [seatId], randomUUID(), 300);
    assert.equal(lost.kind, 'held');
    const blocked = await book(url, {
      user_id: userIds[1] as number,
      event_id: event.eventId,
      seat_ids: [seatId],
    });
    assert.equal(blocked.status, 409);
    await sleep(400);
    const later = await book(url, {
      user_id: userIds[1] as number,
      event_id: event.eventId,
      seat_ids: [seatId],
    });
    assert.equal(later.status, 201);
  });

  describe('bad input changes nothing', () => {
    const cases: [
      string,
      (ids: { eventId: number; seatIds: number[]; otherSeat: number }) => unknown,
      number,
      RegExp,
    ][] = [
      [
        'an unknown event',
        ({ seatIds }) => ({ user_id: 1, event_id: 2_000_000_000, seat_ids: seatIds.slice(0, 1) }),
        404,
        /event/,
      ],
      [
        'a seat of another event',
        ({ eventId, otherSeat }) => ({ user_id: 1, event_id: eventId, seat_ids: [otherSeat] }),
        422,
        /not seats of this event/,
      ],
      [
        'an unknown seat',
        ({ eventId }) => ({ user_id: 1, event_id: eventId, seat_ids: [2_000_000_000] }),
        422,
        /2000000000/,
      ],
      [
        'duplicate seat ids',
        ({ eventId, seatIds }) => ({ user_id: 1, event_id: eventId, seat_ids: [seatIds[0], seatIds[0]] }),
        400,
        /must not repeat/,
      ],
      [
        'an empty seat list',
        ({ eventId }) => ({ user_id: 1, event_id: eventId, seat_ids: [] }),
        400,
        /at least one seat/,
      ],
      [
        'more seats than allowed',
        ({ eventId, seatIds }) => ({ user_id: 1, event_id: eventId, seat_ids: seatIds.slice(0, 11) }),
        400,
        /At most 10 seats/,
      ],
      [
        'a string id',
        ({ eventId }) => ({ user_id: '1', event_id: eventId, seat_ids: [1] }),
        400,
        /body\.user_id/,
      ],
      [
        'a negative id',
        ({ eventId }) => ({ user_id: -1, event_id: eventId, seat_ids: [1] }),
        400,
        /body\.user_id/,
      ],
      [
        'an unknown field',
        ({ eventId, seatIds }) => ({
          user_id: 1,
          event_id: eventId,
          seat_ids: seatIds.slice(0, 1),
          admin: true,
        }),
        400,
        /admin/,
      ],
    ];
    for (const [what, makeBody, status, detail] of cases) {
      it(`${what}: ${status}`, async () => {
        const event = await createTestEvent(services, 12);
        const other = await createTestEvent(services, 1);
        const response = await fetch(`${url}/bookings/book`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(await bearer(1)) },
          body: JSON.stringify(makeBody({ ...event, otherSeat: other.seatIds[0] as number })),
        });
        assert.equal(response.status, status);
        assert.equal(response.headers.get('content-type'), 'application/problem+json');
        const problem = await response.json();
        assert.match(JSON.stringify(problem), detail);
        const snapshot = await services.seats.snapshot(event.eventId);
        assert.ok(
          (snapshot ?? []).every((seat) => seat.state === 'available'),
          'no seat is held',
        );
        const { rows } = await services.db.$client.query(
          'select count(*)::int as n from bookings where event_id = any($1)',
          [[event.eventId, other.eventId]],
        );
        assert.equal(rows[0].n, 0);
      });
    }

    it('malformed JSON: 400', async () => {
      const response = await fetch(`${url}/bookings/book`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(await bearer(1)) },
        body: '{"user_id": 1,',
      });
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
    });
  });

  it('answers 503 with Retry-After and releases the locks when Kafka cannot take the request', async () => {
    const event = await createTestEvent(services, 2);
    const noKafka = testServices({ KAFKA_BROKERS: '127.0.0.1:1' });
    await pingDependencies(noKafka, ['redis']);
    try {
      const response = await createFunctionApp(bookFunction, noKafka).request('/bookings/book', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(await bearer(userIds[0] as number)) },
        body: JSON.stringify({ user_id: userIds[0], event_id: event.eventId, seat_ids: event.seatIds }),
      });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '2');
      assert.match((await response.json()).detail, /Kafka/);
      const snapshot = await services.seats.snapshot(event.eventId);
      assert.deepEqual(
        snapshot?.map((seat) => seat.state),
        ['available', 'available'],
      );
    } finally {
      await closeServices(noKafka);
    }
  });

  it('still accepts bookings when Redis is down; the processor alone decides, and nothing is lost', async () => {
    const event = await createTestEvent(services, 2);
    const noRedis = testServices({ REDIS_URL: 'redis://127.0.0.1:1/0' });
    try {
      const app = createFunctionApp(bookFunction, noRedis);
      const post = async (userId: number) =>
        app.request('/bookings/book', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(await bearer(userId)) },
          body: JSON.stringify({ user_id: userId, event_id: event.eventId, seat_ids: event.seatIds }),
        });
      const first = await post(userIds[0] as number);
      const second = await post(userIds[1] as number);
      assert.equal(first.status, 202);
      assert.equal(second.status, 202);
      const ids = [(await first.json()).request_id, (await second.json()).request_id];
      await waitUntilDecided(url, ids);
      const [a, b] = await Promise.all(
        ids.map(async (id) =>
          (await fetch(`${url}/bookings/requests/${id}`, { headers: await bearer(1, 'admin') })).json(),
        ),
      );
      assert.equal(a.status, 'CONFIRMED', 'the first in Kafka order wins');
      assert.equal(b.status, 'REJECTED');
      assert.equal(b.reason, 'SEATS_TAKEN');
    } finally {
      await closeServices(noRedis);
    }
  });
});
