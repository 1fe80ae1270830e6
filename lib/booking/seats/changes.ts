/**
 * Reading the seat changes the Lua scripts record (lib/booking/seats/scripts.ts): live from the
 * `seat-changes` channel, fanned out per event in memory, and from an event's change stream for a
 * client that resumes. A change's id is its stream entry id, so both carry the same ids.
 */
import * as v from 'valibot';
import type { Subscriptions } from '../../platform/pubsub.ts';
import type { Redis } from '../../platform/redis.ts';
import type { SeatState } from './cache.ts';
import { SEAT_CHANGES_CHANNEL, seatKeys } from './keys.ts';

/** A seat change as clients see it; who booked a seat is not public, so `userId` is left out. */
export interface SeatChange {
  /** The change's entry id in `changes:{e<id>}`, e.g. `1767225600000-0`. */
  id: string;
  eventId: number;
  state: SeatState;
  seatIds: number[];
  /** For `held`: when the hold lapses by itself (ms since the epoch); no change announces it. */
  expiresAt?: number;
}

const Change = v.object({
  eventId: v.number(),
  state: v.picklist(['available', 'held', 'booked']),
  seatIds: v.array(v.number()),
  expiresAt: v.optional(v.number()),
  id: v.optional(v.string()),
});

/** A Redis stream entry id: `<ms>-<seq>`. */
export const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

/** Before the first change of any stream; a snapshot of an event that never changed carries it. */
export const BEFORE_ANY_CHANGE = '0-0';

/** Orders two stream ids: negative when a comes first. */
export function compareIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}

/** Parses a change from the channel (which carries its id) or a stream entry (id given). */
export function parseChange(json: string, id?: string): SeatChange | undefined {
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    return undefined;
  }
  const parsed = v.safeParse(Change, payload);
  const changeId = id ?? (parsed.success ? parsed.output.id : undefined);
  if (!parsed.success || !changeId || !STREAM_ID.test(changeId)) return undefined;
  const { eventId, state, seatIds, expiresAt } = parsed.output;
  return { id: changeId, eventId, state, seatIds, ...(expiresAt === undefined ? {} : { expiresAt }) };
}

/** The id of the event's latest change, or BEFORE_ANY_CHANGE. Read it before a snapshot. */
export async function latestChangeId(redis: Pick<Redis, 'xrevrange'>, eventId: number): Promise<string> {
  const [last] = await redis.xrevrange(seatKeys.changes(eventId), '+', '-', 'COUNT', 1);
  return last?.[0] ?? BEFORE_ANY_CHANGE;
}

/**
 * The event's changes after `afterId`, oldest first; undefined when some of them may be gone
 * (the stream was trimmed past `afterId`, lost, or more than `max` changes followed), in which
 * case the caller sends a fresh snapshot instead. Stream trimming does not move
 * `max-deleted-entry-id` (only XDEL does), so it is the first entry left that tells.
 */
export async function changesSince(
  redis: Pick<Redis, 'multi'>,
  eventId: number,
  afterId: string,
  max: number,
): Promise<SeatChange[] | undefined> {
  const key = seatKeys.changes(eventId);
  // One MULTI: the stream cannot be trimmed between reading its bounds and its entries.
  const results = await redis
    .multi()
    .xinfo('STREAM', key)
    .xrange(key, `(${afterId}`, '+', 'COUNT', max + 1)
    .exec();
  const [[infoError, info] = [], [rangeError, range] = []] = results ?? [];
  if (infoError) {
    if (/no such key/i.test(infoError.message)) return undefined;
    throw infoError;
  }
  if (rangeError) throw rangeError;
  const fields = streamInfo(info as unknown[]);
  const entries = range as [string, string[]][];
  const firstId = fields.firstEntryId;
  // Entries are removed by trimming (every id before the first one left) or by XDEL (at most
  // max-deleted-entry-id); none of those may come after afterId.
  const nothingAfter = compareIds(afterId, fields.lastGeneratedId) >= 0;
  const nothingLost =
    compareIds(fields.maxDeletedId, afterId) <= 0 &&
    (fields.entriesAdded === fields.length || (firstId !== undefined && compareIds(afterId, firstId) >= 0));
  if (compareIds(afterId, fields.lastGeneratedId) > 0) return undefined; // an id this stream never gave
  if (!(nothingAfter || nothingLost) || entries.length > max) return undefined;
  return entries.flatMap(([id, fieldValues]) => {
    const change = parseChange(fieldValues[fieldValues.indexOf('change') + 1] ?? '', id);
    return change ? [change] : [];
  });
}

