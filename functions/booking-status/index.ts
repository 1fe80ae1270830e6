import { defineFunction } from '../../lib/platform/function.ts';
import { getRequestStatus } from './get-request-status.ts';

/** The outcome of an accepted booking or cancel request. */
export default defineFunction({
  name: 'booking-status',
  trigger: { kind: 'http' },
  needs: ['postgres', 'redis'],
  // Redis only knows which undecided requests are pending; decided ones are all in Postgres.
  degradesWithout: ['redis'],
  routes: [getRequestStatus],
});
