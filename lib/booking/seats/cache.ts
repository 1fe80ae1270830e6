import { eq } from 'drizzle-orm';
import type { ChainableCommander } from 'ioredis';
import { metrics } from '../../platform/metrics.ts';
import type { Redis } from '../../platform/redis.ts';
import type { SlidingWindows } from '../../platform/sliding-window.ts';
import type { Database } from '../db/client.ts';
import { events, seats } from '../db/schema.ts';
import { seatKeys } from './keys.ts';
import {
  defineSeatScripts,
  freeBooked,
  markBooked,
  releaseHold,
  type ScriptClient,
  type ScriptPipeline,
  type SeatTruth,
  scriptPipeline,
  syncSeats,
  type TakeResult,
  takeSeats,
  type VersionedSeat,
} from './scripts.ts';

/** Seats per Lua call or HSET when filling a large event: each call blocks Redis only briefly. */
const CHUNK = 1_000;

export type SeatState = 'available' | 'held' | 'booked';

export interface SeatView {
  seatId: number;
  seatNumber: string;
  state: SeatState;
  /** The booking user for a booked seat. */
  userId?: number;
}

/** What SeatCache needs of Redis: what its scripts need, and the commands it sends itself. */
export type SeatCacheRedis = ScriptClient &
  Pick<Redis, 'pipeline' | 'smembers' | 'exists' | 'srem' | 'hgetall' | 'mget' | 'sadd'>;

export const stateOf = (value: string | null): Pick<SeatView, 'state' | 'userId'> =>
  value === null
    ? { state: 'available' }
    : value.startsWith('b:')
      ? { state: 'booked', userId: Number(value.slice(2)) }
      : { state: 'held' };

/** Seat locks and the seat-availability cache in Redis, filled from Postgres when missing. */
export class SeatCache {
  private readonly warming = new Map<number, Promise<boolean>>();

  constructor(
    private readonly redis: SeatCacheRedis,
    private readonly db: Database,
  ) {
    defineSeatScripts(redis);
  }

  /**
   * Holds every seat for `ttlMs` under `token`, or none of them; with `windows`, first counts the
   * request against those rate limits, in the same round trip.
   */
  take(
    eventId: number,
    seatIds: readonly number[],
    token: string,
    ttlMs: number,
    windows?: SlidingWindows,
  ): Promise<TakeResult> {
    return takeSeats.run(this.redis, { eventId, seatIds, token, ttlMs, windows });
  }

  /** Frees the seats this token still holds (compare-and-delete). */
  async release(eventId: number, seatIds: readonly number[], token: string): Promise<number[]> {
    const freed = await releaseHold.run(this.redis, { eventId, seatIds, token });
    metrics.holdsReleased.inc(freed.length);
    return freed;
  }

  /**
   * Queues projector changes, one pipeline per event, so a whole batch costs one round trip per
   * event it touches (an event's keys share a hash slot; several events' may not, on a cluster).
   */
  pipeline(): SeatPipeline {
    return new SeatPipeline(() => scriptPipeline(this.redis));
  }

