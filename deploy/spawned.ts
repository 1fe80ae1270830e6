/** Test support: a real child process (a bundle, wrangler dev) that the test stops and reaps. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

export interface Spawned {
  child: ChildProcess;
  /** The first match of `ready` in stdout or stderr; rejects if the process exits before. */
  ready: Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
  output(): string;
  /**
   * SIGTERM, then SIGKILL to the whole process group if it has not exited within `graceMs`; any
   * helper left in the group once the process exited is killed too.
   */
  stop(graceMs?: number): Promise<void>;
}

export function spawnProcess(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; ready: RegExp; cwd?: string },
): Spawned {
  // Its own process group, so a stop reaches the helpers it starts (wrangler starts workerd).
  const child = spawn(command, args, {
    env: options.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    output,
  }));
  const ready = new Promise<RegExpExecArray>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = options.ready.exec(output);
      if (match) resolve(match);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    exited.then(({ code, signal }) =>
      reject(new Error(`exited (${code ?? signal}) before ready:\n${output}`)),
    );
  });
  ready.catch(() => {}); // a test that expects the exit awaits `exited` instead
  return {
    child,
    ready,
    exited,
    output: () => output,
    stop: async (graceMs = 15_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        }, graceMs);
        timer.unref();
        await exited;
        clearTimeout(timer);
      }
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: nothing is left in the group, as it should be
      }
    },
  };
}

/** A TCP port nothing listens on right now, for a child that cannot be told to pick its own. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}
