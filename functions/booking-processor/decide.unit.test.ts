import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { BookingRequested, CancelRequested } from '../../lib/booking/messages.ts';
import { type BatchContext, decide } from './decide.ts';

const at = new Date(0).toISOString();
const book = (userId: number, seatIds: number[], eventId = 1): BookingRequested => ({
  type: 'BookingRequested',
  requestId: randomUUID(),
  userId,
  eventId,
  seatIds,
  holdToken: null,
  requestedAt: at,
});
const cancel = (userId: number, bookingIds: number[]): CancelRequested => ({
  type: 'CancelRequested',
  requestId: randomUUID(),
  userId,
  eventId: 1,
  bookingIds,
  requestedAt: at,
});

function context(): BatchContext {
  return {
    seats: new Map([
      [1, { id: 1, eventId: 1, seatNumber: 'A1', bookedBy: null }],
      [2, { id: 2, eventId: 1, seatNumber: 'A2', bookedBy: null }],
      [3, { id: 3, eventId: 1, seatNumber: 'A3', bookedBy: 9 }],
      [4, { id: 4, eventId: 2, seatNumber: 'A1', bookedBy: null }],
    ]),
    bookings: new Map([
      [30, { id: 30, userId: 9, eventId: 1, seatId: 3, seatNumber: 'A3', status: 'CONFIRMED' }],
    ]),
    events: new Set([1, 2]),
    users: new Set([7, 8, 9]),
  };
}

describe('decide', () => {
  it('confirms the first request and rejects an overlapping later one whole', () => {
    const [first, second] = decide([book(7, [1, 2]), book(8, [2])], context());
    assert.equal(first?.kind, 'confirm');
    assert.deepEqual(second?.kind === 'reject' && [second.reason, second.offendingIds], ['SEATS_TAKEN', [2]]);
  });

  it('rejects a booked seat, unknown events, users and seats of another event', () => {
    const decisions = decide([book(7, [1, 3]), book(7, [1], 99), book(99, [1]), book(7, [1, 4])], context());
    assert.deepEqual(
      decisions.map((d) => d.kind === 'reject' && [d.reason, d.offendingIds]),
      [
        ['SEATS_TAKEN', [3]],
        ['UNKNOWN_EVENT', []],
        ['UNKNOWN_USER', []],
        ['UNKNOWN_SEATS', [4]],
      ],
    );
  });

  it('frees cancelled seats for the requests after the cancel, not before', () => {
    const decisions = decide([book(7, [3]), cancel(9, [30]), book(8, [3]), cancel(9, [30])], context());
    assert.deepEqual(
      decisions.map((d) => d.kind),
      ['reject', 'cancel', 'confirm', 'cancel-reject'],
    );
  });

  it("does not cancel another user's booking", () => {
    const [decision] = decide([cancel(7, [30])], context());
    assert.equal(decision?.kind, 'cancel-reject');
  });
});
