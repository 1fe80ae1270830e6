/**
 * CPU and memory of the processes under test, sampled from /proc (Linux): utime+stime from
 * /proc/<pid>/stat, resident memory from /proc/<pid>/status. A group may be several processes
 * (Postgres: one backend per connection plus its writers), listed again at every sample.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcSample {
  /** CPU seconds used since the process started. */
  cpu: number;
  /** Private resident memory (RssAnon) and shared resident memory (RssFile + RssShmem), bytes. */
  privateBytes: number;
  sharedBytes: number;
}

export function readProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { cpu, privateBytes: kb('RssAnon'), sharedBytes: kb('RssFile') + kb('RssShmem') };
  } catch {
    return undefined; // it exited
  }
}

/** Busy CPU seconds of the whole machine so far (every process, ours or not), from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const [, ...fields] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
    return (
      ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS
    );
  } catch {
    return Number.NaN;
  }
}

export interface GroupUsage {
  name: string;
  processes: number;
  /** CPU seconds used during the phase. */
  cpuSeconds: number;
  /** cpuSeconds ÷ the phase's wall time: 1.0 is one core busy the whole time. */
  cores: number;
  /** Highest resident memory seen: private memory of all its processes plus the largest shared part. */
  peakRssBytes: number;
}

interface Group {
  name: string;
  pids: () => number[] | Promise<number[]>;
  /** CPU at phase start (or when first seen) and last seen, per pid. */
  startCpu: Map<number, number>;
  lastCpu: Map<number, number>;
  peakRss: number;
}

/** The pseudo-group of every process the bench did not start or track. */
export const OTHERS = 'other processes on the machine';

export class ProcSampler {
  private readonly groups: Group[] = [];
  private timer: NodeJS.Timeout | undefined;
  private phaseStarted = 0;
  private machineStarted = 0;
  private sampling: Promise<void> = Promise.resolve();

  constructor(private readonly intervalMs: number) {}

  track(name: string, pids: () => number[] | Promise<number[]>): void {
    this.groups.push({ name, pids, startCpu: new Map(), lastCpu: new Map(), peakRss: 0 });
  }

  /** Starts a phase: CPU counts from now, peak memory starts over. */
  async begin(): Promise<void> {
    await this.sampling;
    for (const group of this.groups) {
      group.startCpu.clear();
      group.lastCpu.clear();
      group.peakRss = 0;
    }
    this.phaseStarted = performance.now();
    this.machineStarted = machineBusySeconds();
    await this.sample();
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample()).catch(() => {});
    }, this.intervalMs);
  }

  /**
   * Ends the phase with one last sample; returns each group's usage, then what every other
   * process of the machine used meanwhile (other work sharing the cores skews a phase).
   */
  async end(): Promise<GroupUsage[]> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    const wall = (performance.now() - this.phaseStarted) / 1000;
    const usage = this.groups.map((group) => {
      let cpuSeconds = 0;
      for (const [pid, last] of group.lastCpu) cpuSeconds += last - (group.startCpu.get(pid) ?? last);
      return {
        name: group.name,
        processes: group.lastCpu.size,
        cpuSeconds: +cpuSeconds.toFixed(2),
        cores: +(cpuSeconds / wall).toFixed(2),
        peakRssBytes: group.peakRss,
      };
    });
    const others = Math.max(
      0,
      machineBusySeconds() - this.machineStarted - usage.reduce((sum, group) => sum + group.cpuSeconds, 0),
    );
    if (Number.isFinite(others)) {
      usage.push({
        name: OTHERS,
        processes: 0,
        cpuSeconds: +others.toFixed(2),
        cores: +(others / wall).toFixed(2),
        peakRssBytes: 0,
      });
    }
    return usage;
  }

  private async sample(): Promise<void> {
    for (const group of this.groups) {
      let pids: number[];
      try {
        pids = await group.pids();
      } catch {
        continue;
      }
      let privateBytes = 0;
      let sharedBytes = 0;
      for (const pid of pids) {
        const sample = readProc(pid);
        if (!sample) continue;
        if (!group.startCpu.has(pid)) group.startCpu.set(pid, sample.cpu);
        group.lastCpu.set(pid, sample.cpu);
        privateBytes += sample.privateBytes;
        sharedBytes = Math.max(sharedBytes, sample.sharedBytes);
      }
      group.peakRss = Math.max(group.peakRss, privateBytes + sharedBytes);
    }
  }
}
