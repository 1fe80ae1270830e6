import type { Context } from 'hono';
import { findTicket } from '../../lib/booking/queue/tickets.ts';
import type { AuthenticatedEnv } from '../../lib/platform/env.ts';
import { ApiError } from '../../lib/platform/errors.ts';

/** The ticket and its line if the caller owns it (or is an admin); else 404, as if there were none. */
export async function ownTicket(c: Context<AuthenticatedEnv>, eventId: number, ticketId: string) {
  const found = await findTicket(c.get('services').db, eventId, ticketId);
  const caller = c.get('caller');
  if (!found || (found.ticket.userId !== caller.id && caller.role !== 'admin')) {
    throw new ApiError('NOT_FOUND', { detail: `No ticket ${ticketId} of yours for event ${eventId}` });
  }
  return found;
}
