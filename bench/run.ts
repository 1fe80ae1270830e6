/**
 * npm run bench: the flash sale against the system (every function its own process), against
 * the obvious design (one synchronous transaction per request) on a fresh copy of the same seats,
 * and against the floors (a Hono no-op endpoint; Postgres committing one booking per transaction).
 * Checks the invariants after every run and exits non-zero, naming the first offenders, if one
 * is broken. `npm run bench -- --help` lists the flags.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { migrateDatabase } from '../lib/booking/db/migrate.ts';
import { OUTCOMES_CHANNEL } from '../lib/booking/outcome-waiter.ts';
import { runCli } from '../lib/platform/cli.ts';
import { parseConfig } from '../lib/platform/config.ts';
import { topicName } from '../lib/platform/kafka/topics.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { createRedis } from '../lib/platform/redis.ts';
import { closeServices, createServices, type Services } from '../lib/services.ts';
import { type Answer, checkInvariants } from '../test/invariants.ts';
import { warmBroker } from './broker.ts';
import {
  type BenchEvent,
  baselineConfirmations,
  bookingsOf,
  checkBaselineInvariants,
  createEvent,
  decidedCount,
  ensureUsers,
  refusedButBooked,
  requestToDecision,
  resetDatabase,
  systemConfirmations,
} from './database.ts';
import { planDemand, type Wanted } from './demand.ts';
import { postgresFloor } from './floors/postgres.ts';
import type { LoadJob, LoadMessage, LoadResult } from './load.ts';
import { type BenchOptions, type LoadMode, parseOptions } from './options.ts';
import { type Started, startProcess, stopProcess } from './processes.ts';
import { type GroupUsage, OTHERS, ProcSampler } from './procstat.ts';
import { type BenchReport, percentiles, type RunReport, renderMarkdown, replaceLatest } from './report.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const SYSTEM_FUNCTIONS = ['book', 'booking-status', 'booking-processor', 'seat-projector'] as const;
const MODE_NAMES: Record<LoadMode, string> = { async: 'system, respond-async', wait: 'system, wait for 201' };

const now = () => performance.timeOrigin + performance.now();

/** One status line, rewritten in place on a terminal, else printed every few seconds. */
function progress(text: string, final = false): void {
  if (process.stderr.isTTY) {
    process.stderr.write(`\r\x1b[K${text}${final ? '\n' : ''}`);
    return;
  }
  const at = Date.now();
  if (final || at - lastProgress >= 2_000) {
    lastProgress = at;
    process.stderr.write(`${text}\n`);
  }
}
let lastProgress = 0;
const say = (text: string) => progress(text, true);

interface Context {
  options: BenchOptions;
  runId: string;
  logDir: string;
  services: Services;
  env: Record<string, string>;
  userIds: number[];
  demand: Wanted[];
  admin: Admin;
  prefix: string;
  infraPids: { redis: number | undefined; kafka: number | undefined };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const runId = new Date()
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-');
  const logDir = mkdtempSync(join(tmpdir(), `seatrush-bench-${runId}-`));
  const prefix = `${options.kafkaPrefix}${runId.replaceAll('-', '')}.`;
  const env: Record<string, string> = {
    // Tokens are signed with a secret of this run's own (--env JWT_SECRET=... to choose it).
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    KAFKA_BROKERS: options.kafkaBrokers,
    KAFKA_PREFIX: prefix,
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    HOST: '127.0.0.1',
    PORT: '0',
    ...options.systemEnv,
  };
  say(`bench ${runId}: logs in ${logDir}`);

