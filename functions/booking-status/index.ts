import { defineFunction } from '../../lib/function.ts';
import { getRequestStatus } from './get-request-status.ts';

/** The outcome of an accepted booking or cancel request. */
export default defineFunction({
  name: 'booking-status',
  trigger: { kind: 'http' },
  needs: ['postgres', 'redis'],
  routes: [getRequestStatus],
});
