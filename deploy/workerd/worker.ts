/**
 * The HTTP functions on Cloudflare's workerd (wrangler.toml): the same apps as in their Node
 * containers, behind the same gateway as lib/platform/runner.ts' (lib/platform/gateway.ts).
 * FUNCTION=<name> serves one. Kafka-triggered functions need a long-lived consumer, which a
 * Worker is not; they stay on Node.
 *
 * workerd does not let one request use a socket another request opened ("Cannot perform I/O on
 * behalf of a different request"), so the apps are built once and each request gets its own
 * services (Postgres, Redis and Kafka clients, all connecting lazily) from a middleware, closed
 * once its response has been sent.
 */
import type { ExecutionContext, Hono } from 'hono';
import { FUNCTIONS } from '../../functions/registry.ts';
import { createFunctionApp, type ServicesMiddleware } from '../../lib/platform/app.ts';
import { parseConfig } from '../../lib/platform/config.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import type { FunctionDefinition } from '../../lib/platform/function.ts';
import { gatewayApp } from '../../lib/platform/gateway.ts';
import { createLogger } from '../../lib/platform/logger.ts';
import { closeServices, createServices, type Dependency, pingDependencies } from '../../lib/services.ts';

/** wrangler.toml's vars and secrets; other bindings (none yet) are not settings. */
type WorkerEnv = Record<string, unknown>;

/**
 * Built on the first request rather than at start, when FUNCTION is known: workerd gives a
 * Worker its bindings only with a request.
 */
let gateway: Hono<AppEnv> | undefined;

export default {
  fetch(request: Request, env: WorkerEnv, context: ExecutionContext): Response | Promise<Response> {
    // Settings that cannot start a function (no secret or identity provider in production) refuse
    // every request, /healthz too, with the one config line, as the Node runner refuses to start.
    gateway ??= buildGateway(parseConfig(settingsOf(env)).FUNCTION);
    return gateway.fetch(request, env, context);
  },
};

function buildGateway(only: string | undefined): Hono<AppEnv> {
  const served = FUNCTIONS.filter(
    (definition) => definition.trigger.kind === 'http' && (only ? definition.name === only : true),
  );
  if (only && served.length === 0) {
    throw new Error(`config: FUNCTION=${only} names no HTTP function; workerd serves HTTP functions only`);
  }
  return gatewayApp(
    served.map((definition: FunctionDefinition) => ({
      definition,
      app: createFunctionApp(definition, servicesPerRequest(definition.needs)),
    })),
    { services: servicesPerRequest([]), health: { runtime: 'workerd' } },
  );
}

/**
 * Each request's own services, from the Worker's bindings. What the runner does once at start,
 * every request does here: connect each dependency it needs (the Redis client queues no command
 * before it is connected). One that does not answer is left to the function, as when a
 * dependency goes away after a container started.
 */
function servicesPerRequest(needs: readonly Dependency[]): ServicesMiddleware {
  return async (c, next) => {
    const config = parseConfig(settingsOf(c.env as WorkerEnv));
    const services = createServices(config, createLogger(config));
    const close = () => c.executionCtx.waitUntil(closeServices(services));
    c.set('services', services);
    try {
      await Promise.allSettled(needs.map((dependency) => pingDependencies(services, [dependency])));
      await next();
    } catch (error) {
      close();
      throw error;
    }
    c.res = closeWhenSent(c.res, close);
  };
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
