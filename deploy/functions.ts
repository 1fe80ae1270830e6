/**
 * What the deploy files need to know about each function, read from the registry and lib/ only:
 * nothing here lists functions, routes or topics by hand.
 */
import { FUNCTIONS } from '../functions/registry.ts';
import type { FunctionDefinition, Trigger } from '../lib/platform/function.ts';
import { TOPICS, type TopicKey } from '../lib/platform/kafka/topics.ts';
import { type HttpRoute, routeTable } from '../lib/platform/routes.ts';
import type { Dependency } from '../lib/services.ts';

export type { HttpRoute };

export interface DeployedFunction {
  name: string;
  trigger: Trigger['kind'];
  needs: readonly Dependency[];
  /** The HTTP routes an HTTP function answers; empty for a Kafka or scheduled function. */
  routes: HttpRoute[];
  /** The consumed topic of a Kafka function. */
  topic?: { key: TopicKey; name: string; partitions: number };
}

/** Every function of the registry, its routes from the route table (lib/platform/routes.ts). */
export function describeFunctions(
  definitions: readonly FunctionDefinition[] = FUNCTIONS,
): DeployedFunction[] {
  const routes = routeTable(definitions);
  return definitions.map((definition) => {
    const { name, needs, trigger } = definition;
    const topic = trigger.kind === 'kafka' ? TOPICS[trigger.topic] : undefined;
    return {
      name,
      trigger: trigger.kind,
      needs,
      // A scheduled function's app answers only its trigger's POST /: it takes no traffic.
      routes: routes.flatMap((route) =>
        route.definition === definition ? [{ method: route.method, path: route.path }] : [],
      ),
      ...(trigger.kind === 'kafka' && topic
        ? { topic: { key: trigger.topic, name: topic.name, partitions: topic.partitions } }
        : {}),
    };
  });
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

/** Hono answers HEAD wherever it answers GET; CORS preflights (OPTIONS) reach every route. */
export function methodsOf(route: HttpRoute): string[] {
  return route.method === 'GET' ? ['GET', 'HEAD', 'OPTIONS'] : [route.method, 'OPTIONS'];
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
