import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import type { MiddlewareHandler } from 'hono';
import { uniqueSymbol } from 'hono-openapi';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import * as v from 'valibot';
import { type Config, ConfigSchema } from './config.ts';
import type { AuthenticatedEnv, Caller, Role } from './env.ts';
import { ApiError } from './errors.ts';
import { problemResponses } from './openapi.ts';
import { Id, IdParam } from './validation.ts';

export const ROLES = ['user', 'admin'] as const satisfies readonly Role[];

/** The settings that decide which tokens pass (lib/platform/config.ts). */
const TOKEN_SETTINGS = [
  'JWT_SECRET',
  'AUTH_MAX_TOKEN_LIFETIME_S',
  'AUTH_CLOCK_SKEW_S',
  'AUTH_JWKS_URL',
  'AUTH_ISSUER',
  'AUTH_AUDIENCE',
  'AUTH_ROLE_CLAIM',
  'AUTH_USER_ID_CLAIM',
  'AUTH_JWKS_COOLDOWN_S',
  'AUTH_JWKS_CACHE_MAX_AGE_S',
] as const satisfies readonly (keyof Config)[];
type TokenSettings = Pick<Config, (typeof TOKEN_SETTINGS)[number]>;

/**
 * ConfigSchema's defaults for the token settings: the benchmark's obvious design hands
 * `authenticate()` a config of JWT_SECRET alone (bench/baseline/app.ts), and gets what a function
 * with only that setting would.
 */
const TOKEN_DEFAULTS: TokenSettings = v.parse(v.pick(ConfigSchema, TOKEN_SETTINGS), {});

/** A user id in a claim: a number, or the decimal string `sub` always is. */
const UserId = v.union([Id, IdParam]);

/** Checks a token and says who it is for; throws a 401 (or a 503 when keys cannot be fetched). */
type Authenticator = (token: string) => Caller | Promise<Caller>;

/**
 * One authenticator per config: a function's config is parsed once per process. (On workerd each
 * request parses its own, so the JWKS clients, whose cache must outlive a request, are shared by
 * URL below.)
 */
const authenticators = new WeakMap<object, Authenticator>();
function authenticatorFor(config: Partial<TokenSettings>): Authenticator {
  let authenticator = authenticators.get(config);
  if (!authenticator) {
    const settings = { ...TOKEN_DEFAULTS, ...config };
    authenticator = remembering(
      settings.AUTH_JWKS_URL === '' ? hs256Verifier(settings) : jwksVerifier(settings),
    );
    authenticators.set(config, authenticator);
  }
  return authenticator;
}

/** A token that passed, and until when (ms since the epoch) it stays good: its `exp`. */
interface Verified {
  caller: Caller;
  goodUntil: number;
  /** For a provider's token: whether the key that signed it is still in the provider's key set. */
  keyStillServed?: () => boolean;
}

/** How many verified tokens a process remembers (a few hundred bytes each). */
const REMEMBERED_TOKENS = 10_000;

/**
 * Checks each token once for its lifetime: a buyer's next requests (retries, polling the status,
 * the seat stream) with the same token are answered from memory until its `exp`, while the key
 * that signed it is still served. Only tokens that passed are remembered, so a forged one costs
 * its check every time.
 */
function remembering(verify: (token: string) => Verified | Promise<Verified>): Authenticator {
  const verified = new LRUCache<string, Verified>({ max: REMEMBERED_TOKENS });
  const remember = (token: string, passed: Verified) => {
    const ttl = passed.goodUntil - Date.now();
    if (ttl > 0) verified.set(token, passed, { ttl });
    return passed.caller;
  };
  return (token) => {
    const known = verified.get(token);
    // A key the provider no longer serves (rotated out, revoked) signs nothing from then on.
    if (known && (known.keyStillServed?.() ?? true)) return known.caller;
    const result = verify(token);
    return result instanceof Promise ? result.then((v) => remember(token, v)) : remember(token, result);
  };
}

/** `exp` as ms since the epoch (every token has one: `requiredClaims`). */
const expiresAt = (payload: Record<string, unknown>) => Number(payload.exp) * 1000;

const invalidToken = (reason: string, cause?: unknown) =>
  new ApiError('UNAUTHORIZED', {
    detail: `The bearer token is not valid: ${reason}`,
    headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
    cause,
  });

/**
 * HS256 with JWT_SECRET, for local use: synchronous (fast-jwt, over node:crypto's HMAC). Hono's
 * jwt middleware verifies through WebCrypto, whose every call is an async job on the thread pool:
 * about 25 µs of CPU against 5 µs here, and the largest single cost of a booking request in the
 * benchmark's profile of `book`.
 */
function hs256Verifier(settings: TokenSettings): (token: string) => Verified {
  const verify = createVerifier({
    key: settings.JWT_SECRET,
    algorithms: ['HS256'],
    requiredClaims: ['exp'],
    clockTolerance: settings.AUTH_CLOCK_SKEW_S * 1000,
  });
  const callerOf = callerReader(settings);
  return (token) => {
    let payload: Record<string, unknown>;
    try {
      payload = verify(token);
    } catch (error) {
      throw invalidToken(error instanceof TokenError ? error.message : 'unreadable', error);
    }
    return { caller: callerOf(payload), goodUntil: expiresAt(payload) };
  };
}

