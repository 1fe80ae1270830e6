/**
 * Set-up and teardown of what every phase shares: the bench's own database (migrated, emptied,
 * its users), Redis db (flushed) and topic prefix (this run's, its topics deleted at the end).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { migrateDatabase } from '../../lib/booking/db/migrate.ts';
import { parseConfig } from '../../lib/platform/config.ts';
import { createLogger } from '../../lib/platform/logger.ts';
import { closeServices, createServices, type Services } from '../../lib/services.ts';
import { ensureUsers, resetDatabase } from '../database.ts';
import { planDemand, type Wanted } from '../demand.ts';
import type { BenchOptions } from '../options.ts';
import { ROOT } from '../processes.ts';
import { say } from '../progress.ts';

export interface Context {
  options: BenchOptions;
  runId: string;
  logDir: string;
  services: Services;
  /** What every function process runs with. */
  env: Record<string, string>;
  /** Bench user i's id at [i]; grows when a scenario needs more users (bench/phases/scenarios.ts). */
  userIds: number[];
  /** The flash sale's demand. */
  demand: Wanted[];
  /** The obvious design's maximum requests/s, once measured: the open loop's unit. */
  openLoopBase?: { requestsPerS: number; measuredIn: string };
  admin: Admin;
  prefix: string;
  infraPids: { redis: number | undefined; kafka: number | undefined };
}

/** What the run ran on, for the report's first line. */
export type Machine = Record<string, string | number>;

export async function setUpStack(options: BenchOptions): Promise<{ context: Context; machine: Machine }> {
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
  try {
    await services.redis.connect();
    await services.redis.flushdb();
    await admin.connect();
    const pool = services.db.$client;
    await resetDatabase(pool);
    const userIds = await ensureUsers(pool, options.requests + options.warmup);
    const { redisPid, ...machine } = await describeMachine(services);
    const context: Context = {
      options,
      runId,
      logDir,
      services,
      env,
      userIds,
      demand: planDemand(options),
      admin,
      prefix,
      infraPids: { redis: redisPid || undefined, kafka: kafkaPid() },
    };
    return { context, machine };
  } catch (error) {
    await tearDownStack({ admin, prefix, services });
    throw error;
  }
}

/** Deletes the run's topics and groups, and closes every connection. */
export async function tearDownStack(context: Pick<Context, 'admin' | 'prefix' | 'services'>): Promise<void> {
  const { admin, prefix, services } = context;
  await deleteRunTopics(admin, prefix).catch(() => {});
  await admin.disconnect().catch(() => {});
  await closeServices(services);
}

async function deleteRunTopics(admin: Admin, prefix: string): Promise<void> {
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics });
  await admin.deleteGroups([`${prefix}booking-processor`, `${prefix}seat-projector`]).catch(() => {});
}

async function describeMachine(services: Services): Promise<Machine & { redisPid: number }> {
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

/** The local broker's pid (scripts/stack.sh), when it is the one running. */
function kafkaPid(): number | undefined {
  try {
    const pid = Number(readFileSync(join(ROOT, '.kafka/kafka.pid'), 'utf8').trim());
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka') ? pid : undefined;
  } catch {
    return undefined;
  }
}
