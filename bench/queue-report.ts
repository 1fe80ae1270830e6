/**
 * The waiting room's numbers (bench --queue): from the buyers' records (bench/queue-buyers.ts)
 * and what Postgres recorded (each ticket's admission and session end, each confirmed booking),
 * and their markdown. No I/O: bench/queue-report.unit.test.ts covers them.
 */
import type { GroupUsage } from './procstat.ts';
import type { BuyerOutcome, BuyerRecord, QueueBuyersResult, Via } from './queue-buyers.ts';
import { type Percentiles, percentiles } from './report.ts';

/** What the event's queue was set to, and the system's admission settings. */
export interface QueueSettingsUsed {
  buyers: number;
  seats: number;
  seatsPerRow: number;
  admitPerMinute: number;
  maxActive: number;
  sessionMinutes: number;
  prequeueMinutes: number;
  /** QUEUE_TICK_MS and QUEUE_ADMIT_FACTOR of the functions. */
  tickMs: number;
  admitFactor: number;
  onSaleS: number;
  prequeuePercent: number;
  listeners: number;
  streamWithin: number;
  pollMaxS: number;
  firstPollSpreadS: number;
  thinkS: [number, number];
  maxSeatsPerBuyer: number;
  instances: number;
  /** How the admitted buyers book: `respond-async` (202 once held) or waiting for 201. */
  bookMode: string;
}

/** A ticket as Postgres recorded it (queue_tickets), times epoch ms. */
export interface RecordedTicket {
  userId: number;
  position: number | null;
  admittedAt: number | null;
  /** When its session ended: a confirmed booking under it, or its expiry. */
  endedAt: number | null;
  sessionExpiresAt: number | null;
}

/** A confirmed booking request: when Postgres decided it, and its seats. */
export interface ConfirmedRequest {
  decidedAt: number;
  seats: number;
}

export interface SeatBoundCheck {
  /** Distinct admission instants checked. */
  instants: number;
  /** Admission instants at which more sessions were active than seats left × factor. */
  breaches: number;
  /** The most active sessions beyond seats left × factor at any admission (≤ 0: never beyond). */
  worstExcess: number;
  /** Where that was: sessions active and seats not yet booked. */
  worstAt?: { active: number; seatsLeft: number };
}

/** Buyers grouped by how they learnt something (their join, the stream, a poll): how many, and how long it took them, ms. */
export type ByVia = Partial<Record<Via, { buyers: number; ms: Percentiles }>>;

function byVia(entries: readonly (readonly [Via, number])[]): ByVia {
  const groups = new Map<Via, number[]>();
  for (const [via, value] of entries) {
    const group = groups.get(via);
    if (group) group.push(value);
    else groups.set(via, [value]);
  }
  return Object.fromEntries(
    [...groups].map(([via, values]) => [
      via,
      { buyers: values.length, ms: percentiles(values) as Percentiles },
    ]),
  );
}

