/**
 * Event ids that named no event when last looked up, remembered in this process for
 * UNKNOWN_EVENT_TTL_MS: requests for such an id again (a bot polling for the next on-sale, a
 * client retrying a dead link) are answered 404 without a Postgres query. An event created with
 * that id meanwhile is seen at most that late; one never asked for before is seen at once.
 */
import { LRUCache } from 'lru-cache';
import type { Services } from '../services.ts';

/** At most this many ids are remembered, the least recently asked for forgotten first. */
const MAX_REMEMBERED = 10_000;

const unknownEventsOf = new WeakMap<Services, LRUCache<number, true>>();

/** The process's unknown event ids (one set per Services). */
export function unknownEvents(services: Services): LRUCache<number, true> {
  let unknown = unknownEventsOf.get(services);
  if (!unknown) {
    unknown = new LRUCache({ max: MAX_REMEMBERED, ttl: services.config.UNKNOWN_EVENT_TTL_MS });
    unknownEventsOf.set(services, unknown);
  }
  return unknown;
}

/**
 * `lookUp()`'s answer for event `eventId`, or undefined when there is no such event: at once,
 * with no lookup, for an id that named none a moment ago; a lookup that finds nothing is
 * remembered.
 */
export async function findEvent<T>(
  services: Services,
  eventId: number,
  lookUp: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const unknown = unknownEvents(services);
  if (unknown.has(eventId)) return undefined;
  const found = await lookUp();
  if (found === undefined) unknown.set(eventId, true);
  return found;
}
