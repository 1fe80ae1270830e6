/**
 * npm run chaos: the flash sale on a private stack (its own Postgres, Redis and Kafka broker),
 * every function its own process from the built bundle, two or more of book, booking-processor
 * and seat-projector behind a round-robin balancer; one fault per scenario while the load runs,
 * then the seven checks once quiet. Writes chaos/results/<run>/ (results.json, results.md, logs/)
 * and exits non-zero on any violation. `npm run chaos -- --help` lists the flags.
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { createEvent, ensureUsers } from '../bench/database.ts';
import { buildBundles } from '../deploy/build.ts';
import { FUNCTIONS } from '../functions/registry.ts';
import { runCli } from '../lib/platform/cli.ts';
import { Balancer } from './balancer.ts';
import {
  CHECKS,
  checkClusterServed,
  checkDecided,
  checkNoFalseNo,
  checkNoStuckSeat,
  checkNoWedge,
  checkOwners,
  checkRedisView,
  checkYesIsBooked,
} from './checks.ts';
import { freePort, isRunning, killEverything } from './children.ts';
import { closeClients, type LogicalRequest } from './client.ts';
import { Fleet } from './fleet.ts';
import { PrivateKafka, PrivatePostgres, PrivateRedis, PrivateRedisCluster } from './infra.ts';
import { FlashSale } from './load.ts';
import { logMarks, warningsSince } from './logs.ts';
import { type ChaosOptions, parseOptions } from './options.ts';
import {
  type ChaosReport,
  failedChecks,
  renderMarkdown,
  renderTable,
  type ScenarioResult,
} from './report.ts';
import { basePlan, SCENARIOS, type Scenario } from './scenarios.ts';

const ROOT = new URL('..', import.meta.url).pathname;
/** The functions' hold TTL (HOLD_TTL_MS default): a hold the load left lapses within it. */
const HOLD_TTL_MS = 60_000;

const say = (text: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);

interface Stack {
  tmp: string;
  logDir: string;
  postgres: PrivatePostgres;
  redis: PrivateRedis;
  kafka: PrivateKafka;
  kafkaClient: Kafka;
  pool: pg.Pool;
  fleet: Fleet;
  balancer: Balancer;
  balancerUrl: string;
  secret: string;
  users: number[];
  nextUser: number;
}

function takeUsers(stack: Stack, count: number): number[] {
  const taken = stack.users.slice(stack.nextUser, stack.nextUser + count);
  stack.nextUser += count;
  if (taken.length < count) throw new Error('ran out of users');
  return taken;
}

function node(script: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [script],
      // A set-up step of this private stack: test mode, so it starts without the fleet's secret.
      { env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env } },
      (error, _out, err) => (error ? reject(new Error(`${script}: ${err || error.message}`)) : resolve()),
    );
  });
}

/** Builds the bundles into the run's own folder, so a concurrent `npm run build` cannot pull them away. */
async function buildInto(tmp: string): Promise<string> {
  const outdir = join(tmp, 'dist/node');
  await buildBundles(outdir);
  // migrate.mjs finds drizzle/ at ../../drizzle from itself, as from the repository's dist/node.
  symlinkSync(join(ROOT, 'drizzle'), join(tmp, 'drizzle'));
  return outdir;
}

async function startStack(tmp: string, logDir: string, userCount: number): Promise<Stack> {
  say(`building the bundles into ${tmp}/dist/node`);
  const bundles = await buildInto(tmp);
  say('starting a private Postgres, Redis and Kafka broker');
  // Both settle before a failure is thrown, so nothing still writes into the folder being removed.
  const [createdPostgres, createdKafka] = await Promise.allSettled([
    PrivatePostgres.create(join(tmp, 'postgres')),
    PrivateKafka.create(join(tmp, 'kafka')),
  ]);
  if (createdPostgres.status === 'rejected') throw createdPostgres.reason;
  if (createdKafka.status === 'rejected') throw createdKafka.reason;
  const postgres = createdPostgres.value;
  const kafka = createdKafka.value;
  const redis = new PrivateRedis(join(tmp, 'redis'), await freePort());
  await Promise.all([postgres.start(), redis.start(), kafka.start()]);
  say(`postgres :${postgres.port}, redis :${redis.port}, kafka :${kafka.port}`);
  await node(join(bundles, 'migrate.mjs'), { DATABASE_URL: postgres.url });
  await node(join(bundles, 'create-topics.mjs'), { KAFKA_BROKERS: kafka.brokers, LOG_LEVEL: 'warn' });
  const pool = new pg.Pool({ connectionString: postgres.url, max: 8 });
  pool.on('error', () => {}); // idle clients die with each Postgres restart; the next query reconnects
  const users = await ensureUsers(pool, userCount);
  const secret = `chaos-${Date.now()}-${Math.random().toString(36).slice(2)}-secret-of-this-run`;
  const fleet = new Fleet(
    join(bundles, 'run.mjs'),
    {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      JWT_SECRET: secret,
      RATE_LIMIT_PER_ADDRESS: '0',
      RATE_LIMIT_READS_PER_ADDRESS: '0',
      LOG_LEVEL: 'warn',
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      KAFKA_BROKERS: kafka.brokers,
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
    },
    logDir,
  );
  const balancer = new Balancer(() => fleet.of('book').map((instance) => instance.url));
  const balancerUrl = await balancer.listen();
  const kafkaClient = new Kafka({ clientId: 'chaos', brokers: [kafka.brokers], logLevel: logLevel.NOTHING });
  return {
    tmp,
    logDir,
    postgres,
    redis,
    kafka,
    kafkaClient,
    pool,
    fleet,
    balancer,
    balancerUrl,
    secret,
    users,
    nextUser: 0,
  };
}

