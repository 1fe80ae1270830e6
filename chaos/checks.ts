import { setTimeout as sleep } from 'node:timers/promises';
/**
 * The seven checks run once a scenario is quiet, each with its count of offenders and the first
 * few of them. They read Postgres (the truth), the functions' own answers (the Redis view and a
 * probe that books every free seat) and the consumer groups' offsets.
 */
import type { Admin, Kafka } from 'kafkajs';
import type pg from 'pg';
import { userToken } from '../bench/token.ts';
import { DECIDED_STATUSES } from '../lib/booking/responses.ts';
import { topicName } from '../lib/platform/kafka/topics.ts';
import { type LogicalRequest, newKey, poll, send } from './client.ts';
import type { Warning } from './logs.ts';

export interface Check {
  ok: boolean;
  /** Offenders (seats, requests, rows or messages, as the check counts them). */
  count: number;
  examples: unknown[];
  note?: string;
}

export const CHECKS = {
  owners: '1 one owner',
  yesIsBooked: '2 yes is booked',
  noFalseNo: '3 no false no',
  decided: '4 202s decided',
  redisView: '5 Redis = PG',
  noStuckSeat: '6 no stuck seat',
  noWedge: '7 no wedged partition',
  clusterServed: '8 cluster served',
} as const;

export type CheckName = keyof typeof CHECKS;

const check = (offenders: unknown[], note?: string): Check => ({
  ok: offenders.length === 0,
  count: offenders.length,
  examples: offenders.slice(0, 5),
  ...(note ? { note } : {}),
});

/** A request's yes: 201, or a 202 that booking-status later answered CONFIRMED. */
export const saidYes = (logical: LogicalRequest) =>
  logical.final?.status === 201 || (logical.final?.status === 202 && logical.polled?.status === 'CONFIRMED');

const bookingIdsOf = (logical: LogicalRequest) =>
  logical.final?.status === 201 ? (logical.final.bookingIds ?? []) : (logical.polled?.bookingIds ?? []);

/** 1. At most one CONFIRMED booking per seat, and every seat row agrees with its bookings. */
export async function checkOwners(pool: pg.Pool, eventId: number): Promise<Check> {
  const { rows: doubled } = await pool.query(
    `select seat_id, count(*)::int as confirmed from bookings
     where event_id = $1 and status = 'CONFIRMED' group by seat_id having count(*) > 1`,
    [eventId],
  );
  const { rows: disagreeing } = await pool.query(
    `select s.id as seat_id, s.is_booked, s.booked_by, b.user_id from seats s
     left join bookings b on b.seat_id = s.id and b.status = 'CONFIRMED'
     where s.event_id = $1 and (s.is_booked <> (b.id is not null) or s.booked_by is distinct from b.user_id)`,
    [eventId],
  );
  return check([...doubled, ...disagreeing]);
}

/**
 * 2. Every yes has its bookings in Postgres (CONFIRMED, or cancelled since), for its user and
 * seats; and every cancel answered CANCELED left its booking cancelled.
 */
