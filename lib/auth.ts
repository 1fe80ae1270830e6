import type { MiddlewareHandler } from 'hono';
import { jwt, sign } from 'hono/jwt';
import { uniqueSymbol } from 'hono-openapi';
import * as v from 'valibot';
import type { AppEnv } from './app.ts';
import type { Config } from './config.ts';
import { ApiError } from './errors.ts';

export const ROLES = ['user', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Caller {
  id: number;
  role: Role;
}

/** The claims a token must carry: `sub` is the user id, `role` what the user may do. */
const Claims = v.object({
  sub: v.pipe(v.string(), v.regex(/^[1-9]\d{0,9}$/)),
  role: v.picklist(ROLES),
});

/**
 * Requires `Authorization: Bearer <JWT>` (HS256, JWT_SECRET) and puts the caller on the context
 * as `c.var.caller`. Missing, expired or forged: 401.
 */
/**
 * The HMAC key imported once per secret: hono/jwt would import it again on every request, which
 * is a large part of verifying a token on the booking hot path.
 */
const verifiers = new Map<string, MiddlewareHandler>();
async function verifierFor(secret: string): Promise<MiddlewareHandler> {
  let verify = verifiers.get(secret);
  if (!verify) {
    const key = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    );
    verify = jwt({ secret: key, alg: 'HS256' });
    verifiers.set(secret, verify);
  }
  return verify;
}

export function authenticate(): MiddlewareHandler<AppEnv> {
  const middleware: MiddlewareHandler<AppEnv> = async (c, next) => {
    const verify = await verifierFor(c.var.services.config.JWT_SECRET);
    await verify(c, async () => {
      const claims = v.safeParse(Claims, c.get('jwtPayload'));
      if (!claims.success) {
        throw new ApiError('UNAUTHORIZED', { detail: 'The token must carry a user id (sub) and a role' });
      }
      c.set('caller', { id: Number(claims.output.sub), role: claims.output.role });
      await next();
    });
  };
  // The same mark hono-openapi's describeRoute() leaves: the OpenAPI document shows the route
  // needs a bearer token, without each route saying so again.
  return Object.assign(middleware, {
    [uniqueSymbol]: {
      spec: {
        security: [{ bearer: [] }],
        responses: {
          401: { description: 'Missing, expired or forged bearer token' },
          403: { description: 'The token may not act for this user' },
        },
      },
    },
  });
}

/** Only an admin passes (after `authenticate`); anyone else gets 403. */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.var.caller?.role !== 'admin')
      throw new ApiError('FORBIDDEN', { detail: 'This needs an admin token' });
    await next();
  };
}

/** A user acts only for themselves; an admin for anyone. */
export function assertActsFor(caller: Caller | undefined, userId: number): void {
  if (!caller) throw new ApiError('UNAUTHORIZED', { detail: 'A bearer token is required' });
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
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign(
    { sub: String(caller.id), role: caller.role, iat: now, exp: now + ttlSeconds },
    config.JWT_SECRET,
    'HS256',
  );
}
