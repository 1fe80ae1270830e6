import { createHash } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Ratelimit } from '@upstash/ratelimit';
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from './config.ts';
import type { AppEnv } from './env.ts';
import { ApiError } from './errors.ts';
import { isOutOfMemory, type Redis } from './redis.ts';

/**
 * The four calls @upstash/ratelimit makes, over the project's own ioredis client (the library
 * is written for @upstash/redis's REST client, whose call shapes differ). Its scripts start with
 * a `#!lua flags=allow-key-locking` line that Redis before 7.4 refuses, so the line is dropped
 * and the library's script hashes are mapped to the hashes of the scripts Redis really runs.
 */
export function upstashRedisAdapter(redis: Redis) {
  const loadedHashes = new Map<string, string>();
  const withoutShebang = (script: string) => script.replace(/^#!lua[^\n]*\n/, '');
  return {
    evalsha: (sha: string, keys: string[], args: unknown[]) =>
      redis.evalsha(loadedHashes.get(sha) ?? sha, keys.length, ...keys, ...(args as string[])),
    eval: async (script: string, keys: string[], args: unknown[]) => {
      const runnable = withoutShebang(script);
      const result = await redis.eval(runnable, keys.length, ...keys, ...(args as string[]));
      loadedHashes.set(sha1(script), sha1(runnable));
      return result;
    },
    get: (key: string) => redis.get(key),
    set: (key: string, value: unknown) => redis.set(key, String(value)),
  };
}

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

const limiters = new WeakMap<Redis, Map<string, Ratelimit>>();

/** Past this a limiter that got no answer from Redis lets the request through (and it is logged). */
const LIMITER_TIMEOUT_MS = 500;

function limiterFor(redis: Redis, name: string, max: number, windowSeconds: number): Ratelimit {
  let byName = limiters.get(redis);
  if (!byName) {
    byName = new Map();
    limiters.set(redis, byName);
  }
  const key = `${name}:${max}:${windowSeconds}`;
  let limiter = byName.get(key);
  if (!limiter) {
    limiter = new Ratelimit({
      redis: upstashRedisAdapter(redis) as never,
      limiter: Ratelimit.slidingWindow(max, `${windowSeconds} s`),
      prefix: `ratelimit:${name}`,
      analytics: false,
      timeout: LIMITER_TIMEOUT_MS,
    });
    byName.set(key, limiter);
  }
  return limiter;
}

/**
 * The client's address: behind a trusted proxy (TRUST_PROXY), the last X-Forwarded-For entry,
 * which that proxy wrote; else the socket's. Entries before it are whatever the client sent (a
 * proxy that appends keeps them), so trusting the first would let a client pick its own address.
 */
export function clientAddress(c: Context<AppEnv>): string {
  if (c.get('services').config.TRUST_PROXY) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',').at(-1)?.trim();
    if (forwarded) return forwarded;
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // not served by @hono/node-server (e.g. app.request in tests, workerd)
  }
}

/** The settings that are a number, for a limit to name its maximum by. */
type NumberSetting = { [K in keyof Config]-?: Config[K] extends number ? K : never }[keyof Config];

/** Which settings give a limiter's maximum per window, per user and per client address. */
export interface Limits {
  perUser?: NumberSetting;
  perAddress: NumberSetting;
}

const WRITE_LIMITS: Limits = { perUser: 'RATE_LIMIT_PER_USER', perAddress: 'RATE_LIMIT_PER_ADDRESS' };

/**
 * A sliding-window limit per user (after `authenticate`) and per client address, with
 * `RateLimit-*` headers; over either limit: 429 with `Retry-After`. A limit of 0 is off. If Redis
 * is down, or gives no answer within LIMITER_TIMEOUT_MS, the request goes through and it is
 * logged: the booking itself stays safe (seat locks and the processor's transaction do not
 * depend on the limiter), and a read must not fail for want of a counter.
 */
export function rateLimit(name: string, limits: Limits = WRITE_LIMITS): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { config, redis, logger } = c.get('services');
    const window = config.RATE_LIMIT_WINDOW_S;
    const caller = c.get('caller');
    const perUser = limits.perUser === undefined ? 0 : config[limits.perUser];
    const perAddress = config[limits.perAddress];
    const checks: { scope: string; max: number; id: string }[] = [];
    if (perUser > 0 && caller) checks.push({ scope: 'user', max: perUser, id: String(caller.id) });
    if (perAddress > 0) checks.push({ scope: 'address', max: perAddress, id: clientAddress(c) });

    let tightest: { limit: number; remaining: number; reset: number; success: boolean } | undefined;
    try {
      // The identifier is a hash tag, so a window's two keys share a slot on a Redis Cluster.
      const results = await Promise.all(
        checks.map((check) =>
          limiterFor(redis, `${name}:${check.scope}`, check.max, window).limit(`{${check.id}}`),
        ),
      );
      if (results.some((result) => result.reason === 'timeout'))
        throw new Error(`Redis gave the rate limiter no answer within ${LIMITER_TIMEOUT_MS} ms`);
      for (const result of results) {
        if (!tightest || !result.success || result.remaining < tightest.remaining) {
          if (tightest && !tightest.success) continue;
          tightest = result;
        }
      }
    } catch (error) {
      // Fail open, down, silent or full (OOM) alike: the booking stays correct without the limiter.
      logger.warn(
        { err: error, redisOutOfMemory: isOutOfMemory(error) },
        'rate limiter unavailable (Redis); letting the request through',
      );
      return next();
    }
    if (!tightest) return next();

    const resetSeconds = Math.max(0, Math.ceil((tightest.reset - Date.now()) / 1000));
    const headers = {
      'ratelimit-limit': String(tightest.limit),
      'ratelimit-remaining': String(Math.max(0, tightest.remaining)),
      'ratelimit-reset': String(resetSeconds),
    };
    if (!tightest.success) {
      throw new ApiError('RATE_LIMITED', {
        detail: `Too many requests; retry in ${resetSeconds} s`,
        headers: { ...headers, 'retry-after': String(Math.max(1, resetSeconds)) },
      });
    }
    // Set before the handler runs, so they join its response as it is built (setting them on
    // c.res afterwards makes the node adapter copy the response's headers into a Headers object).
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    await next();
  };
}

/**
 * The public reads (event lists, an event, its seats, opening its seat stream): one budget per
 * client address across all of them, RATE_LIMIT_READS_PER_ADDRESS per window. One Redis round
 * trip per read, before the read itself.
 */
export const rateLimitReads = rateLimit('reads', { perAddress: 'RATE_LIMIT_READS_PER_ADDRESS' });