export interface QueueRun {
  settings: QueueSettingsUsed;
  /** Wall time from the first join to the last buyer's outcome, s. */
  durationS: number;
  timedOut: boolean;
  joins: {
    count: number;
    /** HTTP statuses, 0 for no answer. */
    statuses: Record<string, number>;
    /** Ticket status in the join's answer. */
    joinedAs: Record<string, number>;
    latencyMs: Percentiles | undefined;
    /** The pre-queue's joins and those once on sale apart: joins ÷ first sent → last answered, and latency. */
    phases: { name: string; joins: number; perS: number; latencyMs: Percentiles | undefined }[];
    /** Seconds before on-sale the pre-queue's joins were all answered (negative: after). */
    prequeueDoneBeforeOnSaleS: number;
    /** The pre-queue's buyers: how long after on-sale each learnt where it stands, ms, by how. */
    placed: ByVia;
    rejoins: QueueBuyersResult['rejoins'];
  };
  admission: {
    /** Tickets Postgres recorded as admitted. */
    admitted: number;
    /** Seconds after on-sale of the first and the last admission. */
    firstS: number | null;
    lastS: number | null;
    /** Admitted ÷ first → last admission, per minute. */
    meanPerMinute: number | null;
    /** The most admitted in any 60 s, and in any one tick's time. */
    busiest60s: number;
    busiestTick: number;
    /** The most sessions active at once. */
    peakActive: number;
    /** Active sessions against seats not yet booked × factor, at every admission; and the same against the seats of one tick earlier. */
    seatBound: SeatBoundCheck;
    seatBoundOneTick: SeatBoundCheck;
    /** Postgres's admitted_at → the buyer learns it, ms, by how it learnt it. */
    learnt: ByVia;
    /** Admitted buyers' first estimated_wait_s in line ÷ the wait it turned out to be (estimate → admitted_at). */
    estimateOverActual: Percentiles | undefined;
  };
  soldOut: {
    /** Seconds after on-sale: the last booking confirmed in Postgres, the last seats held (its 202/201). */
    lastBookedS: number | null;
    lastHeldS: number | null;
    /** Buyers in line when the last seat was booked: joined before it, never admitted (Postgres). */
    inLine: number;
    /** Of them, told sold out: by how, and how long after the last booking (ms; negative: before it). */
    told: ByVia;
    notTold: number;
    /** The buyer furthest back in line: its place (Postgres's position), how it learnt, how long after the last booking. */
    lastInLine?: { place: number; via?: Via; afterLastBookedMs?: number };
  };
  book: {
    attempts: number;
    statuses: Record<string, number>;
    /** Refusals' reasons (problem documents), e.g. admission_required. */
    reasons: Record<string, number>;
    latencyMs: Percentiles | undefined;
    confirmedBookings: number;
    confirmedRequests: number;
  };
  outcomes: Record<BuyerOutcome, number>;
  watching: {
    listeners: number;
    /** Polling buyers who opened their stream once near the front. */
    upgraded: number;
    maxOpenStreams: number;
    streamsOpened: number;
    streamsRefused: Record<string, number>;
    reconnects: number;
    streamEvents: Record<string, number>;
    polls: number;
    pollsPerS: number;
    pollLatencyMs: Percentiles | undefined;
    pollStatuses: Record<string, number>;
  };
  errors: Record<string, number>;
  processes: GroupUsage[];
  invariants?: { checked: string; violations: string[] };
}

/** The most of `times` (sorted ascending) within any window of `windowMs` (inclusive at both ends). */
export function busiestWindow(times: readonly number[], windowMs: number): number {
  let most = 0;
  let from = 0;
  for (let to = 0; to < times.length; to++) {
    while ((times[to] as number) - (times[from] as number) > windowMs) from++;
    most = Math.max(most, to - from + 1);
  }
  return most;
}

/** The most intervals [start, end) open at once; an interval ending at an instant has closed before one starting then. */
export function peakConcurrent(intervals: readonly { start: number; end: number }[]): number {
  const edges = intervals.flatMap(({ start, end }) => [
    [start, 1],
    [end, -1],
  ]) as [number, number][];
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, step] of edges) {
    open += step;
    most = Math.max(most, open);
  }
  return most;
}

/**
 * At every admission instant t: the sessions active then (admitted at or before t, not yet
 * ended) against the seats not yet booked at `t - lagMs` (a confirmation the admission function
 * could not have seen yet is given back with lagMs of one tick) × `factor`.
 */
