/** The flags of `npm run chaos`, and the two profiles: full (the default) and --quick. */
import { parseArgs } from 'node:util';

export interface ChaosOptions {
  quick: boolean;
  /** Scenario names to run (all when empty). */
  scenarios: string[];
  list: boolean;
  /** Runs of each repeated (kill or stop) fault. */
  repeats: number;
  /** Booking requests per second offered. */
  rate: number;
  /** The load's length when the fault is short; a long fault makes it longer. */
  loadMs: number;
  /** When the fault starts, from the load's start. */
  faultAtMs: number;
  /** How long a killed function or a stopped Redis, broker or Postgres stays down. */
  downMs: number;
  /** How long a booking-processor stays SIGSTOPped (its session timeout is 10 s). */
  pauseMs: number;
  /** How long the broker stays SIGSTOPped (the producer's request timeout is 30 s, 4 attempts). */
  stallMs: number;
  /** Cancels sent at once while a processor is stopped. */
  cancelBurst: number;
  /** Share of buyers who cancel a booking they got. */
  cancelShare: number;
  /** Free seats a probe tries to book in check 6 (all of them when fewer). */
  probeSample: number;
  /** How long the Redis view may take to equal Postgres (check 5). */
  settleMs: number;
  /** How long the consumer groups may take to reach lag 0 (check 7). */
  lagTimeoutMs: number;
  /** How long a 202 may stay undecided after recovery (check 4). */
  decideMs: number;
  seed: number;
  outDir: string;
}

const HELP = `npm run chaos [-- flags]: the flash sale under one fault at a time, on a private stack

  --quick              small loads, each fault once, short stalls (a few minutes per fault)
  --scenario NAME      run only this scenario (repeatable, or comma-separated)
  --list               list the scenarios and exit
  --repeats N          runs of each kill/stop fault (full: 3, quick: 1)
  --rate N             booking requests per second (full: 12, quick: 8)
  --load-s N           seconds of load around a short fault (full: 40, quick: 20)
  --stall-s N          seconds the broker stays stopped (full: 130, quick: 35)
  --pause-s N          seconds a processor stays stopped (full: 22, quick: 15)
  --seed N             demand seed (default 1)
  --out DIR            results folder (default chaos/results)
`;

export function parseOptions(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string', multiple: true },
      list: { type: 'boolean', default: false },
      repeats: { type: 'string' },
      rate: { type: 'string' },
      'load-s': { type: 'string' },
      'stall-s': { type: 'string' },
      'pause-s': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const number = (value: string | undefined, fallback: number, name: string) => {
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number`);
    return parsed;
  };
  const quick = values.quick ?? false;
  return {
    quick,
    scenarios: (values.scenario ?? []).flatMap((value) => value.split(',')).filter(Boolean),
    list: values.list ?? false,
    repeats: number(values.repeats, quick ? 1 : 3, 'repeats'),
    rate: number(values.rate, quick ? 8 : 12, 'rate'),
    loadMs: number(values['load-s'], quick ? 20 : 40, 'load-s') * 1000,
    faultAtMs: quick ? 6_000 : 10_000,
    downMs: quick ? 3_000 : 5_000,
    pauseMs: number(values['pause-s'], quick ? 15 : 22, 'pause-s') * 1000,
    stallMs: number(values['stall-s'], quick ? 35 : 130, 'stall-s') * 1000,
    cancelBurst: quick ? 15 : 30,
    cancelShare: 0.15,
    probeSample: quick ? 20 : 40,
    settleMs: 45_000,
    lagTimeoutMs: 60_000,
    decideMs: 30_000,
    seed: number(values.seed, 1, 'seed'),
    outDir: values.out ?? new URL('results', import.meta.url).pathname,
  };
}
