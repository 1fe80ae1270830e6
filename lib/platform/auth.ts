import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import type { MiddlewareHandler } from 'hono';
import { uniqueSymbol } from 'hono-openapi';
import * as v from 'valibot';
import type { Config } from './config.ts';
import type { AuthenticatedEnv, Caller, Role } from './env.ts';
import { ApiError } from './errors.ts';
import { problemResponses } from './openapi.ts';
import { IdParam } from './validation.ts';

export const ROLES = ['user', 'admin'] as const satisfies readonly Role[];

/** The claims a token must carry: `sub` is the user id, `role` what the user may do. */
const Claims = v.object({
  sub: IdParam,
  role: v.picklist(ROLES),
});

type VerifyToken = (token: string) => unknown;

/**
 * One synchronous HS256 verifier per secret (fast-jwt, over node:crypto's HMAC). Hono's jwt
 * middleware verifies through WebCrypto, whose every call is an async job on the thread pool:
 * about 25 µs of CPU against 5 µs here, and the largest single cost of a booking request in
 * the benchmark's profile of `book`.
 */
const verifiers = new Map<string, VerifyToken>();
function verifierFor(secret: string): VerifyToken {
  let verify = verifiers.get(secret);
  if (!verify) {
    verify = createVerifier({ key: secret, algorithms: ['HS256'] });
    verifiers.set(secret, verify);
  }
  return verify;
}

const BEARER = /^Bearer +([\w-]+\.[\w-]+\.[\w-]+)$/i;

/**
 * Requires `Authorization: Bearer <JWT>` (HS256, JWT_SECRET, `exp` and `nbf` checked) and puts
 * the caller on the context as `c.get('caller')`. Missing, expired or forged: 401.
 */
export function authenticate(): MiddlewareHandler<AuthenticatedEnv> {
  const middleware: MiddlewareHandler<AuthenticatedEnv> = async (c, next) => {
    const token = BEARER.exec(c.req.header('authorization') ?? '')?.[1];
    if (token === undefined) {
      throw new ApiError('UNAUTHORIZED', {
        detail: 'A bearer token is required (Authorization: Bearer <JWT>)',
        headers: { 'www-authenticate': 'Bearer' },
      });
    }
    let payload: unknown;
    try {
      payload = verifierFor(c.get('services').config.JWT_SECRET)(token);
    } catch (error) {
      throw new ApiError('UNAUTHORIZED', {
        detail: `The bearer token is not valid: ${error instanceof TokenError ? error.message : 'unreadable'}`,
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      });
    }
    const claims = v.safeParse(Claims, payload);
    if (!claims.success) {
      throw new ApiError('UNAUTHORIZED', { detail: 'The token must carry a user id (sub) and a role' });
    }
    c.set('caller', { id: claims.output.sub, role: claims.output.role });
    await next();
  };
  // The same mark hono-openapi's describeRoute() leaves: the OpenAPI document shows the route
  // needs a bearer token, without each route saying so again.
  return Object.assign(middleware, {
    [uniqueSymbol]: {
      spec: {
        security: [{ bearer: [] }],
        responses: problemResponses({
          401: 'Missing, expired or forged bearer token',
          403: 'The token may not act for this user',
        }),
      },
    },
  });
}

/** Only an admin passes (after `authenticate`); anyone else gets 403. */
export function requireAdmin(): MiddlewareHandler<AuthenticatedEnv> {
  return async (c, next) => {
    if (c.get('caller').role !== 'admin')
      throw new ApiError('FORBIDDEN', { detail: 'This needs an admin token' });
    await next();
  };
}

/** A user acts only for themselves; an admin for anyone. */
export function assertActsFor(caller: Caller, userId: number): void {
  if (caller.role !== 'admin' && caller.id !== userId) {
    throw new ApiError('FORBIDDEN', {
      detail: `The token's user (${caller.id}) cannot act for user ${userId}`,
    });
  }
}

export function issueToken(
  config: Pick<Config, 'JWT_SECRET'>,
  caller: Caller,
  ttlSeconds = 24 * 3600,
): string {
  const now = Math.floor(Date.now() / 1000);
  return signerFor(config.JWT_SECRET)({
    sub: String(caller.id),
    role: caller.role,
    iat: now,
    exp: now + ttlSeconds,
  });
}

/** One signer per secret: the bench signs a token for each of tens of thousands of users. */
const signers = new Map<string, (payload: Record<string, unknown>) => string>();
function signerFor(secret: string): (payload: Record<string, unknown>) => string {
  let sign = signers.get(secret);
  if (!sign) {
    sign = createSigner({ key: secret, algorithm: 'HS256' });
    signers.set(secret, sign);
  }
  return sign;
}
