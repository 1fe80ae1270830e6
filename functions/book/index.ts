import { defineFunction } from '../../lib/platform/function.ts';
import { bookSeats } from './book-seats.ts';

/** Takes seats first come first served and queues the booking for the processor. */
export default defineFunction({
  name: 'book',
  trigger: { kind: 'http' },
  needs: ['redis', 'kafka', 'postgres'],
  // Without Redis it queues unlocked requests for the processor to decide; Postgres it needs only
  // to fill a cold event's cache and to settle an unacknowledged command.
  degradesWithout: ['redis', 'postgres'],
  routes: [bookSeats],
});
