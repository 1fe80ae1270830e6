import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestEvent, testServices } from '../../test/support.ts';
import { closeServices, pingDependencies } from '../services.ts';
import { seatKeys } from './cache.ts';
import * as scripts from './scripts.ts';

describe('seat scripts in Redis', () => {
  const services = testServices();
  before(() => pingDependencies(services, ['redis', 'postgres']));
  after(() => closeServices(services));

  it('every script loads', async () => {
    for (const [name, lua] of Object.entries(scripts)) {
      assert.match(String(await services.redis.script('LOAD', lua)), /^[0-9a-f]{40}$/, name);
    }
  });

  it('holds all seats or none, releases only its own hold, books and frees, recording each change', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 3);
    const [a, b, c] = seatIds as [number, number, number];
    const { seats, redis } = services;
    assert.deepEqual(await seats.take(eventId, [a], 'x', 1000), { kind: 'cold' });
    assert.equal(await seats.warm(eventId), true);

    const mine = randomUUID();
    assert.equal((await seats.take(eventId, [a, b], mine, 5_000)).kind, 'held');
    assert.deepEqual(await seats.take(eventId, [c, b], 'other', 5_000), { kind: 'taken', seatIds: [b] });
    assert.equal(await redis.exists(seatKeys.seat(eventId, c)), 0, 'a refused request holds nothing');
    assert.deepEqual(await seats.take(eventId, [2_000_000_000], 'other', 5_000), {
      kind: 'unknown',
      seatIds: [2_000_000_000],
    });

    assert.deepEqual(await seats.release(eventId, [a, b], 'not-mine'), []);
    assert.deepEqual(await seats.release(eventId, [b], mine), [b]);
    await seats.pipeline().markBooked(eventId, [a], 42).freeBooked(eventId, [c]).exec();
    const states = (await seats.snapshot(eventId))?.map((seat) => [seat.state, seat.userId]);
    assert.deepEqual(states, [
      ['booked', 42],
      ['available', undefined],
      ['available', undefined],
    ]);
    await seats.pipeline().freeBooked(eventId, [a]).exec();

    const changes = await redis.xrange(seatKeys.changes(eventId), '-', '+');
    assert.deepEqual(
      changes.map(([, fields]) => JSON.parse(fields[1] as string).state),
      ['held', 'available', 'booked', 'available'],
    );
  });
});