  const config = parseConfig({ ...env, LOG_LEVEL: 'silent', DATABASE_POOL_SIZE: '4' });
  await migrateDatabase(config);
  const services = createServices(config, createLogger({ LOG_LEVEL: 'silent' }));
  const admin = services.kafka.kafka.admin();
  const report: BenchReport = {
    runId,
    machine: {},
    options: { ...options, systemEnv: options.systemEnv },
    runs: [],
    floors: {},
    ratios: {},
    targets: [],
    notes: [],
  };
  const violations: string[] = [];
  try {
    await services.redis.connect();
    await services.redis.flushdb();
    await admin.connect();
    const pool = services.db.$client;
    await resetDatabase(pool);
    const userIds = await ensureUsers(pool, options.requests + options.warmup);
    const demand = planDemand(options);
    report.machine = await machine(services);
    const context: Context = {
      options,
      runId,
      logDir,
      services,
      env,
      userIds,
      demand,
      admin,
      prefix,
      infraPids: { redis: report.machine.redisPid as number | undefined, kafka: kafkaPid() },
    };
    delete report.machine.redisPid;

    if (options.phases.includes('system') && options.brokerWarmup > 0) {
      say(`kafka broker warm-up: ${options.brokerWarmup} produce requests`);
      const seconds = (await warmBroker(services.kafka.kafka, prefix, options.brokerWarmup)) / 1000;
      say(`kafka broker warm-up: done in ${seconds.toFixed(1)} s`);
      report.notes.push(
        `The Kafka broker was warmed before the first round: ${options.brokerWarmup} produce requests and their consumption in ${seconds.toFixed(1)} s.`,
      );
    }

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
    await cleanupKafka(admin, prefix).catch(() => {});
    await admin.disconnect().catch(() => {});
    await closeServices(services);
  }

