import { createHash } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Ratelimit } from '@upstash/ratelimit';
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from './config.ts';
import type { AppEnv } from './env.ts';
import { ApiError } from './errors.ts';
import { metrics } from './metrics.ts';
import { isOutOfMemory, type Redis } from './redis.ts';
import { setResponseHeader } from './response-headers.ts';
import type { LimitResult, SlidingWindows } from './sliding-window.ts';

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
export function clientAddress<E extends AppEnv>(c: Context<E>): string {
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

/** One limit a request is counted against: its maximum per window, and whose requests it counts. */
export interface LimitCheck {
  scope: 'user' | 'address';
  max: number;
  id: string;
}

/** The limits a request is counted against (none when every limit that applies is 0, off). */
export function limitChecks<E extends AppEnv>(c: Context<E>, limits: Limits = WRITE_LIMITS): LimitCheck[] {
  const { config } = c.get('services');
  const caller = c.get('caller');
  const perUser = limits.perUser === undefined ? 0 : config[limits.perUser];
  const perAddress = config[limits.perAddress];
  const checks: LimitCheck[] = [];
  if (perUser > 0 && caller) checks.push({ scope: 'user', max: perUser, id: String(caller.id) });
  if (perAddress > 0) checks.push({ scope: 'address', max: perAddress, id: clientAddress(c) });
  return checks;
}

/**
 * Answers a request by the limits it was counted against: 429 with `Retry-After` when over any
 * of them, else the tightest one's `RateLimit-*` headers on the answer to come.
 */
export function enforceLimits<E extends AppEnv>(
  c: Context<E>,
  limiter: string,
  results: readonly LimitResult[],
): void {
  let tightest: LimitResult | undefined;
  for (const result of results) {
    if (!tightest || !result.success || result.remaining < tightest.remaining) {
      if (tightest && !tightest.success) continue;
      tightest = result;
    }
  }
  if (!tightest) return;
  const resetSeconds = Math.max(0, Math.ceil((tightest.reset - Date.now()) / 1000));
  const headers = {
    'ratelimit-limit': String(tightest.limit),
    'ratelimit-remaining': String(Math.max(0, tightest.remaining)),
    'ratelimit-reset': String(resetSeconds),
  };
  if (!tightest.success) {
    metrics.rateLimitRefusals.inc({ limiter });
    throw new ApiError('RATE_LIMITED', {
      detail: `Too many requests; retry in ${resetSeconds} s`,
      headers: { ...headers, 'retry-after': String(Math.max(1, resetSeconds)) },
    });
  }
  // Set before the handler answers: on Node straight onto the response's head (see
  // setResponseHeader; setting them on c.res afterwards would copy every header).
  for (const [name, value] of Object.entries(headers)) setResponseHeader(c, name, value);
}

/**
 * The windows of `checks` for SLIDING_WINDOW_LUA, keyed as @upstash/ratelimit keys them
 * (`ratelimit:<name>:<scope>:<id>:<bucket>`), each id prefixed by `tag`: a Redis Cluster hash tag
 * that puts them in the slot of the keys the script also touches.
 */
export function slidingWindows<E extends AppEnv>(
  c: Context<E>,
  name: string,
  checks: readonly LimitCheck[],
  tag: string,
): SlidingWindows {
  const windowMs = c.get('services').config.RATE_LIMIT_WINDOW_S * 1000;
  const nowMs = Date.now();
  const bucket = Math.floor(nowMs / windowMs);
  return {
    nowMs,
    windowMs,
    limits: checks.map(({ scope, max, id }) => {
      const key = `ratelimit:${name}:${scope}:${tag}:${id}`;
      return { max, currentKey: `${key}:${bucket}`, previousKey: `${key}:${bucket - 1}` };
    }),
  };
}

/**
 * A sliding-window limit per user (after `authenticate`) and per client address, with
 * `RateLimit-*` headers; over either limit: 429 with `Retry-After`. A limit of 0 is off. If Redis
 * is down, or gives no answer within LIMITER_TIMEOUT_MS, the request goes through and it is
 * logged: the booking itself stays safe (seat locks and the processor's transaction do not
 * depend on the limiter), and a read must not fail for want of a counter. (`book` counts its
 * limits in its seat script instead: functions/book/book-seats.ts.)
 */
export function rateLimit(name: string, limits: Limits = WRITE_LIMITS): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { config, redis, logger } = c.get('services');
    const checks = limitChecks(c, limits);
    if (checks.length === 0) return next();
    let results: Awaited<ReturnType<Ratelimit['limit']>>[];
    try {
      // The identifier is a hash tag, so a window's two keys share a slot on a Redis Cluster.
      results = await Promise.all(
        checks.map((check) =>
          limiterFor(redis, `${name}:${check.scope}`, check.max, config.RATE_LIMIT_WINDOW_S).limit(
            `{${check.id}}`,
          ),
        ),
      );
      if (results.some((result) => result.reason === 'timeout'))
        throw new Error(`Redis gave the rate limiter no answer within ${LIMITER_TIMEOUT_MS} ms`);
    } catch (error) {
      // Fail open, down, silent or full (OOM) alike: the booking stays correct without the limiter.
      logger.warn(
        { err: error, redisOutOfMemory: isOutOfMemory(error) },
        'rate limiter unavailable (Redis); letting the request through',
      );
      return next();
    }
    enforceLimits(c, name, results);
    await next();
  };
}

/**
 * The public reads (event lists, an event, its seats, opening its seat stream): one budget per
 * client address across all of them, RATE_LIMIT_READS_PER_ADDRESS per window. One Redis round
 * trip per read, before the read itself.
 */
export const rateLimitReads = rateLimit('reads', { perAddress: 'RATE_LIMIT_READS_PER_ADDRESS' });
