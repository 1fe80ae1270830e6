import { defineFunction } from '../../lib/platform/function.ts';
import { reconcile } from './reconcile.ts';

/**
 * Every RECONCILE_INTERVAL_MS, repairs the Redis seat cache of every cached event from Postgres,
 * so drift from any cause (a lost or late outcome, a failover, a bug) heals within a bounded time.
 */
export default defineFunction({
  name: 'reconciler',
  trigger: { kind: 'schedule', everyMs: (config) => config.RECONCILE_INTERVAL_MS },
  needs: ['postgres', 'redis'],
  routes: [reconcile],
});
