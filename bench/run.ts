/**
 * npm run bench: the scenarios (a flash sale, a hot-seat on-sale, an open loop at multiples of the
 * obvious design's maximum, a read storm through the flash sale) against the system (every
 * function its own process) and against the obvious design (one synchronous transaction per
 * request), each sale on a fresh copy of its seats; then the floors (a Hono no-op endpoint;
 * Postgres committing one booking per transaction). Checks the invariants after every sale and
 * exits non-zero, naming the first offenders, if one is broken. `--queue` runs the waiting room's
 * on-sale alone instead (bench/phases/queue.ts). `npm run bench -- --help` lists the flags.
 *
 * The phases are in bench/phases/; the numbers, the verdicts on bench/targets.ts and the
 * markdown in bench/report.ts, bench/verdicts.ts and bench/markdown.ts.
 */
import { runCli } from '../lib/platform/cli.ts';
import { parseOptions } from './options.ts';
import { benchBaseline } from './phases/baseline.ts';
import { benchNoop, benchPostgresFloor } from './phases/floors.ts';
import { benchFootprint, withPeakRss } from './phases/footprint.ts';
import { publishResults } from './phases/publish.ts';
import { benchQueue } from './phases/queue.ts';
import { benchRefusals } from './phases/refusals.ts';
import { type Context, type Machine, setUpStack, tearDownStack } from './phases/stack.ts';
import { benchSystem } from './phases/system.ts';
import { warmUpBroker } from './phases/warm-up.ts';
import { say } from './progress.ts';
import { type BenchReport, medianReadRuns, medianRuns, type ReadRun, type RunReport } from './report.ts';
import { summarize } from './verdicts.ts';

async function main(): Promise<void> {
  const startedAt = Date.now();
  const options = parseOptions(process.argv.slice(2));
  if (options.scenarios.includes('open-loop') && !options.phases.includes('baseline'))
    throw new Error(
      "--scenario open-loop offers multiples of the obvious design's rate: --only needs baseline",
    );
  const { context, machine } = await setUpStack(options);
  if (options.queue) {
    await runQueue(context, machine, startedAt);
    return;
  }
  const report = emptyReport(context, machine);
  const violations: string[] = [];
  try {
    const brokerNote = await warmUpBroker(context);
    if (brokerNote) report.notes.push(brokerNote);

    // Rounds alternate the obvious design and the system, so both meet the same disturbances; the
    // obvious design goes first, as the open loop's rates are multiples of its maximum.
    const rounds: RunReport[][] = [];
    const readRounds: ReadRun[][] = [];
    for (let round = 1; round <= options.rounds; round++) {
      if (options.rounds > 1) say(`round ${round} of ${options.rounds}`);
      const runs: RunReport[] = [];
      const reads: ReadRun[] = [];
      for (const [phase, bench] of [
        ['baseline', benchBaseline],
        ['system', benchSystem],
      ] as const) {
        if (!options.phases.includes(phase)) continue;
        const measured = await bench(context, options.scenarios);
        runs.push(...measured.runs);
        reads.push(...measured.reads);
      }
      for (const run of runs) {
        const label = `${run.scenario}: ${run.name}${run.offered ? ` at ${run.offered.factor}×` : ''}${options.rounds > 1 ? ` (round ${round})` : ''}`;
        violations.push(...(run.invariants?.violations ?? []).map((v) => `${label}: ${v}`));
      }
      rounds.push(runs);
      readRounds.push(reads);
    }
    report.runs = medianRuns(rounds);
    report.reads = medianReadRuns(readRounds);
    if (context.openLoopBase) report.openLoopBase = context.openLoopBase;
    if (options.phases.includes('floors')) {
      report.floors.noop = await benchNoop(context);
      report.floors.postgres = await benchPostgresFloor(context);
      if (options.phases.includes('system')) {
        const refusals = await benchRefusals(context, report.floors.noop);
        report.measures.refusedCpuVsNoop = +(refusals.refusedUs / refusals.noopUs).toFixed(2);
        report.notes.push(
          `A refused request (every seat taken; \`book\` alone, as shipped) cost ${refusals.refusedUs.toFixed(0)} µs of \`book\`'s CPU, ${refusals.refusedByRedisUs.toFixed(0)} µs when each refusal asks Redis (TAKEN_SEAT_MEMORY_MS=0); a no-op request ${refusals.noopUs.toFixed(0)} µs.`,
        );
      }
    }
    if (options.phases.includes('floors') && options.phases.includes('system')) {
      // Each function alone, while no measured phase runs; its peak from the runs above.
      const footprint = withPeakRss(await benchFootprint(context), report.runs);
      report.footprint = footprint;
      const worst = (figure: 'idleRssMiB' | 'peakRssMiB' | 'readyMs') => {
        const values = Object.values(footprint).flatMap((f) => (f[figure] === undefined ? [] : [f[figure]]));
        return values.length > 0 ? Math.max(...values) : undefined;
      };
      for (const figure of ['idleRssMiB', 'peakRssMiB', 'readyMs'] as const) {
        const value = worst(figure);
        if (value !== undefined) report.measures[figure] = value;
      }
    }
    summarize(report, options);
    report.notes.push(
      `The run took ${((Date.now() - startedAt) / 60_000).toFixed(1)} minutes (${options.rounds} round${options.rounds === 1 ? '' : 's'} of ${options.scenarios.join(', ')}${options.phases.includes('floors') ? ', the floors' : ''}).`,
    );
  } finally {
    await tearDownStack(context);
  }

  publishResults(report, options);
  if (violations.length > 0) {
    console.error('\nINVARIANTS BROKEN:');
    for (const violation of violations) console.error(`  ${violation}`);
    process.exit(1);
  }
}

/** `--queue`: the waiting room alone, its own section in the results (bench/README.md's table is left as it is). */
/** A report with nothing measured yet. */
function emptyReport(context: Context, machine: Machine): BenchReport {
  return {
    runId: context.runId,
    machine,
    options: { ...context.options },
    runs: [],
    reads: [],
    floors: {},
    ratios: {},
    targets: [],
    notes: [],
    measures: {},
  };
}

async function runQueue(context: Context, machine: Machine, startedAt: number): Promise<void> {
  const { options } = context;
  const report = emptyReport(context, machine);
  try {
    const brokerNote = await warmUpBroker(context);
    if (brokerNote) report.notes.push(brokerNote);
    report.queue = await benchQueue(context);
    report.notes.push(
      `Every process shares the machine's ${machine.cores} cores (load average ${machine.loadAverageAtStart} at start).`,
      `The functions run with ${Object.entries(options.systemEnv)
        .map(([key, value]) => `${key}=${value}`)
        .join(' ')}.`,
      `The run took ${((Date.now() - startedAt) / 60_000).toFixed(1)} minutes (with a smaller warm-up on-sale before the measured one${options.warmup === 0 ? ': none, --warmup 0' : ''}).`,
    );
  } finally {
    await tearDownStack(context);
  }
  publishResults(report, options);
  const violations = report.queue.invariants?.violations ?? [];
  if (violations.length > 0) {
    console.error('\nINVARIANTS BROKEN:');
    for (const violation of violations) console.error(`  waiting room: ${violation}`);
    process.exit(1);
  }
}

runCli('bench', main);
