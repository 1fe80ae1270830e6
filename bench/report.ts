/** The report's shape, and its numbers from a run's raw answers (no I/O: bench/bench.test.ts covers them). */
import type { LoadResult } from './load.ts';
import type { Scenario } from './options.ts';
import type { FunctionFootprint } from './phases/footprint.ts';
import { type GroupUsage, OTHERS } from './procstat.ts';
import type { QueueRun } from './queue-report.ts';
import type { ReadTargetResult } from './read-storm.ts';
import type { ScaleOut } from './scale-out.ts';
import type { MeasuredElsewhere } from './targets.ts';

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of `values` (ms), rounded to 0.1. */
export function percentiles(values: readonly number[]): Percentiles | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => {
    const value = sorted[
      Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
    ] as number;
    return Math.round(value * 10) / 10;
  };
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
}

/** One seat map read at full speed: alone, or through a flash sale (the read storm). */
export interface ReadReport {
  /** What was read, e.g. `4,000 seats, br`. */
  label: string;
  seats: number;
  /** The Accept-Encoding sent; `304`: gzip, with the map's ETag in If-None-Match. */
  mode: string;
  /** The representation read (bench/read-storm.ts); the seed's body when absent. */
  form?: string;
  connections: number;
  requests: number;
  /** Answers ÷ first sent → last answered. */
  readsPerS: number;
  latencyMs: Percentiles | undefined;
  /** Body bytes on the wire per answer (compressed when the answer was). */
  bytesPerAnswer: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
}

/** A read generator's numbers, per map read. */
export function readReports(results: readonly ReadTargetResult[]): ReadReport[] {
  return results.map((result) => {
    const durationS = (result.lastAnsweredAt - result.firstSentAt) / 1000;
    const answered = result.latenciesMs.length;
    return {
      label: result.label,
      seats: result.seats,
      mode: result.mode,
      form: result.form,
      connections: result.connections,
      requests: answered,
      readsPerS: durationS > 0 ? Math.round(answered / durationS) : 0,
      latencyMs: percentiles(result.latenciesMs),
      bytesPerAnswer: answered > 0 ? Math.round(result.bytes / answered) : 0,
      statuses: result.statuses,
      errors: result.errors,
    };
  });
}

/** The seat maps read alone (no booking load), against one design. */
export interface ReadRun {
  name: string;
  reads: ReadReport[];
  processes: GroupUsage[];
  /** With --rounds: every round's reads/s of the first map (the report shows the median round). */
  rounds?: { readsPerS: number }[];
}

export interface RunReport {
  scenario: Scenario;
  name: string;
  /** Open loop: the offered rate, and it as a multiple of the obvious design's maximum. */
  offered?: { factor: number; rate: number };
  /** Read storm: the seat maps read meanwhile by a second load generator. */
  reads?: ReadReport[];
  /** Which kind of answer the load waited for. */
  answerMeans: string;
  requests: number;
  durationS: number;
  requestsPerS: number;
  latencyMs: Percentiles | undefined;
  statuses: Record<string, number>;
  latencyByStatusMs: Record<string, Percentiles | undefined>;
  errors: Record<string, number>;
  confirmed?: {
    bookings: number;
    requests: number;
    /** First request sent → last confirmation in Postgres. */
    spanS: number;
    bookingsPerS: number;
  };
  /** Request → confirmation, ms. */
  confirmationMs?: {
    /** booking_requests.requested_at → decided_at (the system only). */
    requestedToDecided?: Percentiles;
    /** Client sends → the confirmation reaches clients (system: outcome published; baseline: the 201). */
    sentToVisible?: Percentiles;
  };
  processes: GroupUsage[];
  invariants?: { checked: string; violations: string[] };
  /** With --rounds: every round's numbers (the report shows the median round). */
  rounds?: { requestsPerS: number; bookingsPerS?: number; p99?: number; othersCores?: number }[];
}

export interface PostgresFloor {
  tool: string;
  clients: number;
  bookings: number;
  bookingsPerS: number;
  processes: GroupUsage[];
}

/** The obvious design's run, the one every system run is compared with. */
export const OBVIOUS_DESIGN = 'obvious design';

/** A measured value against its target (bench/targets.ts); `met` is null when there is no value. */
export interface Verdict {
  name: string;
  value: number | null;
  target: string;
  met: boolean | null;
}

export interface BenchReport {
  runId: string;
  machine: Record<string, string | number>;
  options: Record<string, unknown>;
  /** Every scenario's runs (each the median of its rounds). */
  runs: RunReport[];
  /** Read storm: the seat maps read alone, per design. */
  reads: ReadRun[];
  /** Open loop: the obvious design's maximum requests/s its offered rates are multiples of. */
  openLoopBase?: { requestsPerS: number; measuredIn: string };
  /** Item 4 of issue 18: Postgres CPU per confirmed booking, and each design's ceiling (bench/scale-out.ts). */
  scaleOut?: ScaleOut;
  /**
   * Numbers measured outside this run's scenarios, for the targets that need them (the refused
   * request's CPU, the functions' footprint): a target without one shows as not measured.
   */
  measures: Partial<Record<MeasuredElsewhere, number>>;
  /** Each function started alone from the bundle (bench/phases/footprint.ts). */
  footprint?: Record<string, FunctionFootprint>;
  floors: { noop?: RunReport; postgres?: PostgresFloor };
  ratios: Record<string, number | null>;
  targets: Verdict[];
  notes: string[];
  /** The waiting room (--queue), which runs alone. */
  queue?: QueueRun;
}

