/** The measured phase of the system: every scenario's sales, in each of their load modes, each on its own event. */
import { createEvent, requestToDecision, systemConfirmations } from '../database.ts';
import type { LoadMode, Scenario } from '../options.ts';
import {
  confirmedRate,
  loadReport,
  type ReadRun,
  type RunReport,
  readReports,
  systemConfirmationMs,
} from '../report.ts';
import { type RunningSystem, startSystem } from './designs.ts';
import { checkSystemRun } from './invariants.ts';
import { loadJob, measureLoad, quiesce, samplerFor } from './measure.ts';
import {
  benchReadsAlone,
  createReadEvents,
  readTarget,
  type SeatMap,
  saleMap,
  startReadGenerator,
} from './reads.ts';
import { ensureUsersFor, planSales, type SalePlan } from './scenarios.ts';
import { observeConfirmations, waitQuiet } from './settle.ts';
import type { Context } from './stack.ts';
import { warmUp } from './warm-up.ts';

const MODE_NAMES: Record<LoadMode, string> = { async: 'system, respond-async', wait: 'system, wait for 201' };
const ANSWER_MEANS: Record<LoadMode, string> = {
  async: '202 = seats held, queued',
  wait: '201 = confirmed (202 after BOOK_WAIT_MS)',
};

export async function benchSystem(
  context: Context,
  scenarios: readonly Scenario[],
): Promise<{ runs: RunReport[]; reads: ReadRun[] }> {
  const system = await startSystem(context);
  const warmed = new Set<LoadMode>();
  const runs: RunReport[] = [];
  const reads: ReadRun[] = [];
  try {
    for (const scenario of scenarios) {
      const plans = planSales(context, scenario);
      await ensureUsersFor(context, plans);
      let maps: SeatMap[] = [];
      if (plans.some((plan) => plan.storm)) {
        maps = await createReadEvents(context, true);
        const [small, ...others] = maps as [SeatMap, ...SeatMap[]];
        reads.push(
          await benchReadsAlone(
            context,
            'system',
            system.url('event-seats'),
            [
              { map: small, mode: 'br' },
              { map: small, mode: '304' },
              ...others.map((map) => ({ map, mode: 'br' as const })),
              // The compact form of the largest map: its states, and its layout (read once per client).
              ...others
                .slice(-1)
                .flatMap((map) =>
                  (['seat-map', 'seat-layout'] as const).map((form) => ({ map, mode: 'br' as const, form })),
                ),
            ],
            system.pids,
          ),
        );
      }
      for (const plan of plans) {
        for (const mode of plan.modes) {
          if (!warmed.has(mode)) await warmUpMode(context, system, mode);
          warmed.add(mode);
          runs.push(await benchSale(context, system, mode, plan, maps));
        }
      }
    }
    return { runs, reads };
  } finally {
    await system.stop();
  }
}

/** The flash sale, smaller, in `mode`: JIT, pools and consumer groups warm before the first measured sale. */
async function warmUpMode(context: Context, system: RunningSystem, mode: LoadMode): Promise<void> {
  const name = MODE_NAMES[mode];
  await warmUp(
    context,
    name,
    system.url('book'),
    { statusUrl: system.url('booking-status'), respondAsync: mode === 'async' },
    (eventId, accepted) =>
      waitQuiet(context, eventId, accepted, context.options.settleTimeoutMs, `warm-up (${name})`),
  );
}

/** One sale of `plan` in `mode`; with a storm, `maps` and the sale's own map are read meanwhile. */
async function benchSale(
  context: Context,
  system: RunningSystem,
  mode: LoadMode,
  plan: SalePlan,
  maps: SeatMap[],
): Promise<RunReport> {
  const { options, services } = context;
  const pool = services.db.$client;
  const name = MODE_NAMES[mode];
  const label = `${plan.scenario}: ${name}${plan.offered ? ` at ${plan.offered.rate}/s` : ''}`;
  const event = await createEvent(pool, `${plan.scenario} (${name})`, plan.seats, options.seatsPerRow);
  // On sale day the event is in the seat cache already (EventCreated warms it).
  await services.seats.warm(event.eventId);
  await quiesce(services);

  const reads = plan.storm
    ? await startReadGenerator(context, {
        targets: [...maps, ...(options.readSaleMap ? [saleMap(event.eventId, plan.seats)] : [])].map(
          (map, _, all) =>
            readTarget(
              system.url('event-seats'),
              map,
              'br',
              Math.max(1, Math.floor(options.readConnections / all.length)),
            ),
        ),
        seconds: 0,
      })
    : undefined;
  const observer = await observeConfirmations(options.redisUrl);
  const job = loadJob(
    context,
    event,
    system.url('book'),
    { statusUrl: system.url('booking-status'), respondAsync: mode === 'async', rate: plan.rate },
    plan.demand,
  );
  const measured = await measureLoad(
    context,
    label,
    job,
    (loadPid) =>
      samplerFor(context, {
        ...system.pids,
        'load generator': loadPid,
        ...(reads ? { 'read generator': reads.pid } : {}),
      }),
    (accepted) => waitQuiet(context, event.eventId, accepted, options.settleTimeoutMs, label),
    reads,
  );
  const seen = await observer.stop();

  const report = loadReport(plan.scenario, name, ANSWER_MEANS[mode], measured.result, measured.usage);
  if (plan.offered) report.offered = plan.offered;
  if (measured.reads) report.reads = readReports(measured.reads);
  report.confirmed = confirmedRate(await systemConfirmations(pool, event.eventId), measured.result);
  report.confirmationMs = systemConfirmationMs(
    await requestToDecision(pool, event.eventId),
    measured.result,
    seen,
  );
  report.invariants = await checkSystemRun(context, label, event.eventId, job, measured.result);
  return report;
}
