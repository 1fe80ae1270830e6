import { type Context, Hono } from 'hono';
import type { Services } from '../services.ts';
import { answerWithProblems, provideServices, type ServicesMiddleware } from './app.ts';
import type { AppEnv } from './env.ts';
import type { FunctionDefinition } from './function.ts';
import { healthRoutes } from './health.ts';
import type { Logger } from './logger.ts';
import { serveApiDocs } from './openapi.ts';
import { answerWrongMethods, routeTable } from './routes.ts';

/**
 * One port for several HTTP functions, routed by method and path from the route table, as an
 * ingress routes to their containers: each request reaches its function's own app (its
 * middleware, its log lines), with this request's bindings and execution context.
 */
export function gatewayApp(
  functions: readonly { definition: FunctionDefinition; app: Hono<AppEnv> }[],
  options: {
    /** What /readyz checks with; only the platform's own routes use it here. */
    services: Services | ServicesMiddleware;
    /** Logs a failure of the gateway itself (functions log their own). */
    logger?: Logger;
    /** Told on /healthz, e.g. `{ runtime: 'workerd' }`. */
    health?: Record<string, string>;
  },
): Hono<AppEnv> {
  const definitions = functions.map(({ definition }) => definition);
  const root = new Hono<AppEnv>();
  const services =
    typeof options.services === 'function' ? options.services : provideServices(options.services);
  root.use('/readyz', services);
  root.route('/', healthRoutes(definitions, options.health));
  serveApiDocs(root, () => definitions.flatMap((definition) => definition.routes), 'seatrush');
  const routes = functions.flatMap(({ definition, app }) =>
    routeTable([definition]).map((route) => ({ ...route, app })),
  );
  const forward = (app: Hono<AppEnv>) => (c: Context<AppEnv>) =>
    app.fetch(c.req.raw, c.env, executionContextOf(c));
  for (const { method, path, app } of routes) root.on(method, path, forward(app));
  // A CORS preflight (OPTIONS) goes to the function that owns the path: its policy answers it.
  const owners = new Map<string, Hono<AppEnv>>();
  for (const { path, app } of routes) if (!owners.has(path)) owners.set(path, app);
  for (const [path, app] of owners) root.options(path, forward(app));
  answerWrongMethods(root, routes);
  answerWithProblems(root, options.logger);
  return root;
}

/** Hono throws on reading `executionCtx` where the runtime gives none (Node). */
function executionContextOf(c: { executionCtx: unknown }) {
  try {
    return c.executionCtx as Parameters<Hono['fetch']>[2];
  } catch {
    return undefined;
  }
}