/** A run's answers in numbers: rate, latency (transport errors left out), answers by status. */
export function loadReport(
  scenario: Scenario,
  name: string,
  answerMeans: string,
  result: LoadResult,
  processes: GroupUsage[],
): RunReport {
  const answered = result.answers.filter((answer) => answer.status !== 0);
  const statuses: Record<string, number> = {};
  const byStatus = new Map<string, number[]>();
  for (const answer of result.answers) {
    const status = answer.status === 0 ? 'error' : String(answer.status);
    statuses[status] = (statuses[status] ?? 0) + 1;
    const latencies = byStatus.get(status) ?? [];
    latencies.push(answer.latencyMs);
    byStatus.set(status, latencies);
  }
  const durationS = (result.lastAnsweredAt - result.firstSentAt) / 1000;
  return {
    scenario,
    name,
    answerMeans,
    requests: result.answers.length,
    durationS: +durationS.toFixed(3),
    requestsPerS: Math.round(result.answers.length / durationS),
    latencyMs: percentiles(answered.map((answer) => answer.latencyMs)),
    statuses,
    latencyByStatusMs: Object.fromEntries(
      [...byStatus].map(([status, values]) => [status, percentiles(values)]),
    ),
    errors: result.errors,
    processes,
  };
}

/** Confirmed bookings per second, from the first request sent to the last confirmation seen. */
export function confirmedRate(
  confirmations: { bookings: number; requests: number; lastAt?: number | null },
  result: { firstSentAt: number; lastAnsweredAt: number },
): NonNullable<RunReport['confirmed']> {
  const spanS = ((confirmations.lastAt ?? result.lastAnsweredAt) - result.firstSentAt) / 1000;
  return {
    bookings: confirmations.bookings,
    requests: confirmations.requests,
    spanS: +spanS.toFixed(3),
    bookingsPerS: Math.round(confirmations.bookings / spanS),
  };
}

/**
 * The system's request → confirmation: in Postgres (`decisions`, by request id), and from the
 * client's send to the outcome published to waiting clients (`seen`, epoch ms by request id).
 */
export function systemConfirmationMs(
  decisions: ReadonlyMap<string, { requestedAt: number; decidedAt: number }>,
  result: LoadResult,
  seen: ReadonlyMap<string, number>,
): NonNullable<RunReport['confirmationMs']> {
  const sentAt = new Map(
    result.answers.flatMap((answer) =>
      answer.requestId ? [[answer.requestId, answer.sentAt] as const] : [],
    ),
  );
  return {
    requestedToDecided: percentiles([...decisions.values()].map((d) => d.decidedAt - d.requestedAt)),
    sentToVisible: percentiles(
      [...decisions.keys()].flatMap((id) => {
        const sent = sentAt.get(id);
        const visible = seen.get(id);
        return sent !== undefined && visible !== undefined ? [visible - sent] : [];
      }),
    ),
  };
}

/** The obvious design commits before its 201 leaves, so the 201's latency is request → confirmation. */
export function baselineConfirmationMs(result: LoadResult): NonNullable<RunReport['confirmationMs']> {
  return {
    sentToVisible: percentiles(result.answers.filter((a) => a.status === 201).map((a) => a.latencyMs)),
  };
}

/** What makes a run the same run in another round: its scenario, design (and mode) and offered rate. */
export const runKey = (run: Pick<RunReport, 'scenario' | 'name' | 'offered'>) =>
  `${run.scenario}|${run.name}|${run.offered?.factor ?? ''}`;

/**
 * Per scenario and design, the median round, carrying every round's numbers: by confirmed
 * bookings/s, except in the open loop, whose target is on latency: by answer p99.
 */
export function medianRuns(rounds: RunReport[][]): RunReport[] {
  const keys = [...new Set(rounds.flat().map(runKey))];
  return keys.map((key) => {
    const runs = rounds.flatMap((round) => round.filter((run) => runKey(run) === key));
    const value = (run: RunReport) =>
      run.scenario === 'open-loop'
        ? (run.latencyMs?.p99 ?? Number.POSITIVE_INFINITY)
        : (run.confirmed?.bookingsPerS ?? run.requestsPerS);
    const median = [...runs].sort((a, b) => value(a) - value(b))[
      Math.floor((runs.length - 1) / 2)
    ] as RunReport;
    return runs.length === 1
      ? median
      : {
          ...median,
          rounds: runs.map((run) => ({
            requestsPerS: run.requestsPerS,
            bookingsPerS: run.confirmed?.bookingsPerS,
            p99: run.latencyMs?.p99,
            othersCores: run.processes.find((group) => group.name === OTHERS)?.cores,
          })),
        };
  });
}

/** Per design, the round with the median reads/s of its first map, carrying every round's. */
export function medianReadRuns(rounds: ReadRun[][]): ReadRun[] {
  const names = [...new Set(rounds.flat().map((run) => run.name))];
  return names.map((name) => {
    const runs = rounds.flatMap((round) => round.filter((run) => run.name === name));
    const value = (run: ReadRun) => run.reads[0]?.readsPerS ?? 0;
    const median = [...runs].sort((a, b) => value(a) - value(b))[
      Math.floor((runs.length - 1) / 2)
    ] as ReadRun;
    return runs.length === 1 ? median : { ...median, rounds: runs.map((run) => ({ readsPerS: value(run) })) };
  });
}