export function checkSeatBound(
  sessions: readonly { start: number; end: number }[],
  bookings: readonly ConfirmedRequest[],
  totalSeats: number,
  factor: number,
  lagMs = 0,
): SeatBoundCheck {
  const instants = [...new Set(sessions.map((session) => session.start))].sort((a, b) => a - b);
  const booked = [...bookings].sort((a, b) => a.decidedAt - b.decidedAt);
  const check: SeatBoundCheck = {
    instants: instants.length,
    breaches: 0,
    worstExcess: Number.NEGATIVE_INFINITY,
  };
  let seatsBooked = 0;
  let next = 0;
  for (const at of instants) {
    while (next < booked.length && (booked[next] as ConfirmedRequest).decidedAt <= at - lagMs)
      seatsBooked += (booked[next++] as ConfirmedRequest).seats;
    const active = sessions.filter((session) => session.start <= at && session.end > at).length;
    const seatsLeft = totalSeats - seatsBooked;
    const excess = active - seatsLeft * factor;
    if (excess > 0) check.breaches += 1;
    if (excess > check.worstExcess) {
      check.worstExcess = +excess.toFixed(2);
      check.worstAt = { active, seatsLeft };
    }
  }
  if (instants.length === 0) check.worstExcess = 0;
  return check;
}

const count = <T extends string>(keys: readonly T[]): Record<T, number> =>
  Object.fromEntries(keys.map((key) => [key, 0])) as Record<T, number>;
const bump = (counts: Record<string, number>, key: string | number) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

const OUTCOMES: readonly BuyerOutcome[] = [
  'booked',
  'sold_out',
  'no_seat',
  'expired',
  'refused',
  'unresolved',
];

