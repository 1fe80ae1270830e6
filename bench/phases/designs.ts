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
export type SystemFunction = (typeof SYSTEM_FUNCTIONS)[number];

export interface RunningSystem {
  /** Where each function listens. */
  url(name: SystemFunction): string;
  /** Each function's pid, by name, in start order. */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

export async function startSystem(context: Context): Promise<RunningSystem> {
  const { options, env } = context;
  const started: Started[] = [];
  const stop = async () => {
    await Promise.all(started.map((process) => stopProcess(process.child)));
  };
  try {
    const bundle = await functionsBundle(join(context.logDir, 'bundle'));
    for (const name of SYSTEM_FUNCTIONS) {
      // One directory per function, as bench/profile.ts reads them.
      const profileDir = options.cpuProf ? join(options.cpuProf, context.runId, name) : undefined;
      const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
      if (profileDir) mkdirSync(profileDir, { recursive: true });
      started.push(
        await startProcess(name, bundle, { ...env, FUNCTION: name }, { logDir: context.logDir, nodeArgs }),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  say(`system: ${started.map((p) => `${p.name} ${p.url} (pid ${p.pid})`).join(', ')}`);
  return {
    url: (name) => started.find((process) => process.name === name)?.url as string,
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
