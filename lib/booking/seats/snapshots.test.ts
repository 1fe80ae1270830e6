import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestEvent, testServices } from '../../../test/support.ts';
import { closeServices, pingDependencies, type Services } from '../../services.ts';
import type { EventSeatsBody } from '../responses.ts';
import { seatChangeFeed } from './changes.ts';
import { seatKeys } from './keys.ts';
import { type SeatMapSnapshot, seatMapSnapshots } from './snapshots.ts';

const body = (snapshot: SeatMapSnapshot | undefined) => JSON.parse(String(snapshot?.json)) as EventSeatsBody;

/** Until Redis confirms the process's subscription to seat changes, so no announcement is missed. */
async function subscribed(services: Services, eventId: number): Promise<void> {
  (await seatChangeFeed(services).watch(eventId, { change() {}, resync() {} }))();
}

/** Seats changed in Redis with no change announced, as a lost message would leave them. */
const bookSilently = (services: Services, eventId: number, seatId: number) =>
  services.redis.set(seatKeys.seat(eventId, seatId), 'b:1');

describe('seat-map snapshots', () => {
  // Long enough that only a change or a lapsing hold makes a snapshot stale in these tests.
  const services = testServices({ SEAT_MAP_MAX_AGE_MS: '600000' });
  const shortLived = testServices({ SEAT_MAP_MAX_AGE_MS: '100' });
  before(() => pingDependencies(services, ['redis', 'postgres']));
  after(async () => {
    for (const s of [services, shortLived]) {
      await closeServices(s);
      s.subscriber.disconnect();
    }
  });

  it('reads the seats once and serves the same snapshot until a change is announced', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 3);
    const [a, b] = seatIds as [number, number];
    const snapshots = seatMapSnapshots(services);
    const first = await snapshots.get(eventId);
    assert.deepEqual(body(first).available_seats, seatIds);
    await subscribed(services, eventId);

    await bookSilently(services, eventId, a);
    assert.equal(await snapshots.get(eventId), first, 'unannounced: the same snapshot');

    const held = await services.seats.take(eventId, [b], randomUUID(), 60_000);
    assert.equal(held.kind, 'held');
    let next = first;
    for (let i = 0; i < 100 && next === first; i++) {
      await sleep(10);
      next = await snapshots.get(eventId);
    }
    assert.notEqual(next, first, 'the announced change made it stale');
    assert.deepEqual([body(next).booked_seats, body(next).held_seats], [[a], [b]]);
    assert.notEqual(next?.etag, first?.etag);
    assert.match(String(next?.changeId), /^\d+-\d+$/);
  });

  it('is read again after SEAT_MAP_MAX_AGE_MS even when no change is announced', async () => {
    const { eventId, seatIds } = await createTestEvent(shortLived, 2);
    const snapshots = seatMapSnapshots(shortLived);
    const first = await snapshots.get(eventId);
    await bookSilently(shortLived, eventId, seatIds[0] as number);
    await sleep(150);
    const later = await snapshots.get(eventId);
    assert.notEqual(later, first);
    assert.deepEqual(body(later).booked_seats, [seatIds[0]]);
  });

  it('is stale once its first hold lapses, which no change announces', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 2);
    const [a] = seatIds as [number];
    await services.seats.warm(eventId);
    const held = await services.seats.take(eventId, [a], randomUUID(), 300);
    assert.equal(held.kind, 'held');
    const snapshots = seatMapSnapshots(services);
    const during = await snapshots.get(eventId);
    assert.deepEqual(body(during).held_seats, [a]);
    assert.ok(held.kind === 'held' && (during?.freshUntil ?? 0) <= held.expiresAt);
    await sleep(400);
    const after = await snapshots.get(eventId);
    assert.deepEqual([body(after).held_seats, body(after).available_seats], [[], seatIds]);
  });

  it('shares one read among concurrent requests for a stale snapshot, and keeps the ETag of the same bytes', async () => {
    const { eventId } = await createTestEvent(services, 4);
    const fresh = testServices({ SEAT_MAP_MAX_AGE_MS: '0' });
    try {
      let reads = 0;
      const snapshot = fresh.seats.snapshot.bind(fresh.seats);
      fresh.seats.snapshot = (id) => {
        reads += 1;
        return snapshot(id);
      };
      const snapshots = seatMapSnapshots(fresh);
      const answers = await Promise.all(Array.from({ length: 20 }, () => snapshots.get(eventId)));
      assert.equal(new Set(answers).size, 1, 'one snapshot for all of them');
      assert.ok(reads <= 2, `${reads} reads`); // a cold event is read, warmed, read again
      const again = await snapshots.get(eventId);
      assert.notEqual(again, answers[0], 'SEAT_MAP_MAX_AGE_MS=0: read on every request');
      assert.equal(again?.etag, answers[0]?.etag, 'same seats, same ETag');
    } finally {
      await closeServices(fresh);
      fresh.subscriber.disconnect();
    }
  });

  it('answers undefined for an event that does not exist', async () => {
    assert.equal(await seatMapSnapshots(services).get(2_000_000_000), undefined);
  });
});
