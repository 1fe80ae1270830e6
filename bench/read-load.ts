/**
 * Seat-map read load: one fresh event's seat map, as fast as the server answers, over C
 * keep-alive connections (undici) for T seconds per form and mode, after a second of warm-up.
 * The `event-seats` function runs in a child process (lib/platform/runner.ts startFunctions,
 * NODE_ENV=production), so the load generator does not take its CPU.
 *
 *   node --import tsx bench/read-load.ts [--seats 4000] [--connections 32] [--seconds 10]
 *     [--forms seats,map] [--modes identity,gzip,br,304] [--booked third|random] [--held 0]
 *     [--churn 0] [--sizes-only]
 *
 * Forms: `seats` is GET /events/seats/:eventId (the seed's shape), `map` GET
 * /events/:eventId/seat-map (the states, one character a seat), `layout` GET
 * /events/:eventId/seat-layout (the seats' ids and numbers, as runs). Modes: `identity`, `gzip`,
 * `br` send that Accept-Encoding; `304` sends gzip with the ETag of the first answer in
 * If-None-Match. Booked: every third seat, or each seat with probability 0.4 (random states
 * compress worst). Held: that many seats, at random, held for ten minutes (the seat map then
 * carries their expiries). Churn: that many seat changes a second while the load runs (a seat
 * held, then released 50 ms later: two changes), as in an on-sale, where every change makes the
 * next read rebuild the snapshot. First it prints the bytes of one answer of each form in each coding
 * (all `--sizes-only` does). Settings (DATABASE_URL, REDIS_URL, RATE_LIMIT_READS_PER_ADDRESS, ...)
 * come from the environment and reach the server too.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { events } from '../lib/booking/db/schema.ts';
import { connected } from '../lib/booking/seats/availability.ts';
import { gridSeatNumbers } from '../lib/booking/seats/numbers.ts';
import { parseConfig } from '../lib/platform/config.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { closeServices, createServices, type Services } from '../lib/services.ts';

const MODES = ['identity', 'gzip', 'br', '304'] as const;
type Mode = (typeof MODES)[number];

const FORMS = {
  seats: (eventId: number) => `/events/seats/${eventId}`,
  map: (eventId: number) => `/events/${eventId}/seat-map`,
  layout: (eventId: number) => `/events/${eventId}/seat-layout`,
};
type Form = keyof typeof FORMS;

const CODINGS = ['identity', 'gzip', 'br'] as const;

interface ModeResult {
  form: Form;
  mode: Mode;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  bytesPerAnswer: number;
  statuses: Record<string, number>;
  /**
   * The server's CPU time per answer (user + system): what an answer costs whatever else runs on
   * the machine, where requests/s falls with every process that shares the cores.
   */
  serverCpuUsPerAnswer: number;
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
  process.on('message', (message) => {
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send?.({ cpuUs: user + system });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seats: { type: 'string', default: '4000' },
      connections: { type: 'string', default: '32' },
      seconds: { type: 'string', default: '10' },
      forms: { type: 'string', default: 'seats,map' },
      modes: { type: 'string', default: MODES.join(',') },
      booked: { type: 'string', default: 'third' },
      held: { type: 'string', default: '0' },
      churn: { type: 'string', default: '0' },
      'sizes-only': { type: 'boolean', default: false },
    },
  });
  const forms = values.forms.split(',') as Form[];
  for (const form of forms) if (!(form in FORMS)) throw new Error(`unknown form ${form}`);
  const modes = values.modes.split(',') as Mode[];
  for (const mode of modes) if (!MODES.includes(mode)) throw new Error(`unknown mode ${mode}`);
  if (values.booked !== 'third' && values.booked !== 'random') throw new Error('--booked is third or random');
  const seatCount = Number(values.seats);
  const connections = Number(values.connections);
  // Only to create the event; the server runs as in production.
  const config = parseConfig({ NODE_ENV: 'development', ...process.env });
  const services = createServices(config, createLogger({ LOG_LEVEL: 'silent' }));
  const eventId = await createEvent(services, seatCount, values.booked);
  await holdSeats(services, eventId, Number(values.held));

  const { child, url } = await startServer();
  const pool = new Pool(url, { connections, pipelining: 1 });
  const stopChurn = churn(services, eventId, Number(values.churn));
  try {
    const sizes = await wireSizes(pool, eventId);
    const results: ModeResult[] = [];
    for (const form of values['sizes-only'] ? [] : forms) {
      const path = FORMS[form](eventId);
      for (const mode of modes) {
        const headers = await headersFor(pool, path, mode);
        await load(pool, path, headers, connections, 1_000); // warm-up
        const cpuBefore = await serverCpuUs(child);
        const measured = await load(pool, path, headers, connections, Number(values.seconds) * 1_000);
        const answers = Object.values(measured.statuses).reduce((sum, n) => sum + n, 0);
        const serverCpuUsPerAnswer = ((await serverCpuUs(child)) - cpuBefore) / Math.max(1, answers);
        results.push({ form, mode, ...measured, serverCpuUsPerAnswer });
      }
    }
    console.log(
      JSON.stringify({
        seats: seatCount,
        booked: values.booked,
        held: Number(values.held),
        churnPerS: Number(values.churn),
        connections,
        seconds: Number(values.seconds),
        readLimit: config.RATE_LIMIT_READS_PER_ADDRESS,
        sizes,
        results,
      }),
    );
    for (const [form, bytes] of Object.entries(sizes)) {
      console.error(
        `${form.padEnd(7)} bytes: ${CODINGS.map((coding) => `${coding} ${bytes[coding]}`).join('  ')}`,
      );
    }
    for (const r of results) {
      console.error(
        `${r.form.padEnd(7)} ${r.mode.padEnd(8)} ${Math.round(r.requestsPerSecond).toString().padStart(7)} req/s  ` +
          `p50 ${r.p50Ms.toFixed(1)} ms  p99 ${r.p99Ms.toFixed(1)} ms  ${Math.round(r.bytesPerAnswer)} B/answer  ` +
          `server ${Math.round(r.serverCpuUsPerAnswer)} µs CPU/answer  ` +
          JSON.stringify(r.statuses),
      );
    }
  } finally {
    await stopChurn();
    await closeServices(services);
    services.subscriber.disconnect();
    await pool.close();
    child.disconnect();
  }
}