/** The waiting room's figures from the buyers' result and what Postgres recorded. */
export function queueRun(input: {
  settings: QueueSettingsUsed;
  onSaleAt: number;
  result: QueueBuyersResult;
  /** Buyer i's user id. */
  users: readonly number[];
  /** Buyers 0..prequeueBuyers-1 joined before on-sale. */
  prequeueBuyers: number;
  tickets: readonly RecordedTicket[];
  confirmed: readonly ConfirmedRequest[];
  processes: GroupUsage[];
}): QueueRun {
  const { settings, onSaleAt, result, users, tickets, confirmed } = input;
  const buyers = result.buyers;
  const sinceOnSale = (at: number | undefined | null) =>
    at === undefined || at === null ? null : +((at - onSaleAt) / 1000).toFixed(2);

  const joinStatuses: Record<string, number> = {};
  const joinedAs: Record<string, number> = {};
  for (const buyer of buyers) {
    bump(joinStatuses, buyer.joinStatus);
    if (buyer.joinedAs) bump(joinedAs, buyer.joinedAs);
  }
  const joinLatencies = (from: BuyerRecord[]) =>
    percentiles(from.filter((buyer) => buyer.joinStatus !== 0).map((buyer) => buyer.joinLatencyMs));
  const joinPhases = [
    {
      name: 'before on-sale',
      from: buyers.slice(0, input.prequeueBuyers),
      lastAt: result.prequeueJoinsDoneAt,
    },
    { name: 'once on sale', from: buyers.slice(input.prequeueBuyers), lastAt: result.joinsDoneAt },
  ]
    .filter((phase) => phase.from.length > 0)
    .map(({ name, from, lastAt }) => {
      const spanS = (lastAt - (from[0] as BuyerRecord).joinSentAt) / 1000;
      return {
        name,
        joins: from.length,
        perS: spanS > 0 ? Math.round(from.length / spanS) : 0,
        latencyMs: joinLatencies(from),
      };
    });

  const admitted = tickets
    .filter((ticket) => ticket.admittedAt !== null)
    .map((ticket) => ({
      ...ticket,
      start: ticket.admittedAt as number,
      end: ticket.endedAt ?? ticket.sessionExpiresAt ?? result.finishedAt,
    }));
  const admittedTimes = admitted.map((ticket) => ticket.start).sort((a, b) => a - b);
  const first = admittedTimes[0];
  const last = admittedTimes.at(-1);
  const spanMinutes = first !== undefined && last !== undefined ? (last - first) / 60_000 : 0;

  const recordOf = new Map(users.map((user, i) => [user, buyers[i] as BuyerRecord]));
  const estimateOverActual = admitted.flatMap((ticket) => {
    const estimate = recordOf.get(ticket.userId)?.firstEstimate;
    return estimate && ticket.start > estimate.at
      ? [(estimate.waitS * 1000) / (ticket.start - estimate.at)]
      : [];
  });
  const learnt = admitted.flatMap((ticket) => {
    const buyer = recordOf.get(ticket.userId);
    return buyer?.admittedAt !== undefined && buyer.admittedVia
      ? [[buyer.admittedVia, buyer.admittedAt - ticket.start] as const]
      : [];
  });

  const lastBookedAt = confirmed.reduce<number | undefined>(
    (latest, request) => Math.max(latest ?? request.decidedAt, request.decidedAt),
    undefined,
  );
  const held = buyers.flatMap((buyer) =>
    buyer.books
      .filter((book) => book.status === 201 || book.status === 202)
      .map((book) => book.sentAt + book.latencyMs),
  );
  // As Postgres recorded them: a ticket's place (the API's `position` is the distance from the
  // front), and whether it was ever let in (a buyer may not have learnt it before its session ran out).
  const ticketOf = new Map(tickets.map((ticket) => [ticket.userId, ticket]));
  const inLine =
    lastBookedAt === undefined
      ? []
      : buyers.flatMap((buyer, i) => {
          const ticket = ticketOf.get(users[i] as number);
          return ticket &&
            ticket.admittedAt === null &&
            buyer.joinSentAt + buyer.joinLatencyMs <= lastBookedAt
            ? [{ buyer, place: ticket.position }]
            : [];
        });
  const told = inLine.flatMap(({ buyer }) =>
    buyer.soldOutAt !== undefined && buyer.soldOutVia && lastBookedAt !== undefined
      ? [[buyer.soldOutVia, buyer.soldOutAt - lastBookedAt] as const]
      : [],
  );
  const furthest = inLine.reduce<(typeof inLine)[number] | undefined>(
    (back, entry) => ((entry.place ?? 0) > (back?.place ?? 0) ? entry : back),
    undefined,
  );

  const bookStatuses: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  const bookLatencies: number[] = [];
  for (const book of buyers.flatMap((buyer) => buyer.books)) {
    bump(bookStatuses, book.status);
    if (book.reason) bump(reasons, book.reason);
    if (book.status !== 0) bookLatencies.push(book.latencyMs);
  }
  const outcomes = count(OUTCOMES);
  for (const buyer of buyers) outcomes[buyer.outcome] += 1;
  const pollSpanS = (result.finishedAt - result.joinsFirstSentAt) / 1000;

  return {
    settings,
    durationS: +((result.finishedAt - result.joinsFirstSentAt) / 1000).toFixed(1),
    timedOut: result.timedOut,
    joins: {
      count: buyers.length,
      statuses: joinStatuses,
      joinedAs,
      latencyMs: joinLatencies(buyers),
      phases: joinPhases,
      prequeueDoneBeforeOnSaleS: +((onSaleAt - result.prequeueJoinsDoneAt) / 1000).toFixed(2),
      placed: byVia(
        buyers.flatMap((buyer) =>
          buyer.placedAt !== undefined && buyer.placedVia
            ? [[buyer.placedVia, buyer.placedAt - onSaleAt] as const]
            : [],
        ),
      ),
      rejoins: result.rejoins,
    },
    admission: {
      admitted: admitted.length,
      firstS: sinceOnSale(first),
      lastS: sinceOnSale(last),
      meanPerMinute: spanMinutes > 0 ? Math.round(admitted.length / spanMinutes) : null,
      busiest60s: busiestWindow(admittedTimes, 60_000),
      // A window just under a tick: one tick's admissions, not two ticks' that fall a tick apart.
      busiestTick: busiestWindow(admittedTimes, settings.tickMs - 1),
      peakActive: peakConcurrent(admitted),
      seatBound: checkSeatBound(admitted, confirmed, settings.seats, settings.admitFactor),
      seatBoundOneTick: checkSeatBound(
        admitted,
        confirmed,
        settings.seats,
        settings.admitFactor,
        settings.tickMs,
      ),
      learnt: byVia(learnt),
      estimateOverActual: percentiles(estimateOverActual),
    },
    soldOut: {
      lastBookedS: sinceOnSale(lastBookedAt),
      lastHeldS: sinceOnSale(held.length > 0 ? Math.max(...held) : undefined),
      inLine: inLine.length,
      told: byVia(told),
      notTold: inLine.filter(({ buyer }) => buyer.soldOutAt === undefined).length,
      ...(furthest?.place
        ? {
            lastInLine: {
              place: furthest.place,
              ...(furthest.buyer.soldOutVia ? { via: furthest.buyer.soldOutVia } : {}),
              ...(furthest.buyer.soldOutAt !== undefined && lastBookedAt !== undefined
                ? { afterLastBookedMs: Math.round(furthest.buyer.soldOutAt - lastBookedAt) }
                : {}),
            },
          }
        : {}),
    },
    book: {
      attempts: bookLatencies.length + (bookStatuses['0'] ?? 0),
      statuses: bookStatuses,
      reasons,
      latencyMs: percentiles(bookLatencies),
      confirmedBookings: confirmed.reduce((sum, request) => sum + request.seats, 0),
      confirmedRequests: confirmed.length,
    },
    outcomes,
    watching: {
      listeners: buyers.filter((buyer) => buyer.listener).length,
      upgraded: buyers.filter((buyer) => !buyer.listener && buyer.streamedAt !== undefined).length,
      maxOpenStreams: result.streams.maxOpen,
      streamsOpened: result.streams.opened,
      streamsRefused: result.streams.refused,
      reconnects: result.streams.reconnects,
      streamEvents: result.streams.events,
      polls: result.pollLatenciesMs.length,
      pollsPerS: pollSpanS > 0 ? Math.round(result.pollLatenciesMs.length / pollSpanS) : 0,
      pollLatencyMs: percentiles(result.pollLatenciesMs),
      pollStatuses: result.pollStatuses,
    },
    errors: result.errors,
    processes: input.processes,
  };
}

