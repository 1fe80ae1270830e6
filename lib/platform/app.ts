import { type Context, Hono, type MiddlewareHandler, type Next } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { timeout } from 'hono/timeout';
import type { Dependency, Services } from '../services.ts';
import { corsPolicy } from './cors.ts';
import type { AppEnv } from './env.ts';
import { ApiError, type ErrorCode, problemOf } from './errors.ts';
import type { FunctionDefinition } from './function.ts';
import { healthRoutes } from './health.ts';
import type { Logger } from './logger.ts';
import { metrics } from './metrics.ts';
import { serveApiDocs } from './openapi.ts';
import { setResponseHeader } from './response-headers.ts';
import { answerWrongMethods, httpRoutes } from './routes.ts';
import { contextFrom, inSpan, SpanKind, tracing } from './tracing.ts';

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
 * Puts the services on the context of each request. In a Node process they are the process's
 * own, one set for every request; the workerd worker gives each request its own (its sockets may
 * not outlive the request), with a middleware of this type.
 */
export type ServicesMiddleware = MiddlewareHandler<AppEnv>;

export function provideServices(services: Services): ServicesMiddleware {
  return async (c, next) => {
    c.set('services', services);
    await next();
  };
}

/**
 * The one factory every function's app comes from: request ids, the services on the context,
 * one log line per request, problem+json errors, and the health endpoints.
 */
/** An X-Request-Id taken from the caller: what hono/request-id accepts. */
const REQUEST_ID = /^[\w\-=]{1,255}$/;

export function newApp(options: {
  name: string;
  services: Services | ServicesMiddleware;
  needs: readonly Dependency[];
  /** Of `needs`, those the function answers usefully without; /readyz reports them, passes anyway. */
  degradesWithout?: readonly Dependency[];
}): Hono<AppEnv> {
  const { name, services } = options;
  const app = new Hono<AppEnv>();
  if (typeof services === 'function') app.use(services);
  // The request id, the process's own services and the logger, in one middleware (see httpRequests);
  // with tracing on, inside the request's span (a child of the caller's `traceparent`, if any).
  const handle = async (c: Context<AppEnv>, next: Next): Promise<string> => {
    const started = performance.now();
    // The caller's X-Request-Id when it is a sane one (as hono/request-id takes it), else a new one.
    const given = c.req.header('x-request-id');
    const id = given !== undefined && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    c.set('requestId', id);
    setResponseHeader(c, 'x-request-id', id);
    if (typeof services !== 'function') c.set('services', services);
    const logger = c.get('services').logger.child({ fn: name, requestId: c.get('requestId') });
    c.set('logger', logger);
    await next();
    const ms = performance.now() - started;
    const { method } = c.req;
    const { status } = c.res;
    logger.info({ method, path: c.req.path, status, ms: +ms.toFixed(2) }, 'request');
    const counted = c.get('services').config.METRICS_ENABLED;
    if (!counted && !tracing.on) return '';
    // The pattern of the route that answered (not its path: one series per route, whatever the ids).
    const matched = routePath(c);
    const route = matched === '*' || matched === '/*' ? 'unmatched' : matched;
    if (counted) {
      metrics.httpRequests.inc({ function: name, route, method, status });
      metrics.httpDuration.observe({ function: name, route, method }, ms / 1000);
    }
    return route;
  };
  app.use(async (c, next) => {
    if (!tracing.on) {
      await handle(c, next);
      return;
    }
    await inSpan(
      `${c.req.method}`,
      { kind: SpanKind.SERVER, parent: contextFrom(c.req.header()), attributes: { 'faas.name': name } },
      async (span) => {
        const route = await handle(c, next);
        span.updateName(`${c.req.method} ${route}`);
        span.setAttributes({ 'http.route': route, 'http.response.status_code': c.res.status });
      },
    );
  });
  app.route('/', healthRoutes([options]));
  answerWithProblems(app);
  return app;
}

/**
 * Unknown routes and every error become problem+json; a server error is logged (with the
 * request's logger, else `fallbackLogger`), never shown.
 */
