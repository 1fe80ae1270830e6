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
import { type SeatState, stateOf } from './cache.ts';
import { BEFORE_ANY_CHANGE, latestChangeId } from './changes.ts';
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
  const expiries = await readHoldExpiries(
    services,
    eventId,
    snapshot.filter((seat) => seat.state === 'held').map((seat) => seat.seatId),
  );
  return snapshot.map(({ seatId, seatNumber, state }) => {
    const expiresAt = expiries.get(seatId);
    // A hold that lapsed between the two reads is free.
    if (state === 'held' && expiresAt === undefined) return { seatId, seatNumber, state: 'available' };
    return { seatId, seatNumber, state, ...(expiresAt === undefined ? {} : { expiresAt }) };
  });
}

/** When the holds of these held seats lapse (ms since the epoch, by Redis's clock); a lapsed one is left out. */
async function readHoldExpiries(
  services: Services,
  eventId: number,
  heldSeatIds: readonly number[],
): Promise<Map<number, number>> {
  const expiries = new Map<number, number>();
  if (heldSeatIds.length === 0) return expiries;
  const pipeline = services.redis.pipeline();
  pipeline.time();
  for (const seatId of heldSeatIds) pipeline.pttl(seatKeys.seat(eventId, seatId));
  const [[, time] = [], ...ttls] = (await pipeline.exec()) ?? [];
  const [seconds, micros] = (time as [string, string] | undefined) ?? [];
  const now = seconds ? Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) : Date.now();
  heldSeatIds.forEach((seatId, i) => {
    const ttl = Number(ttls[i]?.[1]);
    if (ttl > 0) expiries.set(seatId, now + ttl);
  });
  return expiries;
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

/** An event's seats in id order, as parallel lists: what does not change once the event exists. */
export interface SeatLayout {
  seatIds: number[];
  seatNumbers: string[];
}

/** A seat's character in the compact seat map (GET /events/:eventId/seat-map). */
export const STATE_CHARS: Record<SeatState, string> = { available: 'a', held: 'h', booked: 'b' };

/** One read of an event's seats, kept compact: a snapshot is built from it. */
export interface SeatMapRead {
  source: SeatSource;
  /** The layout the read was given, when the seats are still those: what was built from it is kept. */
  layout: SeatLayout;
  /** One of STATE_CHARS a seat, in layout order. */
  states: string;
  /** When each held seat's hold lapses (ms since the epoch), in the order of the `h`s in `states`. */
  holdExpiries: number[];
  /**
   * From Redis: the id of the event's latest change, read before the seats: every change after it
   * may be missing from them, none before it is.
   */
  changeId?: string;
}

/**
 * One event's seats: from Redis when it answers, else from Postgres, saying which; undefined when
 * there is no such event. A Redis failure or timeout is logged and answered from Postgres. Given
 * the `layout` of an earlier read, Redis is asked only for the states (the seat map's size tells
 * that the cache still holds the event: seats are never added to or taken from an event), with
 * the latest change id in the same round trip.
 */
export async function readSeatMap(
  services: Services,
  eventId: number,
  logger: Services['logger'] = services.logger,
  layout?: SeatLayout,
): Promise<SeatMapRead | undefined> {
  try {
    const cached = await withRedis(services.redis, async () => {
      const known = layout && (await statesFromCache(services, eventId, layout));
      if (known) return known;
      const changeId = await latestChangeId(services.redis, eventId);
      const seats = await seatsFromCache(services, eventId);
      return seats && { changeId, ...compactSeats(seats, layout) };
    });
    return cached && { source: 'redis', ...cached };
  } catch (error) {
    // Warming reads Postgres too; if that is what failed, the fallback below fails the same way.
    logger.warn({ err: error, eventId }, 'seat cache unavailable (Redis); reading seats from Postgres');
  }
  const found = (await seatsFromPostgres(services.db, [eventId])).get(eventId) ?? [];
  if (found.length === 0 && !(await eventExists(services.db, eventId))) return undefined;
  return { source: 'postgres', ...compactSeats(found, layout) };
}

