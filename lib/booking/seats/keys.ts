import { randomUUID } from 'node:crypto';

/** Redis pub/sub channel of every seat change: `{eventId, state, seatIds, id, expiresAt?, userId?}`. */
export const SEAT_CHANGES_CHANNEL = 'seat-changes';

/** The Redis keys of the seat state; all keys of one event share the hash tag `{e<id>}`. */
export const seatKeys = {
  /** The hash tag of the event's keys: keys of other kinds that a seat script touches carry it too. */
  tag: (eventId: number) => `{e${eventId}}`,
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
