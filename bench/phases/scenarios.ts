/**
 * What each scenario runs against a design, as sales: an event of its own, the demand on it, the
 * rate it is offered at (bench/README.md describes them). The open loop's rates are multiples of
 * the obvious design's maximum, measured in the same bench run (its flash sale, or a probe).
 */
import { ensureUsers } from '../database.ts';
import { planDemand, type Wanted } from '../demand.ts';
import { type LoadMode, OPEN_LOOP_FACTORS, type Scenario } from '../options.ts';
import type { Context } from './stack.ts';

export interface SalePlan {
  scenario: Scenario;
  seats: number;
  demand: Wanted[];
  /** Offered requests/s (open loop); 0: as fast as taken. */
  rate: number;
  offered?: { factor: number; rate: number };
  /** Read the seat maps at full speed from a second load generator meanwhile. */
  storm?: boolean;
  /** The system's load modes it runs in. */
  modes: LoadMode[];
}

/** The open loop's requests at `rate`: enough for `seconds`, three per seat as in the flash sale. */
export function openLoopPlan(
  options: Context['options'],
  factor: number,
  base: number,
  mode: LoadMode,
): SalePlan {
  const rate = Math.max(1, Math.round(base * factor));
  const requests = Math.max(options.seatsPerRow, Math.round(rate * options.openLoopSeconds));
  const seats = Math.max(options.seatsPerRow, Math.ceil(requests / 3));
  return {
    scenario: 'open-loop',
    seats,
    demand: planDemand({ ...options, seats, requests }),
    rate,
    offered: { factor, rate },
    modes: [mode],
  };
}

/** The sales of `scenario`; the open loop's need `context.openLoopBase`. */
export function planSales(context: Context, scenario: Scenario): SalePlan[] {
  const { options } = context;
  const first = options.modes.slice(0, 1);
  const flash = (modes: LoadMode[], storm = false): SalePlan => ({
    scenario: storm ? 'read-storm' : 'flash',
    seats: options.seats,
    demand: context.demand,
    rate: options.rate,
    modes,
    storm,
  });
  switch (scenario) {
    case 'flash':
      return [flash(options.modes)];
    case 'hot-seat':
      return [
        {
          scenario,
          seats: options.hotSeats,
          demand: planDemand({ ...options, seats: options.hotSeats, requests: options.hotRequests }),
          rate: options.rate,
          modes: first,
        },
      ];
    case 'open-loop': {
      const base = context.openLoopBase?.requestsPerS;
      if (base === undefined) throw new Error('open loop: the obvious design has not been measured yet');
      return OPEN_LOOP_FACTORS.map((factor) => openLoopPlan(options, factor, base, first[0] as LoadMode));
    }
    case 'read-storm':
      // Compared with the flash sale without the storm: run that too when it was not asked for.
      return options.scenarios.includes('flash') ? [flash(first, true)] : [flash(first), flash(first, true)];
  }
}

/** Makes sure every request of `plans` (and the warm-up's users after them) has its own user. */
export async function ensureUsersFor(context: Context, plans: readonly SalePlan[]): Promise<void> {
  const needed = Math.max(...plans.map((plan) => plan.demand.length), context.options.requests);
  if (context.userIds.length < needed + context.options.warmup)
    context.userIds = await ensureUsers(context.services.db.$client, needed + context.options.warmup);
}