export function answerWithProblems(app: Hono<AppEnv>, fallbackLogger?: Logger): void {
  app.notFound((c) => {
    const error = new ApiError('NOT_FOUND', { detail: `No route for ${c.req.method} ${c.req.path}.` });
    return c.json(problemOf(error, c.req.path), error.status, { 'content-type': 'application/problem+json' });
  });
  app.onError((thrown, c) => {
    const error = toApiError(thrown);
    if (error.status >= 500) {
      const logger = c.get('logger') ?? c.get('services')?.logger ?? fallbackLogger;
      if (logger) logger.error({ err: thrown }, 'request failed');
      else console.error('request failed', thrown);
    }
    return c.json(problemOf(error, c.req.path), error.status, {
      ...error.headers,
      'content-type': 'application/problem+json',
    });
  });
}

/** Request bodies of HTTP functions are small JSON documents; a Kafka batch may be large. */
export const MAX_BODY_BYTES = 16 * 1024;

/** 415 for a body that is not JSON, before anything parses it. */
function assertJsonBody(c: Context<AppEnv>): void {
  const length = c.req.header('content-length');
  const hasBody = length !== undefined || c.req.header('transfer-encoding') !== undefined;
  if (hasBody && length !== '0' && ['POST', 'PUT', 'PATCH'].includes(c.req.method)) {
    if (!/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', { detail: 'The request body must be application/json' });
    }
  }
}

/**
 * 413 for a body over `maxBytes`. A declared Content-Length is checked from the header alone;
 * hono's bodyLimit, which makes the node adapter build a full Web Request and stream for every
 * request, only counts chunked bodies.
 */
function bodyLimitOf(maxBytes: number): (c: Context<AppEnv>, next: Next) => Promise<void> {
  const tooLarge = () =>
    new ApiError('PAYLOAD_TOO_LARGE', { detail: `The request body must be at most ${maxBytes} bytes` });
  const countingLimit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  return (c, next) => {
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined)
      return countingLimit(c, next).then(() => {});
    if (Number(length) > maxBytes) throw tooLarge();
    return next();
  };
}

/** One hono/timeout per REQUEST_TIMEOUT_MS (workerd parses the settings again for each request). */
const deadlines = new Map<number, MiddlewareHandler<AppEnv>>();

/**
 * A request not answered within REQUEST_TIMEOUT_MS gets a 503. The deadline ends when the
 * response starts, so an open seat stream goes on. The handler is not stopped: a write may still
 * take effect, and its answer says so (`book` and `cancel` answer by their own, shorter deadlines).
 */
function deadlineOf(ms: number): MiddlewareHandler<AppEnv> {
  let deadline = deadlines.get(ms);
  if (!deadline) {
    deadline = timeout(
      ms,
      (c) =>
        new HTTPException(503, {
          message:
            c.req.method === 'GET' || c.req.method === 'HEAD'
              ? `No answer within ${ms} ms; retry shortly.`
              : `No answer within ${ms} ms; the request may still take effect: retry with the same Idempotency-Key to learn its outcome.`,
        }),
    );
    deadlines.set(ms, deadline);
  }
  return deadline;
}

/**
 * What every HTTP request passes before its route: the CORS policy (lib/platform/cors.ts),
 * nosniff on every answer (no browser may sniff a JSON document, or a problem echoing a path,
 * into HTML or script), a JSON body of at most `maxBytes`, and the request deadline. One
 * middleware calling these in turn, not five: each layer of Hono's middleware chain costs the
 * booking hot path a few microseconds of promise bookkeeping.
 */
function httpRequests(maxBytes: number): MiddlewareHandler<AppEnv> {
  const cors = corsPolicy();
  const limitBody = bodyLimitOf(maxBytes);
  return (c, next) => {
    setResponseHeader(c, 'x-content-type-options', 'nosniff');
    const handle = async () => {
      assertJsonBody(c);
      await deadlineOf(c.get('services').config.REQUEST_TIMEOUT_MS)(c, () => limitBody(c, next));
    };
    return cors(c, handle);
  };
}

/** A function's whole app: the shared factory plus its route modules. */
export function createFunctionApp(
  definition: FunctionDefinition,
  services: Services | ServicesMiddleware,
): Hono<AppEnv> {
  const app = newApp({ ...definition, services });
  if (definition.trigger.kind === 'http') {
    app.use(httpRequests(MAX_BODY_BYTES));
    serveApiDocs(app, () => definition.routes, `seatrush: ${definition.name}`);
  }
  for (const routes of definition.routes) app.route('/', routes);
  answerWrongMethods(app, httpRoutes(definition.routes));
  return app;
}
