/**
 * The read load generator, run as its own process (forked with IPC by bench/phases/reads.ts):
 * reads seat maps (GET /events/seats/:eventId) as fast as they are answered, over its own
 * keep-alive connections per map (undici), for a given time or until told to stop, and records
 * each answer's latency, status and body bytes on the wire (undici does not decompress). It is
 * the second load generator of the read storm, beside bench/load.ts's bookings.
 *
 *   node --import tsx bench/read-storm.ts <job.json> <result.json>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Pool } from 'undici';
import { warmUpClient } from './client-warm-up.ts';

/** The Accept-Encoding sent; `304`: gzip, with the map's ETag (from a first read) in If-None-Match. */
export type ReadMode = 'identity' | 'gzip' | 'br' | '304';

/**
 * Which representation is read: the seed's body (GET /events/seats/:id), or the compact one for
 * large events, its states (GET /events/:id/seat-map) and its layout (GET /events/:id/seat-layout).
 */
export type ReadForm = 'seats' | 'seat-map' | 'seat-layout';

export interface ReadTarget {
  /** What is read, for the report, e.g. `4,000 seats, br`. */
  label: string;
  seats: number;
  mode: ReadMode;
  form: ReadForm;
  /** Origin of the server answering seat maps. */
  origin: string;
  path: string;
  connections: number;
}

export interface ReadJob {
  targets: ReadTarget[];
  /** How long to read (each target, when `sequential`), s; 0: until told to stop. */
  seconds: number;
  /** Read the targets one after the other; else all at once. */
  sequential?: boolean;
}

export interface ReadTargetResult extends Omit<ReadTarget, 'origin' | 'path'> {
  /** Epoch ms (fractional). */
  firstSentAt: number;
  lastAnsweredAt: number;
  /** One per answer. */
  latenciesMs: number[];
  bytes: number;
  statuses: Record<string, number>;
  /** Transport errors (no HTTP answer), by message. */
  errors: Record<string, number>;
}

export type ReadMessage = { type: 'ready' } | { type: 'done' };

const now = () => performance.timeOrigin + performance.now();

async function headersFor(pool: Pool, target: ReadTarget): Promise<Record<string, string>> {
  const headers: Record<string, string> = { 'accept-encoding': target.mode === '304' ? 'gzip' : target.mode };
  if (target.mode !== '304') return headers;
  const first = await pool.request({ method: 'GET', path: target.path, headers });
  await first.body.dump();
  const etag = first.headers.etag;
  return typeof etag === 'string' ? { ...headers, 'if-none-match': etag } : headers;
}

/** Reads `target` on its connections until `stopped()`. */
async function read(
  pool: Pool,
  target: ReadTarget,
  headers: Record<string, string>,
  stopped: () => boolean,
): Promise<ReadTargetResult> {
  const { origin: _origin, path, ...described } = target;
  const result: ReadTargetResult = {
    ...described,
    firstSentAt: now(),
    lastAnsweredAt: 0,
    latenciesMs: [],
    bytes: 0,
    statuses: {},
    errors: {},
  };
  await Promise.all(
    Array.from({ length: target.connections }, async () => {
      while (!stopped()) {
        const sentAt = now();
        try {
          const answer = await pool.request({ method: 'GET', path, headers });
          for await (const chunk of answer.body) result.bytes += (chunk as Buffer).length;
          const answeredAt = now();
          result.latenciesMs.push(answeredAt - sentAt);
          result.lastAnsweredAt = Math.max(result.lastAnsweredAt, answeredAt);
          result.statuses[answer.statusCode] = (result.statuses[answer.statusCode] ?? 0) + 1;
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          result.errors[message] = (result.errors[message] ?? 0) + 1;
        }
      }
    }),
  );
  return result;
}

async function main(): Promise<void> {
  const [jobPath, resultPath] = process.argv.slice(2);
  if (!jobPath || !resultPath || !process.send)
    throw new Error('usage: forked with <job.json> <result.json>');
  const job = JSON.parse(readFileSync(jobPath, 'utf8')) as ReadJob;
  let stop = false;
  let go: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    go = resolve;
  });
  process.on('message', (message: { type: string }) => {
    if (message.type === 'go') go();
    if (message.type === 'stop') stop = true;
  });
  const pools = job.targets.map(
    (target) =>
      new Pool(target.origin, {
        connections: target.connections,
        pipelining: 1,
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      }),
  );
  for (const origin of new Set(job.targets.map((target) => target.origin))) await warmUpClient(origin);
  const headers = await Promise.all(job.targets.map((target, i) => headersFor(pools[i] as Pool, target)));
  process.send({ type: 'ready' } satisfies ReadMessage);
  await started;
  const readFor = (i: number) => {
    const until = job.seconds > 0 ? performance.now() + job.seconds * 1000 : Number.POSITIVE_INFINITY;
    const stopped = () => stop || performance.now() >= until;
    return read(
      pools[i] as Pool,
      job.targets[i] as ReadTarget,
      headers[i] as Record<string, string>,
      stopped,
    );
  };
  const results: ReadTargetResult[] = [];
  if (job.sequential) for (let i = 0; i < job.targets.length; i++) results.push(await readFor(i));
  else results.push(...(await Promise.all(job.targets.map((_, i) => readFor(i)))));
  await Promise.all(pools.map((pool) => pool.close()));
  writeFileSync(resultPath, JSON.stringify(results));
  process.send({ type: 'done' } satisfies ReadMessage);
  process.disconnect();
}

main().catch((error: unknown) => {
  console.error(`read-storm: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