  /**
   * Applies what Postgres read to the cached seats, seat by seat unless Redis already shows a
   * newer version. `announce` publishes each change (the reconciler's repairs); filling a cold
   * event does not. Returns the seats that changed.
   */
  async syncFromPostgres(
    eventId: number,
    rows: readonly SeatTruth[],
    options: { announce?: boolean } = {},
  ): Promise<{ repairedSeatIds: number[] }> {
    const repaired: number[] = [];
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK);
      const announce = options.announce ?? false;
      repaired.push(...(await syncSeats.run(this.redis, { eventId, seats: chunk, announce })));
    }
    return { repairedSeatIds: repaired };
  }

  /** The events whose seats are in the cache; an event whose seat map is gone leaves the list. */
  async cachedEventIds(): Promise<number[]> {
    const listed = (await this.redis.smembers(seatKeys.cachedEvents)).map(Number).sort((a, b) => a - b);
    const present = await Promise.all(listed.map((eventId) => this.redis.exists(seatKeys.seatMap(eventId))));
    const gone = listed.filter((_, i) => present[i] === 0);
    if (gone.length > 0) await this.redis.srem(seatKeys.cachedEvents, ...gone);
    return listed.filter((_, i) => present[i] === 1);
  }

  /**
   * Loads an event's seats from Postgres into the cache: booked seats first, then the seat map
   * that marks the event as cached. Concurrent callers share one load. False if no such event.
   */
  warm(eventId: number): Promise<boolean> {
    let pending = this.warming.get(eventId);
    if (!pending) {
      pending = this.load(eventId).finally(() => this.warming.delete(eventId));
      this.warming.set(eventId, pending);
    }
    return pending;
  }

  /** Every seat of a cached event with its state; undefined when the event is not cached. */
  async snapshot(eventId: number): Promise<SeatView[] | undefined> {
    const seatMap = await this.redis.hgetall(seatKeys.seatMap(eventId));
    const entries = Object.entries(seatMap)
      .map(([seatId, seatNumber]) => ({ seatId: Number(seatId), seatNumber }))
      .sort((a, b) => a.seatId - b.seatId);
    if (entries.length === 0) return undefined;
    const values = await this.redis.mget(entries.map(({ seatId }) => seatKeys.seat(eventId, seatId)));
    return entries.map((entry, i) => ({ ...entry, ...stateOf(values[i] ?? null) }));
  }

  /**
   * Seat states first (version-compared, so a projector change made meanwhile is never undone),
   * then the seat map under a draft key renamed into place: the event reads as cached only once
   * every seat is there.
   */
  private async load(eventId: number): Promise<boolean> {
    const rows = await this.db
      .select({
        id: seats.id,
        seatNumber: seats.seatNumber,
        isBooked: seats.isBooked,
        bookedBy: seats.bookedBy,
        version: seats.version,
      })
      .from(seats)
      .where(eq(seats.eventId, eventId));
    if (rows.length === 0) {
      const [event] = await this.db.select({ id: events.id }).from(events).where(eq(events.id, eventId));
      return event !== undefined;
    }
    await this.syncFromPostgres(
      eventId,
      rows.map((row) => ({
        seatId: row.id,
        // A booked seat whose booker is unknown still counts as taken.
        bookedBy: row.isBooked ? (row.bookedBy ?? 0) : null,
        version: row.version,
      })),
    );
    const draft = seatKeys.seatMapDraft(eventId);
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < rows.length; i += CHUNK) {
      pipeline.hset(
        draft,
        Object.fromEntries(rows.slice(i, i + CHUNK).map((row) => [row.id, row.seatNumber])),
      );
    }
    pipeline.rename(draft, seatKeys.seatMap(eventId));
    await execOrThrow(pipeline);
    await this.redis.sadd(seatKeys.cachedEvents, eventId);
    return true;
  }
}

async function execOrThrow(pipeline: ChainableCommander): Promise<void> {
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([error]) => error);
  if (failed?.[0]) throw failed[0];
}

/** The projector's changes for one batch, sent together by `exec()`: one pipeline per event. */
export class SeatPipeline {
  private readonly byEvent = new Map<number, ScriptPipeline>();

  constructor(private readonly create: () => ScriptPipeline) {}

  private of(eventId: number): ScriptPipeline {
    let pipeline = this.byEvent.get(eventId);
    if (!pipeline) {
      pipeline = this.create();
      this.byEvent.set(eventId, pipeline);
    }
    return pipeline;
  }

  release(eventId: number, seatIds: readonly number[], token: string): this {
    releaseHold.queue(this.of(eventId), { eventId, seatIds, token });
    return this;
  }

  /** Books each seat whose version is newer than Redis shows; releases `holdToken`'s stale holds. */
  markBooked(
    eventId: number,
    booked: readonly VersionedSeat[],
    userId: number,
    holdToken: string | null,
  ): this {
    markBooked.queue(this.of(eventId), { eventId, seats: booked, userId, holdToken });
    return this;
  }

  /** Frees each booked seat whose cancellation is newer than what Redis shows. */
  freeBooked(eventId: number, freed: readonly VersionedSeat[]): this {
    freeBooked.queue(this.of(eventId), { eventId, seats: freed });
    return this;
  }

  /** Publishes after the event's changes queued so far (the outcome a waiting request hears). */
  publish(eventId: number, channel: string, message: string): this {
    this.of(eventId).publish(channel, message);
    return this;
  }

  /** Runs everything queued; rejects with the first command's error. */
  async exec(): Promise<void> {
    await Promise.all([...this.byEvent.values()].map(execOrThrow));
  }
}
