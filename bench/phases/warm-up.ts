/** The warm-ups: the Kafka broker once before the first round, each design before each measured run. */

import { warmBroker } from '../broker.ts';
import { createEvent } from '../database.ts';
import { planDemand } from '../demand.ts';
import type { LoadJob } from '../load.ts';
import { say } from '../progress.ts';
import { loadJob, runLoad } from './measure.ts';
import type { Context } from './stack.ts';

/** Warms the broker (bench/broker.ts) when the system is measured; returns the report's note on it. */
export async function warmUpBroker(context: Context): Promise<string | undefined> {
  const { options, services, prefix } = context;
  if (!options.phases.includes('system') || options.brokerWarmup === 0) return undefined;
  say(`kafka broker warm-up: ${options.brokerWarmup} produce requests`);
  const seconds = (await warmBroker(services.kafka.kafka, prefix, options.brokerWarmup)) / 1000;
  say(`kafka broker warm-up: done in ${seconds.toFixed(1)} s`);
  return `The Kafka broker was warmed before the first round: ${options.brokerWarmup} produce requests and their consumption in ${seconds.toFixed(1)} s.`;
}

/**
 * The same flash sale, smaller, on an event of its own and from users of its own, through the
 * same load generator: JIT, heap, pools and consumer groups are warm before the measured run.
 * `settle` runs once every request is answered.
 */
export async function warmUp(
  context: Context,
  label: string,
  bookUrl: string,
  overrides: Partial<LoadJob> = {},
  settle?: (eventId: number, accepted: number) => Promise<unknown>,
): Promise<void> {
  const { options } = context;
  if (options.warmup === 0) return;
  const seats = Math.min(options.seats, Math.max(options.seatsPerRow, Math.round(options.warmup / 3)));
  const event = await createEvent(
    context.services.db.$client,
    `Warm-up (${label})`,
    seats,
    options.seatsPerRow,
  );
  const demand = planDemand({ ...options, seats, requests: options.warmup, seed: options.seed + 1 });
  // Its users follow the measured run's, so no measured user has booked before.
  const job = loadJob(context, event, bookUrl, { rate: 0, ...overrides }, demand, options.requests);
  await runLoad(context, `warm-up (${label})`, job, {
    started: async () => {},
    afterBurst: async (accepted) => {
      await settle?.(event.eventId, accepted);
    },
  });
}
