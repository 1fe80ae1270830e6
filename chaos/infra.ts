/**
 * The suite's private stack: a Postgres cluster, a Redis (or a 3-master Redis Cluster) and a
 * KRaft Kafka broker of its own, on free ports, in a temporary folder. Faults are injected into
 * these, never into the machine's own services.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, isRunning, onExit, run, stopChild, track, waitFor } from './children.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Spawns `command` in its own process group (a Ctrl-C reaches the suite, which stops it in order). */
function spawnLogged(command: string, args: string[], logPath: string): ChildProcess {
  const log = openSync(logPath, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  return track(child);
}

/** Sends raw bytes and resolves with the first `length` bytes answered (or rejects within 2 s). */
function exchange(port: number, request: Buffer, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(new Error('no answer')), 2_000);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      answer = Buffer.concat([answer, chunk]);
      if (answer.length >= length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Postgres 15 from the distribution's binaries: initdb once, then pg_ctl start/stop. As root,
 * initdb and the server run as the `postgres` user (Postgres refuses root).
 */
export class PrivatePostgres {
  readonly dataDir: string;
  readonly logPath: string;
  private readonly asPostgres: string[];

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.dataDir = join(dir, 'data');
    this.logPath = join(dir, 'postgres.log');
    this.asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/seatrush`;
  }

  static async create(dir: string): Promise<PrivatePostgres> {
    mkdirSync(dir, { recursive: true });
    const postgres = new PrivatePostgres(dir, await freePort());
    if (postgres.asPostgres.length > 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(dir, uid, gid);
    }
    await postgres.pg('initdb', ['-D', postgres.dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync']);
    return postgres;
  }

  private pg(tool: string, args: string[], timeoutMs = 90_000): Promise<string> {
    const [command, ...rest] = [...this.asPostgres, join(PG_BIN, tool), ...args];
    return run(command as string, rest, timeoutMs);
  }

  async start(): Promise<void> {
    // fsync off: the faults here stop Postgres cleanly (a restart), never the machine under it.
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`;
    await this.pg('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      this.logPath,
      '-o',
      options,
      '-w',
      '-t',
      '60',
      'start',
    ]);
    this.forget?.();
    this.forget = onExit(() => {
      const [command, ...rest] = [
        ...this.asPostgres,
        join(PG_BIN, 'pg_ctl'),
        ...['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'],
      ];
      execFileSync(command as string, rest, { stdio: 'ignore', timeout: 30_000 });
    });
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    this.forget?.();
    this.forget = undefined;
  }

  private forget: (() => void) | undefined;
}

/** One redis-server that keeps nothing on disk: a restart loses every hold and cache entry. */
export class PrivateRedis {
  child: ChildProcess | undefined;

