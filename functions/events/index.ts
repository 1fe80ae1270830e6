import { defineFunction } from '../../lib/function.ts';
import { listEvents } from './list-events.ts';

export default defineFunction({
  name: 'events',
  trigger: { kind: 'http' },
  needs: ['postgres'],
  routes: [listEvents],
});
