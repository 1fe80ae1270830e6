import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TakenSeats } from './taken.ts';

describe('taken seats in memory', () => {
  it('trusts what it learned until the hold lapses, and never longer than TAKEN_SEAT_MEMORY_MS', async () => {
    const memory = new TakenSeats({ TAKEN_SEAT_MEMORY_MS: 300 });
    const eventId = 2_000_000_001;
    memory.learn(eventId, [1, 2, 3], [null, Date.now() + 100, Date.now() + 60_000]);
    assert.deepEqual(memory.knownTaken(eventId, [1, 2, 3, 4]), [1, 2, 3]);
    assert.deepEqual(memory.knownTaken(eventId + 1, [1]), [], 'per event');
    await sleep(150);
    assert.deepEqual(memory.knownTaken(eventId, [1, 2, 3]), [1, 3], 'the hold lapsed');
    await sleep(200);
    assert.deepEqual(memory.knownTaken(eventId, [1, 2, 3]), [], 'past the bound, Redis decides again');
  });

  it('remembers nothing when TAKEN_SEAT_MEMORY_MS is 0', () => {
    const memory = new TakenSeats({ TAKEN_SEAT_MEMORY_MS: 0 });
    memory.learn(7, [1], [null]);
    assert.deepEqual(memory.knownTaken(7, [1]), []);
  });
});
