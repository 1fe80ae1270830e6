import { Hono } from 'hono';
import { describeRoute } from 'hono-openapi';
import * as v from 'valibot';
import { saleSettings } from '../../lib/booking/queue/sale.ts';
import { QueueTicketBody, ticketBody } from '../../lib/booking/queue/tickets.ts';
import { authenticate } from '../../lib/platform/auth.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';
import { jsonResponse, problemResponses } from '../../lib/platform/openapi.ts';
import { IdParam, validate } from '../../lib/platform/validation.ts';
import { ownTicket } from './own-ticket.ts';

export const TicketParams = v.object({ eventId: IdParam, ticketId: v.pipe(v.string(), v.uuid()) });

/** GET /events/:eventId/queue/:ticketId: the caller's ticket as it stands (a page reloaded resumes from it). */
export const getTicket = new Hono<AppEnv>().get(
  '/events/:eventId/queue/:ticketId',
  describeRoute({
    summary: 'A place in the waiting room, as it stands',
    responses: {
      200: jsonResponse('The ticket', QueueTicketBody),
      ...problemResponses({ 404: 'No such ticket of this caller' }),
    },
  }),
  authenticate(),
  validate('param', TicketParams),
  async (c) => {
    const { eventId, ticketId } = c.req.valid('param');
    const services = c.get('services');
    const { ticket, line } = await ownTicket(c, eventId, ticketId);
    const sale = await saleSettings(services, eventId);
    if (!sale?.queue) throw new ApiError('NOT_FOUND', { detail: `Event ${eventId} has no waiting room` });
    return c.json(
      ticketBody(ticket, {
        admittedThrough: line.admittedThrough,
        soldOut: line.soldOut,
        onSaleAt: sale.onSaleAt,
        settings: sale.queue,
      }),
      200,
    );
  },
);
