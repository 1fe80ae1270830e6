/**
 * The HTTP functions on Cloudflare's workerd (wrangler.toml): the same apps as in their Node
 * containers, routed by method and path like lib/platform/runner.ts' gateway. FUNCTION=<name> serves one.
 * Kafka-triggered functions need a long-lived consumer, which a Worker is not; they stay on Node.
 *
 * workerd does not let one request use a socket another request opened ("Cannot perform I/O on
 * behalf of a different request"), so each request gets its own services (Postgres, Redis and
 * Kafka clients, all connecting lazily), closed once its response has been sent.
 */
import { type ExecutionContext, Hono } from 'hono';
import { FUNCTIONS } from '../../functions/registry.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import { parseConfig } from '../../lib/platform/config.ts';
import { ApiError, problemOf } from '../../lib/platform/errors.ts';
import type { FunctionDefinition } from '../../lib/platform/function.ts';
import { createLogger } from '../../lib/platform/logger.ts';
import { closeServices, createServices, type Dependency, pingDependencies } from '../../lib/services.ts';
import { describeFunctions, isHttp } from '../functions.ts';

/** wrangler.toml's vars and secrets; other bindings (none yet) are not settings. */
type WorkerEnv = Record<string, unknown>;

type Gateway = Hono<{ Bindings: WorkerEnv }>;

/**
 * Built on the first request rather than at start: workerd allows no timers or random values
 * outside a request, and building the apps creates (unconnected) clients.
 */
let gateway: Promise<Gateway> | undefined;

export default {
  async fetch(request: Request, env: WorkerEnv, context: ExecutionContext): Promise<Response> {
    gateway ??= buildGateway(settingsOf(env).FUNCTION);
    return (await gateway).fetch(request, env, context);
  },
};

async function buildGateway(only: string | undefined): Promise<Gateway> {
  const served = FUNCTIONS.filter((definition) => (only ? definition.name === only : true));
  const described = await describeFunctions(served);
  if (only && !described.some(isHttp)) {
    throw new Error(`config: FUNCTION=${only} names no HTTP function; workerd serves HTTP functions only`);
  }
  const needs = new Set<Dependency>();
  const root: Gateway = new Hono();
  for (const fn of described.filter(isHttp)) {
    const definition = served.find((candidate) => candidate.name === fn.name) as FunctionDefinition;
    for (const dependency of definition.needs) needs.add(dependency);
    for (const route of fn.routes) {
      root.on(route.method, route.path, (c) => answer(definition, c.req.raw, c.env, c.executionCtx));
    }
  }
  const names = described.filter(isHttp).map((fn) => fn.name);
  root.get('/healthz', (c) => c.json({ status: 'ok', functions: names, runtime: 'workerd' }));
  root.get('/readyz', async (c) => {
    const services = servicesFor(c.env);
    try {
      await pingDependencies(services, needs);
      return c.json({ status: 'ready' });
    } catch (error) {
      return c.json({ status: 'unavailable', detail: (error as Error).message }, 503);
    } finally {
      c.executionCtx.waitUntil(closeServices(services));
    }
  });
  root.notFound((c) => {
    const error = new ApiError('NOT_FOUND', { detail: `No route for ${c.req.method} ${c.req.path}.` });
    return c.json(problemOf(error, c.req.path), error.status, { 'content-type': 'application/problem+json' });
  });
  return root;
}

async function answer(
  definition: FunctionDefinition,
  request: Request,
  env: WorkerEnv,
  context: ExecutionContext,
): Promise<Response> {
  const services = servicesFor(env);
  const close = () => context.waitUntil(closeServices(services));
  let response: Response;
  try {
    // What the runner does once at start, every request does here: connect each dependency (the
    // Redis client queues no command before it is connected). One that does not answer is left to
    // the function, as when a dependency goes away after a container started.
    await Promise.allSettled(definition.needs.map((dependency) => pingDependencies(services, [dependency])));
    response = await createFunctionApp(definition, services).fetch(request);
  } catch (error) {
    close();
    throw error;
  }
  return closeWhenSent(response, close);
}

function servicesFor(env: WorkerEnv) {
  const config = parseConfig(settingsOf(env));
  return createServices(config, createLogger(config));
}

/** The string bindings, which are the settings lib/platform/config.ts reads. */
function settingsOf(env: WorkerEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).flatMap(([name, value]) => (typeof value === 'string' ? [[name, value]] : [])),
  );
}

/**
 * A streamed body (server-sent events) still needs its connections after the handler returned,
 * so they close when the body ends or the client goes away, not before.
 */
function closeWhenSent(response: Response, close: () => void): Response {
  if (!response.body) {
    close();
    return response;
  }
  const reader = response.body.getReader();
  let closed = false;
  const closeOnce = () => {
    if (!closed) {
      closed = true;
      close();
    }
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          closeOnce();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        controller.error(error);
        closeOnce();
      }
    },
    async cancel(reason) {
      closeOnce();
      await reader.cancel(reason);
    },
  });
  return new Response(body, response);
}