/** Seats as a layout (`known` when they are its seats) and their states. */
function compactSeats(
  seats: readonly SeatStatus[],
  known: SeatLayout | undefined,
): Pick<SeatMapRead, 'layout' | 'states' | 'holdExpiries'> {
  const same =
    known?.seatIds.length === seats.length && known.seatIds.every((id, i) => seats[i]?.seatId === id);
  return {
    layout:
      known && same
        ? known
        : { seatIds: seats.map((seat) => seat.seatId), seatNumbers: seats.map((seat) => seat.seatNumber) },
    states: seats.map((seat) => STATE_CHARS[seat.state]).join(''),
    holdExpiries: seats.flatMap((seat) => (seat.expiresAt === undefined ? [] : [seat.expiresAt])),
  };
}

/** Each layout's seat keys, made once: 50,000 of them take about as long to build as to read. */
const seatKeysOf = new WeakMap<SeatLayout, string[]>();

/**
 * The states of a cached event whose layout is known, and its latest change id, in one round
 * trip (and one more for the expiries of held seats); undefined when the cache does not hold
 * that many seats of it (gone, or being filled).
 */
async function statesFromCache(
  services: Services,
  eventId: number,
  layout: SeatLayout,
): Promise<Omit<SeatMapRead, 'source'> | undefined> {
  if (layout.seatIds.length === 0) return undefined;
  let keys = seatKeysOf.get(layout);
  if (!keys) {
    keys = layout.seatIds.map((seatId) => seatKeys.seat(eventId, seatId));
    seatKeysOf.set(layout, keys);
  }
  // One MULTI: the seat map cannot be emptied between counting it and reading the states.
  const results =
    (await services.redis
      .multi()
      .xrevrange(seatKeys.changes(eventId), '+', '-', 'COUNT', 1)
      .hlen(seatKeys.seatMap(eventId))
      .mget(keys)
      .exec()) ?? [];
  const failed = results.find(([error]) => error)?.[0];
  if (failed) throw failed;
  const [[, latest] = [], [, size] = [], [, values] = []] = results;
  if (Number(size) !== layout.seatIds.length) return undefined;
  const states = (values as (string | null)[]).map((value) => STATE_CHARS[stateOf(value).state]);
  const held = layout.seatIds.filter((_, i) => states[i] === STATE_CHARS.held);
  const expiries = await readHoldExpiries(services, eventId, held);
  const holdExpiries: number[] = [];
  let h = 0;
  for (let i = 0; i < states.length; i++) {
    if (states[i] !== STATE_CHARS.held) continue;
    const expiresAt = expiries.get(held[h++] as number);
    // A hold that lapsed between the two reads is free.
    if (expiresAt === undefined) states[i] = STATE_CHARS.available;
    else holdExpiries.push(expiresAt);
  }
  return {
    changeId: (latest as [string, string[]][] | undefined)?.[0]?.[0] ?? BEFORE_ANY_CHANGE,
    layout,
    states: states.join(''),
    holdExpiries,
  };
}

const STATE_OF_CHAR = new Map(Object.entries(STATE_CHARS).map(([state, char]) => [char, state as SeatState]));

/** A read's seats one by one, as `eventSeatsBody` takes them. */
export function seatStatuses(read: Pick<SeatMapRead, 'layout' | 'states' | 'holdExpiries'>): SeatStatus[] {
  const { seatIds, seatNumbers } = read.layout;
  let held = 0;
  return seatIds.map((seatId, i) => {
    const state = STATE_OF_CHAR.get(read.states[i] as string) ?? 'available';
    const seat: SeatStatus = { seatId, seatNumber: seatNumbers[i] as string, state };
    if (state === 'held') seat.expiresAt = read.holdExpiries[held++];
    return seat;
  });
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
