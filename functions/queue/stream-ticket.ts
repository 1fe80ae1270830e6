import { Hono } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { describeRoute } from 'hono-openapi';
import type { QueueTicketRow } from '../../lib/booking/db/schema.ts';
import { saleSettings } from '../../lib/booking/queue/sale.ts';
import {
  findTicket,
  type LineState,
  type QueueTicketBody,
  ticketBody,
} from '../../lib/booking/queue/tickets.ts';
import { type LineUpdate, watchLine } from '../../lib/booking/queue/updates.ts';
import { authenticate } from '../../lib/platform/auth.ts';
import { openStreams } from '../../lib/platform/connection-limit.ts';
import { withDeadline } from '../../lib/platform/deadline.ts';
import type { AppEnv, Caller } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { problemResponses, textResponse } from '../../lib/platform/openapi.ts';
import { clientAddress } from '../../lib/platform/rate-limit.ts';
import { SseWriter, sseFrame } from '../../lib/platform/sse-writer.ts';
import { validate } from '../../lib/platform/validation.ts';
import type { Services } from '../../lib/services.ts';
import { TicketParams } from './get-ticket.ts';

/**
 * GET /events/:eventId/queue/:ticketId/stream: Server-Sent Events of the caller's ticket. Each
 * event's data is the ticket as GET .../queue/:ticketId shows it: `event: position` at once and
 * as the position changes (at most every QUEUE_UPDATE_MS), `event: admitted` with the admission
 * token the moment the buyer is let in, `event: sold_out` when no seat is left (the stream stays
 * open: seats that come back let the line move again), and `event: expired` when the session
 * ends, which closes the stream. Every stream of a process shares one Redis subscription, fed by
 * the admission function after each run (lib/booking/queue/updates.ts).
 */
export const streamTicket = new Hono<AppEnv>().get(
  '/events/:eventId/queue/:ticketId/stream',
  describeRoute({
    summary: 'A place in the waiting room, live (Server-Sent Events)',
    responses: {
      200: textResponse(
        '`event: position`, `admitted`, `sold_out` or `expired`, each with the ticket as GET /events/:eventId/queue/:ticketId shows it',
        'text/event-stream',
      ),
      ...problemResponses({
        404: 'No such ticket of this caller',
        429: 'Too many streams open, from this address or on this server',
        503: 'Live updates are unavailable (Redis)',
      }),
    },
  }),
  authenticate(),
  validate('param', TicketParams),
  async (c) => {
    const { eventId, ticketId } = c.req.valid('param');
    const services = c.get('services');
    const headers = { 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };
    const release = openStreams(services).acquire(clientAddress(c));
    const stream = new TicketStream(services, eventId, ticketId, release);
    try {
      await withDeadline(stream.open(c.get('caller')), services.config.REQUEST_TIMEOUT_MS);
    } catch (error) {
      stream.close();
      if (error instanceof ApiError) throw error;
      c.get('logger').warn({ err: error, eventId }, 'queue stream unavailable');
      throw new ApiError('SERVICE_UNAVAILABLE', {
        detail: `Live queue updates are unavailable right now; GET /events/${eventId}/queue/${ticketId} still answers.`,
        headers: { 'retry-after': '2' },
      });
    }
    if (c.finalized) {
      stream.close();
      return c.res;
    }
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    return streamSSE(c, (sse) => stream.run(sse));
  },
);

/** The SSE event a ticket's status is told with. */
const EVENT_OF_STATUS = {
  prequeue: 'position',
  waiting: 'position',
  admitted: 'admitted',
  sold_out: 'sold_out',
  expired: 'expired',
} as const;

/** One open stream of a ticket: its state, kept current by the line's updates. */
class TicketStream {
  private ticket: QueueTicketRow | undefined;
  private line: LineState | undefined;
  private buffered: LineUpdate[] = [];
  private readonly writer: SseWriter;
  private stopWatching: (() => void) | undefined;
  private sent: { status: string; position: number | null; atMs: number } | undefined;
  /** A position update held back by QUEUE_UPDATE_MS, sent when it runs out. */
  private heldBack: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private rereading = false;

