import assert from 'node:assert/strict';
import { it } from 'node:test';
import { gridSeatNumbers } from './numbers.ts';
import { layoutRuns, seatsOfRuns } from './seat-layout.ts';

const ids = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

it('makes one run a row of a grid created in one go', () => {
  const numbers = gridSeatNumbers(1_000, 50);
  const runs = layoutRuns(ids(1_000_001, 50_000), numbers);
  assert.equal(runs.length, 1_000);
  assert.deepEqual(runs.slice(0, 2), [
    [1_000_001, 'A', 1, 50],
    [1_000_051, 'B', 1, 50],
  ]);
  assert.deepEqual(runs.at(-1), [1_049_951, 'ALL', 1, 50]);
  assert.deepEqual(seatsOfRuns(runs), { seatIds: ids(1_000_001, 50_000), seatNumbers: numbers });
});

it('starts a new run where ids or numbers skip, and keeps numbers without digits whole', () => {
  const seatIds = [1, 2, 3, 5, 6, 7, 8, 9, 10, 11];
  const seatNumbers = ['A1', 'A2', 'A4', 'A5', 'VIP', 'Box 9', 'Box 10', 'B1', 'B1 ', '12'];
  assert.deepEqual(layoutRuns(seatIds, seatNumbers), [
    [1, 'A', 1, 2],
    [3, 'A', 4, 1],
    [5, 'A', 5, 1], // the id skipped 4
    [6, 'VIP'],
    [7, 'Box ', 9, 2],
    [9, 'B', 1, 1],
    [10, 'B1 '],
    [11, '', 12, 1],
  ]);
  assert.deepEqual(seatsOfRuns(layoutRuns(seatIds, seatNumbers)), { seatIds, seatNumbers });
});

it('gives back exactly the numbers it was given: leading zeros, zero, long digit strings', () => {
  const seatNumbers = ['A01', 'A02', 'A09', 'A10', 'A0', 'A00', '0', `R${'9'.repeat(20)}`, 'x\ny7', ''];
  const seatIds = ids(100, seatNumbers.length);
  const runs = layoutRuns(seatIds, seatNumbers);
  assert.deepEqual(runs.slice(0, 2), [
    [100, 'A0', 1, 2],
    [102, 'A0', 9, 1],
  ]);
  assert.deepEqual(seatsOfRuns(runs), { seatIds, seatNumbers });
  for (const run of runs) if (run.length === 4) assert.ok(Number.isSafeInteger(run[2] + run[3]));
});

it('an event without seats has no runs', () => {
  assert.deepEqual(layoutRuns([], []), []);
  assert.deepEqual(seatsOfRuns([]), { seatIds: [], seatNumbers: [] });
});
