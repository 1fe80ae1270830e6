import assert from 'node:assert/strict';
import { it } from 'node:test';
import { gridSeatNumbers, rowLabel } from './numbers.ts';

it('labels rows like a ticket', () => {
  assert.deepEqual([0, 1, 25, 26, 27, 51, 52].map(rowLabel), ['A', 'B', 'Z', 'AA', 'AB', 'AZ', 'BA']);
  assert.deepEqual(gridSeatNumbers(2, 2), ['A1', 'A2', 'B1', 'B2']);
});
