import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestEvent, testServices } from '../../../test/support.ts';
import { closeServices, pingDependencies } from '../../services.ts';
import { seatChangeFeed } from './changes.ts';
import { TakenSeats } from './taken.ts';

/** Polls `check` until it holds, for up to two seconds (the feed is asynchronous). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 2_000) assert.fail(`not within 2 s: ${what}`);
    await sleep(10);
  }
}

describe('taken seats in memory', () => {
  const services = testServices({ TAKEN_SEAT_MEMORY_MS: '300' });
  before(() => pingDependencies(services, ['redis', 'postgres']));
  after(async () => {
    await closeServices(services);
    services.subscriber.disconnect();
  });

  it('learns holds and releases from the seat-change feed', async () => {
    const memory = new TakenSeats(services);
    const { eventId, seatIds } = await createTestEvent(services, 3);
    const [a, b, c] = seatIds as [number, number, number];
    await services.seats.warm(eventId);
    assert.deepEqual(memory.knownTaken(eventId, seatIds), [], 'nothing known yet; now watching');
    // Memory subscribes in the background; once the process's one subscription is confirmed, so is its.
    const stop = await seatChangeFeed(services).watch(eventId, { change: () => {}, resync: () => {} });
    stop();
    const token = randomUUID();
    assert.equal((await services.seats.take(eventId, [a, b], token, 60_000)).kind, 'held');
    await eventually(() => memory.knownTaken(eventId, seatIds).length === 2, 'the hold is known');
    assert.deepEqual(memory.knownTaken(eventId, [c, b]), [b]);

    await services.seats.release(eventId, [a], token);
    await eventually(() => memory.knownTaken(eventId, seatIds).length === 1, 'the release is known');
    assert.deepEqual(memory.knownTaken(eventId, seatIds), [b]);
  });

  it('trusts what it learned until the hold lapses, and never longer than TAKEN_SEAT_MEMORY_MS', async () => {
    const memory = new TakenSeats(services);
    const eventId = 2_000_000_001;
    memory.learn(eventId, [1, 2, 3], [null, Date.now() + 100, Date.now() + 60_000]);
    assert.deepEqual(memory.knownTaken(eventId, [1, 2, 3, 4]), [1, 2, 3]);
    await sleep(150);
    assert.deepEqual(memory.knownTaken(eventId, [1, 2, 3]), [1, 3], 'the hold lapsed');
    await sleep(200);
    assert.deepEqual(memory.knownTaken(eventId, [1, 2, 3]), [], 'past the bound, Redis decides again');
  });

  it('remembers nothing when TAKEN_SEAT_MEMORY_MS is 0', async () => {
    const off = testServices({ TAKEN_SEAT_MEMORY_MS: '0' });
    try {
      const memory = new TakenSeats(off);
      memory.learn(7, [1], [null]);
      assert.deepEqual(memory.knownTaken(7, [1]), []);
    } finally {
      await closeServices(off);
    }
  });
});
