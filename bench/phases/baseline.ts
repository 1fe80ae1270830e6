/** The measured phase of the obvious design: the same flash sale on its own copy of the event. */

import { baselineConfirmations, createEvent } from '../database.ts';
import { stopProcess } from '../processes.ts';
import {
  baselineConfirmationMs,
  confirmedRate,
  loadReport,
  OBVIOUS_DESIGN,
  type RunReport,
} from '../report.ts';
import { startBaseline } from './designs.ts';
import { checkBaselineRun } from './invariants.ts';
import { loadJob, measureLoad, quiesce, samplerFor } from './measure.ts';
import type { Context } from './stack.ts';
import { warmUp } from './warm-up.ts';

export async function benchBaseline(context: Context): Promise<RunReport> {
  const { options, services } = context;
  const pool = services.db.$client;
  const baseline = await startBaseline(context);
  try {
    await warmUp(context, OBVIOUS_DESIGN, baseline.url);
    const event = await createEvent(
      pool,
      `Flash sale (${OBVIOUS_DESIGN})`,
      options.seats,
      options.seatsPerRow,
    );
    await quiesce(services);
    const job = loadJob(context, event, baseline.url);
    const { result, usage } = await measureLoad(context, OBVIOUS_DESIGN, job, (loadPid) =>
      samplerFor(context, { [OBVIOUS_DESIGN]: baseline.pid, 'load generator': loadPid }),
    );
    const report = loadReport(OBVIOUS_DESIGN, '201 = confirmed (committed)', result, usage);
    report.confirmed = confirmedRate(await baselineConfirmations(pool, event.eventId), result);
    report.confirmationMs = baselineConfirmationMs(result);
    report.invariants = await checkBaselineRun(context, OBVIOUS_DESIGN, event.eventId, job, result);
    return report;
  } finally {
    await stopProcess(baseline.child);
  }
}
