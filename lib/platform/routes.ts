/**
 * The route table: which function answers each method and path. It is read from the route
 * modules alone (Hono apps declared at module level), so it needs no services: the Node gateway,
 * the workerd worker and the deploy generators (nginx, ingress) all route from this one table.
 */
import { Hono } from 'hono';
import type { AppEnv } from './env.ts';
import { ApiError } from './errors.ts';
import type { FunctionDefinition } from './function.ts';
import { PLATFORM_PATHS } from './openapi.ts';

export interface HttpRoute {
  method: string;
  /** The Hono path, e.g. /events/seats/:eventId. */
  path: string;
}

export interface RouteEntry<Definition extends FunctionDefinition = FunctionDefinition> extends HttpRoute {
  definition: Definition;
}

/** The method+path pairs some apps answer, not counting middleware, health checks and docs. */
export function httpRoutes(apps: readonly Hono<AppEnv>[]): HttpRoute[] {
  const merged = new Hono<AppEnv>();
  for (const app of apps) merged.route('/', app);
  const seen = new Set<string>();
  return merged.routes.flatMap(({ method, path }) => {
    const key = `${method} ${path}`;
    if (method === 'ALL' || PLATFORM_PATHS.has(path) || seen.has(key)) return [];
    seen.add(key);
    return [{ method, path }];
  });
}

/**
 * Every route of the HTTP functions, in registry order: where two paths could match a request,
 * the first declared wins, in every router built from this table.
 */
export function routeTable<Definition extends FunctionDefinition>(
  definitions: readonly Definition[],
): RouteEntry<Definition>[] {
  return definitions.flatMap((definition) =>
    definition.trigger.kind === 'http'
      ? httpRoutes(definition.routes).map((route) => ({ ...route, definition }))
      : [],
  );
}

/**
 * After an app's routes: a known path asked with another method answers 405 with `Allow`
 * instead of 404. Registered last, so a matching method's handler always answers first.
 */
export function answerWrongMethods(app: Hono<AppEnv>, routes: readonly HttpRoute[]): void {
  const methodsByPath = new Map<string, Set<string>>();
  for (const { method, path } of routes)
    methodsByPath.set(path, (methodsByPath.get(path) ?? new Set()).add(method));
  for (const [path, methods] of methodsByPath) {
    const allow = [...methods, ...(methods.has('GET') ? ['HEAD'] : [])].join(', ');
    app.all(path, (c) => {
      throw new ApiError('METHOD_NOT_ALLOWED', {
        detail: `${c.req.method} is not allowed here; use ${allow}`,
        headers: { allow },
      });
    });
  }
}
