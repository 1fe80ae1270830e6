/**
 * Every process the chaos suite starts is registered here, so that however the run ends (done,
 * a thrown error, Ctrl-C) nothing it started outlives it, and nothing it did not start is touched.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const live = new Set<ChildProcess>();
/** Synchronous last-resort stops (e.g. `pg_ctl stop -m immediate` for the daemonised Postgres). */
const finalizers = new Set<() => void>();

export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export function onExit(finalize: () => void): () => void {
  finalizers.add(finalize);
  return () => finalizers.delete(finalize);
}

export const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/**
 * Sends `signal` (after a SIGCONT, so a stopped process can act on it) and waits for the exit,
 * then SIGKILL after `graceMs`.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000) {
  if (!isRunning(child)) return;
  const exited = once(child, 'exit');
  child.kill('SIGCONT');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Kills whatever is still running, synchronously: safe in an 'exit' handler. */
export function killEverything(): void {
  for (const child of live) {
    try {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    } catch {}
  }
  for (const finalize of finalizers) {
    try {
      finalize();
    } catch {}
  }
  finalizers.clear();
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

/** Runs a command to completion without blocking the load; rejects with its output on failure. */
export function run(command: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`));
      else resolve(`${stdout}${stderr}`);
    });
  });
}

/** Polls `probe` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return true;
    } catch {}
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
