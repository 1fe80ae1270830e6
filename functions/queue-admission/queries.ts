/**
 * The admission function's reads and writes of one line, each inside the run's transaction on
 * the line's locked row.
 */
import { randomInt } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from '../../lib/booking/db/client.ts';
import type { QueueSettings } from '../../lib/booking/queue/settings.ts';

type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/** A line whose room is enabled and may have work: not everybody let in, or sessions running. */
export interface OpenLine {
  eventId: number;
  onSaleAt: Date | null;
  settings: QueueSettings;
}

export async function openLines(db: Database): Promise<OpenLine[]> {
  const { rows } = await db.execute<{
    event_id: number;
    on_sale_at: string | null;
    queue: QueueSettings;
  }>(sql`
    select l.event_id, e.on_sale_at, e.queue
    from queue_lines l join events e on e.id = l.event_id
    where (e.queue ->> 'enabled')::boolean
      and (l.admitted_through < l.joined or l.shuffled_at is null or exists (
        select 1 from queue_tickets t
        where t.event_id = l.event_id and t.admitted_at is not null and t.ended_at is null
          and t.session_expires_at > now()))
    order by l.event_id`);
  return rows.map((row) => ({
    eventId: row.event_id,
    onSaleAt: row.on_sale_at === null ? null : new Date(row.on_sale_at),
    settings: row.queue,
  }));
}

export interface LockedLine {
  joined: number;
  prequeued: number;
  shuffled: boolean;
  admittedThrough: number;
  admitCredit: number;
  /** Since the last run, ms (null: this is the first). */
  sinceLastTickMs: number | null;
  /** The database's clock: what joins decide the pre-queue by. */
  now: Date;
}

/** Takes the line's row lock until the transaction ends: joins wait for this run, and another instance's. */
export async function lockLine(tx: Transaction, eventId: number): Promise<LockedLine | undefined> {
  const { rows } = await tx.execute<{
    joined: number;
    prequeued: number;
    shuffled: boolean;
    admitted_through: number;
    admit_credit: number;
    since_last_tick_ms: number | null;
    now: string;
  }>(sql`
    select joined, prequeued, shuffled_at is not null as shuffled, admitted_through, admit_credit,
      (extract(epoch from now() - last_tick_at) * 1000)::float8 as since_last_tick_ms, now()
    from queue_lines where event_id = ${eventId} for update`);
  const row = rows[0];
  return (
    row && {
      joined: row.joined,
      prequeued: row.prequeued,
      shuffled: row.shuffled,
      admittedThrough: row.admitted_through,
      admitCredit: row.admit_credit,
      sinceLastTickMs: row.since_last_tick_ms,
      now: new Date(row.now),
    }
  );
}

/**
 * Places the pre-queue by lot: positions 1..n in a uniformly random order (Fisher–Yates over
 * crypto's generator), so arriving first, or in a burst of bots, buys no better place.
 */
export async function shufflePrequeue(tx: Transaction, eventId: number): Promise<number> {
  const { rows } = await tx.execute<{ id: string }>(sql`
    select id from queue_tickets where event_id = ${eventId} and prequeue and position is null
    order by joined_at, id`);
  const ids = rows.map((row) => row.id);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
  }
  if (ids.length > 0) {
    await tx.execute(sql`
      update queue_tickets set position = placed.position
      from unnest(${sql.param(ids)}::uuid[]) with ordinality as placed(id, position)
      where queue_tickets.id = placed.id`);
  }
  return ids.length;
}

/** Ends the sessions under which a booking was confirmed; the tickets they were. */
export async function endBookedSessions(tx: Transaction, eventId: number): Promise<string[]> {
  const { rows } = await tx.execute<{ id: string }>(sql`
    update queue_tickets t set ended_at = now()
    where t.event_id = ${eventId} and t.admitted_at is not null and t.ended_at is null
      and t.session_expires_at > now()
      and exists (
        select 1 from booking_requests r
        where r.user_id = t.user_id and r.event_id = t.event_id and r.kind = 'BOOK'
          and r.status = 'CONFIRMED' and r.decided_at >= t.admitted_at)
    returning t.id`);
  return rows.map((row) => row.id);
}

/** Sessions running now, and the event's seats not booked (free, or held for a request). */
export async function activeAndLeft(
  tx: Transaction,
  eventId: number,
): Promise<{ active: number; seatsLeft: number }> {
  const { rows } = await tx.execute<{ active: number; seats_left: number }>(sql`
    select
      (select count(*)::int from queue_tickets where event_id = ${eventId} and admitted_at is not null
         and ended_at is null and session_expires_at > now()) as active,
      (select count(*)::int from seats where event_id = ${eventId} and not is_booked) as seats_left`);
  return { active: rows[0]?.active ?? 0, seatsLeft: rows[0]?.seats_left ?? 0 };
}

/** Lets in the tickets at positions after..after+count, each with a fresh admission token. */
export async function admit(
  tx: Transaction,
  eventId: number,
  after: number,
  count: number,
  sessionMinutes: number,
): Promise<void> {
  // Two random UUIDs' hex: 244 random bits from Postgres's strong generator.
  await tx.execute(sql`
    update queue_tickets set admitted_at = now(),
      session_expires_at = now() + make_interval(mins => ${sessionMinutes}),
      admission_token = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')
    where event_id = ${eventId} and position > ${after} and position <= ${after + count}`);
}

export async function saveLine(
  tx: Transaction,
  eventId: number,
  line: { shuffled: boolean; admittedThrough: number; admitCredit: number; soldOut: boolean },
): Promise<void> {
  await tx.execute(sql`
    update queue_lines set admitted_through = ${line.admittedThrough}, admit_credit = ${line.admitCredit},
      sold_out = ${line.soldOut}, last_tick_at = now(),
      shuffled_at = case when ${line.shuffled} then coalesce(shuffled_at, now()) end
    where event_id = ${eventId}`);
}

/** Every session running now, as `book` checks them. */
export async function runningSessions(tx: Transaction, eventId: number) {
  const { rows } = await tx.execute<{ token: string; user_id: number; expires_at: string }>(sql`
    select admission_token as token, user_id, session_expires_at as expires_at from queue_tickets
    where event_id = ${eventId} and admitted_at is not null and ended_at is null and session_expires_at > now()`);
  return rows.map((row) => ({
    token: row.token,
    userId: row.user_id,
    expiresAtMs: new Date(row.expires_at).getTime(),
  }));
}