/** An event of `seatCount` seats in rows of 50, every third one booked or each at random with p 0.4; its id. */
async function createEvent(services: Services, seatCount: number, booked: string): Promise<number> {
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
     select $1, number, ${booked === 'random' ? 'random() < 0.4' : 'ordinality % 3 = 0'}
     from unnest($2::text[]) with ordinality as t(number, ordinality)`,
    [event.id, gridSeatNumbers(Math.ceil(seatCount / 50), 50).slice(0, seatCount)],
  );
  return event.id;
}

/** Holds `count` free seats picked at random for ten minutes, ten a request as `book` would. */
async function holdSeats(services: Services, eventId: number, count: number): Promise<void> {
  if (count === 0) return;
  await connected(services.redis);
  await services.seats.warm(eventId);
  const { rows } = await services.db.$client.query<{ id: number }>(
    'select id from seats where event_id = $1 and not is_booked order by random() limit $2',
    [eventId, count],
  );
  const ids = rows.map((row) => row.id);
  for (let i = 0; i < ids.length; i += 10) {
    const taken = await services.seats.take(eventId, ids.slice(i, i + 10), randomUUID(), 600_000);
    if (taken.kind !== 'held') throw new Error('could not hold the seats');
  }
}

/**
 * Changes `perSecond / 2` seats a second, each held and released 50 ms later, until the returned
 * function is called (and has waited for the last release).
 */
function churn(services: Services, eventId: number, perSecond: number): () => Promise<void> {
  if (perSecond === 0) return () => Promise.resolve();
  let stopped = false;
  const running = (async () => {
    await connected(services.redis);
    await services.seats.warm(eventId);
    const { rows } = await services.db.$client.query<{ id: number }>(
      'select id from seats where event_id = $1 and not is_booked',
      [eventId],
    );
    const interval = 2_000 / perSecond;
    const changing = new Set<Promise<void>>();
    for (let next = performance.now(); !stopped; next += interval) {
      const seatId = rows[Math.floor(Math.random() * rows.length)]?.id as number;
      const token = randomUUID();
      const change = (async () => {
        const taken = await services.seats.take(eventId, [seatId], token, 5_000);
        if (taken.kind !== 'held') return;
        await sleep(50);
        await services.seats.release(eventId, [seatId], token);
      })();
      changing.add(change);
      void change.finally(() => changing.delete(change));
      await sleep(Math.max(0, next + interval - performance.now()));
    }
    await Promise.all(changing);
  })();
  return async () => {
    stopped = true;
    await running;
  };
}

/** The bytes of one answer of every form in every coding. */
async function wireSizes(
  pool: Pool,
  eventId: number,
): Promise<Record<Form, Record<(typeof CODINGS)[number], number>>> {
  const sizes = {} as Record<Form, Record<(typeof CODINGS)[number], number>>;
  for (const form of Object.keys(FORMS) as Form[]) {
    sizes[form] = { identity: 0, gzip: 0, br: 0 };
    for (const coding of CODINGS) {
      const answer = await pool.request({
        method: 'GET',
        path: FORMS[form](eventId),
        headers: { 'accept-encoding': coding },
      });
      sizes[form][coding] = Buffer.from(await answer.body.arrayBuffer()).length;
    }
  }
  return sizes;
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

/** The server process's CPU time so far (µs). */
function serverCpuUs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const answer = (message: { cpuUs?: number }) => {
      if (message.cpuUs === undefined) return;
      child.off('message', answer);
      resolve(message.cpuUs);
    };
    child.on('message', answer);
    child.send('cpu');
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
): Promise<Omit<ModeResult, 'form' | 'mode' | 'serverCpuUsPerAnswer'>> {
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
