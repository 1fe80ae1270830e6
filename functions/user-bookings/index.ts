import { defineFunction } from '../../lib/platform/function.ts';
import { listUserBookings } from './list-user-bookings.ts';

/** A user's bookings, straight from Postgres. */
export default defineFunction({
  name: 'user-bookings',
  trigger: { kind: 'http' },
  needs: ['postgres'],
  routes: [listUserBookings],
});
