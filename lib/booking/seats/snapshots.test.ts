import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestEvent, testServices } from '../../../test/support.ts';
import { closeServices, pingDependencies, type Services } from '../../services.ts';
import type { EventSeatsBody, SeatLayoutBody, SeatMapBody } from '../responses.ts';
import { seatChangeFeed } from './changes.ts';
import { seatKeys } from './keys.ts';
import { seatsOfRuns } from './seat-layout.ts';
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
    assert.notEqual(next?.eventSeats.etag, first?.eventSeats.etag);
    assert.match(String(next?.changeId), /^\d+-\d+$/);
  });

  it('after a change, is still served to GET requests for three times as long as its read took', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 2);
    const slow = testServices({ SEAT_MAP_MAX_AGE_MS: '600000' });
    try {
      const snapshot = slow.seats.snapshot.bind(slow.seats);
      slow.seats.snapshot = async (id) => {
        await sleep(100);
        return snapshot(id);
      };
      const snapshots = seatMapSnapshots(slow);
      const first = await snapshots.get(eventId);
      assert.ok(first && first.settledAt - Date.now() >= 250, 'a read of over 100 ms settles for over 300');
      await subscribed(slow, eventId);
      await slow.seats.take(eventId, [seatIds[0] as number], randomUUID(), 60_000);
      await sleep(50); // the change is announced
      assert.equal(await snapshots.get(eventId, undefined, { settling: true }), first, 'settling');
      await sleep(Math.max(0, (first?.settledAt ?? 0) - Date.now() + 10));
      const next = await snapshots.get(eventId, undefined, { settling: true });
      assert.notEqual(next, first);
      assert.deepEqual(body(next).held_seats, [seatIds[0]]);
    } finally {
      await closeServices(slow);
      slow.subscriber.disconnect();
    }
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
      assert.equal(again?.eventSeats.etag, answers[0]?.eventSeats.etag, 'same seats, same ETag');
    } finally {
      await closeServices(fresh);
      fresh.subscriber.disconnect();
    }
  });

  it('reads only the states once it knows the layout, and keeps the layout and its ETag while the seats are the same', async () => {
    const { eventId, seatIds, seatNumbers } = await createTestEvent(services, 4);
    const [a, b, c] = seatIds as [number, number, number];
    const fresh = testServices({ SEAT_MAP_MAX_AGE_MS: '0' });
    try {
      let fullReads = 0;
      const snapshot = fresh.seats.snapshot.bind(fresh.seats);
      fresh.seats.snapshot = (id) => {
        fullReads += 1;
        return snapshot(id);
      };
      const snapshots = seatMapSnapshots(fresh);
      const first = await snapshots.get(eventId);
      const reads = fullReads;
      const held = await fresh.seats.take(eventId, [c, a], randomUUID(), 60_000);
      assert.equal(held.kind, 'held');
      await bookSilently(fresh, eventId, b);
      const second = await snapshots.get(eventId);
      assert.equal(fullReads, reads, 'the states alone were read');
      assert.equal(second?.layout, first?.layout);
      assert.equal(second?.seatLayout, first?.seatLayout, 'the same layout body, compressed copies and all');

      const layout = JSON.parse(String(second?.seatLayout.bytes)) as SeatLayoutBody;
      assert.deepEqual(layout, { event_id: eventId, seat_count: 4, runs: [[a, 'A', 1, 4]] });
      assert.deepEqual(seatsOfRuns(layout.runs), { seatIds, seatNumbers });
      const map = JSON.parse(String(second?.seatMap.bytes)) as SeatMapBody;
      assert.ok(held.kind === 'held');
      assert.equal(map.layout_etag, second?.seatLayout.etag);
      assert.equal(map.states, 'hbha');
      assert.equal(map.hold_expires_at.length, 2);
      for (const expiresAt of map.hold_expires_at) assert.ok(Math.abs(expiresAt - held.expiresAt) < 50);
      const seed = body(second);
      assert.deepEqual(
        [seed.held_seats, seed.booked_seats, seed.available_seats],
        [[a, c], [b], [seatIds[3]]],
      );
      assert.deepEqual(
        seed.seats.map((seat) => seat.expires_at),
        [map.hold_expires_at[0], undefined, map.hold_expires_at[1], undefined],
      );
    } finally {
      await closeServices(fresh);
      fresh.subscriber.disconnect();
    }
  });

  it('reads every seat again when the cache no longer holds the event, and from Postgres without Redis', async () => {
    const { eventId, seatIds } = await createTestEvent(services, 3);
    const fresh = testServices({ SEAT_MAP_MAX_AGE_MS: '0' });
    const noRedis = testServices({ SEAT_MAP_MAX_AGE_MS: '0', REDIS_URL: 'redis://127.0.0.1:1/0' });
    try {
      const snapshots = seatMapSnapshots(fresh);
      const first = await snapshots.get(eventId);
      await bookSilently(fresh, eventId, seatIds[1] as number);
      // Flushed behind the process's back: state keys gone too, so only a full read is right.
      await fresh.redis.del(seatKeys.seatMap(eventId), seatKeys.seat(eventId, seatIds[1] as number));
      await fresh.db.$client.query('update seats set is_booked = true where id = $1', [seatIds[2]]);
      const again = await snapshots.get(eventId);
      assert.equal(again?.source, 'redis');
      assert.equal(JSON.parse(String(again?.seatMap.bytes)).states, 'aab', 'warmed from Postgres');
      assert.equal(again?.seatLayout.etag, first?.seatLayout.etag, 'the same seats, the same layout ETag');

      const fromPostgres = await seatMapSnapshots(noRedis).get(eventId);
      assert.equal(fromPostgres?.source, 'postgres');
      assert.equal(JSON.parse(String(fromPostgres?.seatMap.bytes)).states, 'aab');
      assert.equal(fromPostgres?.seatLayout.etag, first?.seatLayout.etag);
    } finally {
      for (const s of [fresh, noRedis]) {
        await closeServices(s);
        s.subscriber.disconnect();
      }
    }
  });

  it('answers undefined for an event that does not exist', async () => {
    assert.equal(await seatMapSnapshots(services).get(2_000_000_000), undefined);
  });
});
