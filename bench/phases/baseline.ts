/** The measured phase of the obvious design: every scenario's sales, each on its own copy of the event. */

import { baselineConfirmations, createEvent } from '../database.ts';
import { planDemand } from '../demand.ts';
import type { Scenario } from '../options.ts';
import { stopProcess } from '../processes.ts';
import { say } from '../progress.ts';
import {
  baselineConfirmationMs,
  confirmedRate,
  loadReport,
  OBVIOUS_DESIGN,
  type ReadRun,
  type RunReport,
} from '../report.ts';
import { startBaseline } from './designs.ts';
import { checkBaselineRun } from './invariants.ts';
import { loadJob, measureLoad, quiesce, samplerFor } from './measure.ts';
import { benchReadsAlone, createReadEvents } from './reads.ts';
import { ensureUsersFor, planSales, type SalePlan } from './scenarios.ts';
import type { Context } from './stack.ts';
import { warmUp } from './warm-up.ts';

/** A probe of the obvious design's maximum, when the flash sale is not run: this many requests at most. */
const PROBE_REQUESTS = 15_000;

export async function benchBaseline(
  context: Context,
  scenarios: readonly Scenario[],
): Promise<{ runs: RunReport[]; reads: ReadRun[] }> {
  const baseline = await startBaseline(context);
  const runs: RunReport[] = [];
  const reads: ReadRun[] = [];
  try {
    await warmUp(context, OBVIOUS_DESIGN, baseline.url);
    const processes = { [OBVIOUS_DESIGN]: baseline.pid };
    for (const scenario of scenarios) {
      if (scenario === 'open-loop' && !context.openLoopBase)
        await probeMaximum(context, baseline.url, processes);
      const plans = planSales(context, scenario);
      await ensureUsersFor(context, plans);
      if (plans.some((plan) => plan.storm)) {
        const maps = await createReadEvents(context, false);
        // No ETags here, so no 304s.
        reads.push(
          await benchReadsAlone(
            context,
            OBVIOUS_DESIGN,
            baseline.url,
            maps.map((map) => ({ map, mode: 'br' as const })),
            processes,
          ),
        );
      }
      // Not through the storm (nor the flash sale it is compared with): the maps' reads hold its
      // pool (a 50,000-seat map took seconds a read here), so its sale would take many minutes;
      // its maps read alone show that.
      for (const plan of plans.filter((candidate) => candidate.scenario === scenario && !candidate.storm)) {
        const run = await benchSale(context, baseline.url, processes, plan);
        runs.push(run);
        // The open loop's unit: the obvious design's requests/s in the first flash sale of the run.
        if (plan.scenario === 'flash' && !context.openLoopBase)
          context.openLoopBase = { requestsPerS: run.requestsPerS, measuredIn: 'its flash sale in round 1' };
      }
    }
    return { runs, reads };
  } finally {
    await stopProcess(baseline.child);
  }
}

/** The obvious design's requests/s as fast as taken, on a smaller flash sale of its own. */
async function probeMaximum(context: Context, url: string, processes: Record<string, number>): Promise<void> {
  const { options } = context;
  const requests = Math.min(options.requests, PROBE_REQUESTS);
  const seats = Math.max(options.seatsPerRow, Math.ceil(requests / 3));
  const plan: SalePlan = {
    scenario: 'open-loop',
    seats,
    demand: planDemand({ ...options, seats, requests }),
    rate: 0,
    modes: [],
  };
  await ensureUsersFor(context, [plan]);
  const run = await benchSale(context, url, processes, plan);
  context.openLoopBase = {
    requestsPerS: run.requestsPerS,
    measuredIn: `a probe of ${requests} requests in round 1`,
  };
  say(`open loop: the obvious design's maximum is ${run.requestsPerS} requests/s`);
}

async function benchSale(
  context: Context,
  url: string,
  processes: Record<string, number>,
  plan: SalePlan,
): Promise<RunReport> {
  const { options, services } = context;
  const pool = services.db.$client;
  const label = `${plan.scenario}: ${OBVIOUS_DESIGN}${plan.offered ? ` at ${plan.offered.rate}/s` : ''}`;
  const event = await createEvent(
    pool,
    `${plan.scenario} (${OBVIOUS_DESIGN})`,
    plan.seats,
    options.seatsPerRow,
  );
  await quiesce(services);
  const job = loadJob(context, event, url, { rate: plan.rate }, plan.demand);
  const measured = await measureLoad(context, label, job, (loadPid) =>
    samplerFor(context, { ...processes, 'load generator': loadPid }),
  );
  const report = loadReport(
    plan.scenario,
    OBVIOUS_DESIGN,
    '201 = confirmed (committed)',
    measured.result,
    measured.usage,
  );
  if (plan.offered) report.offered = plan.offered;
  report.confirmed = confirmedRate(await baselineConfirmations(pool, event.eventId), measured.result);
  report.confirmationMs = baselineConfirmationMs(measured.result);
  report.invariants = await checkBaselineRun(context, label, event.eventId, job, measured.result);
  return report;
}
