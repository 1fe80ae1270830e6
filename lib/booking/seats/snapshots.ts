/**
 * Seat maps served from process memory. An event's map (GET /events/seats/:eventId, the seat
 * stream's first frame) is read and serialized once into a snapshot, which every request then
 * answers with the same bytes (compressed once per encoding asked for) until the event's seats
 * change. A snapshot is stale, and the next request reads the seats again, once
 * - a change of the event is announced on `seat-changes` (lib/booking/seats/changes.ts), or the
 *   subscriber reconnects (a change may have been missed meanwhile);
 * - its first hold lapses: a hold ends by itself, with no change announced, at its `expires_at`;
 * - SEAT_MAP_MAX_AGE_MS have passed: the bound when no message tells (a message lost, a change
 *   made before this process's subscription was confirmed, the cache filled or emptied behind
 *   its back, or Redis down and the map read from Postgres).
 * Concurrent requests for a stale map share one read.
 */
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import type { Services } from '../../services.ts';
import { eventSeatsBody, readEventSeats, type SeatSource } from './availability.ts';
import { seatChangeFeed } from './changes.ts';

/** The content codings a snapshot is served in besides identity, most preferred first. */
export const ENCODINGS = ['br', 'gzip'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/**
 * Brotli quality 5: a 4,000-seat map (270 KB) in about 3 ms to 14 KB; quality 11 saves 10 % more
 * for a hundred times the CPU, on every change of a hot event.
 */
const BROTLI_QUALITY = 5;

/** Memory the snapshots of a process may take, counted in serialized bytes (a 50,000-seat map is 3.5 MB). */
const MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024;

export class SeatMapSnapshot {
  private readonly compressed = new Map<Encoding, Buffer<ArrayBuffer>>();

  constructor(
    readonly eventId: number,
    /** Which store the seats were read from. */
    readonly source: SeatSource,
    /** The body of GET /events/seats/:eventId, serialized (UTF-8). */
    readonly json: Buffer<ArrayBuffer>,
    /** Weak (`W/"…"`): the same for every encoding of these bytes, and for the same bytes rebuilt. */
    readonly etag: string,
    /**
     * From Redis: the event's latest change when the seats were read. A stream that starts from
     * this snapshot replays the changes after it (a change sets absolute states, so one already
     * in the seats changes nothing).
     */
    readonly changeId: string | undefined,
    /** Until when (ms since the epoch) it may be served. */
    readonly freshUntil: number,
    /** The watch it was built under, and how many changes that watch had seen then. */
    readonly watch: EventWatch,
    readonly changesSeen: number,
  ) {}

  /** The body in `encoding`, compressed on first use and kept. */
  encoded(encoding: Encoding): Buffer<ArrayBuffer> {
    let body = this.compressed.get(encoding);
    if (!body) {
      body =
        encoding === 'br'
          ? brotliCompressSync(this.json, {
              params: {
                [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
                [constants.BROTLI_PARAM_SIZE_HINT]: this.json.length,
              },
            })
          : gzipSync(this.json);
      this.compressed.set(encoding, body);
    }
    return body;
  }
}

/** Change counting for one event: a snapshot built at an older count is stale. */
interface EventWatch {
  changes: number;
  stop?: () => void;
}

export class SeatMapSnapshots {
  private readonly snapshots: LRUCache<number, SeatMapSnapshot>;
  private readonly building = new Map<number, Promise<SeatMapSnapshot | undefined>>();
  private readonly watches = new Map<number, EventWatch>();

  constructor(private readonly services: Services) {
    this.snapshots = new LRUCache({
      maxSize: MAX_SNAPSHOT_BYTES,
      sizeCalculation: (snapshot) => Math.max(1, snapshot.json.length),
      // An event no longer in memory needs no announcements.
      dispose: (snapshot, eventId, reason) => {
        if (reason !== 'set' && !this.building.has(eventId)) this.unwatch(eventId, snapshot.watch);
      },
    });
  }

  /** The event's current snapshot, read anew when stale; undefined when there is no such event. */
  get(
    eventId: number,
    logger: Services['logger'] = this.services.logger,
  ): Promise<SeatMapSnapshot | undefined> {
    const snapshot = this.snapshots.get(eventId);
    if (snapshot && this.isFresh(snapshot)) return Promise.resolve(snapshot);
    let pending = this.building.get(eventId);
    if (!pending) {
      pending = this.build(eventId, logger).finally(() => this.building.delete(eventId));
      this.building.set(eventId, pending);
    }
    return pending;
  }

  private isFresh(snapshot: SeatMapSnapshot): boolean {
    return Date.now() < snapshot.freshUntil && snapshot.watch.changes === snapshot.changesSeen;
  }

  private async build(eventId: number, logger: Services['logger']): Promise<SeatMapSnapshot | undefined> {
    const watch = this.watch(eventId);
    const changesSeen = watch.changes;
    const startedAt = Date.now();
    const read = await readEventSeats(this.services, eventId, logger);
    if (!read) {
      this.snapshots.delete(eventId);
      this.unwatch(eventId, watch);
      return undefined;
    }
    const json = Buffer.from(JSON.stringify(eventSeatsBody(eventId, read.seats)));
    const etag = `W/"${createHash('sha1').update(json).digest('base64url')}"`;
    let freshUntil = startedAt + this.services.config.SEAT_MAP_MAX_AGE_MS;
    for (const seat of read.seats) {
      if (seat.expiresAt !== undefined && seat.expiresAt < freshUntil) freshUntil = seat.expiresAt;
    }
    const snapshot = new SeatMapSnapshot(
      eventId,
      read.source,
      json,
      etag,
      read.changeId,
      freshUntil,
      watch,
      changesSeen,
    );
    this.snapshots.set(eventId, snapshot);
    return snapshot;
  }

  /**
   * Counts the event's announced changes from now on. The subscription is not waited for: a
   * change announced before Redis confirms it is covered by SEAT_MAP_MAX_AGE_MS, and a map is
   * served while Redis (and so pub/sub) is down.
   */
  private watch(eventId: number): EventWatch {
    let watch = this.watches.get(eventId);
    if (watch) return watch;
    const created: EventWatch = { changes: 0 };
    watch = created;
    this.watches.set(eventId, created);
    const seen = () => {
      created.changes += 1;
    };
    seatChangeFeed(this.services)
      .watch(eventId, { change: seen, resync: seen })
      .then(
        (stop) => {
          if (this.watches.get(eventId) === created) created.stop = stop;
          else stop(); // forgotten while subscribing
        },
        (error: unknown) => {
          // Its snapshots age out; the next one read subscribes again.
          this.services.logger.warn(
            { err: error, eventId },
            'seat changes unavailable (Redis); seat map ages out',
          );
          if (this.watches.get(eventId) === created) this.watches.delete(eventId);
        },
      );
    return created;
  }

  private unwatch(eventId: number, watch: EventWatch): void {
    if (this.watches.get(eventId) !== watch) return;
    this.watches.delete(eventId);
    watch.stop?.();
  }
}

const snapshotsOf = new WeakMap<Services, SeatMapSnapshots>();

/** The process's seat-map snapshots (one set per Services). */
export function seatMapSnapshots(services: Services): SeatMapSnapshots {
  let snapshots = snapshotsOf.get(services);
  if (!snapshots) {
    snapshots = new SeatMapSnapshots(services);
    snapshotsOf.set(services, snapshots);
  }
  return snapshots;
}
