/**
 * What handlers find on the context, as types only: the app factory, the middleware and every
 * route import these, and this module imports no code, so none of them import each other for it.
 * Read a variable with `c.get(name)`: `c.var` copies every variable into a new object on each
 * access, a cost the booking hot path pays many times per request.
 */
import type { Services } from '../services.ts';
import type { Logger } from './logger.ts';

export type Role = 'user' | 'admin';

/** Who called, once `authenticate()` has checked the bearer token. */
export interface Caller {
  id: number;
  role: Role;
}

/**
 * What one attempt of a request with an Idempotency-Key works with (set by `idempotency()`): the
 * booking request id it must use, and the ids earlier attempts with the same key used whose
 * outcome nobody heard (they crashed or answered 5xx). The handler settles those first
 * (lib/booking/requests.ts): if one was decided, that is the answer; the others are withdrawn
 * before this attempt runs.
 */
export interface Attempt {
  requestId: string;
  earlier: readonly string[];
}

export type AppEnv = {
  Variables: {
    services: Services;
    requestId: string;
    /** The services' logger bound to this request's id and function. */
    logger: Logger;
    /** Set once `authenticate()` passed; middleware that may run without it reads it as optional. */
    caller?: Caller;
    attempt?: Attempt;
  };
};

/** The context after `authenticate()`: routes behind it read the caller without a check or cast. */
export type AuthenticatedEnv = AppEnv & { Variables: { caller: Caller } };
