import { createHash } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Ratelimit } from '@upstash/ratelimit';
import type { Context, MiddlewareHandler } from 'hono';
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
    });
    byName.set(key, limiter);
  }
  return limiter;
}

/** The client's address: the first X-Forwarded-For hop behind a trusted proxy, else the socket's. */
export function clientAddress(c: Context<AppEnv>): string {
  if (c.get('services').config.TRUST_PROXY) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',')[0]?.trim();
    if (forwarded) return forwarded;
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // not served by @hono/node-server (e.g. app.request in tests, workerd)
  }
}

/**
 * A sliding-window limit per user (after `authenticate`) and per client address, with
 * `RateLimit-*` headers; over either limit: 429 with `Retry-After`. A limit of 0 is off. If Redis
 * is down the request goes through and it is logged: the booking itself stays safe (seat locks
 * and the processor's transaction do not depend on the limiter).
 */
export function rateLimit(name: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { config, redis, logger } = c.get('services');
    const window = config.RATE_LIMIT_WINDOW_S;
    const caller = c.get('caller');
    const checks: { scope: string; max: number; id: string }[] = [];
    if (config.RATE_LIMIT_PER_USER > 0 && caller)
      checks.push({ scope: 'user', max: config.RATE_LIMIT_PER_USER, id: String(caller.id) });
    if (config.RATE_LIMIT_PER_ADDRESS > 0)
      checks.push({ scope: 'address', max: config.RATE_LIMIT_PER_ADDRESS, id: clientAddress(c) });

    let tightest: { limit: number; remaining: number; reset: number; success: boolean } | undefined;
    try {
      // The identifier is a hash tag, so a window's two keys share a slot on a Redis Cluster.
      const results = await Promise.all(
        checks.map((check) =>
          limiterFor(redis, `${name}:${check.scope}`, check.max, window).limit(`{${check.id}}`),
        ),
      );
      for (const result of results) {
        if (!tightest || !result.success || result.remaining < tightest.remaining) {
          if (tightest && !tightest.success) continue;
          tightest = result;
        }
      }
    } catch (error) {
      // Fail open, down or full (OOM) alike: the booking stays correct without the limiter.
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
