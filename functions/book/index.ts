import { defineFunction } from '../../lib/function.ts';
import { bookSeats } from './book-seats.ts';

/** Takes seats first come first served and queues the booking for the processor. */
export default defineFunction({
  name: 'book',
  trigger: { kind: 'http' },
  needs: ['redis', 'kafka', 'postgres'],
  routes: [bookSeats],
});
