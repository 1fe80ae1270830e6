/**
 * An event's seats with their states, as event-seats, the seat stream and the seat-map page show
 * them: from the Redis cache (warmed from Postgres when missing), or from Postgres alone when
 * Redis does not answer. Postgres knows no holds (they live in Redis only), so there a held seat
 * reads as available; once quiet both sources give the same answer (invariant 5).
 */
import { asc, eq, inArray } from 'drizzle-orm';
import type { Redis } from '../../platform/redis.ts';
import type { Services } from '../../services.ts';
import type { Database } from '../db/client.ts';
import { events, seats } from '../db/schema.ts';
import type { EventSeatsBody } from '../responses.ts';
import type { SeatState } from './cache.ts';
import { latestChangeId } from './changes.ts';
import { seatKeys } from './keys.ts';

export interface SeatStatus {
  seatId: number;
  seatNumber: string;
  state: SeatState;
  /** For a held seat read from Redis: when the hold lapses (ms since the epoch). */
  expiresAt?: number;
}

export type SeatSource = 'redis' | 'postgres';

/** How long a read waits for Redis before answering from Postgres instead. */
export const REDIS_READ_TIMEOUT_MS = 1_000;

/** Thrown when Redis does not answer in time; the caller falls back to Postgres. */
export class RedisTimeout extends Error {
  override name = 'RedisTimeout';
}

/** What connecting a lazy client needs of it. */
type LazyClient = Pick<Redis, 'status' | 'connect'>;

const connecting = new WeakMap<LazyClient, Promise<void>>();

/**
 * Connects a client nobody used yet, once for concurrent callers: the clients connect lazily and
 * queue no command meanwhile, and a function that does not list Redis among its needs (so it
 * stays ready without it) is never connected at start.
 */
export function connected(redis: LazyClient): Promise<void> {
  if (redis.status !== 'wait') return Promise.resolve();
  let pending = connecting.get(redis);
  if (!pending) {
    pending = redis.connect().finally(() => connecting.delete(redis));
    connecting.set(redis, pending);
  }
  return pending;
}

/** Runs `read` against Redis, connecting a lazy client first and giving up after `timeoutMs`. */
export async function withRedis<T>(
  redis: LazyClient,
  read: () => Promise<T>,
  timeoutMs = REDIS_READ_TIMEOUT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeout(`Redis gave no answer in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const work = (async () => {
      await connected(redis);
      return read();
    })();
    work.catch(() => {}); // a late failure after the timeout is not an unhandled rejection
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The event's seats from Redis, warming the cache from Postgres when the event is not in it;
 * undefined when there is no such event. Held seats carry their expiry.
 */
export async function seatsFromCache(services: Services, eventId: number): Promise<SeatStatus[] | undefined> {
  let snapshot = await services.seats.snapshot(eventId);
  if (!snapshot) {
    if (!(await services.seats.warm(eventId))) return undefined;
    // An event without seats leaves no seat map behind.
    snapshot = (await services.seats.snapshot(eventId)) ?? [];
  }
  const held = snapshot.filter((seat) => seat.state === 'held');
  const expiries = new Map<number, number>();
  if (held.length > 0) {
    const pipeline = services.redis.pipeline();
    pipeline.time();
    for (const seat of held) pipeline.pttl(seatKeys.seat(eventId, seat.seatId));
    const [[, time] = [], ...ttls] = (await pipeline.exec()) ?? [];
    const [seconds, micros] = (time as [string, string] | undefined) ?? [];
    const now = seconds ? Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) : Date.now();
    held.forEach((seat, i) => {
      const ttl = Number(ttls[i]?.[1]);
      if (ttl > 0) expiries.set(seat.seatId, now + ttl);
    });
  }
  return snapshot.map(({ seatId, seatNumber, state }) => {
    const expiresAt = expiries.get(seatId);
    // A hold that lapsed between the two reads is free.
    if (state === 'held' && expiresAt === undefined) return { seatId, seatNumber, state: 'available' };
    return { seatId, seatNumber, state, ...(expiresAt === undefined ? {} : { expiresAt }) };
  });
}

/** The seats of several events from Postgres, by event id; an event without seats maps to []. */
export async function seatsFromPostgres(
  db: Database,
  eventIds: readonly number[],
): Promise<Map<number, SeatStatus[]>> {
  const result = new Map<number, SeatStatus[]>(eventIds.map((eventId) => [eventId, []]));
  if (eventIds.length === 0) return result;
  const rows = await db
    .select({
      eventId: seats.eventId,
      seatId: seats.id,
      seatNumber: seats.seatNumber,
      isBooked: seats.isBooked,
    })
    .from(seats)
    .where(inArray(seats.eventId, [...eventIds]))
    .orderBy(asc(seats.id));
  for (const row of rows) {
    result.get(row.eventId)?.push({
      seatId: row.seatId,
      seatNumber: row.seatNumber,
      state: row.isBooked ? 'booked' : 'available',
    });
  }
  return result;
}

/** Whether an event exists (Postgres). */
export async function eventExists(db: Database, eventId: number): Promise<boolean> {
  const [row] = await db.select({ id: events.id }).from(events).where(eq(events.id, eventId));
  return row !== undefined;
}

/**
 * One event's seats: from Redis when it answers, else from Postgres, saying which. Undefined when
 * there is no such event. A Redis failure or timeout is logged and answered from Postgres. From
 * Redis also the id of the event's latest change, read before the seats: every change after it
 * may be missing from them, none before it is.
 */
export async function readEventSeats(
  services: Services,
  eventId: number,
  logger: Services['logger'] = services.logger,
): Promise<{ source: SeatSource; seats: SeatStatus[]; changeId?: string } | undefined> {
  try {
    const cached = await withRedis(services.redis, async () => {
      const changeId = await latestChangeId(services.redis, eventId);
      const seats = await seatsFromCache(services, eventId);
      return seats && { changeId, seats };
    });
    return cached && { source: 'redis', ...cached };
  } catch (error) {
    // Warming reads Postgres too; if that is what failed, the fallback below fails the same way.
    logger.warn({ err: error, eventId }, 'seat cache unavailable (Redis); reading seats from Postgres');
  }
  const bySeat = await seatsFromPostgres(services.db, [eventId]);
  const found = bySeat.get(eventId) ?? [];
  if (found.length === 0 && !(await eventExists(services.db, eventId))) return undefined;
  return { source: 'postgres', seats: found };
}

/** An event's seats as the API shows them (GET /events/seats/:eventId and the stream's snapshot). */
export function eventSeatsBody(eventId: number, list: readonly SeatStatus[]): EventSeatsBody {
  const idsIn = (state: SeatState) => list.filter((seat) => seat.state === state).map((seat) => seat.seatId);
  return {
    event_id: eventId,
    booked_seats: idsIn('booked'),
    available_seats: idsIn('available'),
    held_seats: idsIn('held'),
    seats: list.map((seat) => ({
      seat_id: seat.seatId,
      seat_number: seat.seatNumber,
      state: seat.state,
      ...(seat.expiresAt === undefined ? {} : { expires_at: seat.expiresAt }),
    })),
  };
}
