import { defineFunction } from '../../lib/platform/function.ts';
import { processBatch } from './process-batch.ts';

/** Decides booking and cancel commands, a partition's batch per Postgres transaction. */
export default defineFunction({
  name: 'booking-processor',
  trigger: { kind: 'kafka', topic: 'bookingCommands' },
  needs: ['postgres', 'kafka'],
  routes: [processBatch],
});
