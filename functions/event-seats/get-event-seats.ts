import { asc, gt } from 'drizzle-orm';
import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { events } from '../../lib/booking/db/schema.ts';
import { EventSeatsBody } from '../../lib/booking/responses.ts';
import {
  eventSeatsBody,
  type SeatSource,
  type SeatStatus,
  seatsFromCache,
  seatsFromPostgres,
  withRedis,
} from '../../lib/booking/seats/availability.ts';
import { seatMapSnapshots } from '../../lib/booking/seats/snapshots.ts';
import { findEvent } from '../../lib/booking/unknown-events.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { cachedResponse } from '../../lib/platform/http-cache.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { Cursor, Limit, nextLink } from '../../lib/platform/pagination.ts';
import { rateLimitReads } from '../../lib/platform/rate-limit.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';
import type { Services } from '../../lib/services.ts';

/** `*` (the seed's "every event") or one event id. */
const Params = v.object({
  eventId: v.union([v.literal('*'), IdParam], 'must be a positive integer, or * for every event'),
});

/** Pages of `*`: events by id; each event may have thousands of seats, so pages are small. */
const Query = v.strictObject({ limit: Limit(20, 100), cursor: Cursor });

/**
 * A page of `*` also ends before its events' seats pass this many, so no page is a hundred
 * stadiums; its first event is always on it, so an event larger than this (up to 50,000 seats,
 * functions/events/create-event.ts) is alone on its page.
 */
const MAX_SEATS_PER_PAGE = 20_000;

/** Which store answered: `redis` (the cache, with holds) or `postgres` (Redis did not answer). */
export const DATA_SOURCE_HEADER = 'x-data-source';

/**
 * GET /events/seats/:eventId: the seed's `{event_id, booked_seats, available_seats}` (seat ids),
 * plus `held_seats` and every seat's number and state. `*` answers an array of these for every
 * event, by event id, `limit` at a time, with a `Link: <...>; rel="next"` while more follow.
 * Read from the Redis cache (warmed when the event is not in it); from Postgres when Redis does
 * not answer, which knows no holds. `x-data-source` says which. Limited per address as a
 * public read; an id known to name no event is answered 404 without a lookup. One event's map
 * is served from the process's snapshot (lib/booking/seats/snapshots.ts): with an `ETag` (304 to
 * an `If-None-Match` naming it), Brotli or gzip as Accept-Encoding asks, cacheable for a second.
 */
export const getEventSeats = new Hono<AppEnv>().get(
  '/events/seats/:eventId',
  describeRoute({
    summary: "An event's seats and their states, or a page of every event's",
    responses: {
      200: jsonResponse(
        "The event's seats; for `*` an array of these, one per event. One event's carry an `ETag`: " +
          'to an `If-None-Match` naming it the answer is 304, with no body',
        v.union([EventSeatsBody, v.array(EventSeatsBody)]),
      ),
      ...problemResponses({ 404: 'No such event' }),
    },
  }),
  rateLimitReads,
  validate('param', Params),
  validate('query', Query),
  async (c) => {
    const { eventId } = c.req.valid('param');
    if (eventId !== '*') {
      const services = c.get('services');
      const snapshot = await findEvent(services, eventId, () =>
        seatMapSnapshots(services).get(eventId, c.get('logger'), { settling: true }),
      );
      if (!snapshot) throw new ApiError('NOT_FOUND', { detail: `No event ${eventId}` });
      return cachedResponse(c, snapshot.eventSeats, {
        cacheControl: SEAT_MAP_CACHE_CONTROL,
        headers: { [DATA_SOURCE_HEADER]: snapshot.source },
      });
    }

    const { limit, cursor } = c.req.valid('query');
    const { db } = c.get('services');
    const rows = await db
      .select({ id: events.id, totalSeats: events.totalSeats })
      .from(events)
      .where(cursor === undefined ? undefined : gt(events.id, cursor))
      .orderBy(asc(events.id))
      .limit(limit + 1);
    const eventIds: number[] = [];
    let seatsOnPage = 0;
    for (const row of rows.slice(0, limit)) {
      seatsOnPage += row.totalSeats;
      if (eventIds.length > 0 && seatsOnPage > MAX_SEATS_PER_PAGE) break;
      eventIds.push(row.id);
    }
    const { source, seatsByEvent } = await readManyEvents(c.get('services'), eventIds, c.get('logger'));
    c.header(DATA_SOURCE_HEADER, source);
    return c.json(
      eventIds.map((id) => eventSeatsBody(id, seatsByEvent.get(id) ?? [])),
      200,
      nextLink(c.req.url, rows.length > eventIds.length ? eventIds.at(-1) : undefined),
    );
  },
);

/**
 * Lets a CDN or browser reuse a map for a second without asking: about as stale as the snapshot
 * itself may be (SEAT_MAP_MAX_AGE_MS), and a booking still finds out about a taken seat.
 */
export const SEAT_MAP_CACHE_CONTROL = 'public, max-age=1';

/** Every event of a page from one source: Redis for all of them, or Postgres for all of them. */
async function readManyEvents(
  services: Services,
  eventIds: number[],
  logger: Services['logger'],
): Promise<{ source: SeatSource; seatsByEvent: Map<number, SeatStatus[]> }> {
  try {
    const lists = await withRedis(services.redis, () =>
      Promise.all(eventIds.map((eventId) => seatsFromCache(services, eventId))),
    );
    return {
      source: 'redis',
      seatsByEvent: new Map(eventIds.map((eventId, i) => [eventId, lists[i] ?? []])),
    };
  } catch (error) {
    logger.warn({ err: error }, 'seat cache unavailable (Redis); reading seats from Postgres');
    return { source: 'postgres', seatsByEvent: await seatsFromPostgres(services.db, eventIds) };
  }
}
