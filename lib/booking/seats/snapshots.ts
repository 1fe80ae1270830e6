/**
 * Seat maps served from process memory. An event's seats are read once into a snapshot, and every
 * request answers from it with the same bytes until the seats change:
 * - GET /events/seats/:eventId, the seed's shape (also the seat stream's first frame);
 * - GET /events/:eventId/seat-map, the states compactly, one character a seat;
 * - GET /events/:eventId/seat-layout, the seats' ids and numbers, which never change once the
 *   event exists: made once per layout and kept from one snapshot to the next, ETag included.
 * Each is serialized on first use and compressed once per coding asked for
 * (lib/platform/http-cache.ts). A snapshot is stale, and the next request reads the seats again
 * (only their states, given the layout the last read found), once
 * - a change of the event is announced on `seat-changes` (lib/booking/seats/changes.ts), or the
 *   subscriber reconnects (a change may have been missed meanwhile); for the GET routes only once
 *   CHANGE_SETTLE_READS times as long as its read took have passed since it was made, so that on
 *   an event changing all the time reading its seats takes at most about a quarter of the
 *   process's time, and the map lags by at most that much more (a 4,000-seat map's read takes
 *   about 7 ms, a 50,000-seat one's 50);
 * - its first hold lapses: a hold ends by itself, with no change announced, at its `expires_at`;
 * - SEAT_MAP_MAX_AGE_MS have passed: the bound when no message tells (a message lost, a change
 *   made before this process's subscription was confirmed, the cache filled or emptied behind
 *   its back, or Redis down and the map read from Postgres).
 * Concurrent requests for a stale map share one read.
 */
import { LRUCache } from 'lru-cache';
import { CachedBody } from '../../platform/http-cache.ts';
import type { Services } from '../../services.ts';
import type { SeatLayoutBody, SeatMapBody } from '../responses.ts';
import {
  eventSeatsBody,
  readSeatMap,
  type SeatLayout,
  type SeatMapRead,
  type SeatSource,
  seatStatuses,
} from './availability.ts';
import { seatChangeFeed } from './changes.ts';
import { layoutRuns } from './seat-layout.ts';

/** A snapshot a change made stale is still served for this many times as long as its read took. */
const CHANGE_SETTLE_READS = 3;

/**
 * Memory the snapshots of a process may take, counted as the seed body's bytes, built or not:
 * about 64 a seat (a 50,000-seat map is 3.2 MB).
 */
const MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024;
const BYTES_PER_SEAT = 64;

export class SeatMapSnapshot {
  private eventSeatsBody: CachedBody | undefined;
  private seatMapBody: CachedBody | undefined;

  constructor(
    readonly eventId: number,
    private readonly read: SeatMapRead,
    /** Until when (ms since the epoch) it may be served. */
    readonly freshUntil: number,
    /** Until when (ms since the epoch) it may be served after a change was announced. */
    readonly settledAt: number,
    /** The watch it was built under, and how many changes that watch had seen then. */
    readonly watch: EventWatch,
    readonly changesSeen: number,
  ) {}

  /** Which store the seats were read from. */
  get source(): SeatSource {
    return this.read.source;
  }

  /**
   * From Redis: the event's latest change when the seats were read. A stream that starts from
   * this snapshot replays the changes after it (a change sets absolute states, so one already
   * in the seats changes nothing).
   */
  get changeId(): string | undefined {
    return this.read.changeId;
  }

  /** The seats read, in id order: the next read is given them, and asks Redis for the states alone. */
  get layout(): SeatLayout {
    return this.read.layout;
  }

  /** The body of GET /events/seats/:eventId, the seed's shape. */
  get eventSeats(): CachedBody {
    this.eventSeatsBody ??= CachedBody.json(eventSeatsBody(this.eventId, seatStatuses(this.read)));
    return this.eventSeatsBody;
  }

  /** `eventSeats` serialized (UTF-8), which the seat stream's first frame carries. */
  get json(): Buffer<ArrayBuffer> {
    return this.eventSeats.bytes;
  }

