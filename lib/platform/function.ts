import type { Hono } from 'hono';
import type { Dependency } from '../services.ts';
import type { Config } from './config.ts';
import type { AppEnv } from './env.ts';
import type { TopicKey } from './kafka/topics.ts';

/**
 * How a function is invoked. HTTP functions answer the method+path routes their app declares;
 * a Kafka function's app receives each batch of `topic` as `POST /` (see lib/platform/kafka/trigger.ts);
 * a scheduled function's app receives `POST /` every `everyMs`, the next only once the last was
 * answered (see lib/platform/schedule/trigger.ts).
 */
export type Trigger =
  | { kind: 'http' }
  | { kind: 'kafka'; topic: TopicKey }
  | { kind: 'schedule'; everyMs: (config: Config) => number };

export interface FunctionDefinition {
  /** Also the consumer group of a Kafka function and the FUNCTION value that runs it alone. */
  name: string;
  trigger: Trigger;
  /** What the function uses. */
  needs: readonly Dependency[];
  /**
   * Those of `needs` it still answers usefully without (a degraded mode it was built for: `book`
   * queues bookings while Redis is down). Readiness and start-up require only the others, so an
   * orchestrator does not pull a function out in the very outage it exists to serve.
   */
  degradesWithout?: readonly Dependency[];
  /** The route modules of the function, each a small Hono app using `c.get('services')`. */
  routes: readonly Hono<AppEnv>[];
}

export function defineFunction<const T extends FunctionDefinition>(definition: T): T {
  return definition;
}

/** The dependencies a function cannot answer without: what /readyz and start-up require. */
export function essentialNeeds(
  definition: Pick<FunctionDefinition, 'needs' | 'degradesWithout'>,
): Dependency[] {
  return definition.needs.filter((dependency) => !definition.degradesWithout?.includes(dependency));
}
