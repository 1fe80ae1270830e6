/**
 * GET /events and GET /events/:eventId from process memory: each page or event is read from
 * Postgres and serialized once, then answered from the same bytes (ETag and 304, gzip or Brotli
 * for a page large enough: lib/platform/http-cache.ts) for EVENTS_MAX_AGE_MS. Events are never
 * changed once created, but `free_seats` falls with every booking, and an event created through
 * another process is unknown here: both are at most EVENTS_MAX_AGE_MS stale in memory, plus the
 * second of `Cache-Control` a browser or CDN may add. An event created through this process drops
 * every cached answer at once. Concurrent requests for a missing answer share one read.
 */
import { LRUCache } from 'lru-cache';
import type { CachedBody } from '../../lib/platform/http-cache.ts';
import type { Services } from '../../lib/services.ts';

/** A browser or CDN may reuse an answer for a second, as long as this process may. */
export const EVENTS_CACHE_CONTROL = 'public, max-age=1';

/** Memory the answers of a process may take, in serialized bytes (a page of 500 events is about 110 KB). */
const MAX_CACHED_BYTES = 8 * 1024 * 1024;

/** An answer: its body, and for a page of GET /events the cursor of the next page, if one follows. */
export interface EventsAnswer {
  body: CachedBody;
  next?: number;
}

export class EventViews {
  private readonly answers: LRUCache<string, EventsAnswer> | undefined;
  private readonly reading = new Map<string, Promise<EventsAnswer | undefined>>();
  /** Moves on when an event is created here: a read begun before it is answered, but not kept. */
  private generation = 0;

  constructor(maxAgeMs: number) {
    if (maxAgeMs > 0) {
      this.answers = new LRUCache({
        maxSize: MAX_CACHED_BYTES,
        sizeCalculation: (answer) => Math.max(1, answer.body.bytes.length),
        ttl: maxAgeMs,
      });
    }
  }

  /**
   * The answer under `key`, read by `read` when there is none younger than EVENTS_MAX_AGE_MS
   * (undefined: nothing found, which is not kept).
   */
  get(key: string, read: () => Promise<EventsAnswer>): Promise<EventsAnswer>;
  get(key: string, read: () => Promise<EventsAnswer | undefined>): Promise<EventsAnswer | undefined>;
  get(key: string, read: () => Promise<EventsAnswer | undefined>): Promise<EventsAnswer | undefined> {
    const { answers } = this;
    if (!answers) return read();
    const cached = answers.get(key);
    if (cached) return Promise.resolve(cached);
    let pending = this.reading.get(key);
    if (!pending) {
      const generation = this.generation;
      const started = read().then((answer) => {
        if (answer && generation === this.generation) answers.set(key, answer);
        return answer;
      });
      pending = started.finally(() => {
        if (this.reading.get(key) === pending) this.reading.delete(key);
      });
      this.reading.set(key, pending);
    }
    return pending;
  }

  /** An event was created: every page may lack it. */
  forget(): void {
    this.generation += 1;
    this.answers?.clear();
    this.reading.clear();
  }
}

const viewsOf = new WeakMap<Services, EventViews>();

/** The process's cached answers of GET /events and GET /events/:eventId (one set per Services). */
export function eventViews(services: Services): EventViews {
  let views = viewsOf.get(services);
  if (!views) {
    views = new EventViews(services.config.EVENTS_MAX_AGE_MS);
    viewsOf.set(services, views);
  }
  return views;
}
