/**
 * What each function costs to run as shipped: its time from spawn to ready and its resident memory
 * once settled, each function alone from the built bundle with the image's Node flags, as in its
 * container. The bench adds each function's peak from the flash sale (`withPeakRss`).
 *
 * Standalone, reproducible before and after a change (builds the bundle first):
 *
 *   npx tsx bench/phases/footprint.ts [--functions book,events] [--repeat 3] [--settle-ms 20000]
 *     [--database-url URL] [--redis-url URL] [--kafka-brokers LIST] [--kafka-prefix P]
 *     [--node-flag FLAG ...] [--env KEY=VALUE ...] [--bundle PATH ...]
 *
 * `--bundle` measures bundles built before (e.g. an older commit's dist/node/run.mjs) instead,
 * several of them interleaved, start by start, so each meets the same disturbances.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { FUNCTIONS } from '../../functions/registry.ts';
import { migrateDatabase } from '../../lib/booking/db/migrate.ts';
import { runCli } from '../../lib/platform/cli.ts';
import { parseConfig } from '../../lib/platform/config.ts';
import { functionsBundle, listeningUrl, SERVER_NODE_FLAGS, stopProcess } from '../processes.ts';
import { type GroupUsage, readProc } from '../procstat.ts';
import { say } from '../progress.ts';
import type { Context } from './stack.ts';

export interface FunctionFootprint {
  /** From spawn to the first GET /readyz answered 200. */
  readyMs: number;
  /** CPU the process used until then: what ready time would be with a core to itself. */
  readyCpuMs: number;
  /** Resident memory (VmRSS) once settled after ready (see compareFootprints), before any load. */
  idleRssMiB: number;
  /** Its private part (RssAnon): what a second process of the same image adds. */
  idlePrivateMiB: number;
  /** The highest resident memory under the flash sale (the bench's four functions only). */
  peakRssMiB?: number;
}

/** What a function is started from: a bundle (dist/node/run.mjs or one built like it) and Node's flags. */
export interface Variant {
  bundle: string;
  nodeFlags: readonly string[];
}

export interface FootprintOptions {
  /** What every function runs with (FUNCTION is set per function). */
  env: Record<string, string>;
  functions: readonly string[];
  /** Starts of each function; the median of each figure is reported. */
  repeat: number;
  /** How long after the last function of a round is ready the idle memory is read. */
  settleMs: number;
}

const MiB = 1024 * 1024;
const round1 = (value: number) => Math.round(value * 10) / 10;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Polls /readyz until it answers 200; the first poll goes out as soon as the process listens. */
async function readyAt(url: string, name: string): Promise<number> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const status = await fetch(`${url}/readyz`).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    );
    if (status === 200) return performance.now();
    await sleep(5);
  }
  throw new Error(`${name}: /readyz did not answer 200 within 30 s`);
}

interface Start {
  readyMs: number;
  readyCpuMs: number;
  rss: number;
  private: number;
}

/**
 * Starts one function and waits until it is ready; `settled()` then reads its resident memory. The
 * child is pushed onto `children` before anything can fail, so the caller stops it either way.
 */
