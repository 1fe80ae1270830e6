import { Hono } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import type { ChangeData, SnapshotData } from '../../lib/booking/responses.ts';
import { eventSeatsBody, seatsFromCache } from '../../lib/booking/seats/availability.ts';
import {
  BEFORE_ANY_CHANGE,
  type ChangeListener,
  changesSince,
  compareIds,
  latestChangeId,
  type SeatChange,
  STREAM_ID,
  seatChangeFeed,
} from '../../lib/booking/seats/changes.ts';
import { seatMapSnapshots } from '../../lib/booking/seats/snapshots.ts';
import { unknownEvents } from '../../lib/booking/unknown-events.ts';
import { openStreams } from '../../lib/platform/connection-limit.ts';
import { withDeadline } from '../../lib/platform/deadline.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { problemResponses, textResponse } from '../../lib/platform/openapi.ts';
import { clientAddress, rateLimitReads } from '../../lib/platform/rate-limit.ts';
import { SseWriter, sseFrame } from '../../lib/platform/sse-writer.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';
import type { Services } from '../../lib/services.ts';

const LastEventId = v.pipe(v.string(), v.regex(STREAM_ID, 'must be an event id this stream sent'));

const Params = v.object({ eventId: IdParam });
/** `last_event_id` resumes too, for a client that cannot set the header (a page reloaded). */
const Query = v.strictObject({ last_event_id: v.optional(LastEventId) });
const Headers = v.object({ 'last-event-id': v.optional(LastEventId) });

/** A client that fell further behind than this many changes is resumed on reconnect instead. */
const MAX_REPLAY = 1_000;
const MAX_QUEUED_FRAMES = 5_000;

/**
 * GET /events/:eventId/stream: Server-Sent Events of the event's seats. First `event: snapshot`
 * (the body of GET /events/seats/:eventId, plus `server_time` for the clock of `expires_at`),
 * then `event: change` with `{event_id, state, seat_ids, expires_at?}` for every change, each
 * with `id:` its Redis stream id. A client reconnecting with `Last-Event-ID` gets the changes it
 * missed (no snapshot), or a fresh snapshot when they are no longer all kept. A comment line
 * every SSE_HEARTBEAT_MS keeps proxies from closing a quiet stream. A held seat frees itself
 * when `expires_at` passes, without a change. All streams of a process share one Redis
 * subscription (lib/booking/seats/changes.ts). Opening one is a public read (limited per
 * address); at most SSE_MAX_PER_ADDRESS streams per client address and SSE_MAX_PER_PROCESS in all
 * are open in a process at once, more are refused with 429. The request timeout ends with the
 * response's start: an open stream is not cut.
 */
export const streamSeats = new Hono<AppEnv>().get(
  '/events/:eventId/stream',
  describeRoute({
    summary: "Live changes of an event's seats (Server-Sent Events)",
    responses: {
      200: textResponse(
        'An `event: snapshot` (the seats, as GET /events/seats/:eventId answers them, plus `server_time`), ' +
          'then an `event: change` (`event_id`, `state`, `seat_ids`, `expires_at`) for every change',
        'text/event-stream',
      ),
      ...problemResponses({
        404: 'No such event',
        429: 'Too many streams open, from this address or on this server',
        503: 'Live updates are unavailable (Redis)',
      }),
    },
  }),
  rateLimitReads,
  validate('param', Params),
  validate('query', Query),
  validate('header', Headers),
  async (c) => {
    const { eventId } = c.req.valid('param');
    const resumeFrom = c.req.valid('header')['last-event-id'] ?? c.req.valid('query').last_event_id;
    const headers = { 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };
    // A HEAD would never read the body, so it must not open a stream that never ends.
    if (c.req.method === 'HEAD')
      return c.body(null, 200, { ...headers, 'content-type': 'text/event-stream' });

    const services = c.get('services');
    const unknown = unknownEvents(services);
    if (unknown.has(eventId)) throw new ApiError('NOT_FOUND', { detail: `No event ${eventId}` });
    const release = openStreams(services).acquire(clientAddress(c));
    const session = new SeatStream(services, eventId, c.get('logger'), release);
    try {
      // Bounded, so a silent Redis cannot keep the stream's slot taken.
      await withDeadline(session.open(resumeFrom), services.config.REQUEST_TIMEOUT_MS);
    } catch (error) {
      session.close();
      if (error instanceof ApiError && error.code === 'NOT_FOUND') unknown.set(eventId, true);
      if (error instanceof ApiError) throw error;
      c.get('logger').warn({ err: error, eventId }, 'seat stream unavailable (Redis)');
      throw new ApiError('SERVICE_UNAVAILABLE', {
        detail:
          'Live seat updates are unavailable right now (Redis); GET /events/seats/:eventId still answers.',
        headers: { 'retry-after': '2' },
      });
    }
    if (c.finalized) {
      // The request timeout has answered already: nobody will read this stream.
      session.close();
      return c.res;
    }
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    return streamSSE(c, (stream) => session.run(stream));
  },
);

/** One open stream: the snapshot or the missed changes, then every change, in id order, once. */
class SeatStream implements ChangeListener {
  /** The id of the last change written (or of the snapshot). */
  private lastId: string | undefined;
  private catchingUp = false;
  private resyncWanted = false;
  private buffered: SeatChange[] = [];
  private readonly writer: SseWriter;
  private stopWatching: (() => void) | undefined;

