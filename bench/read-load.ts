/**
 * Seat-map read load: GET /events/seats/:eventId of one fresh event, as fast as the server
 * answers, over C keep-alive connections (undici) for T seconds per mode, after a second of
 * warm-up. The `event-seats` function runs in a child process (lib/platform/runner.ts
 * startFunctions, NODE_ENV=production), so the load generator does not take its CPU.
 *
 *   node --import tsx bench/read-load.ts [--seats 4000] [--connections 32] [--seconds 10]
 *     [--modes identity,gzip,br,304]
 *
 * Modes: `identity`, `gzip`, `br` send that Accept-Encoding; `304` sends gzip with the ETag of the
 * first answer in If-None-Match. Every third seat is booked. Settings (DATABASE_URL, REDIS_URL,
 * RATE_LIMIT_READS_PER_ADDRESS, ...) come from the environment and reach the server too.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { events } from '../lib/booking/db/schema.ts';
import { gridSeatNumbers } from '../lib/booking/seats/numbers.ts';
import { parseConfig } from '../lib/platform/config.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { closeServices, createServices, type Services } from '../lib/services.ts';

const MODES = ['identity', 'gzip', 'br', '304'] as const;
type Mode = (typeof MODES)[number];

interface ModeResult {
  mode: Mode;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  bytesPerAnswer: number;
  statuses: Record<string, number>;
}

if (process.argv[2] === 'serve') await serve();
else await main();

/** The child: the event-seats function alone on a free port; its URL goes to the parent. */
async function serve(): Promise<void> {
  const { startFunctions } = await import('../lib/platform/runner.ts');
  const { default: eventSeats } = await import('../functions/event-seats/index.ts');
  const config = parseConfig();
  const running = await startFunctions([eventSeats], createServices(config, createLogger(config)), {
    host: '127.0.0.1',
    port: 0,
  });
  process.send?.({ url: running.url });
  process.on('disconnect', () => process.exit(0));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seats: { type: 'string', default: '4000' },
      connections: { type: 'string', default: '32' },
      seconds: { type: 'string', default: '10' },
      modes: { type: 'string', default: MODES.join(',') },
    },
  });
  const modes = values.modes.split(',') as Mode[];
  for (const mode of modes) if (!MODES.includes(mode)) throw new Error(`unknown mode ${mode}`);
  // Only to create the event; the server runs as in production.
  const config = parseConfig({ NODE_ENV: 'development', ...process.env });
  const services = createServices(config, createLogger({ LOG_LEVEL: 'silent' }));
  const eventId = await createEvent(services, Number(values.seats));
  await closeServices(services);
  services.subscriber.disconnect();

  const { child, url } = await startServer();
  const pool = new Pool(url, { connections: Number(values.connections), pipelining: 1 });
  const path = `/events/seats/${eventId}`;
  try {
    const results: ModeResult[] = [];
    for (const mode of modes) {
      const headers = await headersFor(pool, path, mode);
      await load(pool, path, headers, Number(values.connections), 1_000); // warm-up
      results.push({
        mode,
        ...(await load(pool, path, headers, Number(values.connections), Number(values.seconds) * 1_000)),
      });
    }
    console.log(
      JSON.stringify({
        seats: Number(values.seats),
        connections: Number(values.connections),
        seconds: Number(values.seconds),
        readLimit: config.RATE_LIMIT_READS_PER_ADDRESS,
        results,
      }),
    );
    for (const r of results) {
      console.error(
        `${r.mode.padEnd(8)} ${Math.round(r.requestsPerSecond).toString().padStart(7)} req/s  ` +
          `p50 ${r.p50Ms.toFixed(1)} ms  p99 ${r.p99Ms.toFixed(1)} ms  ${Math.round(r.bytesPerAnswer)} B/answer  ` +
          JSON.stringify(r.statuses),
      );
    }
  } finally {
    await pool.close();
    child.disconnect();
  }
}

/** An event of `seatCount` seats, every third one booked; its id. */
async function createEvent(services: Services, seatCount: number): Promise<number> {
  const [event] = await services.db
    .insert(events)
    .values({
      name: 'Read load',
      date: new Date('2030-01-01T20:00:00Z'),
      location: 'Bench',
      totalSeats: seatCount,
    })
    .returning({ id: events.id });
  if (!event) throw new Error('no event');
  await services.db.$client.query(
    `insert into seats (event_id, seat_number, is_booked)
     select $1, number, ordinality % 3 = 0 from unnest($2::text[]) with ordinality as t(number, ordinality)`,
    [event.id, gridSeatNumbers(Math.ceil(seatCount / 50), 50).slice(0, seatCount)],
  );
  return event.id;
}

function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(import.meta.filename, ['serve'], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      JWT_SECRET: process.env.JWT_SECRET ?? randomBytes(32).toString('hex'),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      FUNCTION: 'event-seats',
    },
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: { url: string }) => resolve({ child, url: message.url }));
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
}

async function headersFor(pool: Pool, path: string, mode: Mode): Promise<Record<string, string>> {
  const headers: Record<string, string> = { 'accept-encoding': mode === '304' ? 'gzip' : mode };
  if (mode !== '304') return headers;
  const first = await pool.request({ method: 'GET', path, headers });
  await first.body.dump();
  const etag = first.headers.etag;
  return typeof etag === 'string' ? { ...headers, 'if-none-match': etag } : headers;
}

/** Sends requests on `connections` connections until `ms` have passed. */
async function load(
  pool: Pool,
  path: string,
  headers: Record<string, string>,
  connections: number,
  ms: number,
): Promise<Omit<ModeResult, 'mode'>> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let bytes = 0;
  const started = performance.now();
  const until = started + ms;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const sent = performance.now();
        const answer = await pool.request({ method: 'GET', path, headers });
        for await (const chunk of answer.body) bytes += (chunk as Buffer).length;
        latencies.push(performance.now() - sent);
        statuses[answer.statusCode] = (statuses[answer.statusCode] ?? 0) + 1;
      }
    }),
  );
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    requestsPerSecond: (latencies.length / elapsed) * 1_000,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    bytesPerAnswer: bytes / Math.max(1, latencies.length),
    statuses,
  };
}