  constructor(
    readonly dir: string,
    readonly port: number,
    private readonly extraArgs: string[] = [],
  ) {
    mkdirSync(dir, { recursive: true });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  get logPath(): string {
    return join(this.dir, `redis-${this.port}.log`);
  }

  async start(): Promise<void> {
    this.child = spawnLogged(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
        ...this.extraArgs,
      ],
      this.logPath,
    );
    const child = this.child;
    const up = await waitFor(async () => {
      if (!isRunning(child)) throw new Error('exited');
      return (await exchange(this.port, Buffer.from('PING\r\n'), 7)).toString().startsWith('+PONG');
    }, 15_000);
    if (!up) throw new Error(`redis-server on ${this.port} did not start; see ${this.logPath}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child) await stopChild(this.child, signal, 10_000);
  }
}

/** Three cluster-mode masters, the slots split by `redis-cli --cluster create`. */
export class PrivateRedisCluster {
  private constructor(readonly nodes: PrivateRedis[]) {}

  static async create(dir: string): Promise<PrivateRedisCluster> {
    const nodes: PrivateRedis[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      nodes.push(
        new PrivateRedis(join(dir, `node-${i}`), port, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `node-${i}`, 'nodes.conf'),
          '--cluster-node-timeout',
          '5000',
        ]),
      );
    }
    return new PrivateRedisCluster(nodes);
  }

  /** `host:port,...`, as REDIS_CLUSTER_NODES takes it. */
  get addresses(): string {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
  }

  async start(): Promise<void> {
    for (const node of this.nodes) await node.start();
    await run('redis-cli', [
      '--cluster',
      'create',
      ...this.nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const ok = await waitFor(async () => {
      for (const node of this.nodes) {
        const info = await run('redis-cli', ['-p', String(node.port), 'cluster', 'info']);
        if (!info.includes('cluster_state:ok')) return false;
      }
      return true;
    }, 30_000);
    if (!ok) throw new Error('the Redis Cluster did not reach cluster_state:ok');
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }
}

/**
 * A single-node KRaft broker from the jars scripts/kafka.sh fetched into .kafka/lib, configured as
 * that script does, on ports and a data folder of its own.
 */
export class PrivateKafka {
  child: ChildProcess | undefined;
  private readonly config: string;
  readonly logDir: string;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly controllerPort: number,
  ) {
    this.config = join(dir, 'server.properties');
    this.logDir = join(dir, 'logs');
  }

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async create(dir: string): Promise<PrivateKafka> {
    // The broker's jars, fetched once from Maven Central (a running shared broker may be another
    // checkout's, so its jars are not necessarily in this one's .kafka/lib).
    execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'fetch'], { stdio: 'inherit', timeout: 600_000 });
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const kafka = new PrivateKafka(dir, await freePort(), await freePort());
    writeFileSync(
      kafka.config,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${kafka.controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${kafka.port},CONTROLLER://127.0.0.1:${kafka.controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${kafka.port}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        `log.dirs=${join(dir, 'data')}`,
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=4',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'transaction.state.log.num.partitions=4',
        'default.replication.factor=1',
        'min.insync.replicas=1',
        'group.initial.rebalance.delay.ms=0',
        'auto.create.topics.enable=false',
        'num.partitions=1',
        'log.cleaner.dedupe.buffer.size=8388608',
        'num.network.threads=2',
        'num.io.threads=4',
        '',
      ].join('\n'),
    );
    const tool = (...args: string[]) =>
      run('java', [...kafka.javaArgs(), 'kafka.tools.StorageTool', ...args], 120_000);
    const clusterId = (await tool('random-uuid')).trim().split('\n').at(-1) as string;
    await tool('format', '-t', clusterId, '-c', kafka.config, '--ignore-formatted');
    return kafka;
  }

  private javaArgs(): string[] {
    return [
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${join(ROOT, 'scripts/kafka/log4j.properties')}`,
      `-Dkafka.logs.dir=${this.logDir}`,
      '-cp',
      `${join(ROOT, '.kafka/lib')}/*`,
    ];
  }

  async start(): Promise<void> {
    this.child = spawnLogged(
      'java',
      [
        '-Xms256m',
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-XX:+ExitOnOutOfMemoryError',
        ...this.javaArgs(),
        'kafka.Kafka',
        this.config,
      ],
      join(this.logDir, 'stdout.log'),
    );
    const child = this.child;
    // An ApiVersions v0 request answered with its correlation id and no error: the broker serves
    // requests (the port is bound well before that).
    const apiVersions = Buffer.concat([
      Buffer.from('00000012' + '0012' + '0000' + '00000007' + '0008', 'hex'),
      Buffer.from('kafka.sh'),
    ]);
    const up = await waitFor(async () => {
      if (!isRunning(child)) throw new Error('exited');
      const reply = await exchange(this.port, apiVersions, 10);
      return reply.subarray(4, 10).toString('hex') === '000000070000';
    }, 90_000);
    if (!up) throw new Error(`the chaos Kafka broker did not start; see ${this.logDir}`);
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child, 'SIGTERM', 30_000);
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }
}
