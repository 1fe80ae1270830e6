import { defineFunction } from '../../lib/platform/function.ts';
import { getTicket } from './get-ticket.ts';
import { joinQueue } from './join-queue.ts';
import { streamTicket } from './stream-ticket.ts';

/**
 * The waiting room's front door: buyers join an event's line, read their place, and follow it
 * live until they are let in (the `queue-admission` function decides who is). The line lives in
 * Postgres; Redis carries the live updates.
 */
export default defineFunction({
  name: 'queue',
  trigger: { kind: 'http' },
  needs: ['postgres', 'redis'],
  // Joining and reading a ticket are Postgres alone: without Redis only the live stream is down.
  degradesWithout: ['redis'],
  routes: [joinQueue, getTicket, streamTicket],
});
