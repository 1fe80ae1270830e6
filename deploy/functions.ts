/**
 * What the deploy files need to know about each function, read from the registry and lib/ only:
 * nothing here lists functions, routes or topics by hand.
 */
import { FUNCTIONS } from '../functions/registry.ts';
import { createFunctionApp, httpRoutes } from '../lib/platform/app.ts';
import { parseConfig } from '../lib/platform/config.ts';
import type { FunctionDefinition, Trigger } from '../lib/platform/function.ts';
import { TOPICS, type TopicKey } from '../lib/platform/kafka/topics.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { closeServices, createServices, type Dependency } from '../lib/services.ts';

export interface HttpRoute {
  method: string;
  /** The Hono path, e.g. /events/seats/:eventId. */
  path: string;
}

export interface DeployedFunction {
  name: string;
  trigger: Trigger['kind'];
  needs: readonly Dependency[];
  /** The HTTP routes an HTTP function answers; empty for a Kafka or scheduled function. */
  routes: HttpRoute[];
  /** The consumed topic of a Kafka function. */
  topic?: { key: TopicKey; name: string; partitions: number };
}

/**
 * Reads every function of the registry. Building an app needs services, but their clients connect
 * lazily, so this opens no connection; they are closed anyway so the process can exit.
 */
export async function describeFunctions(
  definitions: readonly FunctionDefinition[] = FUNCTIONS,
): Promise<DeployedFunction[]> {
  const config = parseConfig({});
  const services = createServices(config, createLogger({ LOG_LEVEL: 'silent' }));
  try {
    return definitions.map((definition) => {
      const { name, needs, trigger } = definition;
      if (trigger.kind === 'kafka') {
        const topic = TOPICS[trigger.topic];
        return {
          name,
          trigger: trigger.kind,
          needs,
          routes: [],
          topic: { key: trigger.topic, name: topic.name, partitions: topic.partitions },
        };
      }
      // A scheduled function's app answers only its trigger's POST /: it takes no traffic.
      const routes = trigger.kind === 'http' ? httpRoutes(createFunctionApp(definition, services)) : [];
      return { name, trigger: trigger.kind, needs, routes };
    });
  } finally {
    await closeServices(services);
  }
}

export const isHttp = (fn: DeployedFunction): boolean => fn.trigger === 'http';

/**
 * A Hono path as an anchored regular expression that means the same in PCRE (nginx), RE2-like
 * ingress controllers and JavaScript: `:param` is one segment, `:param{re}` keeps its pattern,
 * a trailing `:param?` or `/*` may be absent (as Hono matches `/a/*` for `/a` too).
 */
export function pathPattern(path: string): string {
  const segments = path.split('/').slice(1);
  const parts = segments.map((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '*') return last ? '(?:/.*)?' : '/.*';
    const param = /^:\w+(?:\{(.+)\})?(\?)?$/.exec(segment);
    if (!param) {
      if (segment.includes(':') || segment.includes('*')) {
        throw new Error(`deploy: cannot express the route segment "${segment}" of ${path} as a pattern`);
      }
      return `/${escapeRegExp(segment)}`;
    }
    const [, custom, optional] = param;
    const one = `/${custom ? `(?:${custom})` : '[^/]+'}`;
    if (optional && !last) throw new Error(`deploy: only the last segment of ${path} may be optional`);
    return optional ? `(?:${one})?` : one;
  });
  return `^${parts.join('') || '/'}$`;
}

/** Hono answers HEAD wherever it answers GET. */
export function methodsOf(route: HttpRoute): string[] {
  return route.method === 'GET' ? ['GET', 'HEAD'] : [route.method];
}

/** A concrete path a route answers, for tests and examples: every parameter becomes `1`. */
export function samplePath(path: string): string {
  return path
    .split('/')
    .map((segment) => (segment === '*' ? 'any' : segment.startsWith(':') ? '1' : segment))
    .join('/');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
