import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { saleSettings } from '../../lib/booking/queue/sale.ts';
import { lineOpensAt } from '../../lib/booking/queue/settings.ts';
import { joinLine, QueueTicketBody, ticketBody } from '../../lib/booking/queue/tickets.ts';
import { authenticate } from '../../lib/platform/auth.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { rateLimit } from '../../lib/platform/rate-limit.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';

const Params = v.object({ eventId: IdParam });

/**
 * POST /events/:eventId/queue: the caller's place in the event's waiting room, one per user and
 * event; joining again answers the same ticket (200). The line opens `prequeue_minutes` before
 * on-sale: who joins before on-sale is placed by lot at on-sale, later joiners first come first
 * served, behind them. Limited like every write, per user and per address.
 */
export const joinQueue = new Hono<AppEnv>().post(
  '/events/:eventId/queue',
  describeRoute({
    summary: "Join an event's waiting room",
    responses: {
      201: jsonResponse('Joined: the new ticket', QueueTicketBody),
      200: jsonResponse('Already in line: the same ticket', QueueTicketBody),
      ...problemResponses({
        403: 'The line is not open yet (`reason: queue_not_open`, `opens_at`)',
        404: 'No such event',
        409: 'The event has no waiting room: book directly (`reason: no_queue`)',
      }),
    },
  }),
  authenticate(),
  rateLimit('queue'),
  validate('param', Params),
  async (c) => {
    const { eventId } = c.req.valid('param');
    const services = c.get('services');
    const sale = await saleSettings(services, eventId);
    if (!sale) throw new ApiError('NOT_FOUND', { detail: `No event ${eventId}` });
    if (!sale.queue?.enabled) {
      throw new ApiError('CONFLICT', {
        detail: `Event ${eventId} has no waiting room: book directly`,
        extensions: { reason: 'no_queue' },
      });
    }
    const opensAt = lineOpensAt(sale.onSaleAt, sale.queue);
    if (opensAt && Date.now() < opensAt.getTime()) {
      throw new ApiError('FORBIDDEN', {
        detail: `The line opens at ${opensAt.toISOString()}`,
        extensions: { reason: 'queue_not_open', opens_at: opensAt.toISOString() },
      });
    }
    const { ticket, line, created } = await joinLine(services.db, eventId, c.get('caller').id);
    const body = ticketBody(ticket, {
      admittedThrough: line.admittedThrough,
      soldOut: line.soldOut,
      onSaleAt: sale.onSaleAt,
      settings: sale.queue,
    });
    c.header('location', `/events/${eventId}/queue/${ticket.id}`);
    return c.json(body, created ? 201 : 200);
  },
);
