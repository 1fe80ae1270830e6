/** What every measured phase does: a levelled field, a load job, the load generator's run, CPU and memory sampled meanwhile. */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Services } from '../../lib/services.ts';
import type { BenchEvent } from '../database.ts';
import type { LoadJob, LoadMessage, LoadResult } from '../load.ts';
import { ROOT } from '../processes.ts';
import { type GroupUsage, ProcSampler } from '../procstat.ts';
import { progress } from '../progress.ts';
import type { ReadTargetResult } from '../read-storm.ts';
import type { ReadGenerator } from './reads.ts';
import type { Context } from './stack.ts';

/** How long the load generator may keep asking booking-status about its 202s once the system is quiet. */
const POLL_OUTCOMES_MS = 30_000;

/** Levels the field before each measured phase: no checkpoint or vacuum debt from the last one. */
export async function quiesce(services: Services): Promise<void> {
  await services.db.$client.query('vacuum analyze seats, bookings, booking_requests, users');
  await services.db.$client.query('checkpoint');
}

/**
 * The flash sale on `event`: request i books the seats demand[i] wants, as user
 * `firstUser + demand[i].user`, at the run's offered rate unless `overrides` say otherwise.
 */
export function loadJob(
  context: Context,
  event: BenchEvent,
  bookUrl: string,
  overrides: Partial<LoadJob> = {},
  demand = context.demand,
  firstUser = 0,
): LoadJob {
  const { options, userIds } = context;
  return {
    bookUrl,
    connections: options.connections,
    rate: options.rate,
    jwtSecret: context.env.JWT_SECRET,
    respondAsync: false,
    eventId: event.eventId,
    users: demand.map((wanted) => userIds[firstUser + wanted.user] as number),
    seats: demand.map((wanted) => wanted.seats.map((seat) => event.seatIds[seat] as number)),
    ...overrides,
  };
}

/** Postgres's processes for the bench: its database's backends and the server's own writers. */
export function postgresPids(services: Services): () => Promise<number[]> {
  return async () => {
    const { rows } = await services.db.$client.query<{ pid: number }>(
      `select pid from pg_stat_activity
       where (datname = current_database() and pid <> pg_backend_pid()) or backend_type <> 'client backend'`,
    );
    return rows.map((row) => row.pid);
  };
}

/** Samples `processes` (name → pid), then Postgres, Redis, Kafka and the bench itself. */
export function samplerFor(context: Context, processes: Record<string, number>): ProcSampler {
  const sampler = new ProcSampler(context.options.sampleMs);
  for (const [name, pid] of Object.entries(processes)) sampler.track(name, () => [pid]);
  sampler.track('postgres', postgresPids(context.services));
  const { redis, kafka } = context.infraPids;
  if (redis) sampler.track('redis', () => [redis]);
  if (kafka) sampler.track('kafka', () => [kafka]);
  sampler.track('bench runner', () => [process.pid]);
  return sampler;
}

/**
 * Runs the load generator in its own process. `afterBurst` runs once every request is answered
 * (the system settles there); then the generator asks booking-status about its 202s and returns.
 */
export async function runLoad(
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
          .then(() => child.send({ type: 'poll', deadline: Date.now() + POLL_OUTCOMES_MS }))
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
 * A measured run of the load generator: `sampler` (given the generator's pid) counts from the
 * first request to the last answer, or, with `settle`, until the system has settled too. With
 * `reads` (the read storm), the read generator starts with the first request and stops there too.
 */
export async function measureLoad(
  context: Context,
  label: string,
  job: LoadJob,
  sampler: (loadPid: number) => ProcSampler,
  settle?: (accepted: number) => Promise<unknown>,
  reads?: ReadGenerator,
): Promise<{ result: LoadResult; usage: GroupUsage[]; reads?: ReadTargetResult[] }> {
  let sampling: ProcSampler | undefined;
  let usage: GroupUsage[] = [];
  let read: ReadTargetResult[] | undefined;
  const result = await runLoad(context, label, job, {
    started: async (loadPid) => {
      sampling = sampler(loadPid);
      await sampling.begin();
      reads?.go();
    },
    afterBurst: async (accepted) => {
      await settle?.(accepted);
      read = await reads?.finish();
      usage = (await sampling?.end()) ?? [];
    },
  });
  return { result, usage, ...(read ? { reads: read } : {}) };
}