function streamInfo(flat: unknown[]) {
  const info = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) info.set(String(flat[i]), flat[i + 1]);
  const firstEntry = info.get('first-entry') as [string, string[]] | null | undefined;
  return {
    length: Number(info.get('length') ?? 0),
    // Before Redis 7 there is no count of entries ever added; then only the first entry tells.
    entriesAdded: info.has('entries-added') ? Number(info.get('entries-added')) : Number.NaN,
    lastGeneratedId: String(info.get('last-generated-id') ?? BEFORE_ANY_CHANGE),
    maxDeletedId: String(info.get('max-deleted-entry-id') ?? BEFORE_ANY_CHANGE),
    firstEntryId: firstEntry?.[0],
  };
}

/** What the feed needs of its subscriber connection, besides what `Subscriptions` does with it. */
type FeedSubscriber = Pick<Redis, 'status' | 'on' | 'ping'>;

export interface ChangeListener {
  change(change: SeatChange): void;
  /** The subscriber connection came back: changes may have been missed, so read the stream. */
  resync(): void;
}

/**
 * One listener on `seat-changes` per process, dispatching by event id: each message is parsed
 * once, however many streams are open, and only for events someone watches.
 */
export class SeatChangeFeed {
  private readonly watchers = new Map<number, Set<ChangeListener>>();
  private listening: Promise<unknown> | undefined;

  constructor(
    private readonly subscriptions: Subscriptions,
    subscriber: FeedSubscriber,
  ) {
    let connectedBefore = subscriber.status === 'ready';
    subscriber.on('ready', () => {
      if (!connectedBefore) {
        connectedBefore = true;
        return;
      }
      // ioredis emits 'ready' just before it re-subscribes; a PING sent after that answers once
      // the subscription is back, so reading the streams then leaves no gap.
      setImmediate(() => {
        const resync = () => {
          for (const set of this.watchers.values()) for (const watcher of set) watcher.resync();
        };
        subscriber.ping().then(resync, resync);
      });
    });
  }

  /** Resolves once Redis confirms the subscription; returns the function that stops watching. */
  async watch(eventId: number, listener: ChangeListener): Promise<() => void> {
    let set = this.watchers.get(eventId);
    if (!set) {
      set = new Set();
      this.watchers.set(eventId, set);
    }
    set.add(listener);
    const stop = () => {
      set.delete(listener);
      if (set.size === 0 && this.watchers.get(eventId) === set) this.watchers.delete(eventId);
    };
    try {
      this.listening ??= this.subscriptions
        .listen(SEAT_CHANGES_CHANNEL, (message) => this.dispatch(message))
        .catch((error: unknown) => {
          this.listening = undefined;
          throw error;
        });
      await this.listening;
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }

  /** How many listeners watch an event (for tests and metrics). */
  watching(eventId: number): number {
    return this.watchers.get(eventId)?.size ?? 0;
  }

  private dispatch(message: string): void {
    const eventId = Number(/"eventId":(\d+)/.exec(message)?.[1]);
    const set = this.watchers.get(eventId);
    if (!set) return;
    const change = parseChange(message);
    if (!change) return;
    for (const listener of set) listener.change(change);
  }
}

const feeds = new WeakMap<Subscriptions, SeatChangeFeed>();

/** The process's feed over its one subscriber connection (one per Services). */
export function seatChangeFeed(services: {
  subscriptions: Subscriptions;
  subscriber: FeedSubscriber;
}): SeatChangeFeed {
  let feed = feeds.get(services.subscriptions);
  if (!feed) {
    feed = new SeatChangeFeed(services.subscriptions, services.subscriber);
    feeds.set(services.subscriptions, feed);
  }
  return feed;
}
