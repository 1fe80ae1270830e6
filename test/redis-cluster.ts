/** A local 3-master Redis Cluster for tests: real redis-server processes, gone when stopped. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

export interface LocalCluster {
  /** host:port of each master, as REDIS_CLUSTER_NODES takes them. */
  nodes: string[];
  stop(): Promise<void>;
}

/** Ports from `basePort` (each node also binds its bus port, base + 10000). */
export async function startRedisCluster(basePort: number): Promise<LocalCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'seatrush-cluster-'));
  const ports = [basePort, basePort + 1, basePort + 2];
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  let output = '';
  for (const child of children) {
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
  }
  const nodes = ports.map((port) => `127.0.0.1:${port}`);
  const cli = (...args: string[]) => promisify(execFile)('redis-cli', args);
  try {
    for (const port of ports) {
      for (let tries = 0; ; tries++) {
        const ping = await cli('-p', String(port), 'ping').catch(() => ({ stdout: '' }));
        if (ping.stdout.trim() === 'PONG') break;
        if (tries > 50) throw new Error(`redis-server on ${port} did not start: ${output.slice(-2_000)}`);
        await sleep(100);
      }
    }
    await cli('--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes');
    for (let tries = 0; ; tries++) {
      const info = await cli('-p', String(basePort), 'cluster', 'info');
      if (info.stdout.includes('cluster_state:ok')) break;
      if (tries > 100) throw new Error('the cluster did not become ready');
      await sleep(100);
    }
  } catch (error) {
    for (const child of children) child.kill('SIGKILL');
    throw error;
  }
  return {
    nodes,
    stop: async () => {
      await Promise.all(
        children.map(async (child) => {
          if (child.exitCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGKILL');
          await exited;
        }),
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
}
