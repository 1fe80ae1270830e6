/** Starting the two designs: the system (each function its own process) and the obvious design's endpoint. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { functionsBundle, type Started, startProcess, stopProcess } from '../processes.ts';
import { say } from '../progress.ts';
import type { Context } from './stack.ts';

/** The functions a booking goes through, and the seat maps' (the read storm's), each its own process. */
const SYSTEM_FUNCTIONS = [
  'book',
  'booking-status',
  'booking-processor',
  'seat-projector',
  'event-seats',
] as const;

/** The waiting room's (bench --queue): the events' admin API, the line, its admission, and a booking's path. */
export const QUEUE_FUNCTIONS = [
  'events',
  'queue',
  'queue-admission',
  'book',
  'booking-processor',
  'seat-projector',
] as const;

export interface RunningSystem {
  /** Where a function listens (its first process). */
  url(name: string): string;
  /** Where each of a function's processes listens. */
  urls(name: string): string[];
  /** Each process's pid, by name (`queue 2` for a function's second process), in start order. */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

/** Starts `functions` from the bundle, each its own process, `processes[name]` of them (one by default). */
export async function startSystem(
  context: Context,
  functions: readonly string[] = SYSTEM_FUNCTIONS,
  processes: Record<string, number> = {},
): Promise<RunningSystem> {
  const { options, env } = context;
  const started: (Started & { function: string })[] = [];
  const stop = async () => {
    await Promise.all(started.map((process) => stopProcess(process.child)));
  };
  try {
    const bundle = await functionsBundle(join(context.logDir, 'bundle'));
    for (const name of functions) {
      const copies = processes[name] ?? 1;
      for (let copy = 1; copy <= copies; copy++) {
        const processName = copies === 1 ? name : `${name} ${copy}`;
        // One directory per process, as bench/profile.ts reads them.
        const profileDir = options.cpuProf
          ? join(options.cpuProf, context.runId, processName.replace(' ', '-'))
          : undefined;
        const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
        if (profileDir) mkdirSync(profileDir, { recursive: true });
        const process = await startProcess(
          processName.replace(' ', '-'),
          bundle,
          { ...env, FUNCTION: name },
          { logDir: context.logDir, nodeArgs },
        );
        started.push({ ...process, name: processName, function: name });
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  say(`system: ${started.map((p) => `${p.name} ${p.url} (pid ${p.pid})`).join(', ')}`);
  const urls = (name: string) => started.filter((process) => process.function === name).map((p) => p.url);
  return {
    url: (name) => urls(name)[0] as string,
    urls,
    pids: Object.fromEntries(started.map((process) => [process.name, process.pid])),
    stop,
  };
}

/** The obvious design's endpoint (bench/baseline/), with the functions' JWT secret. */
export async function startBaseline(context: Context): Promise<Started> {
  const { options } = context;
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
  say(`obvious design: ${baseline.url} (pid ${baseline.pid}, pool ${options.baselinePool})`);
  return baseline;
}
