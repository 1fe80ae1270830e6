/** Child processes of the bench: each function, the obvious design, the floors and the load generator. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildBundles } from '../deploy/build.ts';

/** The repository, where every script the bench starts is found. */
export const ROOT = new URL('..', import.meta.url).pathname;

export interface Started {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Where it listens, from its "listening on http://..." line. */
  url: string;
}

/**
 * The V8 flags the image's ENTRYPOINT gives every function (deploy/Dockerfile): every server the
 * bench starts, the system's functions, the obvious design and the no-op alike, runs with them.
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=32'];

let bundle: Promise<string> | undefined;

/**
 * The functions' bundle as the image runs it (deploy/build.ts), built once per bench process into
 * `dir` (not dist/node, which another command may be running from), with a source map beside it
 * for bench/profile.ts. Resolves with the path of its run.mjs.
 */
export function functionsBundle(dir: string): Promise<string> {
  bundle ??= buildBundles(dir, { sourcemap: true }).then(() => join(dir, 'run.mjs'));
  return bundle;
}

/**
 * Starts `<script>` with `env` (on top of this process's environment), its stdout and stderr in
 * `<logDir>/<name>.log`, and resolves once it prints where it listens. A bundle (.mjs) runs on
 * plain Node, as in the image; TypeScript through tsx.
 */
export async function startProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  options: { logDir: string; nodeArgs?: string[]; timeoutMs?: number },
): Promise<Started> {
  const log = openSync(join(options.logDir, `${name}.log`), 'a');
  const child = spawn(
    process.execPath,
    [
      ...SERVER_NODE_FLAGS,
      ...(options.nodeArgs ?? []),
      ...(script.endsWith('.mjs') ? [] : ['--import', 'tsx']),
      resolve(ROOT, script),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', log, 'pipe'],
    },
  );
  closeSync(log);
  try {
    const url = await listeningUrl(child, name, options.timeoutMs ?? 60_000);
    // Keep draining stderr so a chatty child never blocks on a full pipe.
    child.stderr?.removeAllListeners('data');
    child.stderr?.resume();
    return { name, child, pid: child.pid as number, url };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** Resolves with the URL of the child's "listening on" line (on stderr); rejects if it exits first. */
export function listeningUrl(child: ChildProcess, name: string, timeoutMs = 60_000): Promise<string> {
  let stderr = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start within ${timeoutMs} ms: ${stderr}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/[\w.:[\]-]+)/.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before listening: ${stderr.trim()}`));
    });
  });
}

/** SIGTERM (a function finishes its batch and leaves its group), then SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
