import { defineFunction } from '../../lib/platform/function.ts';
import { createEvent } from './create-event.ts';
import { getEvent } from './get-event.ts';
import { listEvents } from './list-events.ts';
import { updateEvent } from './update-event.ts';

/**
 * The event catalogue. Only Postgres is needed to start and stay ready: creating an event also
 * uses Kafka (it answers 503 without it) and warms Redis when it answers.
 */
export default defineFunction({
  name: 'events',
  trigger: { kind: 'http' },
  needs: ['postgres'],
  routes: [listEvents, getEvent, createEvent, updateEvent],
});