async function start(name: string, variant: Variant, options: FootprintOptions, children: ChildProcess[]) {
  const spawned = performance.now();
  const child = spawn(process.execPath, [...variant.nodeFlags, variant.bundle], {
    env: { ...process.env, ...options.env, FUNCTION: name },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const url = await listeningUrl(child, name);
  const ready = await readyAt(url, name);
  const atReady = readProc(child.pid as number);
  child.stderr?.resume();
  if (!atReady) throw new Error(`${name} exited once ready`);
  return {
    settled: (): Start => {
      const settled = readProc(child.pid as number);
      if (!settled) throw new Error(`${name} exited while idle`);
      return {
        readyMs: ready - spawned,
        readyCpuMs: atReady.cpu * 1000,
        rss: settled.privateBytes + settled.sharedBytes,
        private: settled.privateBytes,
      };
    },
  };
}

/**
 * Each function alone, `repeat` rounds of each variant in turn (so a disturbance of the machine
 * spreads over all of them); the median of each figure, per variant. In a round the functions
 * start one after the other, each measured to ready while the others sit idle, and all of them
 * stay up until `settleMs` after the last was ready: idle memory is read once V8's memory reducer
 * has had its turn (it waits 8 s of little allocation, then gives back the young generation that
 * start-up grew, about 10 MB).
 */
export async function compareFootprints(
  variants: readonly Variant[],
  options: FootprintOptions,
): Promise<Record<string, FunctionFootprint>[]> {
  const starts = variants.map(() => new Map<string, Start[]>());
  for (let round = 0; round < options.repeat; round++) {
    for (const [index, variant] of variants.entries()) {
      const children: ChildProcess[] = [];
      try {
        const running = [];
        for (const name of options.functions) {
          running.push({ name, started: await start(name, variant, options, children) });
        }
        await sleep(options.settleMs);
        const byName = starts[index] as Map<string, Start[]>;
        for (const { name, started } of running)
          byName.set(name, [...(byName.get(name) ?? []), started.settled()]);
      } finally {
        await Promise.all(children.map((child) => stopProcess(child)));
      }
    }
  }
  return starts.map((byName) =>
    Object.fromEntries(
      options.functions.map((name) => {
        const runs = byName.get(name) ?? [];
        const footprint: FunctionFootprint = {
          readyMs: Math.round(median(runs.map((run) => run.readyMs))),
          readyCpuMs: Math.round(median(runs.map((run) => run.readyCpuMs))),
          idleRssMiB: round1(median(runs.map((run) => run.rss)) / MiB),
          idlePrivateMiB: round1(median(runs.map((run) => run.private)) / MiB),
        };
        return [name, footprint];
      }),
    ),
  );
}

/**
 * Every function of the registry, as the bench runs them (its bundle, settings and flags). Call it
 * while no measured phase runs: the functions are idle, but the reconciler among them checks the
 * bench's seats as it would in service, and 33 starts take about 1.5 minutes of the machine.
 */
export async function benchFootprint(context: Context): Promise<Record<string, FunctionFootprint>> {
  const functions = FUNCTIONS.map((definition) => definition.name);
  say(`footprint: ${functions.length} functions, each alone from the bundle, 3 starts each`);
  const bundle = await functionsBundle(join(context.logDir, 'bundle'));
  const [footprints = {}] = await compareFootprints([{ bundle, nodeFlags: SERVER_NODE_FLAGS }], {
    // Topics and consumer groups of their own: the system's consumers may be running meanwhile.
    env: { ...context.env, KAFKA_PREFIX: `${context.prefix}footprint.` },
    functions,
    repeat: 3,
    settleMs: 20_000,
  });
  for (const [name, footprint] of Object.entries(footprints)) {
    say(`footprint: ${name} ready in ${footprint.readyMs} ms, ${footprint.idleRssMiB} MiB idle`);
  }
  return footprints;
}

/** Adds each function's highest resident memory over the runs (the sampler's groups are named by function). */
export function withPeakRss(
  footprints: Record<string, FunctionFootprint>,
  runs: readonly { processes: readonly GroupUsage[] }[],
): Record<string, FunctionFootprint> {
  return Object.fromEntries(
    Object.entries(footprints).map(([name, footprint]) => {
      const peaks = runs.flatMap((run) => run.processes.filter((group) => group.name === name));
      if (peaks.length === 0) return [name, footprint];
      const peak = Math.max(...peaks.map((group) => group.peakRssBytes));
      return [name, { ...footprint, peakRssMiB: round1(peak / MiB) }];
    }),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      functions: { type: 'string' },
      repeat: { type: 'string', default: '3' },
      'settle-ms': { type: 'string', default: '20000' },
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/seatrush_bench' },
      'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379/14' },
      'kafka-brokers': { type: 'string', default: '127.0.0.1:9092' },
      'kafka-prefix': { type: 'string', default: 'footprint.' },
      bundle: { type: 'string', multiple: true },
      'node-flags': { type: 'string', multiple: true },
      env: { type: 'string', multiple: true },
    },
  });
  const known = FUNCTIONS.map((definition) => definition.name);
  const functions = values.functions?.split(',') ?? known;
  for (const name of functions) {
    if (!known.includes(name)) throw new Error(`--functions: unknown function ${name} (${known.join(', ')})`);
  }
  const count = (flag: string, raw: string) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} must be a positive integer`);
    return value;
  };
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    JWT_SECRET: 'footprint-measurement-secret-0123456789',
    DATABASE_URL: values['database-url'],
    REDIS_URL: values['redis-url'],
    KAFKA_BROKERS: values['kafka-brokers'],
    KAFKA_PREFIX: values['kafka-prefix'],
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    HOST: '127.0.0.1',
    PORT: '0',
  };
  for (const pair of values.env ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--env ${pair}: expected KEY=VALUE`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  // The reconciler reads the tables as soon as it starts.
  await migrateDatabase(parseConfig({ ...env, LOG_LEVEL: 'silent' }));
  const bundles = values.bundle ?? [
    await functionsBundle(mkdtempSync(join(tmpdir(), 'seatrush-footprint-'))),
  ];
  const flagSets = (values['node-flags'] ?? [SERVER_NODE_FLAGS.join(' ')]).map((flags) =>
    flags.split(' ').filter(Boolean),
  );
  const variants = bundles.flatMap((bundle) => flagSets.map((nodeFlags) => ({ bundle, nodeFlags })));
  const repeat = count('repeat', values.repeat);
  const results = await compareFootprints(variants, {
    env,
    functions,
    repeat,
    settleMs: count('settle-ms', values['settle-ms']),
  });
  for (const [index, variant] of variants.entries()) {
    console.log(`\n${variant.bundle}, node ${variant.nodeFlags.join(' ')}; median of ${repeat} starts each`);
    console.log('| function | ready (ms) | CPU to ready (ms) | idle RSS (MiB) | of it private (MiB) |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [name, footprint] of Object.entries(results[index] ?? {})) {
      console.log(
        `| ${name} | ${footprint.readyMs} | ${footprint.readyCpuMs} | ${footprint.idleRssMiB} | ${footprint.idlePrivateMiB} |`,
      );
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) runCli('footprint', main);
