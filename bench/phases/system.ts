/** The measured phase of the system: one run per load mode, each on its own copy of the event. */
import { createEvent, requestToDecision, systemConfirmations } from '../database.ts';
import type { LoadMode } from '../options.ts';
import { confirmedRate, loadReport, type RunReport, systemConfirmationMs } from '../report.ts';
import { type RunningSystem, startSystem } from './designs.ts';
import { checkSystemRun } from './invariants.ts';
import { loadJob, measureLoad, quiesce, samplerFor } from './measure.ts';
import { observeConfirmations, waitQuiet } from './settle.ts';
import type { Context } from './stack.ts';
import { warmUp } from './warm-up.ts';

const MODE_NAMES: Record<LoadMode, string> = { async: 'system, respond-async', wait: 'system, wait for 201' };
const ANSWER_MEANS: Record<LoadMode, string> = {
  async: '202 = seats held, queued',
  wait: '201 = confirmed (202 after BOOK_WAIT_MS)',
};

export async function benchSystem(context: Context): Promise<RunReport[]> {
  const system = await startSystem(context);
  try {
    const reports: RunReport[] = [];
    for (const mode of context.options.modes) reports.push(await benchMode(context, system, mode));
    return reports;
  } finally {
    await system.stop();
  }
}

async function benchMode(context: Context, system: RunningSystem, mode: LoadMode): Promise<RunReport> {
  const { options, services } = context;
  const pool = services.db.$client;
  const name = MODE_NAMES[mode];
  const settle = (eventId: number, accepted: number, label: string) =>
    waitQuiet(context, eventId, accepted, options.settleTimeoutMs, label);
  const overrides = { statusUrl: system.url('booking-status'), respondAsync: mode === 'async' };

  await warmUp(context, name, system.url('book'), overrides, (eventId, accepted) =>
    settle(eventId, accepted, `warm-up (${name})`),
  );
  const event = await createEvent(pool, `Flash sale (${name})`, options.seats, options.seatsPerRow);
  // On sale day the event is in the seat cache already (EventCreated warms it).
  await services.seats.warm(event.eventId);
  await quiesce(services);

  const observer = await observeConfirmations(options.redisUrl);
  const job = loadJob(context, event, system.url('book'), overrides);
  const { result, usage } = await measureLoad(
    context,
    name,
    job,
    (loadPid) => samplerFor(context, { ...system.pids, 'load generator': loadPid }),
    (accepted) => settle(event.eventId, accepted, name),
  );
  const seen = await observer.stop();

  const report = loadReport(name, ANSWER_MEANS[mode], result, usage);
  report.confirmed = confirmedRate(await systemConfirmations(pool, event.eventId), result);
  report.confirmationMs = systemConfirmationMs(await requestToDecision(pool, event.eventId), result, seen);
  report.invariants = await checkSystemRun(context, name, event.eventId, job, result);
  return report;
}
