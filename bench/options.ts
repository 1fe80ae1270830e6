/** The benchmark's flags: the scenarios to run and every number of them, with the defaults of issues 6 and 18. */
import { parseArgs } from 'node:util';

export type LoadMode = 'async' | 'wait';
export type Phase = 'system' | 'baseline' | 'floors';

/** The scenarios of bench/README.md, in the order a round runs them. */
export const SCENARIOS = ['flash', 'hot-seat', 'open-loop', 'read-storm'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** The open loop's offered rates, as multiples of the obvious design's maximum requests/s. */
export const OPEN_LOOP_FACTORS = [0.5, 1, 2] as const;

/**
 * The waiting-room scenario (`--queue`, issue 19): an on-sale behind the event's queue, its
 * settings, and how the buyers behave (bench/README.md, "Waiting room").
 */
export interface QueueOptions {
  /** Buyers who join the line, each its own user. */
  buyers: number;
  /** Seats of the event, `seatsPerRow` to a row. */
  seats: number;
  /** The event's queue settings (POST /events). */
  admitPerMinute: number;
  maxActive: number;
  sessionMinutes: number;
  prequeueMinutes: number;
  /** On-sale this many seconds after the event is created; the pre-queue joins before it. */
  onSaleS: number;
  /** Share of the buyers (%) who join during the pre-queue; the rest join once on sale. */
  prequeuePercent: number;
  /** Buyers who watch their place on the stream from the moment they join (spread over the join order, the last included). */
  listeners: number;
  /** A polling buyer opens its stream once its position is at most this. */
  streamWithin: number;
  /** The longest a polling buyer waits between two polls, s (shorter the nearer the front it is). */
  pollMaxS: number;
  /** An admitted buyer picks seats for this long (uniform in [min, max], s) before booking. */
  thinkS: [number, number];
  /** Seats per buyer: 1 to this, adjacent in one row. */
  maxSeatsPerBuyer: number;
  /** Connections the joins go over (closed loop), and the polls, and the bookings. */
  joinConnections: number;
  pollConnections: number;
  bookConnections: number;
  /** Processes of the `queue` function; buyer i talks to instance i mod n. */
  instances: number;
  /** How long after the last join the buyers may take to learn their outcome, s. */
  timeoutS: number;
}

export interface BenchOptions {
  quick: boolean;
  /** `--queue`: only the waiting-room scenario runs. */
  queue: QueueOptions | undefined;
  scenarios: Scenario[];
  /** Seats of the event (S). */
  seats: number;
  seatsPerRow: number;
  /** Booking requests (N), each from its own user. */
  requests: number;
  /** Concurrent HTTP connections of the load generator (C). */
  connections: number;
  /** Offered requests/s (open loop) for the measured runs; 0: as fast as the target takes them. */
  rate: number;
  minSeats: number;
  maxSeats: number;
  /** How strongly demand favours the front rows: row = floor(rows × u^skew), u uniform in [0, 1). */
  skew: number;
  seed: number;
  /**
   * `async`: `Prefer: respond-async` (answer = the accept path); `wait`: the client waits for 201.
   * The flash sale runs every mode; the other scenarios the first.
   */
  modes: LoadMode[];
  /** Hot-seat on-sale: its seats and requests (demand 20× the supply by default). */
  hotSeats: number;
  hotRequests: number;
  /** Open loop: how long each offered rate is offered, s. */
  openLoopSeconds: number;
  /** Read storm: the events whose seat maps are read (seats each), besides the sale's own. */
  readEventSeats: number[];
  /** Read storm: read the sale's own map too (it changes with every booking), besides those events'. */
  readSaleMap: boolean;
  /** Read storm: the read generator's connections, shared evenly among the maps it reads. */
  readConnections: number;
  /** Read storm: how long each map is read alone, before the storm, s. */
  readSeconds: number;
  phases: Phase[];
  /** Rounds of system + obvious design; the report shows each design's median round. */
  rounds: number;
  /** pg pool of the obvious design's endpoint. */
  baselinePool: number;
  /** Concurrent clients of the one-booking-per-commit floor (pgbench -c). */
  floorClients: number;
  /** Bookings the Postgres floor commits (one per transaction). */
  floorBookings: number;
  /** Requests of the warm-up run before each measured one (0: none). */
  warmup: number;
  /** Produce requests that warm the Kafka broker once, before the first round (0: none). */
  brokerWarmup: number;
  /** Requests sent to the no-op endpoint. */
  noopRequests: number;
  databaseUrl: string;
  redisUrl: string;
  kafkaBrokers: string;
  /** Topic and group prefix; each run adds its own id under it, and deletes its topics at the end. */
  kafkaPrefix: string;
  /** Settings handed to every function process (KEY=VALUE), after the bench defaults. */
  systemEnv: Record<string, string>;
  /** How long to wait for the system to decide everything and go quiet after the burst. */
  settleTimeoutMs: number;
  sampleMs: number;
  /** Write a V8 CPU profile of every function process into this directory. */
  cpuProf: string | undefined;
  outDir: string;
  /** Update bench/README.md's latest-results table (default: for full-size runs only). */
  readme: boolean;
}

/** What the functions run with unless --env says otherwise (documented in bench/README.md). */
export const SYSTEM_ENV_DEFAULTS: Record<string, string> = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  // Every request comes from the one load generator's address, standing for 60,000 buyers; the
  // per-user limit stays on.
  RATE_LIMIT_PER_ADDRESS: '0',
  RATE_LIMIT_READS_PER_ADDRESS: '0',
};

