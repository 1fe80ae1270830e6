import { defineFunction } from '../../lib/platform/function.ts';
import { streamSeats } from './stream-seats.ts';

/** Live seat changes of an event as Server-Sent Events; needs Redis (its pub/sub and streams). */
export default defineFunction({
  name: 'seat-stream',
  trigger: { kind: 'http' },
  needs: ['redis', 'postgres'],
  routes: [streamSeats],
});
