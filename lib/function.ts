import type { Hono } from 'hono';
import type { AppEnv } from './app.ts';
import type { TopicKey } from './kafka/topics.ts';
import type { Dependency } from './services.ts';

/**
 * How a function is invoked. HTTP functions answer the method+path routes their app declares;
 * a Kafka function's app receives each batch of `topic` as `POST /` (see lib/kafka/trigger.ts).
 */
export type Trigger = { kind: 'http' } | { kind: 'kafka'; topic: TopicKey };

export interface FunctionDefinition {
  /** Also the consumer group of a Kafka function and the FUNCTION value that runs it alone. */
  name: string;
  trigger: Trigger;
  /** What /readyz checks and what must answer before the function starts. */
  needs: readonly Dependency[];
  /** The route modules of the function, each a small Hono app using `c.get('services')`. */
  routes: readonly Hono<AppEnv>[];
}

export function defineFunction<const T extends FunctionDefinition>(definition: T): T {
  return definition;
}