/**
 * What the functions also run with under --queue: the buyers' streams all come from the one
 * load generator's address, standing for 50,000 buyers (the per-process cap stays).
 */
export const QUEUE_ENV_DEFAULTS: Record<string, string> = { SSE_MAX_PER_ADDRESS: '0' };

const USAGE = `npm run bench -- [flags]
  --quick                 a small run for checking a change (a few minutes)
  --scenario LIST         flash,hot-seat,open-loop,read-storm   (all; open-loop only with baseline)
  --seats S               seats of the event                    (20000; quick 5000)
  --seats-per-row R       seats per row                         (50)
  --requests N            booking requests, one user each       (60000; quick 15000)
  --connections C         load generator connections            (256)
  --rate R                offer R requests/s (open loop) instead of as fast as taken (0)
  --min-seats/--max-seats seats per request                     (1..4)
  --skew K                front-row skew, row = rows*u^K        (2)
  --seed X                demand seed                           (1)
  --mode async|wait|both  Prefer: respond-async, waiting for 201, or both (both; the
                          flash sale runs each, the other scenarios the first)
  --hot-seats S           hot-seat on-sale: seats                (500)
  --hot-requests N        hot-seat on-sale: requests             (10000)
  --open-loop-seconds T   open loop: seconds at each offered rate (6; quick 3)
  --read-events LIST      read storm: seats of the events read    (4000,50000)
  --no-sale-map           read storm: not the sale's own map too
  --read-connections C    read storm: reading connections         (32)
  --read-seconds T        read storm: seconds each map is read alone (5; quick 3)
  --only system,baseline,floors                                 (all)
  --rounds K              alternate obvious design and system K times; report the median (3; quick 1)
  --baseline-pool P       pg pool of the obvious design         (10, its best here)
  --floor-clients K       clients of the Postgres floor         (20, its best here)
  --floor-bookings B      bookings the Postgres floor commits   (min(S, 20000))
  --noop-requests M       requests to the no-op endpoint        (N)
  --warmup W              requests of the warm-up before each measured run (6000)
  --broker-warmup P       produce requests warming the Kafka broker, once (20000)
  --database-url URL      (postgres://postgres@127.0.0.1:5432/seatrush_bench)
  --redis-url URL         (redis://127.0.0.1:6379/14)
  --kafka-brokers LIST    (127.0.0.1:9092)
  --kafka-prefix P        (bench.)
  --env KEY=VALUE         a setting for every function process (repeatable)
  --settle-timeout-ms T   wait for the system to decide everything (120000)
  --sample-ms T           /proc sampling interval                (250)
  --cpu-prof DIR          V8 CPU profile of every function process into DIR
  --out DIR               results directory                     (bench/results)
  --readme / --no-readme  update bench/README.md's table (default: only for full-size runs)

  --queue                 only the waiting room (issue 19): buyers join an on-sale's line, learn
                          their outcome on the stream or by polling, and book once admitted
  --queue-buyers N        buyers joining the line, one user each  (50000; quick 2000)
  --queue-seats S         seats of the event                      (2000; quick 200)
  --queue-admit-per-minute A   the queue's admit_per_minute        (6000; quick 1200)
  --queue-max-active M    the queue's max_active                  (600; quick 60)
  --queue-session-minutes T    the queue's session_minutes         (2)
  --queue-prequeue-minutes T   the queue's prequeue_minutes        (5)
  --queue-on-sale-s T     on-sale T s after the event is created  (40; quick 8)
  --queue-prequeue-percent P   buyers joining before on-sale, %    (50)
  --queue-listeners L     buyers on the stream from their join    (2000; quick 500)
  --queue-stream-within K a polling buyer streams from position K (max_active + 10 s of admissions)
  --queue-poll-max-s T    longest pause between a buyer's polls   (60)
  --queue-think-s MIN-MAX an admitted buyer's pause before booking (2-12; quick 1-4)
  --queue-max-seats K     seats per buyer, 1..K                   (2)
  --queue-join-connections C / --queue-poll-connections C / --queue-book-connections C (64 / 32 / 64)
  --queue-instances N     processes of the queue function         (1)
  --queue-timeout-s T     after the last join, how long outcomes may take (300)`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean' },
      scenario: { type: 'string' },
      'hot-seats': { type: 'string' },
      'hot-requests': { type: 'string' },
      'open-loop-seconds': { type: 'string' },
      'read-events': { type: 'string' },
      'no-sale-map': { type: 'boolean' },
      'read-connections': { type: 'string' },
      'read-seconds': { type: 'string' },
      seats: { type: 'string' },
      'seats-per-row': { type: 'string' },
      requests: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      'min-seats': { type: 'string' },
      'max-seats': { type: 'string' },
      skew: { type: 'string' },
      seed: { type: 'string' },
      mode: { type: 'string' },
      only: { type: 'string' },
      rounds: { type: 'string' },
      'baseline-pool': { type: 'string' },
      'floor-clients': { type: 'string' },
      'floor-bookings': { type: 'string' },
      'noop-requests': { type: 'string' },
      warmup: { type: 'string' },
      'broker-warmup': { type: 'string' },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      'kafka-brokers': { type: 'string' },
      'kafka-prefix': { type: 'string' },
      env: { type: 'string', multiple: true },
      'settle-timeout-ms': { type: 'string' },
      'sample-ms': { type: 'string' },
      'cpu-prof': { type: 'string' },
      out: { type: 'string' },
      readme: { type: 'boolean' },
      'no-readme': { type: 'boolean' },
      queue: { type: 'boolean' },
      'queue-buyers': { type: 'string' },
      'queue-seats': { type: 'string' },
      'queue-admit-per-minute': { type: 'string' },
      'queue-max-active': { type: 'string' },
      'queue-session-minutes': { type: 'string' },
      'queue-prequeue-minutes': { type: 'string' },
      'queue-on-sale-s': { type: 'string' },
      'queue-prequeue-percent': { type: 'string' },
      'queue-listeners': { type: 'string' },
      'queue-stream-within': { type: 'string' },
      'queue-poll-max-s': { type: 'string' },
      'queue-think-s': { type: 'string' },
      'queue-max-seats': { type: 'string' },
      'queue-join-connections': { type: 'string' },
      'queue-poll-connections': { type: 'string' },
      'queue-book-connections': { type: 'string' },
      'queue-instances': { type: 'string' },
      'queue-timeout-s': { type: 'string' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const int = (name: string, raw: string | undefined, fallback: number, min = 1) => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
    return value;
  };
  const seats = int('seats', values.seats, quick ? 5_000 : 20_000);
  const requests = int('requests', values.requests, quick ? 15_000 : 60_000);
  const baselinePool = int('baseline-pool', values['baseline-pool'], 10);
  const minSeats = int('min-seats', values['min-seats'], 1);
  const maxSeats = int('max-seats', values['max-seats'], 4);
  if (maxSeats < minSeats) throw new Error('--max-seats must be ≥ --min-seats');
  const seatsPerRow = int('seats-per-row', values['seats-per-row'], 50);
  if (maxSeats > seatsPerRow) throw new Error('--max-seats must fit in a row');
  const skew = values.skew === undefined ? 2 : Number(values.skew);
  if (!(skew > 0)) throw new Error('--skew must be a positive number');
  const mode = values.mode ?? 'both';
  if (!['async', 'wait', 'both'].includes(mode)) throw new Error('--mode must be async, wait or both');
  const phases = (values.only ?? 'system,baseline,floors').split(',').map((phase) => phase.trim());
  for (const phase of phases) {
    if (!['system', 'baseline', 'floors'].includes(phase))
      throw new Error(`--only: unknown phase ${phase} (system, baseline, floors)`);
  }
  // The open loop's rates are multiples of the obvious design's: not by default without it.
  const byDefault = SCENARIOS.filter((scenario) => scenario !== 'open-loop' || phases.includes('baseline'));
  const scenarios = (values.scenario ?? byDefault.join(',')).split(',').map((name) => name.trim());
  for (const scenario of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(scenario))
      throw new Error(`--scenario: unknown scenario ${scenario} (${SCENARIOS.join(', ')})`);
  }
  const readEventSeats = (values['read-events'] ?? '4000,50000').split(',').map((raw) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error('--read-events must list seat counts ≥ 1');
    return value;
  });
  const systemEnv: Record<string, string> = {
    ...SYSTEM_ENV_DEFAULTS,
    ...(values.queue ? QUEUE_ENV_DEFAULTS : {}),
  };
  for (const pair of values.env ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--env ${pair}: expected KEY=VALUE`);
    systemEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  let queue: QueueOptions | undefined;
  if (values.queue) {
    if (values.readme)
      throw new Error("--queue reports its own section: bench/README.md's table stays the full run's");
    const admitPerMinute = int(
      'queue-admit-per-minute',
      values['queue-admit-per-minute'],
      quick ? 1_200 : 6_000,
    );
    const maxActive = int('queue-max-active', values['queue-max-active'], quick ? 60 : 600);
    const think = (values['queue-think-s'] ?? (quick ? '1-4' : '2-12')).split('-').map(Number);
    const [thinkMin, thinkMax] = think;
    if (
      think.length !== 2 ||
      thinkMin === undefined ||
      thinkMax === undefined ||
      !(thinkMin >= 0) ||
      !(thinkMax >= thinkMin)
    )
      throw new Error('--queue-think-s must be MIN-MAX seconds, MIN ≤ MAX');
    const maxSeatsPerBuyer = int('queue-max-seats', values['queue-max-seats'], 2);
    if (maxSeatsPerBuyer > seatsPerRow) throw new Error('--queue-max-seats must fit in a row');
    const prequeuePercent = int('queue-prequeue-percent', values['queue-prequeue-percent'], 50, 0);
    if (prequeuePercent > 100) throw new Error('--queue-prequeue-percent must be at most 100');
    queue = {
      buyers: int('queue-buyers', values['queue-buyers'], quick ? 2_000 : 50_000),
      seats: int('queue-seats', values['queue-seats'], quick ? 200 : 2_000),
      admitPerMinute,
      maxActive,
      sessionMinutes: int('queue-session-minutes', values['queue-session-minutes'], 2),
      prequeueMinutes: int('queue-prequeue-minutes', values['queue-prequeue-minutes'], 5),
      onSaleS: int('queue-on-sale-s', values['queue-on-sale-s'], quick ? 8 : 40),
      prequeuePercent,
      listeners: int('queue-listeners', values['queue-listeners'], quick ? 500 : 2_000, 0),
      // Anyone who could be admitted before their next poll is already on the stream.
      streamWithin: int(
        'queue-stream-within',
        values['queue-stream-within'],
        maxActive + Math.ceil((admitPerMinute / 60) * 10),
        0,
      ),
      pollMaxS: int('queue-poll-max-s', values['queue-poll-max-s'], 60),
      thinkS: [thinkMin, thinkMax],
      maxSeatsPerBuyer,
      joinConnections: int('queue-join-connections', values['queue-join-connections'], 64),
      pollConnections: int('queue-poll-connections', values['queue-poll-connections'], 32),
      bookConnections: int('queue-book-connections', values['queue-book-connections'], 64),
      instances: int('queue-instances', values['queue-instances'], 1),
      timeoutS: int('queue-timeout-s', values['queue-timeout-s'], 300),
    };
  }
  return {
    quick,
    queue,
    // In the order a round runs them, whatever order the flag named them in.
    scenarios: SCENARIOS.filter((scenario) => scenarios.includes(scenario)),
    seats,
    seatsPerRow,
    requests,
    connections: int('connections', values.connections, 256),
    rate: int('rate', values.rate, 0, 0),
    minSeats,
    maxSeats,
    skew,
    seed: int('seed', values.seed, 1, 0),
    modes: mode === 'both' ? ['async', 'wait'] : [mode as LoadMode],
    phases: phases as Phase[],
    hotSeats: int('hot-seats', values['hot-seats'], 500),
    hotRequests: int('hot-requests', values['hot-requests'], 10_000),
    openLoopSeconds: int('open-loop-seconds', values['open-loop-seconds'], quick ? 3 : 6),
    readEventSeats,
    readSaleMap: !values['no-sale-map'],
    readConnections: int('read-connections', values['read-connections'], 32),
    readSeconds: int('read-seconds', values['read-seconds'], quick ? 3 : 5),
    rounds: int('rounds', values.rounds, quick ? 1 : 3),
    baselinePool,
    floorClients: int('floor-clients', values['floor-clients'], 20),
    floorBookings: Math.min(seats, int('floor-bookings', values['floor-bookings'], Math.min(seats, 20_000))),
    warmup: int('warmup', values.warmup, 6_000, 0),
    brokerWarmup: int('broker-warmup', values['broker-warmup'], 20_000, 0),
    noopRequests: int('noop-requests', values['noop-requests'], requests),
    databaseUrl: values['database-url'] ?? 'postgres://postgres@127.0.0.1:5432/seatrush_bench',
    redisUrl: values['redis-url'] ?? 'redis://127.0.0.1:6379/14',
    kafkaBrokers: values['kafka-brokers'] ?? '127.0.0.1:9092',
    kafkaPrefix: values['kafka-prefix'] ?? 'bench.',
    systemEnv,
    settleTimeoutMs: int('settle-timeout-ms', values['settle-timeout-ms'], 120_000),
    sampleMs: int('sample-ms', values['sample-ms'], 250, 10),
    cpuProf: values['cpu-prof'],
    outDir: values.out ?? new URL('./results', import.meta.url).pathname,
    readme: values['no-readme'] ? false : (values.readme ?? (!quick && !queue)),
  };
}
