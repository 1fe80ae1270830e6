import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestEvent, testServices } from '../../../test/support.ts';
import { TAKE_OVER } from '../../platform/idempotency.ts';
import { closeServices, pingDependencies } from '../../services.ts';
import { seatKeys } from './keys.ts';
import { freeBooked, markBooked, releaseHold, SEAT_SCRIPTS, syncSeats, takeSeats } from './scripts.ts';

describe('seat scripts in Redis', () => {
  const services = testServices();
  before(() => pingDependencies(services, ['redis', 'postgres']));
  after(() => closeServices(services));

  it('every script loads (no Lua syntax error)', async () => {
    const scripts = [...SEAT_SCRIPTS, { name: 'idempotency TAKE_OVER', lua: TAKE_OVER }];
    for (const { name, lua } of scripts) {
      const sha = await services.redis.call('SCRIPT', 'LOAD', lua);
      assert.match(String(sha), /^[0-9a-f]{40}$/, name);
    }
  });

  it("run on a new client's first tick, auto-pipelined with its other commands", async () => {
    // The bench caught this: scripts defined on first use are missing from an auto-pipeline
    // ioredis opened earlier in the same tick. Services define them when they create the client.
    const { eventId, seatIds } = await createTestEvent(services, 1);
    const fresh = testServices();
    try {
      await pingDependencies(fresh, ['redis']);
      const [, taken] = await Promise.all([
        fresh.redis.exists(seatKeys.seat(eventId, seatIds[0] as number)),
        fresh.seats.take(eventId, seatIds, randomUUID(), 5_000),
      ]);
      assert.deepEqual(taken, { kind: 'cold' });
    } finally {
      await closeServices(fresh);
    }
  });

  it('holds all seats or none, releases only its own hold, books and frees, recording each change', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 3);
    const [a, b, c] = seatIds as [number, number, number];
    const { seats, redis } = services;
    const take = (ids: number[], token: string) =>
      takeSeats.run(redis, { eventId, seatIds: ids, token, ttlMs: 5_000 });
    assert.deepEqual(await take([a], 'x'), { kind: 'cold' });
    assert.equal(await seats.warm(eventId), true);

    const mine = randomUUID();
    assert.equal((await take([a, b], mine)).kind, 'held');
    assert.equal(await redis.get(seatKeys.seat(eventId, b)), `h:${mine}`);
    const refused = await take([c, b], 'other');
    assert.ok(refused.kind === 'taken');
    assert.deepEqual(refused.seatIds, [b]);
    const lapsesIn = (refused.lapsesAt[0] ?? 0) - Date.now();
    assert.ok(lapsesIn > 4_000 && lapsesIn <= 5_000, `the refusal says when the hold lapses: ${lapsesIn}`);
    assert.equal(await redis.exists(seatKeys.seat(eventId, c)), 0, 'a refused request holds nothing');
    assert.deepEqual(await take([2_000_000_000], 'other'), { kind: 'unknown', seatIds: [2_000_000_000] });

    assert.deepEqual(await releaseHold.run(redis, { eventId, seatIds: [a, b], token: 'not-mine' }), []);
    assert.deepEqual(await releaseHold.run(redis, { eventId, seatIds: [b], token: mine }), [b]);
    const bookedCount = await markBooked.run(redis, {
      eventId,
      seats: [{ seatId: a, version: 1 }],
      userId: 42,
      holdToken: mine,
    });
    assert.equal(bookedCount, 1);
    assert.deepEqual(await freeBooked.run(redis, { eventId, seats: [{ seatId: c, version: 1 }] }), []);
    const states = (await seats.snapshot(eventId))?.map((seat) => [seat.state, seat.userId]);
    assert.deepEqual(states, [
      ['booked', 42],
      ['available', undefined],
      ['available', undefined],
    ]);
    assert.deepEqual(await freeBooked.run(redis, { eventId, seats: [{ seatId: a, version: 2 }] }), [a]);

    const recorded = (await redis.xrange(seatKeys.changes(eventId), '-', '+')).map(([, fields]) =>
      JSON.parse(fields[1] as string),
    );
    const expiresAt = recorded[0]?.expiresAt;
    assert.ok(expiresAt > Date.now() && expiresAt <= Date.now() + 5_000, 'a hold says when it lapses');
    assert.deepEqual(recorded, [
      { eventId, state: 'held', seatIds: [a, b], expiresAt },
      { eventId, state: 'available', seatIds: [b] },
      { eventId, state: 'booked', seatIds: [a], userId: 42 },
      { eventId, state: 'available', seatIds: [a] },
    ]);
  });

  it('counts the rate limits in the same call, as a sliding window: over one, nothing is taken', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 4);
    const [a, b, c, d] = seatIds as [number, number, number, number];
    const { seats, redis } = services;
    await seats.warm(eventId);
    const windowMs = 60_000;
    const nowMs = Date.now();
    const bucket = Math.floor(nowMs / windowMs);
    const limitKey = `ratelimit:test:user:${seatKeys.tag(eventId)}:${randomUUID()}`;
    const [currentKey, previousKey] = [`${limitKey}:${bucket}`, `${limitKey}:${bucket - 1}`];
    // Three requests counted in the previous window: at the window's start they weigh almost fully.
    const share = 1 - (nowMs % windowMs) / windowMs;
    await redis.set(previousKey, 3);
    const max = Math.floor(share * 3) + 2;
    const windows = { nowMs, windowMs, limits: [{ max, currentKey, previousKey }] };
    const take = (ids: number[]) =>
      takeSeats.run(redis, { eventId, seatIds: ids, token: randomUUID(), ttlMs: 5_000, windows });

    const first = await take([a]);
    assert.equal(first.kind, 'held');
    assert.deepEqual(first.left, [1]);
    const second = await take([a, b]);
    assert.equal(second.kind, 'taken', 'a refusal is counted too');
    assert.deepEqual(second.left, [0]);
    assert.deepEqual(await take([c]), { kind: 'limited', left: [-1] });
    assert.equal(await redis.exists(seatKeys.seat(eventId, c)), 0, 'over the limit: nothing held');
    assert.equal(await redis.get(currentKey), '2', 'the limited request is not counted');
    assert.ok((await redis.pttl(currentKey)) > windowMs, 'a bucket outlives its window');

    const cold = await takeSeats.run(redis, {
      eventId: 2_000_000_000,
      seatIds: [d],
      token: 'x',
      ttlMs: 5_000,
      windows,
    });
    assert.deepEqual(cold, { kind: 'cold' }, 'a cold event is not counted: the retry after warming is');
  });

  it('a sync reports the seats it changed, and announces them only when asked', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 2);
    const [a, b] = seatIds as [number, number];
    const { seats, redis } = services;
    await seats.warm(eventId);
    const quiet = await syncSeats.run(redis, {
      eventId,
      seats: [{ seatId: a, bookedBy: 3, version: 1 }],
      announce: false,
    });
    assert.deepEqual(quiet, [a]);
    const announced = await syncSeats.run(redis, {
      eventId,
      seats: [
        { seatId: a, bookedBy: null, version: 2 },
        { seatId: b, bookedBy: 4, version: 1 },
      ],
      announce: true,
    });
    assert.deepEqual(announced.sort(), [a, b].sort());
    const changes = await redis.xrange(seatKeys.changes(eventId), '-', '+');
    assert.deepEqual(
      changes.map(([, fields]) => JSON.parse(fields[1] as string)),
      [
        { eventId, state: 'booked', seatIds: [b], userId: 4 },
        { eventId, state: 'available', seatIds: [a] },
      ],
    );
  });
});

