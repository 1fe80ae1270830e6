/** From a report's numbers to its ratios, its verdicts on the targets and its notes (no I/O). */
import type { BenchOptions } from './options.ts';
import { type BenchReport, OBVIOUS_DESIGN, type RunReport, type Verdict } from './report.ts';
import { TARGETS } from './targets.ts';

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? null : +(a / b).toFixed(2);

export const atLeast = (name: string, value: number | null | undefined, min: number): Verdict => ({
  name,
  value: value ?? null,
  target: `≥ ${min}`,
  met: value === null || value === undefined ? null : value >= min,
});

export const atMost = (name: string, value: number | null | undefined, max: number): Verdict => ({
  name,
  value: value ?? null,
  target: `≤ ${max}`,
  met: value === null || value === undefined ? null : value <= max,
});

/** Each system run ÷ the obvious design and ÷ the floors, then the obvious design ÷ the floors. */
export function ratiosOf(report: Pick<BenchReport, 'runs' | 'floors'>): Record<string, number | null> {
  const baseline = report.runs.find((run) => run.name === OBVIOUS_DESIGN);
  const { noop, postgres } = report.floors;
  const ratios: Record<string, number | null> = {};
  for (const run of report.runs.filter((candidate) => candidate !== baseline)) {
    ratios[`confirmed bookings/s, ${run.name} ÷ obvious design`] = ratio(
      run.confirmed?.bookingsPerS,
      baseline?.confirmed?.bookingsPerS,
    );
    ratios[`requests/s, ${run.name} ÷ obvious design`] = ratio(run.requestsPerS, baseline?.requestsPerS);
    ratios[`answer p99, ${run.name} ÷ obvious design`] = ratio(run.latencyMs?.p99, baseline?.latencyMs?.p99);
    ratios[`requests/s, ${run.name} ÷ no-op floor`] = ratio(run.requestsPerS, noop?.requestsPerS);
    ratios[`confirmed bookings/s, ${run.name} ÷ Postgres floor`] = ratio(
      run.confirmed?.bookingsPerS,
      postgres?.bookingsPerS,
    );
  }
  if (baseline) {
    ratios['requests/s, obvious design ÷ no-op floor'] = ratio(baseline.requestsPerS, noop?.requestsPerS);
    ratios['confirmed bookings/s, obvious design ÷ Postgres floor'] = ratio(
      baseline.confirmed?.bookingsPerS,
      postgres?.bookingsPerS,
    );
  }
  return ratios;
}

/** Every system run against the targets of bench/targets.ts. */
export function verdictsOf(runs: readonly RunReport[], connections: number): Verdict[] {
  const baseline = runs.find((run) => run.name === OBVIOUS_DESIGN);
  return runs
    .filter((run) => run !== baseline)
    .flatMap((run) => [
      atLeast(
        `confirmed bookings/s ÷ obvious design (${run.name})`,
        ratio(run.confirmed?.bookingsPerS, baseline?.confirmed?.bookingsPerS),
        TARGETS.confirmedBookingsVsObvious,
      ),
      atMost(
        `answer p99 at ${connections} connections (${run.name}), ms`,
        run.latencyMs?.p99,
        TARGETS.answerP99Ms,
      ),
    ]);
}

/** Fills the report's ratios and verdicts, and notes what the numbers depend on. */
export function summarize(report: BenchReport, options: BenchOptions): void {
  report.ratios = ratiosOf(report);
  report.targets = verdictsOf(report.runs, options.connections);
  report.notes.push(
    `Every process shares the machine's ${report.machine.cores} cores (load average ${report.machine.loadAverageAtStart} at start); compare ratios within one run.`,
    `The system's functions run with ${Object.entries(options.systemEnv)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ')}; the obvious design with a pool of ${options.baselinePool}.`,
  );
}