export async function checkYesIsBooked(
  pool: pg.Pool,
  books: readonly LogicalRequest[],
  cancels: readonly LogicalRequest[],
): Promise<Check> {
  const yes = books.filter(saidYes);
  const ids = yes.flatMap(bookingIdsOf);
  const { rows } = await pool.query<{ id: number; user_id: number; seat_id: number; status: string }>(
    'select id, user_id, seat_id, status from bookings where id = any($1::int[])',
    [[...ids, ...cancels.flatMap((logical) => (logical.bookingId ? [logical.bookingId] : []))]],
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  const missing = yes.filter((logical) => {
    const bookingIds = bookingIdsOf(logical);
    return (
      bookingIds.length !== logical.seatIds.length ||
      bookingIds.some((id) => {
        const row = byId.get(id);
        return !row || row.user_id !== logical.userId || !logical.seatIds.includes(row.seat_id);
      })
    );
  });
  const cancelledButNot = cancels.filter(
    (logical) =>
      (logical.final?.status === 200 || logical.polled?.status === 'CANCELED') &&
      byId.get(logical.bookingId as number)?.status !== 'CANCELED',
  );
  return check([
    ...missing.map((logical) => ({ user: logical.userId, answer: logical.final, polled: logical.polled })),
    ...cancelledButNot.map((logical) => ({ cancelOf: logical.bookingId, answer: logical.final })),
  ]);
}

/**
 * 3. No false no: every booking row of the event (any status) belongs to a request whose client
 * finally heard yes. Each request has a user of its own, so a row is tied to its request by user,
 * whatever request ids the retries made. Probe users are the checker's own. A cancel whose client
 * finally heard a failure (5xx, no answer, "still being processed") must not have cancelled.
 */
export async function checkNoFalseNo(
  pool: pg.Pool,
  eventId: number,
  books: readonly LogicalRequest[],
  cancels: readonly LogicalRequest[],
  probeUsers: ReadonlySet<number>,
): Promise<Check> {
  const { rows } = await pool.query<{ id: number; user_id: number; seat_id: number; status: string }>(
    'select id, user_id, seat_id, status from bookings where event_id = $1',
    [eventId],
  );
  const byUser = new Map(books.map((logical) => [logical.userId, logical]));
  const offending = rows.flatMap((row) => {
    if (probeUsers.has(row.user_id)) return [];
    const logical = byUser.get(row.user_id);
    if (logical && saidYes(logical)) return [];
    return [
      {
        booking: row,
        told: logical
          ? { status: logical.final?.status, detail: logical.final?.detail, polled: logical.polled?.status }
          : 'no request of this load',
        attempts: logical?.attempts.map((attempt) => attempt.status).join(','),
      },
    ];
  });
  const statusById = new Map(rows.map((row) => [row.id, row.status]));
  const cancelledAnyway = cancels.filter((logical) => {
    const final = logical.final;
    const failed = !final || final.status === 0 || final.status >= 500 || final.stillProcessing === true;
    return failed && statusById.get(logical.bookingId as number) === 'CANCELED';
  });
  return check([
    ...offending,
    ...cancelledAnyway.map((logical) => ({
      cancelled: logical.bookingId,
      told: { status: logical.final?.status, detail: logical.final?.detail },
      attempts: logical.attempts.map((attempt) => attempt.status).join(','),
    })),
  ]);
}

/** 4. Every 202 (book or cancel) was decided and readable at booking-status by its deadline. */
export function checkDecided(requests: readonly LogicalRequest[]): Check {
  const undecided = requests.filter(
    (logical) => logical.final?.status === 202 && !DECIDED_STATUSES.has(logical.polled?.status ?? ''),
  );
  return check(
    undecided.map((logical) => ({
      kind: logical.kind,
      requestId: logical.final?.requestId,
      polled: logical.polled?.status ?? 'never answered',
    })),
  );
}

interface SeatsBody {
  seats?: { seat_id: number; state: string }[];
}

/**
 * 5. The Redis view (GET /events/seats/:id answered from Redis, `x-data-source: redis`) shows
 * every seat as Postgres has it: booked seats booked, free seats available, no hold left. Polled
 * up to `settleMs` (a reconciler may heal drift meanwhile).
 */
export async function checkRedisView(
  pool: pg.Pool,
  eventId: number,
  seatsUrl: () => string,
  settleMs: number,
): Promise<Check> {
  const deadline = Date.now() + settleMs;
  const started = Date.now();
  for (;;) {
    let offenders: unknown[];
    try {
      const { rows } = await pool.query<{ id: number; is_booked: boolean }>(
        'select id, is_booked from seats where event_id = $1',
        [eventId],
      );
      const response = await fetch(`${seatsUrl()}/events/seats/${eventId}`);
      const source = response.headers.get('x-data-source');
      const body = (await response.json()) as SeatsBody;
      const shown = new Map((body.seats ?? []).map((seat) => [seat.seat_id, seat.state]));
      offenders =
        response.status !== 200 || source !== 'redis'
          ? [{ status: response.status, source }]
          : rows.flatMap((row) => {
              const state = shown.get(row.id);
              const expected = row.is_booked ? 'booked' : 'available';
              return state === expected
                ? []
                : [{ seat: row.id, postgres: expected, redis: state ?? 'missing' }];
            });
    } catch (error) {
      offenders = [{ error: error instanceof Error ? error.message : String(error) }];
    }
    const waited = `${((Date.now() - started) / 1000).toFixed(0)} s`;
    if (offenders.length === 0) return check([], `equal after ${waited}`);
    if (Date.now() > deadline) return check(offenders, `still different after ${waited}`);
    await sleep(1_000);
  }
}

/**
 * 6. No stuck seat: a probe user books each seat Postgres says is free (or a sample of them), one
 * seat a request, and must end CONFIRMED. A 409 is asked again until `holdsLapseAt` (epoch ms),
 * when any hold of the load has expired by its TTL: a seat refused after that is stuck.
 */
export async function checkNoStuckSeat(options: {
  pool: pg.Pool;
  eventId: number;
  sample: number;
  probeUsers: number[];
  secret: string;
  urls: { book: () => string; status: () => string };
  holdsLapseAt: number;
  clock: () => number;
}): Promise<Check & { probed: number }> {
  const { pool, eventId, secret, urls, clock } = options;
  const { rows } = await pool.query<{ id: number }>(
    'select id from seats where event_id = $1 and not is_booked order by random() limit $2',
    [eventId, Math.min(options.sample, options.probeUsers.length)],
  );
  const stuck: unknown[] = [];
  await Promise.all(
    rows.map(async (row, i) => {
      const userId = options.probeUsers[i] as number;
      const token = userToken(secret, userId);
      const body = JSON.stringify({ user_id: userId, event_id: eventId, seat_ids: [row.id] });
      let logical: LogicalRequest;
      for (;;) {
        logical = {
          kind: 'probe',
          userId,
          key: newKey(),
          seatIds: [row.id],
          respondAsync: false,
          attempts: [],
        };
        logical.final = await send(
          logical,
          'POST',
          () => `${urls.book()}/bookings/book`,
          { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body,
          clock,
        );
        if (logical.final.status !== 409 || Date.now() > options.holdsLapseAt) break;
        await sleep(5_000);
      }
      if (logical.final.status === 202) {
        const deadline = Date.now() + 30_000;
        await poll(logical, urls.status, token, () => deadline, clock);
      }
      if (!saidYes(logical))
        stuck.push({
          seat: row.id,
          answer: logical.final.status,
          detail: logical.final.detail,
          polled: logical.polled?.status,
        });
    }),
  );
  return { ...check(stuck), probed: rows.length };
}

/**
 * 7. No partition wedged: both consumer groups' committed offsets reach the end of their topics
 * within `timeoutMs`. Returns the lag left, by partition, when they do not.
 */
export async function checkNoWedge(kafka: Kafka, timeoutMs: number): Promise<Check> {
  const deadline = Date.now() + timeoutMs;
  const started = Date.now();
  let admin: Admin | undefined;
  try {
    for (;;) {
      let behind: unknown[];
      try {
        if (!admin) {
          admin = kafka.admin();
          await admin.connect();
        }
        behind = await lagByPartition(admin);
      } catch (error) {
        // A fresh admin next time: the broker may have restarted under this one.
        await admin?.disconnect().catch(() => {});
        admin = undefined;
        behind = [{ error: error instanceof Error ? error.message : String(error) }];
      }
      const waited = `${((Date.now() - started) / 1000).toFixed(0)} s`;
      if (behind.length === 0) return check([], `lag 0 after ${waited}`);
      if (Date.now() > deadline) return check(behind, `lag left after ${waited}`);
      await sleep(500);
    }
  } finally {
    await admin?.disconnect().catch(() => {});
  }
}

/**
 * 8 (Redis Cluster scenario only): the functions really used the cluster. A client that is not
 * cluster-aware gets MOVED or CROSSSLOT answers, and idempotency, the rate limiter and the seat
 * locks fail open on them, so the other checks can pass while the cluster serves nothing.
 */
export function checkClusterServed(warnings: readonly Warning[]): Check {
  return check(warnings.filter((warning) => /MOVED|CROSSSLOT|CLUSTERDOWN|\bASK\b/.test(warning.message)));
}

async function lagByPartition(admin: Admin): Promise<unknown[]> {
  const behind: unknown[] = [];
  for (const [topic, group] of [
    ['bookingCommands', 'booking-processor'],
    ['bookingEvents', 'seat-projector'],
  ] as const) {
    const name = topicName(topic, '');
    const [ends, committed] = await Promise.all([
      admin.fetchTopicOffsets(name),
      admin.fetchOffsets({ groupId: group, topics: [name] }),
    ]);
    const done = new Map(
      (committed[0]?.partitions ?? []).map((partition) => [partition.partition, Number(partition.offset)]),
    );
    for (const end of ends) {
      const lag = Number(end.high) - Math.max(0, done.get(end.partition) ?? 0);
      if (lag > 0) behind.push({ group, partition: end.partition, lag });
    }
  }
  return behind;
}