  mkdirSync(options.outDir, { recursive: true });
  const markdown = renderMarkdown(report);
  writeFileSync(join(options.outDir, `${runId}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(options.outDir, `${runId}.md`), `# Benchmark ${runId}\n\n${markdown}\n`);
  say(`\n${markdown}\n`);
  say(`results: ${join(options.outDir, `${runId}.json`)} and .md`);
  if (options.readme) updateReadme(markdown);

  if (violations.length > 0) {
    console.error('\nINVARIANTS BROKEN:');
    for (const violation of violations) console.error(`  ${violation}`);
    process.exit(1);
  }
}

async function machine(services: Services): Promise<Record<string, string | number>> {
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
  const { rows } = await services.db.$client.query<{ server_version: string }>('show server_version');
  const info = await services.redis.info('server');
  const kafkaJar = existsSync(join(ROOT, '.kafka/lib'))
    ? readdirSync(join(ROOT, '.kafka/lib')).find((file) => /^kafka_[\d.]+-[\d.]+\.jar$/.test(file))
    : undefined;
  // The code measured: the commit, marked when the functions' code differs from it.
  let commit = process.env.BENCH_COMMIT ?? 'unknown';
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
    commit = git('rev-parse', '--short', 'HEAD').toString().trim();
    const changed = git('status', '--porcelain', '--', 'lib', 'functions', 'bin');
    if (changed.length > 0) commit += ' + uncommitted changes in lib/functions/bin';
  } catch {}
  return {
    cpu: cpuModel.replace(/\s+/g, ' ').trim(),
    cores: cpus().length,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.versions.node,
    postgres: rows[0]?.server_version.split(' ')[0] ?? 'unknown',
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    kafka: kafkaJar ? (/-([\d.]+)\.jar$/.exec(kafkaJar)?.[1] ?? 'unknown') : 'unknown',
    commit,
    loadAverageAtStart: loadavg()
      .map((n) => n.toFixed(2))
      .join(' '),
    redisPid: Number(/process_id:(\d+)/.exec(info)?.[1]) || 0,
  };
}

function kafkaPid(): number | undefined {
  try {
    const pid = Number(readFileSync(join(ROOT, '.kafka/kafka.pid'), 'utf8').trim());
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Postgres's processes for the bench: its database's backends and the server's own writers. */
function postgresPids(services: Services): () => Promise<number[]> {
  return async () => {
    const { rows } = await services.db.$client.query<{ pid: number }>(
      `select pid from pg_stat_activity
       where (datname = current_database() and pid <> pg_backend_pid()) or backend_type <> 'client backend'`,
    );
    return rows.map((row) => row.pid);
  };
}

function samplerFor(context: Context, processes: Record<string, number>): ProcSampler {
  const sampler = new ProcSampler(context.options.sampleMs);
  for (const [name, pid] of Object.entries(processes)) sampler.track(name, () => [pid]);
  sampler.track('postgres', postgresPids(context.services));
  const { redis, kafka } = context.infraPids;
  if (redis) sampler.track('redis', () => [redis]);
  if (kafka) sampler.track('kafka', () => [kafka]);
  sampler.track('bench runner', () => [process.pid]);
  return sampler;
}

/** Levels the field before each measured phase: no checkpoint or vacuum debt from the last one. */
async function quiesce(services: Services): Promise<void> {
  await services.db.$client.query('vacuum analyze seats, bookings, booking_requests, users');
  await services.db.$client.query('checkpoint');
}

function loadJob(
  context: Context,
  event: BenchEvent,
  bookUrl: string,
  extra: Partial<LoadJob> = {},
): LoadJob {
  const { demand, userIds, options } = context;
  return {
    bookUrl,
    connections: options.connections,
    rate: options.rate,
    jwtSecret: context.env.JWT_SECRET,
    respondAsync: false,
    eventId: event.eventId,
    users: demand.map((wanted) => userIds[wanted.user] as number),
    seats: demand.map((wanted) => wanted.seats.map((seat) => event.seatIds[seat] as number)),
    ...extra,
  };
}

/**
 * Runs the load generator in its own process. `afterBurst` runs once every request is answered
 * (the system settles there); then the generator asks booking-status about its 202s and returns.
 */
async function runLoad(
  context: Context,
  label: string,
  job: LoadJob,
  hooks: { started(pid: number): Promise<void>; afterBurst(accepted: number): Promise<void> },
): Promise<LoadResult> {
  const dir = mkdtempSync(join(context.logDir, 'load-'));
  const jobPath = join(dir, 'job.json');
  const resultPath = join(dir, 'result.json');
  writeFileSync(jobPath, JSON.stringify(job));
  const child: ChildProcess = fork(join(ROOT, 'bench/load.ts'), [jobPath, resultPath], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const total = job.users.length;
  let startedAt = Date.now();
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: LoadMessage) => {
      if (message.type === 'ready') {
        hooks
          .started(child.pid as number)
          .then(() => {
            startedAt = Date.now();
            child.send({ type: 'go' });
          })
          .catch(reject);
      } else if (message.type === 'progress') {
        const seconds = (Date.now() - startedAt) / 1000;
        const statuses = Object.entries(message.statuses)
          .map(([status, n]) => `${status}:${n}`)
          .join(' ');
        progress(
          `${label}: ${message.answered}/${total} answered, ${Math.round(message.answered / seconds)}/s [${statuses}]`,
        );
      } else if (message.type === 'burst-done') {
        progress(
          `${label}: all ${total} answered in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
          true,
        );
        hooks
          .afterBurst(message.accepted)
          .then(() => child.send({ type: 'poll', deadline: Date.now() + 30_000 }))
          .catch(reject);
      } else if (message.type === 'done') {
        resolve();
      }
    });
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`load generator exited with ${code}`)),
    );
  });
  return JSON.parse(readFileSync(resultPath, 'utf8')) as LoadResult;
}

/**
 * The same flash sale, smaller, on an event of its own and from users of its own, through the
 * same load generator: JIT, heap, pools and consumer groups are warm before the measured run.
 */
async function warmUp(
  context: Context,
  label: string,
  bookUrl: string,
  extra: Partial<LoadJob> = {},
  settle?: (eventId: number, accepted: number) => Promise<void>,
): Promise<void> {
  const { options, userIds } = context;
  if (options.warmup === 0) return;
  const seats = Math.min(options.seats, Math.max(options.seatsPerRow, Math.round(options.warmup / 3)));
  const event = await createEvent(
    context.services.db.$client,
    `Warm-up (${label})`,
    seats,
    options.seatsPerRow,
  );
  const demand = planDemand({ ...options, seats, requests: options.warmup, seed: options.seed + 1 });
  const job: LoadJob = {
    bookUrl,
    connections: options.connections,
    rate: 0,
    jwtSecret: context.env.JWT_SECRET,
    respondAsync: false,
    eventId: event.eventId,
    users: demand.map((wanted) => userIds[options.requests + wanted.user] as number),
    seats: demand.map((wanted) => wanted.seats.map((seat) => event.seatIds[seat] as number)),
    ...extra,
  };
  await runLoad(context, `warm-up (${label})`, job, {
    started: async () => {},
    afterBurst: async (accepted) => settle?.(event.eventId, accepted),
  });
}

function loadReport(
  name: string,
  answerMeans: string,
  result: LoadResult,
  processes: GroupUsage[],
): RunReport {
  const answered = result.answers.filter((answer) => answer.status !== 0);
  const statuses: Record<string, number> = {};
  const byStatus = new Map<string, number[]>();
  for (const answer of result.answers) {
    const status = answer.status === 0 ? 'error' : String(answer.status);
    statuses[status] = (statuses[status] ?? 0) + 1;
    const latencies = byStatus.get(status) ?? [];
    latencies.push(answer.latencyMs);
    byStatus.set(status, latencies);
  }
  const durationS = (result.lastAnsweredAt - result.firstSentAt) / 1000;
  return {
    name,
    answerMeans,
    requests: result.answers.length,
    durationS: +durationS.toFixed(3),
    requestsPerS: Math.round(result.answers.length / durationS),
    latencyMs: percentiles(answered.map((answer) => answer.latencyMs)),
    statuses,
    latencyByStatusMs: Object.fromEntries(
      [...byStatus].map(([status, values]) => [status, percentiles(values)]),
    ),
    errors: result.errors,
    processes,
  };
}

async function benchSystem(context: Context): Promise<RunReport[]> {
  const { options, services, env } = context;
  const pool = services.db.$client;
  const started: Started[] = [];
  const reports: RunReport[] = [];
  try {
    for (const name of SYSTEM_FUNCTIONS) {
      // One directory per function: tsx's loader thread writes a profile of its own beside the main one.
      const profileDir = options.cpuProf ? join(options.cpuProf, context.runId, name) : undefined;
      const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
      if (profileDir) mkdirSync(profileDir, { recursive: true });
      started.push(
        await startProcess(
          name,
          'bin/run.ts',
          { ...env, FUNCTION: name },
          { logDir: context.logDir, nodeArgs },
        ),
      );
    }
    const url = (name: string) => started.find((process) => process.name === name)?.url as string;
    say(`system: ${started.map((p) => `${p.name} ${p.url} (pid ${p.pid})`).join(', ')}`);

    for (const modeName of options.modes) {
      const name = MODE_NAMES[modeName];
      const mode = { statusUrl: url('booking-status'), respondAsync: modeName === 'async' };
      await warmUp(context, name, url('book'), mode, async (eventId, accepted) => {
        await waitQuiet(context, eventId, accepted, options.settleTimeoutMs, `warm-up (${name})`);
      });
      const event = await createEvent(pool, `Flash sale (${name})`, options.seats, options.seatsPerRow);
      // On sale day the event is in the seat cache already (EventCreated warms it).
      await services.seats.warm(event.eventId);
      await quiesce(services);
      const observer = await observeConfirmations(options.redisUrl);
      let sampler: ProcSampler | undefined;
      let usage: GroupUsage[] = [];
      const result = await runLoad(context, name, loadJob(context, event, url('book'), mode), {
        started: async (loadPid) => {
          sampler = samplerFor(context, {
            ...Object.fromEntries(started.map((process) => [process.name, process.pid])),
            'load generator': loadPid,
          });
          await sampler.begin();
        },
        afterBurst: async (accepted) => {
          await waitQuiet(context, event.eventId, accepted, options.settleTimeoutMs, name);
          usage = (await sampler?.end()) ?? [];
        },
      });
      const seen = await observer.stop();
      reports.push(await systemReport(context, name, modeName, event, result, usage, seen));
    }
  } finally {
    await Promise.all(started.map((process) => stopProcess(process.child)));
  }
  return reports;
}

/** Records when each confirmation is announced to waiting clients (the projector's outcome message). */
async function observeConfirmations(redisUrl: string): Promise<{ stop(): Promise<Map<string, number>> }> {
  const seen = new Map<string, number>();
  const subscriber = createRedis({ REDIS_URL: redisUrl, REDIS_CLUSTER_NODES: [] }, { subscriber: true });
  subscriber.on('message', (_channel: string, message: string) => {
    if (!message.includes('"BookingConfirmed"')) return;
    const requestId = /"requestId":"([^"]+)"/.exec(message)?.[1];
    if (requestId && !seen.has(requestId)) seen.set(requestId, now());
  });
  await subscriber.connect();
  await subscriber.subscribe(OUTCOMES_CHANNEL);
  return {
    stop: async () => {
      subscriber.disconnect();
      return seen;
    },
  };
}

/** Waits until Postgres decided `accepted` requests and both consumer groups caught up (lag 0). */
async function waitQuiet(
  context: Context,
  eventId: number | undefined,
  accepted: number,
  timeoutMs: number,
  label = 'warm-up',
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const startedAt = Date.now();
  for (;;) {
    const decided = eventId === undefined ? 0 : await decidedCount(context.services.db.$client, eventId);
    const lag = await consumerLag(context);
    progress(
      `${label}: settling, ${decided}/${accepted} decided, consumer lag ${lag}, ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
    if (decided >= accepted && lag === 0) {
      progress(`${label}: quiet after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`, true);
      return true;
    }
    if (Date.now() > deadline) {
      say(
        `${label}: not quiet after ${timeoutMs} ms (${decided}/${accepted} decided, lag ${lag}); checking anyway`,
      );
      return false;
    }
    await sleep(100);
  }
}

async function consumerLag(context: Context): Promise<number> {
  let lag = 0;
  for (const [topic, group] of [
    ['bookingCommands', 'booking-processor'],
    ['bookingEvents', 'seat-projector'],
  ] as const) {
    const name = topicName(topic, context.prefix);
    const [ends, committed] = await Promise.all([
      context.admin.fetchTopicOffsets(name),
      context.admin.fetchOffsets({ groupId: `${context.prefix}${group}`, topics: [name] }),
    ]);
    const done = new Map(
      (committed[0]?.partitions ?? []).map((partition) => [partition.partition, Number(partition.offset)]),
    );
    for (const end of ends) lag += Math.max(0, Number(end.high) - Math.max(0, done.get(end.partition) ?? 0));
  }
  return lag;
}

/** Confirmed bookings per second, from the first request sent to the last confirmation seen. */
function confirmedRate(
  confirmations: { bookings: number; requests: number; lastAt?: number | null },
  result: { firstSentAt: number; lastAnsweredAt: number },
): NonNullable<RunReport['confirmed']> {
  const spanS = ((confirmations.lastAt ?? result.lastAnsweredAt) - result.firstSentAt) / 1000;
  return {
    bookings: confirmations.bookings,
    requests: confirmations.requests,
    spanS: +spanS.toFixed(3),
    bookingsPerS: Math.round(confirmations.bookings / spanS),
  };
}

async function systemReport(
  context: Context,
  name: string,
  mode: LoadMode,
  event: BenchEvent,
  result: LoadResult,
  usage: GroupUsage[],
  seen: Map<string, number>,
): Promise<RunReport> {
  const { services } = context;
  const pool = services.db.$client;
  const report = loadReport(
    name,
    mode === 'async' ? '202 = seats held, queued' : '201 = confirmed (202 after BOOK_WAIT_MS)',
    result,
    usage,
  );
  const confirmations = await systemConfirmations(pool, event.eventId);
  report.confirmed = confirmedRate(confirmations, result);
  const decisions = await requestToDecision(pool, event.eventId);
  const sentAt = new Map(
    result.answers.flatMap((answer) =>
      answer.requestId ? [[answer.requestId, answer.sentAt] as const] : [],
    ),
  );
  report.confirmationMs = {
    requestedToDecided: percentiles([...decisions.values()].map((d) => d.decidedAt - d.requestedAt)),
    sentToVisible: percentiles(
      [...decisions.keys()].flatMap((id) => {
        const sent = sentAt.get(id);
        const visible = seen.get(id);
        return sent !== undefined && visible !== undefined ? [visible - sent] : [];
      }),
    ),
  };

  // A 202 that booking-status later reported CONFIRMED is checked like a 201 (invariant 2).
  const answers: Answer[] = result.answers.map((answer, i) => {
    const base = { userId: loadUser(context, i), seatIds: loadSeats(event, context, i) };
    if (answer.status === 202 && answer.final?.status === 'CONFIRMED')
      return { ...base, status: 201, requestId: answer.requestId, bookingIds: answer.final.bookingIds };
    return { ...base, status: answer.status, requestId: answer.requestId, bookingIds: answer.bookingIds };
  });
  say(`${name}: checking the five invariants`);
  const checked = await checkInvariants(services, event.eventId, answers);
  const violations = [
    ...checked.violations,
    ...refusedButBooked(await bookingsOf(pool, event.eventId), answers),
  ];
  const pending = result.answers.filter(
    (answer) => answer.status === 202 && answer.final?.status === 'PENDING',
  );
  if (pending.length > 0)
    violations.push(
      `invariant 4: still PENDING at booking-status: ${pending.slice(0, 5).map((a) => a.requestId)}`,
    );
  report.invariants = { checked: '1–5', violations };
  say(
    `${name}: ${violations.length === 0 ? 'invariants 1–5 hold' : `INVARIANTS BROKEN:\n  ${violations.join('\n  ')}`}`,
  );
  return report;
}

const loadUser = (context: Context, i: number) => context.userIds[context.demand[i]?.user ?? -1] as number;
const loadSeats = (event: BenchEvent, context: Context, i: number) =>
  (context.demand[i]?.seats ?? []).map((seat) => event.seatIds[seat] as number);

async function benchBaseline(context: Context): Promise<RunReport> {
  const { options, services } = context;
  const pool = services.db.$client;
  const baseline = await startProcess(
    'baseline',
    'bench/baseline/server.ts',
    {
      DATABASE_URL: options.databaseUrl,
      BASELINE_POOL_SIZE: String(options.baselinePool),
      JWT_SECRET: context.env.JWT_SECRET as string,
      PORT: '0',
    },
    { logDir: context.logDir },
  );
  try {
    say(`obvious design: ${baseline.url} (pid ${baseline.pid}, pool ${options.baselinePool})`);
    await warmUp(context, 'obvious design', baseline.url);
    const event = await createEvent(pool, 'Flash sale (obvious design)', options.seats, options.seatsPerRow);
    await quiesce(services);
    let sampler: ProcSampler | undefined;
    let usage: GroupUsage[] = [];
    const name = 'obvious design';
    const result = await runLoad(context, name, loadJob(context, event, baseline.url), {
      started: async (loadPid) => {
        sampler = samplerFor(context, { 'obvious design': baseline.pid, 'load generator': loadPid });
        await sampler.begin();
      },
      afterBurst: async () => {
        usage = (await sampler?.end()) ?? [];
      },
    });
    const report = loadReport(name, '201 = confirmed (committed)', result, usage);
    const confirmations = await baselineConfirmations(pool, event.eventId);
    report.confirmed = confirmedRate(confirmations, result);
    // The booking is committed before its 201 leaves, so the 201's latency is request → confirmation.
    report.confirmationMs = {
      sentToVisible: percentiles(result.answers.filter((a) => a.status === 201).map((a) => a.latencyMs)),
    };
    const answers: Answer[] = result.answers.map((answer, i) => ({
      status: answer.status,
      userId: loadUser(context, i),
      seatIds: loadSeats(event, context, i),
      bookingIds: answer.bookingIds,
    }));
    say(`${name}: checking invariants 1–3`);
    const violations = await checkBaselineInvariants(pool, event.eventId, answers);
    report.invariants = { checked: '1–3', violations };
    say(
      `${name}: ${violations.length === 0 ? 'invariants 1–3 hold' : `INVARIANTS BROKEN:\n  ${violations.join('\n  ')}`}`,
    );
    return report;
  } finally {
    await stopProcess(baseline.child);
  }
}

async function benchNoop(context: Context): Promise<RunReport> {
  const noop = await startProcess(
    'noop',
    'bench/floors/noop-server.ts',
    { PORT: '0' },
    { logDir: context.logDir },
  );
  try {
    await warmUp(context, 'no-op', noop.url);
    const count = context.options.noopRequests;
    const job: LoadJob = {
      bookUrl: noop.url,
      connections: context.options.connections,
      rate: context.options.rate,
      respondAsync: false,
      eventId: 1,
      users: Array.from({ length: count }, (_, i) => i + 1),
      seats: Array.from({ length: count }, (_, i) => [(i % 1000) + 1]),
    };
    let sampler: ProcSampler | undefined;
    let usage: GroupUsage[] = [];
    const result = await runLoad(context, 'no-op floor', job, {
      started: async (loadPid) => {
        sampler = new ProcSampler(context.options.sampleMs);
        sampler.track('no-op endpoint', () => [noop.pid]);
        sampler.track('load generator', () => [loadPid]);
        await sampler.begin();
      },
      afterBurst: async () => {
        usage = await (sampler as ProcSampler).end();
      },
    });
    return loadReport('no-op floor', '201, nothing done', result, usage);
  } finally {
    await stopProcess(noop.child);
  }
}

async function benchPostgresFloor(context: Context) {
  const { options, services } = context;
  const event = await createEvent(
    services.db.$client,
    'Postgres floor',
    options.floorBookings,
    options.seatsPerRow,
  );
  await quiesce(services);
  say(
    `postgres floor: ${options.floorBookings} bookings, one per transaction, ${options.floorClients} clients`,
  );
  const sampler = new ProcSampler(options.sampleMs);
  sampler.track('postgres', postgresPids(services));
  await sampler.begin();
  const floor = await postgresFloor({
    databaseUrl: options.databaseUrl,
    eventId: event.eventId,
    seatIds: event.seatIds,
    userIds: context.userIds,
    clients: options.floorClients,
  });
  const processes = await sampler.end();
  say(`postgres floor: ${Math.round(floor.bookingsPerS)} bookings/s (${floor.tool})`);
  return { ...floor, bookingsPerS: Math.round(floor.bookingsPerS), clients: options.floorClients, processes };
}

/** Per design, the round with the median confirmed bookings/s, carrying every round's numbers. */
function medianRuns(rounds: RunReport[][]): RunReport[] {
  const names = [...new Set(rounds.flat().map((run) => run.name))];
  return names.map((name) => {
    const runs = rounds.flatMap((round) => round.filter((run) => run.name === name));
    const key = (run: RunReport) => run.confirmed?.bookingsPerS ?? run.requestsPerS;
    const median = [...runs].sort((a, b) => key(a) - key(b))[Math.floor((runs.length - 1) / 2)] as RunReport;
    return runs.length === 1
      ? median
      : {
          ...median,
          rounds: runs.map((run) => ({
            requestsPerS: run.requestsPerS,
            bookingsPerS: run.confirmed?.bookingsPerS,
            p99: run.latencyMs?.p99,
            othersCores: run.processes.find((group) => group.name === OTHERS)?.cores,
          })),
        };
  });
}

function summarize(report: BenchReport, options: BenchOptions): void {
  const baseline = report.runs.find((run) => run.name === 'obvious design');
  const noop = report.floors.noop;
  const pg = report.floors.postgres;
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? null : +(a / b).toFixed(2);
  for (const run of report.runs.filter((candidate) => candidate !== baseline)) {
    const bookingsRatio = ratio(run.confirmed?.bookingsPerS, baseline?.confirmed?.bookingsPerS);
    report.ratios[`confirmed bookings/s, ${run.name} ÷ obvious design`] = bookingsRatio;
    report.ratios[`requests/s, ${run.name} ÷ obvious design`] = ratio(
      run.requestsPerS,
      baseline?.requestsPerS,
    );
    report.ratios[`answer p99, ${run.name} ÷ obvious design`] = ratio(
      run.latencyMs?.p99,
      baseline?.latencyMs?.p99,
    );
    report.ratios[`requests/s, ${run.name} ÷ no-op floor`] = ratio(run.requestsPerS, noop?.requestsPerS);
    report.ratios[`confirmed bookings/s, ${run.name} ÷ Postgres floor`] = ratio(
      run.confirmed?.bookingsPerS,
      pg?.bookingsPerS,
    );
    report.targets.push(
      {
        name: `confirmed bookings/s ÷ obvious design (${run.name})`,
        value: bookingsRatio,
        target: '≥ 2',
        met: bookingsRatio === null ? null : bookingsRatio >= 2,
      },
      {
        name: `answer p99 at ${options.connections} connections (${run.name}), ms`,
        value: run.latencyMs?.p99 ?? null,
        target: '≤ 25',
        met: run.latencyMs ? run.latencyMs.p99 <= 25 : null,
      },
    );
  }
  if (baseline) {
    report.ratios['requests/s, obvious design ÷ no-op floor'] = ratio(
      baseline.requestsPerS,
      noop?.requestsPerS,
    );
    report.ratios['confirmed bookings/s, obvious design ÷ Postgres floor'] = ratio(
      baseline.confirmed?.bookingsPerS,
      pg?.bookingsPerS,
    );
  }
  report.notes.push(
    `Every process shares the machine's ${report.machine.cores} cores (load average ${report.machine.loadAverageAtStart} at start); compare ratios within one run.`,
    `The system's functions run with ${Object.entries(options.systemEnv)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ')}; the obvious design with a pool of ${options.baselinePool}.`,
  );
}

function updateReadme(markdown: string): void {
  const path = join(ROOT, 'README.md');
  const updated = replaceLatest(readFileSync(path, 'utf8'), markdown);
  if (updated === undefined) {
    say('README.md has no bench markers; not updated');
    return;
  }
  writeFileSync(path, updated);
  say('README.md: latest benchmark table updated');
}

async function cleanupKafka(admin: Admin, prefix: string): Promise<void> {
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics });
  await admin.deleteGroups([`${prefix}booking-processor`, `${prefix}seat-projector`]).catch(() => {});
}

runCli('bench', main);
