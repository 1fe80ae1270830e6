import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { ApiError, type ErrorCode, problemOf } from './errors.ts';
import type { FunctionDefinition } from './function.ts';
import type { Logger } from './logger.ts';
import { type Dependency, pingDependencies, type Services } from './services.ts';

export type AppEnv = {
  Variables: {
    services: Services;
    requestId: string;
    /** The services' logger bound to this request's id and function. */
    logger: Logger;
  };
};

const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Maps anything thrown to an ApiError; only ApiErrors and Hono's own HTTP errors keep their status. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException) {
    const code = STATUS_CODES[error.status] ?? 'INTERNAL';
    return new ApiError(code, { detail: error.message || undefined, cause: error });
  }
  return new ApiError('INTERNAL', { detail: 'The server failed to answer this request.', cause: error });
}

/**
 * The one factory every function's app comes from: request ids, the services on the context,
 * one log line per request, problem+json errors, and the health endpoints.
 */
export function newApp(options: {
  name: string;
  services: Services;
  needs: readonly Dependency[];
}): Hono<AppEnv> {
  const { name, services, needs } = options;
  const app = new Hono<AppEnv>();

  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    const logger = services.logger.child({ fn: name, requestId: c.var.requestId });
    c.set('services', services);
    c.set('logger', logger);
    await next();
    logger.info(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: +(performance.now() - started).toFixed(2),
      },
      'request',
    );
  });

  app.get('/healthz', (c) => c.json({ status: 'ok', function: name }));
  app.get('/readyz', async (c) => {
    try {
      await pingDependencies(services, needs);
      return c.json({ status: 'ready', function: name, needs });
    } catch (error) {
      return c.json({ status: 'unavailable', function: name, detail: (error as Error).message }, 503);
    }
  });

  app.notFound((c) => {
    const error = new ApiError('NOT_FOUND', { detail: `No route for ${c.req.method} ${c.req.path}.` });
    return c.json(problemOf(error, c.req.path), error.status, { 'content-type': 'application/problem+json' });
  });

  app.onError((thrown, c) => {
    const error = toApiError(thrown);
    const logger = c.var.logger ?? services.logger;
    if (error.status >= 500) logger.error({ err: thrown }, 'request failed');
    return c.json(problemOf(error, c.req.path), error.status, {
      ...error.headers,
      'content-type': 'application/problem+json',
    });
  });

  return app;
}

/** A function's whole app: the shared factory plus its route modules. */
export function createFunctionApp(definition: FunctionDefinition, services: Services): Hono<AppEnv> {
  const app = newApp({ name: definition.name, services, needs: definition.needs });
  for (const routes of definition.routes) app.route('/', routes);
  return app;
}
