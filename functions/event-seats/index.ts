import { defineFunction } from '../../lib/platform/function.ts';
import { getEventSeats } from './get-event-seats.ts';
import { getSeatLayout } from './get-seat-layout.ts';
import { getSeatMap } from './get-seat-map.ts';

/**
 * Seat availability from the Redis cache. Redis is not among its needs: without it the answers
 * come from Postgres, so it stays ready (and in the load balancer) while Redis is down.
 */
export default defineFunction({
  name: 'event-seats',
  trigger: { kind: 'http' },
  needs: ['postgres'],
  routes: [getEventSeats, getSeatMap, getSeatLayout],
});