/**
 * A client of the provider's key set is kept per URL and timings: its cache (and the cooldown
 * that keeps unknown `kid`s from fetching the set again and again) must outlive a request.
 */
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/** The errors that say the token is bad; any other failure is fetching or reading the key set. */
const TOKEN_ERRORS = [
  joseErrors.JWTClaimValidationFailed,
  joseErrors.JWTExpired,
  joseErrors.JWTInvalid,
  joseErrors.JWSInvalid,
  joseErrors.JWSSignatureVerificationFailed,
  joseErrors.JOSEAlgNotAllowed,
  joseErrors.JOSENotSupported,
  joseErrors.JWKSNoMatchingKey,
  joseErrors.JWKSMultipleMatchingKeys,
];

/**
 * RS256 or ES256 tokens of an identity provider, checked against its key set (jose): the issuer
 * and audience must be this deployment's. A `kid` the cached set lacks fetches it again, at most
 * once per AUTH_JWKS_COOLDOWN_S, so rotated keys are picked up and forged `kid`s cost nothing.
 */
function jwksVerifier(settings: TokenSettings): (token: string) => Promise<Verified> {
  const { AUTH_JWKS_URL: url, AUTH_JWKS_COOLDOWN_S: cooldown, AUTH_JWKS_CACHE_MAX_AGE_S: maxAge } = settings;
  const cacheKey = `${cooldown} ${maxAge} ${url}`;
  let keySet = keySets.get(cacheKey);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(url), {
      cooldownDuration: cooldown * 1000,
      cacheMaxAge: maxAge * 1000,
    });
    keySets.set(cacheKey, keySet);
  }
  const keys = keySet;
  const options = {
    algorithms: ['RS256', 'ES256'],
    issuer: settings.AUTH_ISSUER,
    audience: settings.AUTH_AUDIENCE,
    requiredClaims: ['exp'],
    clockTolerance: settings.AUTH_CLOCK_SKEW_S,
  };
  const callerOf = callerReader(settings);
  return async (token) => {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, keys, options);
      const keyId = protectedHeader.kid;
      return {
        caller: callerOf(payload),
        goodUntil: expiresAt(payload),
        keyStillServed: () =>
          keyId !== undefined && (keys.jwks()?.keys.some((key) => key.kid === keyId) ?? false),
      };
    } catch (error) {
      if (error instanceof ApiError) throw error;
      if (TOKEN_ERRORS.some((type) => error instanceof type)) {
        throw invalidToken((error as Error).message, error);
      }
      throw new ApiError('SERVICE_UNAVAILABLE', {
        detail: "The identity provider's keys cannot be fetched to check the bearer token; retry shortly",
        headers: { 'retry-after': '5' },
        cause: error,
      });
    }
  };
}

/**
 * The caller a verified token names, once its lifetime is within bounds: `exp - iat` (or
 * `exp - now` without `iat`) at most AUTH_MAX_TOKEN_LIFETIME_S, so a leaked token is not good for
 * ever, and `iat` not in the future. The user id and role come from the configured claims.
 */
function callerReader(settings: TokenSettings): (payload: Record<string, unknown>) => Caller {
  const userIdOf = claimReader(settings.AUTH_USER_ID_CLAIM);
  const roleOf = claimReader(settings.AUTH_ROLE_CLAIM);
  const { AUTH_MAX_TOKEN_LIFETIME_S: maxLifetime, AUTH_CLOCK_SKEW_S: skew } = settings;
  return (payload) => {
    const now = Date.now() / 1000;
    const { exp, iat } = payload as { exp: number; iat?: unknown };
    if (typeof iat === 'number' && iat > now + skew) throw invalidToken('its iat is in the future');
    if (exp - (typeof iat === 'number' ? iat : now) > maxLifetime) {
      throw invalidToken(`it lives longer than ${maxLifetime} s (AUTH_MAX_TOKEN_LIFETIME_S)`);
    }
    const id = v.safeParse(UserId, userIdOf(payload));
    if (!id.success) {
      throw invalidToken(
        `its ${settings.AUTH_USER_ID_CLAIM} claim must be a user id (a positive 32-bit integer)`,
      );
    }
    const role = roleOf(payload);
    const admin = role === 'admin' || (Array.isArray(role) && role.includes('admin'));
    return { id: id.output, role: admin ? 'admin' : 'user' };
  };
}

/**
 * A claim by its name, or else by a dotted path into nested claims (`realm_access.roles`).
 * The whole name first: Auth0's namespaced claims are URLs, dots included.
 */
function claimReader(name: string): (payload: Record<string, unknown>) => unknown {
  const path = name.split('.');
  const own = (value: unknown, key: string): unknown =>
    typeof value === 'object' && value !== null && Object.hasOwn(value, key)
      ? (value as Record<string, unknown>)[key]
      : undefined;
  return (payload) => (Object.hasOwn(payload, name) ? payload[name] : path.reduce(own, payload as unknown));
}

const BEARER = /^Bearer +([\w-]+\.[\w-]+\.[\w-]*)$/i;

/**
 * Requires `Authorization: Bearer <JWT>` and puts the caller on the context as
 * `c.get('caller')`. Missing, expired, without `exp`, too long-lived, forged or of another
 * algorithm, issuer or audience: 401. HS256 with JWT_SECRET, or the provider's RS256/ES256 keys
 * when AUTH_JWKS_URL is set (never both: a deployment with a provider accepts none of its own).
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
    const caller = authenticatorFor(c.get('services').config)(token);
    // HS256 answers at once: the booking hot path awaits no promise for it.
    c.set('caller', caller instanceof Promise ? await caller : caller);
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
