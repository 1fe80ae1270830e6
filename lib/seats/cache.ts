import { eq } from 'drizzle-orm';
import type { ChainableCommander } from 'ioredis';
import type { Database } from '../db/client.ts';
import { events, seats } from '../db/schema.ts';
import type { Redis } from '../redis.ts';
import { FREE_BOOKED, MARK_BOOKED, RELEASE_HOLD, TAKE_SEATS } from './scripts.ts';

/** Redis pub/sub channel of every seat change: `{eventId, state, seatIds, id, expiresAt?, userId?}`. */
export const SEAT_CHANGES_CHANNEL = 'seat-changes';

export const seatKeys = {
  seat: (eventId: number, seatId: number) => `seat:{e${eventId}}:${seatId}`,
  /** seat id → seat number; its presence means the event's seats are in the cache. */
  seatMap: (eventId: number) => `seatmap:{e${eventId}}`,
  /** The stream of the event's seat changes, for a stream client that resumes. */
  changes: (eventId: number) => `changes:{e${eventId}}`,
};

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

  /** Queues projector changes on a pipeline, so a whole batch costs one round trip. */
  pipeline(): SeatPipeline {
    return new SeatPipeline(this.redis.pipeline() as ScriptedPipeline);
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

  private async load(eventId: number): Promise<boolean> {
    const rows = await this.db
      .select({
        id: seats.id,
        seatNumber: seats.seatNumber,
        isBooked: seats.isBooked,
        bookedBy: seats.bookedBy,
      })
      .from(seats)
      .where(eq(seats.eventId, eventId));
    if (rows.length === 0) {
      const [event] = await this.db.select({ id: events.id }).from(events).where(eq(events.id, eventId));
      return event !== undefined;
    }
    const pipeline = this.redis.pipeline();
    for (const row of rows) {
      if (row.isBooked) pipeline.set(seatKeys.seat(eventId, row.id), `b:${row.bookedBy ?? 0}`);
    }
    const CHUNK = 1_000;
    for (let i = 0; i < rows.length; i += CHUNK) {
      pipeline.hset(
        seatKeys.seatMap(eventId),
        Object.fromEntries(rows.slice(i, i + CHUNK).map((row) => [row.id, row.seatNumber])),
      );
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
    return true;
  }
}

/** The projector's changes for one batch, sent together by `exec()`. */
export class SeatPipeline {
  constructor(private readonly pipeline: ScriptedPipeline) {}

  release(eventId: number, seatIds: readonly number[], token: string): this {
    this.pipeline.releaseHold(...releaseArgs(eventId, seatIds, token));
    return this;
  }

  markBooked(eventId: number, seatIds: readonly number[], userId: number): this {
    this.pipeline.markBooked(
      1 + seatIds.length,
      seatKeys.changes(eventId),
      ...seatIds.map((seatId) => seatKeys.seat(eventId, seatId)),
      userId,
      eventId,
      SEAT_CHANGES_CHANNEL,
      ...seatIds,
    );
    return this;
  }

  freeBooked(eventId: number, seatIds: readonly number[]): this {
    this.pipeline.freeBooked(
      1 + seatIds.length,
      seatKeys.changes(eventId),
      ...seatIds.map((seatId) => seatKeys.seat(eventId, seatId)),
      eventId,
      SEAT_CHANGES_CHANNEL,
      ...seatIds,
    );
    return this;
  }

  publish(channel: string, message: string): this {
    this.pipeline.publish(channel, message);
    return this;
  }

  /** Runs everything queued; rejects with the first command's error. */
  async exec(): Promise<void> {
    const results = (await this.pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
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
