import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { ChainableCommander } from 'ioredis';
import type { Redis } from '../../platform/redis.ts';
import type { Database } from '../db/client.ts';
import { events, seats } from '../db/schema.ts';
import { FREE_BOOKED, MARK_BOOKED, RELEASE_HOLD, SYNC_SEATS, TAKE_SEATS } from './scripts.ts';

/** Redis pub/sub channel of every seat change: `{eventId, state, seatIds, id, expiresAt?, userId?}`. */
export const SEAT_CHANGES_CHANNEL = 'seat-changes';

export const seatKeys = {
  seat: (eventId: number, seatId: number) => `seat:{e${eventId}}:${seatId}`,
  /** seat id → seat number; its presence means the event's seats are in the cache. */
  seatMap: (eventId: number) => `seatmap:{e${eventId}}`,
  /** The stream of the event's seat changes, for a stream client that resumes. */
  changes: (eventId: number) => `changes:{e${eventId}}`,
  /** seat id → the Postgres version of the last booking or cancellation Redis applied. */
  versions: (eventId: number) => `seatversions:{e${eventId}}`,
  /** A seat map being built; renamed to `seatMap` once complete, so nobody reads half of it. */
  seatMapDraft: (eventId: number) => `seatmap:{e${eventId}}:draft:${randomUUID()}`,
  /** The ids of every event whose seats are cached: what the reconciler compares with Postgres. */
  cachedEvents: 'cached-events',
};

/** One seat as Postgres has it, with the version of its last change. */
export interface SeatTruth {
  seatId: number;
  /** The user of its CONFIRMED booking; null when free. */
  bookedBy: number | null;
  version: number;
}

/** A seat an outcome changed, with the seat's Postgres version after that change. */
export interface VersionedSeat {
  seatId: number;
  version: number;
}

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

export type TakeResult =
  | { kind: 'held'; expiresAt: number }
  | { kind: 'cold' }
  | { kind: 'unknown'; seatIds: number[] }
  | { kind: 'taken'; seatIds: number[] };

interface SeatScripts {
  takeSeats(...args: (string | number)[]): Promise<string[]>;
  releaseHold(...args: (string | number)[]): Promise<string[]>;
  markBooked(...args: (string | number)[]): Promise<number>;
  freeBooked(...args: (string | number)[]): Promise<string[]>;
  syncSeats(...args: (string | number)[]): Promise<string[]>;
}

type ScriptedRedis = Redis & SeatScripts;
type ScriptedPipeline = ChainableCommander & {
  [K in keyof SeatScripts]: (...args: (string | number)[]) => ScriptedPipeline;
};

const SCRIPTS = {
  takeSeats: TAKE_SEATS,
  releaseHold: RELEASE_HOLD,
  markBooked: MARK_BOOKED,
  freeBooked: FREE_BOOKED,
  syncSeats: SYNC_SEATS,
};

/** ioredis runs these with EVALSHA, falling back to EVAL once per connection. */
function withSeatScripts(redis: Redis): ScriptedRedis {
  const scripted = redis as ScriptedRedis;
  if (typeof scripted.takeSeats !== 'function') {
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { lua });
  }
  return scripted;
}

const stateOf = (value: string | null): Pick<SeatView, 'state' | 'userId'> =>
  value === null
    ? { state: 'available' }
    : value.startsWith('b:')
      ? { state: 'booked', userId: Number(value.slice(2)) }
      : { state: 'held' };

/** Seat locks and the seat-availability cache in Redis, filled from Postgres when missing. */
export class SeatCache {
  private readonly redis: ScriptedRedis;
  private readonly warming = new Map<number, Promise<boolean>>();

  constructor(
    redis: Redis,
    private readonly db: Database,
  ) {
    this.redis = withSeatScripts(redis);
  }

