/**
 * npm run bench: the flash sale against the system (every function its own process), against
 * the obvious design (one synchronous transaction per request) on a fresh copy of the same seats,
 * and against the floors (a Hono no-op endpoint; Postgres committing one booking per transaction).
 * Checks the invariants after every run and exits non-zero, naming the first offenders, if one
 * is broken. `npm run bench -- --help` lists the flags.
 *
 * The phases are in bench/phases/; the numbers, the verdicts on bench/targets.ts and the
 * markdown in bench/report.ts, bench/verdicts.ts and bench/markdown.ts.
 */
import { runCli } from '../lib/platform/cli.ts';
import { parseOptions } from './options.ts';
import { benchBaseline } from './phases/baseline.ts';
import { benchNoop, benchPostgresFloor } from './phases/floors.ts';
import { publishResults } from './phases/publish.ts';
import { setUpStack, tearDownStack } from './phases/stack.ts';
import { benchSystem } from './phases/system.ts';
import { warmUpBroker } from './phases/warm-up.ts';
import { say } from './progress.ts';
import { type BenchReport, medianRuns, type RunReport } from './report.ts';
import { summarize } from './verdicts.ts';

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { context, machine } = await setUpStack(options);
  const report: BenchReport = {
    runId: context.runId,
    machine,
    options: { ...options },
    runs: [],
    floors: {},
    ratios: {},
    targets: [],
    notes: [],
  };
  const violations: string[] = [];
  try {
    const brokerNote = await warmUpBroker(context);
    if (brokerNote) report.notes.push(brokerNote);

    // Rounds alternate the system and the obvious design, so both meet the same disturbances.
    const rounds: RunReport[][] = [];
    for (let round = 1; round <= options.rounds; round++) {
      if (options.rounds > 1) say(`round ${round} of ${options.rounds}`);
      const runs: RunReport[] = [];
      if (options.phases.includes('system')) runs.push(...(await benchSystem(context)));
      if (options.phases.includes('baseline')) runs.push(await benchBaseline(context));
      for (const run of runs) {
        const label = options.rounds > 1 ? `${run.name} (round ${round})` : run.name;
        violations.push(...(run.invariants?.violations ?? []).map((v) => `${label}: ${v}`));
      }
      rounds.push(runs);
    }
    report.runs = medianRuns(rounds);
    if (options.phases.includes('floors')) {
      report.floors.noop = await benchNoop(context);
      report.floors.postgres = await benchPostgresFloor(context);
    }
    summarize(report, options);
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

runCli('bench', main);
