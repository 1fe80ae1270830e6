/**
 * What the admission function tells every stream after each run that changed a line: published
 * on one Redis channel, fanned out in each process to the streams of that event's tickets. A
 * message carries absolute state, so a lost one is made good by the next (every tick of a line
 * on sale sends one), and a stream opened meanwhile reads Postgres first.
 */
import * as v from 'valibot';
import type { Services } from '../../services.ts';

export const LINE_UPDATES_CHANNEL = 'queue-updates';

export const LineUpdate = v.object({
  eventId: v.number(),
  /** Every ticket at or before this position has been let in. */
  admittedThrough: v.number(),
  soldOut: v.boolean(),
  /** The pre-queue has been placed by lot: its tickets have positions now. */
  shuffled: v.boolean(),
  /** Tickets whose session ended before it expired (a booking under it was confirmed). */
  ended: v.array(v.string()),
});
export type LineUpdate = v.InferOutput<typeof LineUpdate>;

export async function publishLineUpdate(services: Services, update: LineUpdate): Promise<void> {
  await services.redis.publish(LINE_UPDATES_CHANNEL, JSON.stringify(update));
}

export type LineListener = (update: LineUpdate) => void;

/** Each process's listeners by event, once its one subscription to the channel is confirmed. */
const feeds = new WeakMap<Services, Promise<Map<number, Set<LineListener>>>>();

function listenersByEvent(services: Services): Promise<Map<number, Set<LineListener>>> {
  let feed = feeds.get(services);
  if (!feed) {
    const byEvent = new Map<number, Set<LineListener>>();
    feed = services.subscriptions
      .listen(LINE_UPDATES_CHANNEL, (message) => {
        const parsed = v.safeParse(LineUpdate, JSON.parse(message));
        if (!parsed.success) return;
        for (const listener of byEvent.get(parsed.output.eventId) ?? []) listener(parsed.output);
      })
      .then(() => byEvent);
    // Not subscribed (Redis down): the next watcher tries again.
    feed.catch(() => feeds.delete(services));
    feeds.set(services, feed);
  }
  return feed;
}

/** Calls `listener` with every update of the event's line until the returned function is called. */
export async function watchLine(
  services: Services,
  eventId: number,
  listener: LineListener,
): Promise<() => void> {
  const byEvent = await listenersByEvent(services);
  let listeners = byEvent.get(eventId);
  if (!listeners) {
    listeners = new Set();
    byEvent.set(eventId, listeners);
  }
  listeners.add(listener);
  const eventListeners = listeners;
  return () => {
    eventListeners.delete(listener);
    if (eventListeners.size === 0 && byEvent.get(eventId) === eventListeners) byEvent.delete(eventId);
  };
}
