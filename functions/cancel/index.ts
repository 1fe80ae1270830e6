import { defineFunction } from '../../lib/platform/function.ts';
import { cancelBooking } from './cancel-booking.ts';

/** Cancels bookings; the processor applies it and the projector frees the seats in Redis. */
export default defineFunction({
  name: 'cancel',
  trigger: { kind: 'http' },
  needs: ['postgres', 'redis', 'kafka'],
  // Without Redis it still queues the cancel; the client polls instead of waiting.
  degradesWithout: ['redis'],
  routes: [cancelBooking],
});