describe('versioned seat state', () => {
  const services = testServices();
  before(() => pingDependencies(services, ['redis', 'postgres']));
  after(() => closeServices(services));
  const stateOf = async (eventId: number) =>
    (await services.seats.snapshot(eventId))?.map((seat) => [seat.seatId, seat.state, seat.userId]);

  it('a late or replayed outcome never undoes a newer one', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 2);
    const [a, b] = seatIds as [number, number];
    const { seats } = services;
    await seats.warm(eventId);
    const token = randomUUID();
    assert.equal((await seats.take(eventId, [a, b], token, 60_000)).kind, 'held');
    // Booked at version 1, cancelled at version 2: the cancellation arrives first.
    await seats
      .pipeline()
      .freeBooked(eventId, [{ seatId: a, version: 2 }])
      .exec();
    await seats
      .pipeline()
      .markBooked(
        eventId,
        [
          { seatId: a, version: 1 },
          { seatId: b, version: 1 },
        ],
        7,
        token,
      )
      .exec();
    assert.deepEqual(await stateOf(eventId), [
      [a, 'available', undefined],
      [b, 'booked', 7],
    ]);
    // The same confirmation again, and a stale cancellation of b, change nothing.
    await seats
      .pipeline()
      .markBooked(eventId, [{ seatId: b, version: 1 }], 7, token)
      .freeBooked(eventId, [{ seatId: b, version: 1 }])
      .exec();
    assert.deepEqual(await stateOf(eventId), [
      [a, 'available', undefined],
      [b, 'booked', 7],
    ]);
  });

  it("a stale confirmation releases its own request's hold", async () => {
    const { eventId, seatIds } = await createTestEvent(services, 1);
    const [a] = seatIds as [number];
    const { seats } = services;
    await seats.warm(eventId);
    await seats
      .pipeline()
      .freeBooked(eventId, [{ seatId: a, version: 4 }])
      .exec();
    const token = randomUUID();
    await seats.take(eventId, [a], token, 60_000);
    await seats
      .pipeline()
      .markBooked(eventId, [{ seatId: a, version: 3 }], 7, token)
      .exec();
    assert.deepEqual(await stateOf(eventId), [[a, 'available', undefined]]);
  });

  it('a fill from an older Postgres read loses to the projector; a newer one repairs drift', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 3);
    const [a, b, c] = seatIds as [number, number, number];
    const { seats, redis } = services;
    await seats.warm(eventId);
    // The projector freed a at version 2 after the read that still saw it booked at version 1.
    await seats
      .pipeline()
      .freeBooked(eventId, [{ seatId: a, version: 2 }])
      .exec();
    const older = await seats.syncFromPostgres(eventId, [{ seatId: a, bookedBy: 9, version: 1 }]);
    assert.deepEqual(older.repairedSeatIds, []);
    // Drift: b lost its booking in Redis, c shows a booking Postgres does not have.
    await redis.set(seatKeys.seat(eventId, c), 'b:999');
    const repaired = await seats.syncFromPostgres(
      eventId,
      [
        { seatId: a, bookedBy: null, version: 2 },
        { seatId: b, bookedBy: 5, version: 1 },
        { seatId: c, bookedBy: null, version: 0 },
      ],
      { announce: true },
    );
    assert.deepEqual(repaired.repairedSeatIds.sort(), [b, c].sort());
    assert.deepEqual(await stateOf(eventId), [
      [a, 'available', undefined],
      [b, 'booked', 5],
      [c, 'available', undefined],
    ]);
    assert.deepEqual(await seats.cachedEventIds().then((ids) => ids.includes(eventId)), true);
    // Booked by a user Postgres no longer knows: still booked, never read as free.
    await seats.syncFromPostgres(eventId, [{ seatId: c, bookedBy: 0, version: 1 }]);
    assert.equal(await redis.get(seatKeys.seat(eventId, c)), 'b:0');
    await redis.del(seatKeys.seatMap(eventId));
    assert.equal(await seats.cachedEventIds().then((ids) => ids.includes(eventId)), false);
  });

  it("a seat map being filled is not read as the event's until it is complete", async () => {
    const { eventId } = await createTestEvent(services, 2_500);
    const { seats, redis } = services;
    const warming = seats.warm(eventId);
    // Until the rename, the event is cold: never a partial map.
    // Read the map's size alone (one command), so the rename cannot fall between two reads.
    const sizes = new Set<number>();
    let size = 0;
    while (size !== 2_500) {
      size = await redis.hlen(seatKeys.seatMap(eventId));
      sizes.add(size);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await warming;
    assert.deepEqual(
      [...sizes].filter((seen) => seen !== 0 && seen !== 2_500),
      [],
      'empty, then whole: never part of it',
    );
    assert.equal(await redis.hlen(seatKeys.seatMap(eventId)), 2_500);
  });
});
