/**
 * The functions, each instance its own process from the built bundle, as deployed: the image's
 * Node flags, NODE_ENV=production, one FUNCTION each. An instance killed and restarted comes back
 * on its port, as a container behind a fixed upstream address would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { SERVER_NODE_FLAGS } from '../bench/processes.ts';
import { isRunning, stopChild, track } from './children.ts';

export interface Instance {
  fn: string;
  /** `book#2`: the function and its instance number. */
  id: string;
  port: number;
  url: string;
  child: ChildProcess;
  /** Set while the process is SIGSTOPped. */
  paused?: boolean;
}

/** How many instances of each function a scenario runs. */
export type FleetPlan = Record<string, number>;

export class Fleet {
  readonly instances: Instance[] = [];
  private extraEnv: Record<string, string> = {};
  private readonly started = new Map<string, number>();

  constructor(
    private readonly bundle: string,
    private readonly env: Record<string, string>,
    private readonly logDir: string,
  ) {}

  of(fn: string): Instance[] {
    return this.instances.filter((instance) => instance.fn === fn);
  }

  /** The address of a function's first live instance (functions other than book have one). */
  url(fn: string): string {
    const instance = this.of(fn).find((candidate) => isRunning(candidate.child)) ?? this.of(fn)[0];
    if (!instance) throw new Error(`no instance of ${fn}`);
    return instance.url;
  }

  /** Starts instance `id` of `fn` on `port` (0: any free port); resolves once it listens. */
  private async spawn(fn: string, id: string, port: number): Promise<{ child: ChildProcess; url: string }> {
    const log = createWriteStream(join(this.logDir, `${id.replace('#', '-')}.log`), { flags: 'a' });
    const child = track(
      spawn(process.execPath, [...SERVER_NODE_FLAGS, this.bundle], {
        env: { ...this.env, ...this.extraEnv, FUNCTION: fn, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      }),
    );
    child.stdout?.pipe(log, { end: false });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${id} did not listen within 60 s: ${stderr}`)),
        60_000,
      );
      child.stderr?.on('data', (chunk: Buffer) => {
        log.write(chunk);
        if (stderr.length < 10_000) stderr += chunk.toString();
        const match = /listening on (http:\/\/[\w.:[\]-]+)/.exec(stderr);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(`${id} exited (${code ?? signal}) before listening: ${stderr.trim().slice(-2_000)}`),
        );
      });
    }).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    child.once('exit', (code, signal) => log.end(`\n[chaos] ${id} exited (${code ?? signal})\n`));
    return { child, url };
  }

  async start(fn: string): Promise<Instance> {
    const number = (this.started.get(fn) ?? 0) + 1;
    this.started.set(fn, number);
    const id = `${fn}#${number}`;
    const { child, url } = await this.spawn(fn, id, 0);
    const instance: Instance = { fn, id, port: Number(new URL(url).port), url, child };
    this.instances.push(instance);
    return instance;
  }

  /** Starts a dead instance again, on its old port when it is still free. */
  async restart(instance: Instance): Promise<void> {
    if (isRunning(instance.child)) return;
    let started: { child: ChildProcess; url: string };
    try {
      started = await this.spawn(instance.fn, instance.id, instance.port);
    } catch {
      started = await this.spawn(instance.fn, instance.id, 0);
    }
    instance.child = started.child;
    instance.url = started.url;
    instance.port = Number(new URL(started.url).port);
    instance.paused = false;
  }

  kill9(instance: Instance): void {
    instance.child.kill('SIGKILL');
  }

  pause(instance: Instance): void {
    instance.child.kill('SIGSTOP');
    instance.paused = true;
  }

  resume(instance: Instance): void {
    instance.child.kill('SIGCONT');
    instance.paused = false;
  }

  /** SIGTERM: the function answers what is in flight, finishes its batch, leaves its group. */
  async stop(instance: Instance): Promise<void> {
    await stopChild(instance.child);
    this.instances.splice(this.instances.indexOf(instance), 1);
  }

  /**
   * Brings the fleet to `plan` with `extraEnv`: restarts what died, starts what is missing, stops
   * extra instances; with another environment than the running one, restarts everything.
   */
  async ensure(plan: FleetPlan, extraEnv: Record<string, string> = {}): Promise<void> {
    if (JSON.stringify(extraEnv) !== JSON.stringify(this.extraEnv)) {
      await this.stopAll();
      this.extraEnv = extraEnv;
    }
    for (const instance of [...this.instances].reverse()) {
      if ((plan[instance.fn] ?? 0) < this.of(instance.fn).length) await this.stop(instance);
    }
    await Promise.all(this.instances.map((instance) => this.restart(instance)));
    const missing = Object.entries(plan).flatMap(([fn, count]) =>
      Array.from({ length: Math.max(0, count - this.of(fn).length) }, () => fn),
    );
    // Started in order, so instance numbers follow the plan; each start takes about a second.
    for (const fn of missing) await this.start(fn);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.instances.map((instance) => stopChild(instance.child)));
    this.instances.length = 0;
  }
}
