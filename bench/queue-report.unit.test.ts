/** The waiting room's figures (bench --queue) from buyers' records and Postgres's, without a stack. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOptions } from './options.ts';
import type { BuyerRecord, QueueBuyersResult } from './queue-buyers.ts';
import {
  busiestWindow,
  checkSeatBound,
  peakConcurrent,
  type QueueSettingsUsed,
  queueMarkdown,
  queueRun,
} from './queue-report.ts';

describe('waiting room figures', () => {
  it('counts the busiest window, both ends included', () => {
    assert.equal(busiestWindow([], 1_000), 0);
    assert.equal(busiestWindow([0, 500, 1_000, 1_001, 2_500], 1_000), 3);
    assert.equal(busiestWindow([0, 500, 1_000, 1_001, 2_500], 400), 2);
  });

  it('counts sessions open at once; one ending as another starts is not both', () => {
    assert.equal(peakConcurrent([]), 0);
    assert.equal(
      peakConcurrent([
        { start: 0, end: 10 },
        { start: 10, end: 20 },
        { start: 5, end: 15 },
      ]),
      2,
    );
  });

  it('checks active sessions against the seats not yet booked at each admission', () => {
    const sessions = [
      { start: 0, end: 100 },
      { start: 0, end: 100 },
      { start: 50, end: 100 },
    ];
    // 3 seats: two booked at 40, so at 50 one seat is left and three sessions are active.
    const bookings = [{ decidedAt: 40, seats: 2 }];
    const strict = checkSeatBound(sessions, bookings, 3, 1);
    assert.equal(strict.instants, 2);
    assert.equal(strict.breaches, 1);
    assert.equal(strict.worstExcess, 2);
    assert.deepEqual(strict.worstAt, { active: 3, seatsLeft: 1 });
    // A tick late, the booking at 40 was not yet seen at 50: three seats, never above.
    const lenient = checkSeatBound(sessions, bookings, 3, 1, 20);
    assert.equal(lenient.breaches, 0);
    assert.equal(lenient.worstExcess, 0);
    assert.equal(checkSeatBound(sessions, bookings, 3, 2).breaches, 1);
  });

  it('tells who learnt the sell-out, how and how late, and renders it', () => {
    const onSaleAt = 10_000;
    const buyer = (overrides: Partial<BuyerRecord>): BuyerRecord => ({
      joinSentAt: 1_000,
      joinLatencyMs: 5,
      joinStatus: 201,
      joinedAs: 'prequeue',
      listener: false,
      books: [],
      polls: 0,
      outcome: 'sold_out',
      ...overrides,
    });
    const buyers = [
      buyer({
        listener: true,
        placedAt: 10_300,
        placedVia: 'stream',
        admittedAt: 11_050,
        admittedVia: 'stream',
        outcome: 'booked',
        books: [{ sentAt: 12_000, latencyMs: 8, status: 202, seatIds: [1, 2], requestId: 'r1' }],
      }),
      buyer({ listener: true, soldOutAt: 12_300, soldOutVia: 'stream' }),
      buyer({ soldOutAt: 14_000, soldOutVia: 'poll', polls: 2 }),
      // Joined after the last booking: not in line then.
      buyer({ joinSentAt: 13_000, joinedAs: 'sold_out', soldOutAt: 13_004, soldOutVia: 'join' }),
    ];
    const result: QueueBuyersResult = {
      buyers,
      joinsFirstSentAt: 1_000,
      prequeueJoinsDoneAt: 1_010,
      joinsDoneAt: 13_005,
      finishedAt: 14_000,
      timedOut: false,
      pollLatenciesMs: [2, 3],
      pollStatuses: { 200: 2 },
      streams: { opened: 2, refused: {}, reconnects: 0, maxOpen: 2, events: { position: 2, sold_out: 1 } },
      rejoins: { sent: 1, sameTicket: 1, statuses: { 200: 1 } },
      errors: {},
    };
    const settings: QueueSettingsUsed = {
      buyers: 4,
      seats: 2,
      seatsPerRow: 50,
      admitPerMinute: 60,
      maxActive: 1,
      sessionMinutes: 2,
      prequeueMinutes: 5,
      tickMs: 1_000,
      admitFactor: 1,
      onSaleS: 9,
      prequeuePercent: 75,
      listeners: 2,
      streamWithin: 1,
      pollMaxS: 15,
      firstPollSpreadS: 5,
      thinkS: [1, 2],
      maxSeatsPerBuyer: 2,
      instances: 1,
      bookMode: 'respond-async',
    };
    const run = queueRun({
      settings,
      onSaleAt,
      result,
      users: [101, 102, 103, 104],
      prequeueBuyers: 3,
      tickets: [
        { userId: 101, position: 1, admittedAt: 11_000, endedAt: 12_100, sessionExpiresAt: 131_000 },
        { userId: 102, position: 2, admittedAt: null, endedAt: null, sessionExpiresAt: null },
        { userId: 103, position: 3, admittedAt: null, endedAt: null, sessionExpiresAt: null },
        { userId: 104, position: 4, admittedAt: null, endedAt: null, sessionExpiresAt: null },
      ],
      confirmed: [{ decidedAt: 12_050, seats: 2 }],
      processes: [],
    });
    assert.equal(run.joins.placed.stream?.ms.p50, 300);
    assert.equal(run.admission.admitted, 1);
    assert.equal(run.admission.firstS, 1);
    assert.equal(run.admission.peakActive, 1);
    assert.equal(run.admission.seatBound.breaches, 0);
    assert.deepEqual(run.admission.learnt.stream?.buyers, 1);
    assert.equal(run.admission.learnt.stream?.ms.p50, 50);
    assert.equal(run.soldOut.lastBookedS, 2.05);
    assert.equal(run.soldOut.lastHeldS, 2.01);
    assert.equal(run.soldOut.inLine, 2);
    assert.equal(run.soldOut.told.stream?.ms.max, 250);
    assert.equal(run.soldOut.told.poll?.ms.max, 1_950);
    assert.equal(run.soldOut.notTold, 0);
    assert.deepEqual(run.soldOut.lastInLine, { place: 3, via: 'poll', afterLastBookedMs: 1_950 });
    assert.equal(run.book.confirmedBookings, 2);
    assert.deepEqual(run.book.statuses, { 202: 1 });
    assert.equal(run.outcomes.booked, 1);
    assert.equal(run.outcomes.sold_out, 3);
    assert.equal(run.watching.listeners, 2);
    const markdown = queueMarkdown(run).join('\n');
    assert.match(markdown, /### Waiting room/);
    assert.match(markdown, /told sold out by the stream\*\*, 1 buyers/);
    assert.match(markdown, /place 3: told by a poll 1,950 ms after the last booking/);
  });

  it('parses --queue with its sizes, quick and full', () => {
    const full = parseOptions(['--queue']).queue;
    assert.equal(full?.buyers, 50_000);
    assert.equal(full?.seats, 2_000);
    assert.deepEqual(full?.thinkS, [2, 12]);
    const quick = parseOptions(['--queue', '--quick', '--queue-think-s', '0.5-1']);
    assert.equal(quick.queue?.buyers, 2_000);
    assert.equal(quick.queue?.seats, 200);
    assert.deepEqual(quick.queue?.thinkS, [0.5, 1]);
    assert.equal(quick.readme, false);
    assert.equal(quick.systemEnv.SSE_MAX_PER_ADDRESS, '0');
    assert.equal(parseOptions([]).queue, undefined);
    assert.throws(() => parseOptions(['--queue', '--readme']), /README/);
    assert.throws(() => parseOptions(['--queue', '--queue-think-s', '5-2']), /MIN-MAX/);
  });
});
