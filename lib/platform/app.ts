import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { type Dependency, pingDependencies, type Services, unreachable } from '../services.ts';
import type { AppEnv } from './env.ts';
import { ApiError, type ErrorCode, problemOf } from './errors.ts';
import type { FunctionDefinition } from './function.ts';
import type { Logger } from './logger.ts';
import { PLATFORM_PATHS, serveApiDocs } from './openapi.ts';

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
  /** Of `needs`, those the function answers usefully without; /readyz reports them, passes anyway. */
  degradesWithout?: readonly Dependency[];
}): Hono<AppEnv> {
  const { name, services, needs } = options;
  const degradesWithout = options.degradesWithout ?? [];
  const essential = needs.filter((dependency) => !degradesWithout.includes(dependency));
  const app = new Hono<AppEnv>();

  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    const logger = services.logger.child({ fn: name, requestId: c.get('requestId') });
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
      await pingDependencies(services, essential);
      const degraded = await unreachable(services, degradesWithout);
      return c.json({ status: degraded.length ? 'degraded' : 'ready', function: name, needs, degraded });
    } catch (error) {
      return c.json({ status: 'unavailable', function: name, detail: (error as Error).message }, 503);
    }
  });

  answerWithProblems(app, services.logger);
  return app;
}

/** Unknown routes and every error become problem+json; a server error is logged, never shown. */
export function answerWithProblems(app: Hono<AppEnv>, logger: Logger): void {
  app.notFound((c) => {
    const error = new ApiError('NOT_FOUND', { detail: `No route for ${c.req.method} ${c.req.path}.` });
    return c.json(problemOf(error, c.req.path), error.status, { 'content-type': 'application/problem+json' });
  });
  app.onError((thrown, c) => {
    const error = toApiError(thrown);
    if (error.status >= 500) (c.get('logger') ?? logger).error({ err: thrown }, 'request failed');
    return c.json(problemOf(error, c.req.path), error.status, {
      ...error.headers,
      'content-type': 'application/problem+json',
    });
  });
}

/** Request bodies of HTTP functions are small JSON documents; a Kafka batch may be large. */
export const MAX_BODY_BYTES = 16 * 1024;

/** 415 for a body that is not JSON, 413 for one over `maxBytes`, before anything parses it. */
function jsonBodies(maxBytes: number): MiddlewareHandler<AppEnv>[] {
  return [
    async (c, next) => {
      const hasBody =
        c.req.header('content-length') !== undefined || c.req.header('transfer-encoding') !== undefined;
      if (
        hasBody &&
        c.req.header('content-length') !== '0' &&
        ['POST', 'PUT', 'PATCH'].includes(c.req.method)
      ) {
        if (!/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
          throw new ApiError('UNSUPPORTED_MEDIA_TYPE', {
            detail: 'The request body must be application/json',
          });
        }
      }
      await next();
    },
    declaredLengthOrBodyLimit(maxBytes),
  ];
}

/**
 * A declared Content-Length is checked from the header alone; hono's bodyLimit, which makes the
 * node adapter build a full Web Request and stream for every request, only counts chunked bodies.
 */
function declaredLengthOrBodyLimit(maxBytes: number): MiddlewareHandler<AppEnv> {
  const tooLarge = () =>
    new ApiError('PAYLOAD_TOO_LARGE', { detail: `The request body must be at most ${maxBytes} bytes` });
  const countingLimit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined)
      return countingLimit(c, next);
    if (Number(length) > maxBytes) throw tooLarge();
    await next();
  };
}

/**
 * After an app's routes: a known path asked with another method answers 405 with `Allow`
 * instead of 404. Registered last, so a matching method's handler always answers first.
 */
export function answerWrongMethods(app: Hono<AppEnv>, routes: { method: string; path: string }[]): void {
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

/** A function's whole app: the shared factory plus its route modules. */
export function createFunctionApp(definition: FunctionDefinition, services: Services): Hono<AppEnv> {
  const app = newApp({
    name: definition.name,
    services,
    needs: definition.needs,
    degradesWithout: definition.degradesWithout,
  });
  if (definition.trigger.kind === 'http') {
    app.use(...jsonBodies(MAX_BODY_BYTES));
    serveApiDocs(app, () => definition.routes, `seatrush: ${definition.name}`);
  }
  for (const routes of definition.routes) app.route('/', routes);
  answerWrongMethods(app, httpRoutes(app));
  return app;
}

/** The method+path pairs an app answers, not counting middleware, health checks and docs. */
export function httpRoutes(app: Hono<AppEnv>): { method: string; path: string }[] {
  const seen = new Set<string>();
  return app.routes.flatMap(({ method, path }) => {
    const key = `${method} ${path}`;
    if (method === 'ALL' || PLATFORM_PATHS.has(path) || seen.has(key)) return [];
    seen.add(key);
    return [{ method, path }];
  });
}