const fmt = (value: number | undefined | null, digits = 0) =>
  value === undefined || value === null || !Number.isFinite(value)
    ? '–'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value: number | undefined) =>
  value === undefined ? '–' : fmt(value, Math.abs(value) < 100 ? 1 : 0);
const spread = (p: Percentiles | undefined) =>
  p ? `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)} / ${ms(p.max)}` : '–';
const counts = (values: Record<string, number>) =>
  Object.entries(values)
    .filter(([, n]) => n > 0)
    .map(([key, n]) => `${key}: ${fmt(n)}`)
    .join(', ') || '–';
const VIA_NAMES: Record<Via, string> = { join: 'its join', stream: 'the stream', poll: 'a poll' };

/** The waiting room's section of the results markdown (its process table is the caller's). */
export function queueMarkdown(run: QueueRun): string[] {
  const s = run.settings;
  const a = run.admission;
  const sold = run.soldOut;
  const w = run.watching;
  const bound = (check: SeatBoundCheck) =>
    `${check.breaches === 0 ? 'never above' : `**above at ${fmt(check.breaches)} of ${fmt(check.instants)} admissions**`}; ` +
    `closest: ${check.worstAt ? `${fmt(check.worstAt.active)} active, ${fmt(check.worstAt.seatsLeft)} seats left (excess ${fmt(check.worstExcess, 1)})` : '–'}`;
  const rows: [string, string, string][] = [
    ['joins (HTTP statuses)', `${fmt(run.joins.count)} (${counts(run.joins.statuses)})`, ''],
    ['joined as', counts(run.joins.joinedAs), `${s.prequeuePercent} % before on-sale`],
    [
      'pre-queue joins all answered',
      `${fmt(Math.abs(run.joins.prequeueDoneBeforeOnSaleS), 1)} s ${run.joins.prequeueDoneBeforeOnSaleS >= 0 ? 'before' : '**after**'} on-sale`,
      '',
    ],
    ['**join p50 / p95 / p99 / max (ms)**', `**${spread(run.joins.latencyMs)}**`, ''],
    ...run.joins.phases.map((phase): [string, string, string] => [
      `joins ${phase.name}: joins/s; p50 / p95 / p99 / max (ms)`,
      `${fmt(phase.joins)}: ${fmt(phase.perS)}/s; ${spread(phase.latencyMs)}`,
      '',
    ]),
    ...(Object.entries(run.joins.placed) as [Via, { buyers: number; ms: Percentiles }][]).map(
      ([via, placed]): [string, string, string] => [
        `pre-queue buyers told their place by ${VIA_NAMES[via]} (${fmt(placed.buyers)}): after on-sale, p50 / p95 / p99 / max (ms)`,
        spread(placed.ms),
        '',
      ],
    ),
    [
      'joining again: same ticket',
      `${fmt(run.joins.rejoins.sameTicket)} of ${fmt(run.joins.rejoins.sent)} (${counts(run.joins.rejoins.statuses)})`,
      'all, 200',
    ],
    [
      'admitted (Postgres), first → last admission',
      `${fmt(a.admitted)}, +${fmt(a.firstS, 1)} → +${fmt(a.lastS, 1)} s after on-sale`,
      '',
    ],
    [
      '**admitted per minute**: mean first → last admission',
      `**${fmt(a.meanPerMinute)}**`,
      `≤ ${fmt(s.admitPerMinute)}`,
    ],
    ['admitted in the busiest 60 s', fmt(a.busiest60s), `≤ ${fmt(s.admitPerMinute)}`],
    [
      `admitted in the busiest tick (${fmt(s.tickMs)} ms)`,
      fmt(a.busiestTick),
      `≈ ${fmt((s.admitPerMinute * s.tickMs) / 60_000, 1)}`,
    ],
    ['**most sessions active at once**', `**${fmt(a.peakActive)}**`, `≤ ${fmt(s.maxActive)}`],
    [
      `active vs seats not yet booked × ${s.admitFactor}, at each admission`,
      bound(a.seatBound),
      'never above',
    ],
    ['the same, seats of one tick earlier', bound(a.seatBoundOneTick), 'never above'],
    ...(Object.entries(a.learnt) as [Via, { buyers: number; ms: Percentiles }][]).map(
      ([via, learnt]): [string, string, string] => [
        `admitted → the buyer knows, by ${VIA_NAMES[via]} (${fmt(learnt.buyers)}): p50 / p95 / p99 / max (ms)`,
        spread(learnt.ms),
        '',
      ],
    ),
    [
      'estimated_wait_s ÷ the wait it turned out to be (admitted buyers): p50 / p95',
      a.estimateOverActual
        ? `${fmt(a.estimateOverActual.p50, 1)} / ${fmt(a.estimateOverActual.p95, 1)}`
        : '–',
      '1',
    ],
    [
      'last booking confirmed (last seats held)',
      `+${fmt(sold.lastBookedS, 2)} s (+${fmt(sold.lastHeldS, 2)} s) after on-sale`,
      '',
    ],
    ['buyers in line then (joined, never admitted)', fmt(sold.inLine), ''],
    ...(Object.entries(sold.told) as [Via, { buyers: number; ms: Percentiles }][]).map(
      ([via, told]): [string, string, string] => [
        `**told sold out by ${VIA_NAMES[via]}**, ${fmt(told.buyers)} buyers: after the last booking, p50 / p95 / p99 / max (ms)`,
        `**${spread(told.ms)}**`,
        via === 'poll' ? `polls ≤ ${s.pollMaxS} s apart` : '',
      ],
    ),
    ['in line, never told sold out', fmt(sold.notTold), '0'],
    [
      'the last in line',
      sold.lastInLine
        ? `place ${fmt(sold.lastInLine.place)}: ${sold.lastInLine.afterLastBookedMs === undefined ? 'never told' : `told by ${VIA_NAMES[sold.lastInLine.via ?? 'poll']} ${fmt(sold.lastInLine.afterLastBookedMs)} ms after the last booking`}`
        : '–',
      '',
    ],
    ['book requests (HTTP statuses)', `${fmt(run.book.attempts)} (${counts(run.book.statuses)})`, ''],
    ...(Object.keys(run.book.reasons).length > 0
      ? [['refusals by reason', counts(run.book.reasons), ''] as [string, string, string]]
      : []),
    ['**book p50 / p95 / p99 / max (ms)** while the line drains', `**${spread(run.book.latencyMs)}**`, ''],
    [
      'confirmed bookings (requests)',
      `${fmt(run.book.confirmedBookings)} (${fmt(run.book.confirmedRequests)})`,
      `${fmt(s.seats)} seats`,
    ],
    ['buyers by outcome', counts(run.outcomes), ''],
    [
      'on the stream: from the join / once near the front; most open at once',
      `${fmt(w.listeners)} / ${fmt(w.upgraded)}; ${fmt(w.maxOpenStreams)}`,
      '',
    ],
    [
      'streams opened, refused, reopened',
      `${fmt(w.streamsOpened)}, ${counts(w.streamsRefused)}, ${fmt(w.reconnects)}`,
      '',
    ],
    ['stream events', counts(w.streamEvents), ''],
    [
      'polls (statuses): per s, p50 / p95 / p99 / max (ms)',
      `${fmt(w.polls)} (${counts(w.pollStatuses)}): ${fmt(w.pollsPerS)}/s, ${spread(w.pollLatencyMs)}`,
      '',
    ],
    ...(Object.keys(run.errors).length > 0
      ? [['transport errors', counts(run.errors), ''] as [string, string, string]]
      : []),
    [
      'invariants',
      run.invariants
        ? run.invariants.violations.length === 0
          ? `${run.invariants.checked} hold`
          : '**BROKEN**'
        : '–',
      '',
    ],
  ];
  return [
    '### Waiting room',
    '',
    `${fmt(s.buyers)} buyers join the line of an on-sale of ${fmt(s.seats)} seats (rows of ${s.seatsPerRow}): ` +
      `admit_per_minute ${fmt(s.admitPerMinute)}, max_active ${fmt(s.maxActive)}, session_minutes ${s.sessionMinutes}, ` +
      `prequeue_minutes ${s.prequeueMinutes}; QUEUE_TICK_MS ${s.tickMs}, QUEUE_ADMIT_FACTOR ${s.admitFactor}; ` +
      `${s.instances === 1 ? 'one `queue` process' : `${s.instances} \`queue\` processes`}. On sale ${s.onSaleS} s after the event was created; ` +
      `${s.prequeuePercent} % of the buyers join before (the pre-queue, shuffled at on-sale), the rest once on sale. ` +
      `${fmt(s.listeners)} buyers, spread over the join order (the last included), watch their stream from the join; ` +
      `the others poll their ticket (the pre-queue within ${s.firstPollSpreadS} s of on-sale, then at most ${s.pollMaxS} s apart, sooner the nearer the front) and open their stream ` +
      `within ${fmt(s.streamWithin)} of the front. An admitted buyer thinks ${s.thinkS[0]}–${s.thinkS[1]} s, then books ` +
      `1–${s.maxSeatsPerBuyer} adjacent seats no buyer has taken (${s.bookMode}), other seats if they were taken meanwhile. ` +
      `${run.timedOut ? '**Some buyers had not learnt their outcome when the run timed out.** ' : ''}` +
      `First join → last buyer's outcome: ${fmt(run.durationS, 1)} s.`,
    '',
    '| | value | setting |',
    '|---|---|---|',
    ...rows.map(([label, value, setting]) => `| ${label} | ${value} | ${setting} |`),
  ];
}