  /** Holds every seat for `ttlMs` under `token`, or none of them. */
  async take(eventId: number, seatIds: readonly number[], token: string, ttlMs: number): Promise<TakeResult> {
    const [kind, ...rest] = await this.redis.takeSeats(
      2 + seatIds.length,
      seatKeys.seatMap(eventId),
      seatKeys.changes(eventId),
      ...seatIds.map((seatId) => seatKeys.seat(eventId, seatId)),
      token,
      ttlMs,
      eventId,
      SEAT_CHANGES_CHANNEL,
      ...seatIds,
    );
    if (kind === 'held') return { kind, expiresAt: Number(rest[0]) };
    if (kind === 'unknown' || kind === 'taken') return { kind, seatIds: rest.map(Number) };
    return { kind: 'cold' };
  }

  /** Frees the seats this token still holds (compare-and-delete). */
  async release(eventId: number, seatIds: readonly number[], token: string): Promise<number[]> {
    const freed = await this.redis.releaseHold(...releaseArgs(eventId, seatIds, token));
    return freed.map(Number);
  }

  /**
   * Queues projector changes, one pipeline per event, so a whole batch costs one round trip per
   * event it touches (an event's keys share a hash slot; several events' may not, on a cluster).
   */
  pipeline(): SeatPipeline {
    return new SeatPipeline(() => this.redis.pipeline() as ScriptedPipeline);
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
      const changed = await this.redis.syncSeats(
        2 + chunk.length,
        seatKeys.changes(eventId),
        seatKeys.versions(eventId),
        ...chunk.map((row) => seatKeys.seat(eventId, row.seatId)),
        eventId,
        SEAT_CHANGES_CHANNEL,
        options.announce ? 1 : 0,
        ...chunk.map((row) => row.seatId),
        ...chunk.map((row) => row.bookedBy ?? ''),
        ...chunk.map((row) => row.version),
      );
      repaired.push(...changed.map(Number));
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
  private readonly byEvent = new Map<number, ScriptedPipeline>();

  constructor(private readonly create: () => ScriptedPipeline) {}

  private of(eventId: number): ScriptedPipeline {
    let pipeline = this.byEvent.get(eventId);
    if (!pipeline) {
      pipeline = this.create();
      this.byEvent.set(eventId, pipeline);
    }
    return pipeline;
  }

  release(eventId: number, seatIds: readonly number[], token: string): this {
    this.of(eventId).releaseHold(...releaseArgs(eventId, seatIds, token));
    return this;
  }

  /** Books each seat whose version is newer than Redis shows; releases `holdToken`'s stale holds. */
  markBooked(
    eventId: number,
    booked: readonly VersionedSeat[],
    userId: number,
    holdToken: string | null,
  ): this {
    this.of(eventId).markBooked(
      2 + booked.length,
      seatKeys.changes(eventId),
      seatKeys.versions(eventId),
      ...booked.map((seat) => seatKeys.seat(eventId, seat.seatId)),
      userId,
      eventId,
      SEAT_CHANGES_CHANNEL,
      holdToken ?? '',
      ...booked.map((seat) => seat.seatId),
      ...booked.map((seat) => seat.version),
    );
    return this;
  }

  /** Frees each booked seat whose cancellation is newer than what Redis shows. */
  freeBooked(eventId: number, freed: readonly VersionedSeat[]): this {
    this.of(eventId).freeBooked(
      2 + freed.length,
      seatKeys.changes(eventId),
      seatKeys.versions(eventId),
      ...freed.map((seat) => seatKeys.seat(eventId, seat.seatId)),
      eventId,
      SEAT_CHANGES_CHANNEL,
      ...freed.map((seat) => seat.seatId),
      ...freed.map((seat) => seat.version),
    );
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

function releaseArgs(eventId: number, seatIds: readonly number[], token: string): (string | number)[] {
  return [
    1 + seatIds.length,
    seatKeys.changes(eventId),
    ...seatIds.map((seatId) => seatKeys.seat(eventId, seatId)),
    token,
    eventId,
    SEAT_CHANGES_CHANNEL,
    ...seatIds,
  ];
}
