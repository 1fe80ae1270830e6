/** The report's shape, and its numbers from a run's raw answers (no I/O: bench/bench.test.ts covers them). */
import type { LoadResult } from './load.ts';
import { type GroupUsage, OTHERS } from './procstat.ts';

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

export interface RunReport {
  name: string;
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
  runs: RunReport[];
  floors: { noop?: RunReport; postgres?: PostgresFloor };
  ratios: Record<string, number | null>;
  targets: Verdict[];
  notes: string[];
}

/** A run's answers in numbers: rate, latency (transport errors left out), answers by status. */
export function loadReport(
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

/** Per design, the round with the median confirmed bookings/s, carrying every round's numbers. */
export function medianRuns(rounds: RunReport[][]): RunReport[] {
  const names = [...new Set(rounds.flat().map((run) => run.name))];
  return names.map((name) => {
    const runs = rounds.flatMap((round) => round.filter((run) => run.name === name));
    const key = (run: RunReport) => run.confirmed?.bookingsPerS ?? run.requestsPerS;
    const median = [...runs].sort((a, b) => key(a) - key(b))[Math.floor((runs.length - 1) / 2)] as RunReport;
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