  /** The body of GET /events/:eventId/seat-map: the states, for the layout its ETag names. */
  get seatMap(): CachedBody {
    if (!this.seatMapBody) {
      const body: SeatMapBody = {
        event_id: this.eventId,
        layout_etag: this.seatLayout.etag,
        states: this.read.states,
        hold_expires_at: this.read.holdExpiries,
      };
      this.seatMapBody = CachedBody.json(body);
    }
    return this.seatMapBody;
  }

  /** The body of GET /events/:eventId/seat-layout: the same object, ETag and all, while the layout is. */
  get seatLayout(): CachedBody {
    let body = layoutBodies.get(this.read.layout);
    if (!body) {
      const { seatIds, seatNumbers } = this.read.layout;
      const layout: SeatLayoutBody = {
        event_id: this.eventId,
        seat_count: seatIds.length,
        runs: layoutRuns(seatIds, seatNumbers),
      };
      body = CachedBody.json(layout);
      layoutBodies.set(this.read.layout, body);
    }
    return body;
  }
}

/** Each layout's body, made once: a read that finds the same seats hands back the same layout. */
const layoutBodies = new WeakMap<SeatLayout, CachedBody>();

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
      sizeCalculation: (snapshot) => Math.max(1, snapshot.layout.seatIds.length * BYTES_PER_SEAT),
      // An event no longer in memory needs no announcements.
      dispose: (snapshot, eventId, reason) => {
        if (reason !== 'set' && !this.building.has(eventId)) this.unwatch(eventId, snapshot.watch);
      },
    });
  }

  /**
   * The event's current snapshot, read anew when stale; undefined when there is no such event.
   * `settling`: one a change made stale is still current while it settles (the reads of GET
   * requests, which a stream of changes does not follow); without it a snapshot is current only
   * with every announced change in it (a seat stream's first frame).
   */
  get(
    eventId: number,
    logger: Services['logger'] = this.services.logger,
    { settling = false }: { settling?: boolean } = {},
  ): Promise<SeatMapSnapshot | undefined> {
    const snapshot = this.snapshots.get(eventId);
    if (snapshot && this.isFresh(snapshot, settling)) return Promise.resolve(snapshot);
    let pending = this.building.get(eventId);
    if (!pending) {
      pending = this.build(eventId, logger).finally(() => this.building.delete(eventId));
      this.building.set(eventId, pending);
    }
    return pending;
  }

  private isFresh(snapshot: SeatMapSnapshot, settling: boolean): boolean {
    const now = Date.now();
    const changed = snapshot.watch.changes !== snapshot.changesSeen;
    return now < snapshot.freshUntil && (!changed || (settling && now < snapshot.settledAt));
  }

  /**
   * The event's snapshot, stale or not, for what does not change with its states (the layout):
   * read only when there is none.
   */
  getAnyAge(
    eventId: number,
    logger: Services['logger'] = this.services.logger,
  ): Promise<SeatMapSnapshot | undefined> {
    const snapshot = this.snapshots.get(eventId);
    return snapshot ? Promise.resolve(snapshot) : this.get(eventId, logger);
  }

  private async build(eventId: number, logger: Services['logger']): Promise<SeatMapSnapshot | undefined> {
    const watch = this.watch(eventId);
    const changesSeen = watch.changes;
    const startedAt = Date.now();
    const previous = this.snapshots.peek(eventId);
    const read = await readSeatMap(this.services, eventId, logger, previous?.layout);
    if (!read) {
      this.snapshots.delete(eventId);
      this.unwatch(eventId, watch);
      return undefined;
    }
    const freshUntil = read.holdExpiries.reduce(
      (until, expiresAt) => Math.min(until, expiresAt),
      startedAt + this.services.config.SEAT_MAP_MAX_AGE_MS,
    );
    const readAt = Date.now();
    const settledAt = readAt + CHANGE_SETTLE_READS * (readAt - startedAt);
    const snapshot = new SeatMapSnapshot(eventId, read, freshUntil, settledAt, watch, changesSeen);
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
