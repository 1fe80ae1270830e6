/**
 * The Postgres floor: how many bookings per second Postgres itself commits when each booking is
 * its own transaction (lock the seat, mark it booked, insert the booking, commit), with no HTTP,
 * no contention (every transaction takes the next free seat) and `clients` connections. pgbench
 * runs it when installed; otherwise an equivalent loop on node-postgres.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

const SCRIPT = `\\set user random(:user_lo, :user_hi)
BEGIN;
SELECT nextval('bench_floor_seat') + :first_seat - 1 AS seat \\gset
SELECT id FROM seats WHERE id = :seat AND event_id = :event FOR UPDATE;
UPDATE seats SET is_booked = true, booked_by = :user WHERE id = :seat;
INSERT INTO bookings (user_id, event_id, seat_id) VALUES (:user, :event, :seat);
END;
`;

export interface FloorJob {
  databaseUrl: string;
  eventId: number;
  /** The event's seat ids: consecutive, one transaction books each. */
  seatIds: number[];
  userIds: number[];
  clients: number;
}

export async function postgresFloor(
  job: FloorJob,
): Promise<{ tool: string; bookings: number; bookingsPerS: number }> {
  const first = Math.min(...job.seatIds);
  if (Math.max(...job.seatIds) - first + 1 !== job.seatIds.length)
    throw new Error('floor seats are not consecutive');
  const admin = new pg.Client({ connectionString: job.databaseUrl });
  await admin.connect();
  try {
    await admin.query('drop sequence if exists bench_floor_seat; create sequence bench_floor_seat');
  } finally {
    await admin.end();
  }
  const perClient = Math.floor(job.seatIds.length / job.clients);
  try {
    return await pgbench(job, first, perClient);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
    return nodeLoop(job, first, perClient);
  }
}

async function pgbench(job: FloorJob, firstSeat: number, perClient: number) {
  const url = new URL(job.databaseUrl);
  const dir = mkdtempSync(join(tmpdir(), 'seatrush-floor-'));
  const script = join(dir, 'book.sql');
  writeFileSync(script, SCRIPT);
  const users = longestRun(job.userIds);
  const { stdout } = await run(
    'pgbench',
    [
      '--no-vacuum',
      `--client=${job.clients}`,
      '--jobs=2',
      `--transactions=${perClient}`,
      `--file=${script}`,
      `--define=event=${job.eventId}`,
      `--define=first_seat=${firstSeat}`,
      `--define=user_lo=${users[0]}`,
      `--define=user_hi=${users.at(-1)}`,
      `--host=${url.hostname}`,
      `--port=${url.port || 5432}`,
      `--username=${decodeURIComponent(url.username) || 'postgres'}`,
      decodeURIComponent(url.pathname.slice(1)),
    ],
    { env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) } },
  );
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
  const done = /number of transactions actually processed: (\d+)/.exec(stdout)?.[1];
  if (!tps || !done) throw new Error(`pgbench: unexpected output:\n${stdout}`);
  return { tool: 'pgbench', bookings: Number(done), bookingsPerS: Number(tps) };
}

/** The longest block of consecutive ids, for pgbench's random(lo, hi). */
export function longestRun(ids: readonly number[]): number[] {
  const sorted = [...ids].sort((a, b) => a - b);
  let best: [number, number] = [0, 0];
  let start = 0;
  for (let i = 1; i <= sorted.length; i++) {
    if (i === sorted.length || (sorted[i] as number) !== (sorted[i - 1] as number) + 1) {
      if (i - start > best[1] - best[0]) best = [start, i];
      start = i;
    }
  }
  return sorted.slice(best[0], best[1]);
}

/** The same transaction from node-postgres, `clients` connections in parallel. */
async function nodeLoop(job: FloorJob, firstSeat: number, perClient: number) {
  const pool = new pg.Pool({ connectionString: job.databaseUrl, max: job.clients });
  const users = job.userIds;
  let booked = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: job.clients }, async () => {
        const client = await pool.connect();
        try {
          for (let i = 0; i < perClient; i++) {
            const user = users[Math.floor(Math.random() * users.length)];
            await client.query('begin');
            const { rows } = await client.query<{ seat: string }>(
              `select nextval('bench_floor_seat') + $1 - 1 as seat`,
              [firstSeat],
            );
            const seat = Number(rows[0]?.seat);
            await client.query('select id from seats where id = $1 and event_id = $2 for update', [
              seat,
              job.eventId,
            ]);
            await client.query('update seats set is_booked = true, booked_by = $1 where id = $2', [
              user,
              seat,
            ]);
            await client.query('insert into bookings (user_id, event_id, seat_id) values ($1, $2, $3)', [
              user,
              job.eventId,
              seat,
            ]);
            await client.query('commit');
            booked++;
          }
        } finally {
          client.release();
        }
      }),
    );
  } finally {
    await pool.end();
  }
  return {
    tool: 'node-postgres loop',
    bookings: booked,
    bookingsPerS: booked / ((performance.now() - started) / 1000),
  };
}