/** Puts back what an earlier scenario's fault (or failure) may have left down or stopped. */
async function heal(stack: Stack): Promise<void> {
  stack.kafka.resume();
  if (!stack.kafka.child || !isRunning(stack.kafka.child)) await stack.kafka.start();
  if (!stack.redis.child || !isRunning(stack.redis.child)) await stack.redis.start();
  try {
    await stack.pool.query('select 1');
  } catch {
    await stack.postgres.start();
  }
  for (const instance of stack.fleet.instances) if (instance.paused) stack.fleet.resume(instance);
}

const count = (values: readonly (string | number | undefined)[]) => {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value ?? 'none')] = (counts[String(value ?? 'none')] ?? 0) + 1;
  return counts;
};

async function runScenario(
  stack: Stack,
  scenario: Scenario,
  label: string,
  options: ChaosOptions,
  plan: Record<string, number>,
): Promise<ScenarioResult> {
  const startedAt = Date.now();
  const result: ScenarioResult = {
    scenario: label,
    about: scenario.about,
    requests: 0,
    finals: {},
    polled: {},
    cancels: { sent: 0, finals: {} },
    attempts: 0,
    confirmedSeats: 0,
    probed: 0,
    checks: {},
    timeline: [],
    balancer: { proxied: 0, skipped: 0, badGateway: 0 },
    warnings: [],
    durationS: 0,
  };
  let cluster: PrivateRedisCluster | undefined;
  let marks = new Map<string, number>();
  const { fleet, pool } = stack;
  try {
    await heal(stack);
    let extraEnv: Record<string, string> = {};
    if (scenario.redisCluster) {
      cluster = await PrivateRedisCluster.create(join(stack.tmp, `redis-cluster-${Date.now()}`));
      await cluster.start();
      extraEnv = {
        REDIS_URL: `redis://127.0.0.1:${cluster.nodes[0]?.port}/0`,
        REDIS_CLUSTER_NODES: cluster.addresses,
      };
      say(`${label}: Redis Cluster at ${cluster.addresses}`);
    }
    await fleet.ensure(plan, extraEnv);
    say(`${label}: ${fleet.instances.map((instance) => instance.id).join(' ')}`);
    marks = logMarks(stack.logDir);
    // The consumer groups settle (and the previous scenario's leftovers drain) before the load.
    await checkNoWedge(stack.kafkaClient, 30_000);

    const loadMs = Math.max(options.loadMs, options.faultAtMs + scenario.spanMs(options) + 10_000);
    const requests = Math.round((options.rate * loadMs) / 1000);
    const event = await createEvent(pool, `Chaos: ${label}`, Math.round(requests * 1.2), 20);
    const probeUsers = takeUsers(stack, options.probeSample);
    const balancerBefore = { ...stack.balancer.stats };
    const sale = new FlashSale({
      eventId: event.eventId,
      seatIds: event.seatIds,
      userIds: takeUsers(stack, requests),
      rate: options.rate,
      cancelShare: options.cancelShare,
      seed: options.seed + stack.nextUser,
      secret: stack.secret,
      urls: {
        book: () => stack.balancerUrl,
        cancel: () => fleet.url('cancel'),
        status: () => fleet.url('booking-status'),
      },
    });
    const mark = (what: string) => {
      result.timeline.push({ atS: +(sale.clock() / 1000).toFixed(1), what });
      say(`${label}: ${(sale.clock() / 1000).toFixed(1)} s ${what}`);
    };
    say(
      `${label}: ${requests} requests at ${options.rate}/s on event ${event.eventId} (${event.seatIds.length} seats)`,
    );
    let recoveredAt: number | undefined;
    const fault = (async () => {
      await sleep(options.faultAtMs);
      await scenario.inject({
        fleet,
        balancer: stack.balancer,
        postgres: stack.postgres,
        redis: stack.redis,
        kafka: stack.kafka,
        sale,
        options,
        mark,
        recovered: () => {
          recoveredAt = Date.now();
          mark('recovered');
        },
      });
    })();
    await sale.run();
    mark('every request sent');
    const faultError = await fault.then(
      () => undefined,
      (error: unknown) => error,
    );
    if (faultError) result.error = `fault: ${faultError instanceof Error ? faultError.message : faultError}`;
    await sale.answered();
    mark('every request answered');
    const answeredAt = Date.now();
    await sale.polled(Math.max(recoveredAt ?? answeredAt, answeredAt) + options.decideMs);
    mark('202s polled');

    await scenario.tamper?.({ pool, redis: stack.redis, eventId: event.eventId, sale, mark });
    const { books, cancels } = sale;
    result.requests = books.length;
    result.finals = count(books.map((logical) => logical.final?.status));
    result.polled = count(
      books.filter((l) => l.final?.status === 202).map((logical) => logical.polled?.status),
    );
    result.cancels = { sent: cancels.length, finals: count(cancels.map((logical) => logical.final?.status)) };
    result.attempts = [...books, ...cancels].reduce((sum, logical) => sum + logical.attempts.length, 0);

    result.checks.noWedge = await checkNoWedge(stack.kafkaClient, options.lagTimeoutMs);
    mark(`check 7 ${result.checks.noWedge.note}`);
    result.checks.owners = await checkOwners(pool, event.eventId);
    result.checks.yesIsBooked = await checkYesIsBooked(pool, books, cancels);
    result.checks.noFalseNo = await checkNoFalseNo(pool, event.eventId, books, cancels, new Set(probeUsers));
    result.checks.decided = checkDecided([...books, ...cancels]);
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from bookings where event_id = $1 and status = 'CONFIRMED'`,
      [event.eventId],
    );
    result.confirmedSeats = rows[0]?.n ?? 0;
    result.checks.redisView = await checkRedisView(
      pool,
      event.eventId,
      () => fleet.url('event-seats'),
      options.settleMs,
    );
    mark(`check 5 ${result.checks.redisView.note}`);
    const lastAttempt = Math.max(
      0,
      ...[...books, ...cancels].flatMap((logical: LogicalRequest) => logical.attempts.map((a) => a.at)),
    );
    const stuck = await checkNoStuckSeat({
      pool,
      eventId: event.eventId,
      sample: options.probeSample,
      probeUsers,
      secret: stack.secret,
      urls: { book: () => stack.balancerUrl, status: () => fleet.url('booking-status') },
      holdsLapseAt: Date.now() - sale.clock() + lastAttempt + HOLD_TTL_MS + 2_000,
      clock: sale.clock,
    });
    result.probed = stuck.probed;
    const { probed: _, ...noStuckSeat } = stuck;
    result.checks.noStuckSeat = noStuckSeat;
    result.warnings = warningsSince(stack.logDir, marks);
    if (scenario.redisCluster) result.checks.clusterServed = checkClusterServed(result.warnings);
    mark('checked');
    const after = stack.balancer.stats;
    result.balancer = {
      proxied: after.proxied - balancerBefore.proxied,
      skipped: after.skipped - balancerBefore.skipped,
      badGateway: after.badGateway - balancerBefore.badGateway,
    };
  } catch (error) {
    result.error = `${result.error ? `${result.error}; ` : ''}${error instanceof Error ? error.message : String(error)}`;
    say(`${label}: ERROR ${result.error}`);
  } finally {
    if (cluster) {
      // Back to the one Redis before the cluster goes away.
      await fleet.stopAll();
      await cluster.stop();
    }
  }
  result.durationS = Math.round((Date.now() - startedAt) / 1000);
  return result;
}

async function stopStack(stack: Stack | undefined): Promise<void> {
  if (!stack) return;
  await stack.fleet.stopAll().catch(() => {});
  await stack.balancer.close().catch(() => {});
  await closeClients().catch(() => {});
  await stack.pool.end().catch(() => {});
  await stack.kafka.stop().catch(() => {});
  await stack.redis.stop().catch(() => {});
  await stack.postgres.stop('fast').catch(() => {});
}

/** The infrastructure's own logs, next to the functions' in the results. */
function keepInfraLogs(stack: Stack): void {
  const copies: [string, string][] = [
    [stack.postgres.logPath, 'postgres.log'],
    [stack.redis.logPath, 'redis.log'],
    [stack.kafka.logDir, 'kafka'],
  ];
  for (const [from, to] of copies) {
    if (existsSync(from)) cpSync(from, join(stack.logDir, to), { recursive: true });
  }
}

/** Gzips every log under `dir` (a full run's function logs reach megabytes; gzip -d reads them). */
function compressLogs(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) compressLogs(path);
    else if (entry.name.endsWith('.log')) {
      writeFileSync(`${path}.gz`, gzipSync(readFileSync(path)));
      rmSync(path);
    }
  }
}

function machine(): Record<string, string | number> {
  let commit = 'unknown';
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    commit = git('rev-parse', '--short', 'HEAD').trim();
    if (git('status', '--porcelain', '--', 'lib', 'functions', 'bin').length > 0)
      commit += ' + uncommitted changes in lib/functions/bin';
  } catch {}
  return {
    cpu: (cpus()[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
    cores: cpus().length,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.versions.node,
    commit,
    loadAverageAtStart: loadavg()
      .map((n) => n.toFixed(2))
      .join(' '),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.list) {
    for (const scenario of SCENARIOS) {
      const runs = scenario.hidden
        ? ' (only with --scenario)'
        : scenario.repeated
          ? ` (x${options.repeats})`
          : '';
      process.stdout.write(`${scenario.name.padEnd(24)} ${scenario.about}${runs}\n`);
    }
    return;
  }
  const unknown = options.scenarios.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; see --list`);
  const selected = SCENARIOS.filter((scenario) =>
    options.scenarios.length === 0 ? !scenario.hidden : options.scenarios.includes(scenario.name),
  );
  const runs = selected.flatMap((scenario) =>
    Array.from({ length: scenario.repeated ? options.repeats : 1 }, (_, i) => ({
      scenario,
      label: scenario.repeated && options.repeats > 1 ? `${scenario.name} #${i + 1}` : scenario.name,
    })),
  );
  const userCount = runs.reduce((sum, { scenario }) => {
    const loadMs = Math.max(options.loadMs, options.faultAtMs + scenario.spanMs(options) + 10_000);
    return sum + Math.round((options.rate * loadMs) / 1000) + options.probeSample;
  }, 0);

  const runId = new Date()
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-');
  const runDir = join(options.outDir, runId);
  const logDir = join(runDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'seatrush-chaos-'));
  chmodSync(tmp, 0o755); // Postgres runs as its own user and must reach its folder inside
  const report: ChaosReport = {
    runId,
    profile: options.quick ? 'quick' : 'full',
    machine: machine(),
    options: { ...options },
    results: [],
    violations: 0,
  };
  const write = () => {
    report.violations = report.results.reduce(
      (sum, result) => sum + failedChecks(result).length + (result.error ? 1 : 0),
      0,
    );
    writeFileSync(join(runDir, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(runDir, 'results.md'), `${renderMarkdown(report)}\n`);
  };
  let stack: Stack | undefined;
  // Ctrl-C: what was measured so far is written, and everything started is killed.
  process.once('SIGINT', () => {
    say('interrupted: writing what ran and stopping everything this run started');
    write();
    if (stack) keepInfraLogs(stack);
    killEverything();
    rmSync(tmp, { recursive: true, force: true });
    compressLogs(logDir);
    process.exit(130);
  });
  process.once('exit', killEverything);

  say(`chaos ${runId} (${report.profile}): ${runs.length} scenario runs, results in ${runDir}`);
  try {
    stack = await startStack(tmp, logDir, userCount);
    const plan = basePlan(FUNCTIONS.map((definition) => definition.name));
    for (const { scenario, label } of runs) {
      const result = await runScenario(stack, scenario, label, options, plan);
      report.results.push(result);
      write();
      const failed = failedChecks(result);
      say(
        `${label}: ${failed.length === 0 && !result.error ? 'all checks ok' : `FAILED ${failed.map((name) => CHECKS[name]).join(', ')}${result.error ? ` (error: ${result.error})` : ''}`}`,
      );
    }
  } finally {
    say('stopping the stack');
    await stopStack(stack);
    if (stack) keepInfraLogs(stack);
    rmSync(tmp, { recursive: true, force: true });
    compressLogs(logDir);
  }
  write();
  process.stdout.write(`\n${renderTable(report.results)}\n\nresults: ${runDir}/results.md\n`);
  if (report.violations > 0) say(`${report.violations} violations (failed checks or scenario errors)`);
  // Exits at once: a client library's idle timer must not keep a finished run alive.
  process.exit(report.violations > 0 ? 1 : 0);
}

runCli('chaos', main);
