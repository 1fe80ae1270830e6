import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { timeout } from 'hono/timeout';
import type { Dependency, Services } from '../services.ts';
import { corsPolicy } from './cors.ts';
import type { AppEnv } from './env.ts';
import { ApiError, type ErrorCode, problemOf } from './errors.ts';
import type { FunctionDefinition } from './function.ts';
import { healthRoutes } from './health.ts';
import type { Logger } from './logger.ts';
import { serveApiDocs } from './openapi.ts';
import { answerWrongMethods, httpRoutes } from './routes.ts';

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
export function newApp(options: {
  name: string;
  services: Services | ServicesMiddleware;
  needs: readonly Dependency[];
  /** Of `needs`, those the function answers usefully without; /readyz reports them, passes anyway. */
  degradesWithout?: readonly Dependency[];
}): Hono<AppEnv> {
  const { name, services } = options;
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(typeof services === 'function' ? services : provideServices(services));
  app.use(async (c, next) => {
    const started = performance.now();
    const logger = c.get('services').logger.child({ fn: name, requestId: c.get('requestId') });
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
 * Every answer of an HTTP function is what its Content-Type says: no browser may sniff a JSON
 * document (or a problem echoing a path) into HTML or script. Set before the handler runs, so
 * the header joins its response as it is built.
 */
const noSniffing: MiddlewareHandler<AppEnv> = (c, next) => {
  c.header('x-content-type-options', 'nosniff');
  return next();
};

/**
 * A request not answered within REQUEST_TIMEOUT_MS gets a 503. The deadline ends when the
 * response starts, so an open seat stream goes on. The handler is not stopped: a write may still
 * take effect, and its answer says so (`book` and `cancel` answer by their own, shorter deadlines).
 */
const requestTimeout: MiddlewareHandler<AppEnv> = (c, next) => {
  const ms = c.get('services').config.REQUEST_TIMEOUT_MS;
  const timedOut = () =>
    new HTTPException(503, {
      message:
        c.req.method === 'GET' || c.req.method === 'HEAD'
          ? `No answer within ${ms} ms; retry shortly.`
          : `No answer within ${ms} ms; the request may still take effect: retry with the same Idempotency-Key to learn its outcome.`,
    });
  return timeout(ms, timedOut)(c, next);
};

/** A function's whole app: the shared factory plus its route modules. */
export function createFunctionApp(
  definition: FunctionDefinition,
  services: Services | ServicesMiddleware,
): Hono<AppEnv> {
  const app = newApp({ ...definition, services });
  if (definition.trigger.kind === 'http') {
    app.use(corsPolicy(), noSniffing, requestTimeout);
    app.use(...jsonBodies(MAX_BODY_BYTES));
    serveApiDocs(app, () => definition.routes, `seatrush: ${definition.name}`);
  }
  for (const routes of definition.routes) app.route('/', routes);
  answerWrongMethods(app, httpRoutes(definition.routes));
  return app;
}
