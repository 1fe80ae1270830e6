/**
 * The read storm's reads: the seat-map events, the read generator (bench/read-storm.ts) as its
 * own process, and the maps read alone before the storm.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEvent } from '../database.ts';
import { ROOT } from '../processes.ts';
import { say } from '../progress.ts';
import type {
  ReadForm,
  ReadJob,
  ReadMessage,
  ReadMode,
  ReadTarget,
  ReadTargetResult,
} from '../read-storm.ts';
import { type ReadRun, readReports } from '../report.ts';
import { quiesce, samplerFor } from './measure.ts';
import type { Context } from './stack.ts';

/** A seat map to read: its event and size, and what to call it when not just by its size. */
export interface SeatMap {
  eventId: number;
  seats: number;
  name?: string;
}

/**
 * A running read generator: `go` starts the reads; `finish` stops them (or, `{ stop: false }`,
 * waits until their time is up) and returns what they got.
 */
export interface ReadGenerator {
  pid: number;
  go(): void;
  finish(options?: { stop: boolean }): Promise<ReadTargetResult[]>;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * An event of each size of --read-events, every third seat booked (as on a selling day, and so
 * the map does not compress better than a real one); in the system's seat cache when `cache`.
 */
export async function createReadEvents(context: Context, cache: boolean): Promise<SeatMap[]> {
  const pool = context.services.db.$client;
  const maps: SeatMap[] = [];
  for (const seats of context.options.readEventSeats) {
    const event = await createEvent(pool, `Seat map of ${fmt(seats)}`, seats, context.options.seatsPerRow);
    await pool.query('update seats set is_booked = true where id = any($1::int[])', [
      event.seatIds.filter((_, i) => i % 3 === 2),
    ]);
    if (cache) await context.services.seats.warm(event.eventId);
    maps.push({ eventId: event.eventId, seats });
  }
  return maps;
}

/** The map of the event on sale, which changes with every booking: read in the storm too. */
export const saleMap = (eventId: number, seats: number): SeatMap => ({
  eventId,
  seats,
  name: `the sale's ${fmt(seats)} seats`,
});

const FORM_PATHS: Record<ReadForm, (eventId: number) => string> = {
  seats: (eventId) => `/events/seats/${eventId}`,
  'seat-map': (eventId) => `/events/${eventId}/seat-map`,
  'seat-layout': (eventId) => `/events/${eventId}/seat-layout`,
};

export function readTarget(
  origin: string,
  map: SeatMap,
  mode: ReadMode,
  connections: number,
  form: ReadForm = 'seats',
): ReadTarget {
  const what = form === 'seats' ? '' : ` (${form})`;
  return {
    label: `${map.name ?? `${fmt(map.seats)} seats`}${what}, ${mode === '304' ? '304 to its ETag' : mode}`,
    seats: map.seats,
    mode,
    form,
    origin,
    path: FORM_PATHS[form](map.eventId),
    connections,
  };
}

/** Forks the read generator; resolves once its client is warm and it waits for `go`. */
export async function startReadGenerator(context: Context, job: ReadJob): Promise<ReadGenerator> {
  const dir = mkdtempSync(join(context.logDir, 'reads-'));
  const jobPath = join(dir, 'job.json');
  const resultPath = join(dir, 'result.json');
  writeFileSync(jobPath, JSON.stringify(job));
  const child: ChildProcess = fork(join(ROOT, 'bench/read-storm.ts'), [jobPath, resultPath], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`read generator exited with ${code}`))),
  );
  exited.catch(() => {});
  const message = (type: ReadMessage['type']) =>
    Promise.race([
      new Promise<void>((resolve) =>
        child.on('message', (m: ReadMessage) => {
          if (m.type === type) resolve();
        }),
      ),
      exited,
    ]);
  const done = message('done');
  done.catch(() => {});
  await message('ready');
  return {
    pid: child.pid as number,
    go: () => child.send({ type: 'go' }),
    finish: async ({ stop } = { stop: true }) => {
      if (stop) child.send({ type: 'stop' });
      await done;
      return JSON.parse(readFileSync(resultPath, 'utf8')) as ReadTargetResult[];
    },
  };
}

/**
 * Each map read alone, one after the other, for --read-seconds each over every read connection:
 * `modes` per map (the 304s only where the design sends ETags). CPU is sampled over them all.
 */
export async function benchReadsAlone(
  context: Context,
  name: string,
  origin: string,
  reads: { map: SeatMap; mode: ReadMode; form?: ReadForm }[],
  processes: Record<string, number>,
): Promise<ReadRun> {
  const { options } = context;
  await quiesce(context.services);
  const targets = reads.map(({ map, mode, form }) =>
    readTarget(origin, map, mode, options.readConnections, form),
  );
  say(`${name}: reading ${targets.map((target) => target.label).join('; ')}, ${options.readSeconds} s each`);
  const generator = await startReadGenerator(context, {
    targets,
    seconds: options.readSeconds,
    sequential: true,
  });
  const sampler = samplerFor(context, { ...processes, 'read generator': generator.pid });
  await sampler.begin();
  generator.go();
  const results = await generator.finish({ stop: false });
  const usage = await sampler.end();
  const report: ReadRun = { name, reads: readReports(results), processes: usage };
  for (const read of report.reads)
    say(
      `${name}: ${read.label}: ${fmt(read.readsPerS)}/s, p99 ${read.latencyMs?.p99} ms, ${fmt(read.bytesPerAnswer)} B`,
    );
  return report;
}
