import { defineFunction } from '../../lib/platform/function.ts';
import { admitBuyers } from './admit-buyers.ts';

/**
 * Every QUEUE_TICK_MS, lets buyers in from each waiting room: at the room's pace, within its
 * active sessions and the seats left; tells the line when it sells out. See admit-buyers.ts.
 */
export default defineFunction({
  name: 'queue-admission',
  trigger: { kind: 'schedule', everyMs: (config) => config.QUEUE_TICK_MS },
  needs: ['postgres', 'redis'],
  routes: [admitBuyers],
});
