import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as v from 'valibot';

/** The closed set of error codes a function may answer with; each maps to one status and title. */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  FORBIDDEN: { status: 403, title: 'Forbidden' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  CONFLICT: { status: 409, title: 'Conflict' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  UNPROCESSABLE: { status: 422, title: 'Unprocessable content' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL: { status: 500, title: 'Internal server error' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ApiErrorOptions {
  detail?: string;
  /** Extra members of the problem document, e.g. the offending fields or seats. */
  extensions?: Record<string, unknown>;
  headers?: Record<string, string>;
  cause?: unknown;
}

export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, options: ApiErrorOptions = {}) {
    // A client error is an answer, not a fault: no stack to capture (every 409 of a sale makes one).
    const stackTraceLimit = Error.stackTraceLimit;
    if (ERROR_CODES[code].status < 500) Error.stackTraceLimit = 0;
    super(options.detail ?? ERROR_CODES[code].title, { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.code = code;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }

  get status(): ContentfulStatusCode {
    return ERROR_CODES[this.code].status;
  }
}

/**
 * An RFC 9457 problem document, the body of every error answer. Extension members vary with the
 * problem (`errors` for validation, `taken_seat_ids` for a taken seat, ...), so any may follow.
 */
export const Problem = v.pipe(
  v.looseObject({
    type: v.string(),
    title: v.string(),
    status: v.pipe(v.number(), v.integer()),
    detail: v.string(),
    instance: v.optional(v.string()),
    /** For a validation problem: every offending field, e.g. `body.seat_ids[2]`. */
    errors: v.optional(v.array(v.object({ path: v.string(), message: v.string() }))),
  }),
  v.metadata({ ref: 'Problem' }),
);
export type Problem = v.InferOutput<typeof Problem>;

export function problemOf(error: ApiError, instance?: string): Problem {
  const { status, title } = ERROR_CODES[error.code];
  return {
    ...error.extensions,
    type: `/problems/${error.code.toLowerCase().replaceAll('_', '-')}`,
    title,
    status,
    detail: error.message,
    ...(instance ? { instance } : {}),
  };
}

/** A dependency (Postgres, Redis, Kafka) that cannot be reached; the message says how to start it. */
export class DependencyError extends Error {
  override name = 'DependencyError';
  constructor(
    readonly dependency: 'postgres' | 'redis' | 'kafka',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
