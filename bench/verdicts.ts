/** From a report's numbers to its ratios, its verdicts on the targets and its notes (no I/O). */
import type { BenchOptions, Scenario } from './options.ts';
import {
  type BenchReport,
  OBVIOUS_DESIGN,
  type ReadReport,
  type ReadRun,
  type RunReport,
  type Verdict,
} from './report.ts';
import { scaleOutOf } from './scale-out.ts';
import { TARGETS } from './targets.ts';

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? null : +(a / b).toFixed(2);

export const atLeast = (name: string, value: number | null | undefined, min: number): Verdict => ({
  name,
  value: value ?? null,
  target: `≥ ${min.toLocaleString('en-US')}`,
  met: value === null || value === undefined ? null : value >= min,
});

export const atMost = (name: string, value: number | null | undefined, max: number): Verdict => ({
  name,
  value: value ?? null,
  target: `≤ ${max.toLocaleString('en-US')}`,
  met: value === null || value === undefined ? null : value <= max,
});

const fmt = (n: number) => n.toLocaleString('en-US');
const inScenario = (runs: readonly RunReport[], scenario: Scenario) =>
  runs.filter((run) => run.scenario === scenario);

/** Each system run of the flash sale ÷ the obvious design's and ÷ the floors, then the obvious design ÷ the floors. */
export function ratiosOf(report: Pick<BenchReport, 'runs' | 'floors'>): Record<string, number | null> {
  const flash = inScenario(report.runs, 'flash');
  const baseline = flash.find((run) => run.name === OBVIOUS_DESIGN);
  const { noop, postgres } = report.floors;
  const ratios: Record<string, number | null> = {};
  for (const run of flash.filter((candidate) => candidate !== baseline)) {
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

/** Confirmed bookings/s a run lost to the read storm against the same design's flash sale, %. */
export function stormLossPercent(storm: RunReport, flash: RunReport | undefined): number | null {
  const withStorm = storm.confirmed?.bookingsPerS;
  const without = flash?.confirmed?.bookingsPerS;
  return withStorm === undefined || !without ? null : +(100 * (1 - withStorm / without)).toFixed(1);
}

/**
 * Every target of bench/targets.ts: the system's runs of each scenario (a scenario not run, or a
 * number measured elsewhere and not given, is a verdict with no value: not measured).
 */
export function verdictsOf(report: Pick<BenchReport, 'runs' | 'reads' | 'measures'>): Verdict[] {
  const verdicts: Verdict[] = [];
  const systemRuns = (scenario: Scenario) =>
    inScenario(report.runs, scenario).filter((run) => run.name !== OBVIOUS_DESIGN);
  const obvious = (scenario: Scenario) =>
    inScenario(report.runs, scenario).find((run) => run.name === OBVIOUS_DESIGN);
  /** One verdict per run, or one with no value when there is none (the scenario did not run). */
  const each = (runs: RunReport[], judge: (run?: RunReport) => Verdict) =>
    verdicts.push(...(runs.length > 0 ? runs.map((run) => judge(run)) : [judge()]));

  for (const [scenario, title, min] of [
    ['flash', 'flash sale', TARGETS.flashBookingsVsObvious],
    ['hot-seat', 'hot-seat on-sale', TARGETS.hotSeatBookingsVsObvious],
  ] as const) {
    each(systemRuns(scenario), (run) =>
      atLeast(
        `${title}: confirmed bookings/s ÷ obvious design (${run?.name ?? 'system'})`,
        run && ratio(run.confirmed?.bookingsPerS, obvious(scenario)?.confirmed?.bookingsPerS),
        min,
      ),
    );
  }
  const atFactor = systemRuns('open-loop').filter((run) => run.offered?.factor === TARGETS.openLoopFactor);
  each(atFactor, (run) =>
    atMost(
      `open loop at ${TARGETS.openLoopFactor}× the obvious design's maximum${run?.offered ? ` (${fmt(run.offered.rate)}/s)` : ''}: answer p99 (${run?.name ?? 'system'}), ms`,
      run?.latencyMs?.p99,
      TARGETS.openLoopP99Ms,
    ),
  );
  each(systemRuns('read-storm'), (run) =>
    atMost(
      `read storm: confirmed bookings/s lost against the flash sale (${run?.name ?? 'system'}), %`,
      run &&
        stormLossPercent(
          run,
          systemRuns('flash').find((flash) => flash.name === run.name),
        ),
      TARGETS.readStormLossPercent,
    ),
  );
  const alone = report.reads.find((run) => run.name !== OBVIOUS_DESIGN);
  verdicts.push(...seatMapVerdicts(alone));

  const measured = report.measures;
  verdicts.push(
    atMost(
      "a refused request's CPU ÷ a no-op request's",
      measured.refusedCpuVsNoop,
      TARGETS.refusedCpuVsNoop,
    ),
    atMost('each function idle: resident memory, MiB', measured.idleRssMiB, TARGETS.idleRssMiB),
    atMost(
      "each function at the flash sale's peak: resident memory, MiB",
      measured.peakRssMiB,
      TARGETS.peakRssMiB,
    ),
    atMost('each function: start to ready, ms', measured.readyMs, TARGETS.readyMs),
  );
  return verdicts;
}

/** The system's seat maps read alone: the smallest map's rate (and its 304s'), the largest map's size. */
function seatMapVerdicts(alone: ReadRun | undefined): Verdict[] {
  const reads = alone?.reads ?? [];
  const seats = reads.map((read) => read.seats);
  const seed = (read: ReadReport) => (read.form ?? 'seats') === 'seats';
  const small = reads.find((read) => seed(read) && read.seats === Math.min(...seats) && read.mode === 'br');
  const notModified = reads.find(
    (read) => seed(read) && read.seats === Math.min(...seats) && read.mode === '304',
  );
  // A large event's map as a client first loads it: the compact states and the layout, when read.
  const largeOf = (form: string) =>
    reads.find(
      (read) => (read.form ?? 'seats') === form && read.seats === Math.max(...seats) && read.mode === 'br',
    );
  const compact = [largeOf('seat-map'), largeOf('seat-layout')];
  const large = compact.every((read) => read !== undefined)
    ? {
        seats: compact[0]?.seats as number,
        bytesPerAnswer: compact.reduce((sum, read) => sum + (read?.bytesPerAnswer ?? 0), 0),
        what: 'seat-map + seat-layout',
      }
    : (() => {
        const read = largeOf('seats');
        return read && { ...read, what: 'the seed body' };
      })();
  return [
    atLeast(
      `seat map of ${small ? fmt(small.seats) : '4,000'} seats read alone, Brotli: requests/s`,
      small?.readsPerS,
      TARGETS.seatMapReadsPerS,
    ),
    atLeast(
      `seat map of ${notModified ? fmt(notModified.seats) : '4,000'} seats read alone, 304 to its ETag: requests/s`,
      notModified?.readsPerS,
      TARGETS.seatMap304PerS,
    ),
    atMost(
      `seat map of ${large ? fmt(large.seats) : '50,000'} seats on the wire, Brotli (${large?.what ?? 'compact form'}): KB`,
      large && +(large.bytesPerAnswer / 1000).toFixed(1),
      TARGETS.largeSeatMapKB,
    ),
  ];
}

/** Fills the report's ratios, verdicts and scale-out arithmetic, and notes what the numbers depend on. */
export function summarize(report: BenchReport, options: BenchOptions): void {
  report.ratios = ratiosOf(report);
  report.targets = verdictsOf(report);
  const flash = inScenario(report.runs, 'flash');
  const firstSystem = flash.find((run) => run.name !== OBVIOUS_DESIGN);
  const obvious = flash.find((run) => run.name === OBVIOUS_DESIGN);
  const scaleRuns = [firstSystem, obvious].filter((run): run is RunReport => run !== undefined);
  if (scaleRuns.length > 0) report.scaleOut = scaleOutOf(scaleRuns, Number(report.machine.cores) || 1);
  report.notes.push(
    `Every process shares the machine's ${report.machine.cores} cores (load average ${report.machine.loadAverageAtStart} at start); compare ratios within one run.`,
    `The system's functions run with ${Object.entries(options.systemEnv)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ')}; the obvious design with a pool of ${options.baselinePool}.`,
  );
}
