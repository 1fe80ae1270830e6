import { defineFunction } from '../../lib/platform/function.ts';
import { projectBatch } from './project-batch.ts';

/** Keeps the Redis seat cache equal to Postgres and tells waiting requests their outcome. */
export default defineFunction({
  name: 'seat-projector',
  trigger: { kind: 'kafka', topic: 'bookingEvents' },
  needs: ['postgres', 'redis', 'kafka'],
  routes: [projectBatch],
});