  constructor(
    private readonly services: Services,
    private readonly eventId: number,
    private readonly logger: Services['logger'],
    /** Gives the stream's slot back (see openStreams). */
    release: () => void,
  ) {
    this.writer = new SseWriter({
      heartbeatMs: services.config.SSE_HEARTBEAT_MS,
      maxQueued: MAX_QUEUED_FRAMES,
      onClose: (reason) => {
        // A client this slow reconnects with its Last-Event-ID and catches up.
        if (reason === 'too-slow')
          logger.warn({ eventId }, 'seat stream client too slow; closing its stream');
        this.stopWatching?.();
        release();
      },
    });
  }

  /** Subscribes, then reads what the client needs first; rejects (nothing sent) if it cannot. */
  async open(resumeFrom: string | undefined): Promise<void> {
    // Subscribed first: a change made while the stream or snapshot is read waits in the buffer.
    this.stopWatching = await seatChangeFeed(this.services).watch(this.eventId, this);
    if (this.writer.closed) {
      this.stopWatching(); // closed while subscribing: its open took too long
      return;
    }
    await this.catchUp(resumeFrom);
  }

  change(change: SeatChange): void {
    if (this.catchingUp) this.buffered.push(change);
    else this.deliver(change);
  }

  /** The subscriber reconnected: changes made meanwhile are only in the stream. */
  resync(): void {
    if (this.catchingUp) {
      this.resyncWanted = true;
      return;
    }
    this.catchUp(this.lastId).catch((error: unknown) => {
      // The client reconnects with Last-Event-ID and is served from the stream then.
      this.logger.warn({ err: error, eventId: this.eventId }, 'seat stream could not resync; closing it');
      this.close();
    });
  }

  /** Writes until the client goes away (or falls too far behind), with a heartbeat. */
  run(stream: SSEStreamingApi): Promise<void> {
    return this.writer.run(stream);
  }

  close(): void {
    this.writer.close();
  }

  private async catchUp(afterId: string | undefined): Promise<void> {
    this.catchingUp = true;
    try {
      const { redis } = this.services;
      const missed = afterId ? await changesSince(redis, this.eventId, afterId, MAX_REPLAY) : undefined;
      if (missed) {
        this.lastId ??= afterId;
        for (const change of missed) this.deliver(change);
      } else if (!(await this.sendSnapshotFromMemory())) {
        // The last id before the snapshot: every later change is replayed on top of it, and a
        // change sets absolute states, so one already in the snapshot changes nothing.
        const snapshotId = await latestChangeId(redis, this.eventId);
        const seats = await seatsFromCache(this.services, this.eventId);
        if (!seats) throw new ApiError('NOT_FOUND', { detail: `No event ${this.eventId}` });
        this.lastId = snapshotId;
        const data: SnapshotData = { ...eventSeatsBody(this.eventId, seats), server_time: Date.now() };
        this.enqueue(sseFrame('snapshot', JSON.stringify(data), snapshotId));
      }
    } finally {
      this.catchingUp = false;
    }
    const buffered = this.buffered;
    this.buffered = [];
    for (const change of buffered) this.deliver(change);
    if (this.resyncWanted) {
      this.resyncWanted = false;
      this.resync();
    }
  }

  /**
   * The process's snapshot of the seat map (lib/booking/seats/snapshots.ts, shared with GET
   * /events/seats/:eventId) and the changes made since it was read, from the event's change
   * stream: one round trip instead of reading every seat. False when that cannot be (the
   * snapshot came from Postgres, or its changes are no longer all kept): then the seats are read.
   */
  private async sendSnapshotFromMemory(): Promise<boolean> {
    const snapshot = await seatMapSnapshots(this.services).get(this.eventId, this.logger);
    if (!snapshot) throw new ApiError('NOT_FOUND', { detail: `No event ${this.eventId}` });
    const { changeId } = snapshot;
    if (changeId === undefined) return false;
    const { redis } = this.services;
    // A stream that does not exist reads as "changes lost"; for an event that has never changed
    // it only means none were made since.
    const since =
      changeId === BEFORE_ANY_CHANGE && (await latestChangeId(redis, this.eventId)) === BEFORE_ANY_CHANGE
        ? []
        : await changesSince(redis, this.eventId, changeId, MAX_REPLAY);
    if (!since) return false;
    this.lastId = changeId;
    // The body with `server_time` added last, as SnapshotData serializes: no parse, no copy kept.
    const body = snapshot.json.toString('utf8', 0, snapshot.json.length - 1);
    this.enqueue(sseFrame('snapshot', `${body},"server_time":${Date.now()}}`, changeId));
    for (const change of since) this.deliver(change);
    return true;
  }

  private deliver(change: SeatChange): void {
    if (this.lastId !== undefined && compareIds(change.id, this.lastId) <= 0) return;
    this.lastId = change.id;
    this.enqueue(changeFrame(change));
  }

  private enqueue(text: string): void {
    this.writer.send(text);
  }
}

/** Every open stream of the event writes the same bytes for a change: made once, kept with it. */
const changeFrames = new WeakMap<SeatChange, string>();

function changeFrame(change: SeatChange): string {
  let text = changeFrames.get(change);
  if (text === undefined) {
    const data: ChangeData = {
      event_id: change.eventId,
      state: change.state,
      seat_ids: change.seatIds,
      ...(change.expiresAt === undefined ? {} : { expires_at: change.expiresAt }),
    };
    text = sseFrame('change', JSON.stringify(data), change.id);
    changeFrames.set(change, text);
  }
  return text;
}