  constructor(
    private readonly services: Services,
    private readonly eventId: number,
    private readonly ticketId: string,
    release: () => void,
  ) {
    this.writer = new SseWriter({
      heartbeatMs: services.config.SSE_HEARTBEAT_MS,
      onClose: () => {
        this.stopWatching?.();
        clearTimeout(this.heldBack);
        clearTimeout(this.expiry);
        release();
      },
    });
  }

  /** Watches the line, then reads the ticket (an update meanwhile waits): 404 unless the caller's. */
  async open(caller: Caller): Promise<void> {
    this.stopWatching = await watchLine(this.services, this.eventId, (update) => this.update(update));
    const [found, sale] = await Promise.all([
      findTicket(this.services.db, this.eventId, this.ticketId),
      saleSettings(this.services, this.eventId),
    ]);
    if (!found || !sale?.queue || (found.ticket.userId !== caller.id && caller.role !== 'admin')) {
      throw new ApiError('NOT_FOUND', {
        detail: `No ticket ${this.ticketId} of yours for event ${this.eventId}`,
      });
    }
    this.ticket = found.ticket;
    this.line = {
      admittedThrough: found.line.admittedThrough,
      soldOut: found.line.soldOut,
      onSaleAt: sale.onSaleAt,
      settings: sale.queue,
    };
    const buffered = this.buffered;
    this.buffered = [];
    this.tell(true);
    for (const update of buffered) this.update(update);
  }

  run(sse: SSEStreamingApi): Promise<void> {
    return this.writer.run(sse);
  }

  close(): void {
    this.writer.close();
  }

  private update(update: LineUpdate): void {
    const { ticket, line } = this;
    if (!ticket || !line) {
      this.buffered.push(update);
      return;
    }
    line.admittedThrough = Math.max(line.admittedThrough, update.admittedThrough);
    line.soldOut = update.soldOut;
    if (update.ended.includes(ticket.id)) ticket.endedAt ??= new Date();
    // Placed by lot, or let in: what changed is in the ticket's row.
    const placed = ticket.position === null && update.shuffled;
    const letIn = ticket.position !== null && ticket.position <= line.admittedThrough && !ticket.admittedAt;
    if (placed || letIn) this.reread();
    else this.tell(false);
  }

  private reread(): void {
    if (this.rereading) return;
    this.rereading = true;
    findTicket(this.services.db, this.eventId, this.ticketId)
      .then((found) => {
        if (found) this.ticket = found.ticket;
        this.tell(false);
      })
      .catch((error: unknown) => {
        // The next update tries again; a client that reconnects reads the ticket afresh.
        this.services.logger.warn({ err: error, ticketId: this.ticketId }, 'could not reread a queue ticket');
      })
      .finally(() => {
        this.rereading = false;
      });
  }

  /** Sends the ticket if its status changed, or its position did and QUEUE_UPDATE_MS has passed. */
  private tell(first: boolean): void {
    const { ticket, line } = this;
    if (!ticket || !line || this.writer.closed) return;
    const body: QueueTicketBody = ticketBody(ticket, line);
    const nowMs = Date.now();
    const { sent } = this;
    if (!first && sent && sent.status === body.status) {
      if (sent.position === body.position) return;
      const dueMs = sent.atMs + this.services.config.QUEUE_UPDATE_MS;
      if (nowMs < dueMs) {
        this.heldBack ??= setTimeout(() => {
          this.heldBack = undefined;
          this.tell(false);
        }, dueMs - nowMs);
        return;
      }
    }
    clearTimeout(this.heldBack);
    this.heldBack = undefined;
    this.sent = { status: body.status, position: body.position, atMs: nowMs };
    this.writer.send(sseFrame(EVENT_OF_STATUS[body.status], JSON.stringify(body)));
    if (body.status === 'admitted' && ticket.sessionExpiresAt) {
      // A timer may fire a little early: the margin makes the session over when it does.
      clearTimeout(this.expiry);
      this.expiry = setTimeout(() => this.tell(false), ticket.sessionExpiresAt.getTime() - nowMs + 20);
    }
    if (body.status === 'expired') this.close();
  }
}
