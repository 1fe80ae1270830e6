/** Runs the real functions for integration tests: in this process, or one as its own process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { FUNCTIONS } from '../functions/registry.ts';
import { DECIDED_STATUSES } from '../lib/booking/responses.ts';
import { type RunningFunctions, startFunctions } from '../lib/platform/runner.ts';
import type { Services } from '../lib/services.ts';
import type { Answer } from './invariants.ts';
import { bearer } from './support.ts';

export async function startSystem(
  services: Services,
  options: { except?: string[] } = {},
): Promise<RunningFunctions> {
  const selected = FUNCTIONS.filter((definition) => !options.except?.includes(definition.name));
  return startFunctions(selected, services, { host: '127.0.0.1', port: 0 });
}

/**
 * One function in a child process, as in its container; resolves once it listens. Its log lines
 * (stdout) go to `onLog` if given, else to this process's stdout.
 */
export async function startFunctionProcess(
  name: string,
  env: Record<string, string> = {},
  onLog?: (line: string) => void,
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('../bin/run.ts', import.meta.url).pathname],
    {
      env: {
        ...process.env,
        FUNCTION: name,
        PORT: '0',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        ...env,
      },
      stdio: ['ignore', onLog ? 'pipe' : 'inherit', 'pipe'],
    },
  );
  if (onLog) createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', onLog);
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${stderr}`)));
  });
  return child;
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/** POST /bookings/book as a client would, recording what it was told. */
export async function book(
  url: string,
  body: { user_id: number; event_id: number; seat_ids: number[] },
  headers: Record<string, string> = {},
): Promise<Answer & { body: Record<string, unknown> }> {
  const response = await fetch(`${url}/bookings/book`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await bearer(body.user_id)), ...headers },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  const bookings = json.bookings as { id: number }[] | undefined;
  return {
    status: response.status,
    requestId: json.request_id as string | undefined,
    userId: body.user_id,
    seatIds: body.seat_ids,
    bookingIds: bookings?.map((booking) => booking.id),
    body: json,
  };
}

/** Polls booking-status until every request is decided (a request accepted while Redis was down
 * is unknown to booking-status until the processor decides it). */
export async function waitUntilDecided(
  url: string,
  requestIds: readonly string[],
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...requestIds];
  const admin = await bearer(1, 'admin');
  while (pending.length > 0) {
    if (Date.now() > deadline)
      throw new Error(`${pending.length} requests still pending, e.g. ${pending[0]}`);
    const states = await Promise.all(
      pending.map(async (id) => {
        const response = await fetch(`${url}/bookings/requests/${id}`, { headers: admin });
        return ((await response.json()) as { status?: string }).status;
      }),
    );
    pending = pending.filter((_, i) => !DECIDED_STATUSES.has(states[i] as string));
    if (pending.length > 0) await sleep(100);
  }
}

/** Runs `work` over every item with at most `limit` in flight, keeping the answers in order. */
export async function inFlight<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
