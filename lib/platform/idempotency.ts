import { createHash, randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.ts';
import { ApiError } from './errors.ts';
import { metrics } from './metrics.ts';
import { isOutOfMemory, type Redis } from './redis.ts';

interface Remembered {
  fingerprint: string;
  /** Every attempt's request id, oldest first. */
  requestIds: string[];
  /** Until when (ms since the epoch) the attempt running now owns the key; 0 once it failed. */
  leaseUntil: number;
  response?: { status: number; headers: Record<string, string>; body: string };
}

const REPLAYED_HEADERS = ['content-type', 'location', 'retry-after', 'preference-applied'];
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Slack past the longest a handler can take (its waits for Kafka and the outcome) for Postgres. */
const LEASE_SLACK_MS = 10_000;

/** Replaces the remembered value only if it is still the one read: two retries never both take over. */
export const TAKE_OVER = `
-- KEYS: the remembered value's key. ARGV: the value read, the value to write instead.
local store_key = KEYS[1]
local read, replacement = ARGV[1], ARGV[2]

if redis.call('GET', store_key) ~= read then return 0 end
redis.call('SET', store_key, replacement, 'KEEPTTL')
return 1
`;

/**
 * Whether this attempt took the key over (TAKE_OVER). Sent with plain EVAL: only a retry whose
 * earlier attempt's lease ran out gets here, which is rare.
 */
async function takeOver(
  redis: Pick<Redis, 'eval'>,
  { storeKey, read, replacement }: { storeKey: string; read: string; replacement: string },
): Promise<boolean> {
  return (await redis.eval(TAKE_OVER, 1, storeKey, read, replacement)) === 1;
}

/**
 * `Idempotency-Key` support (the IETF httpapi draft): the first request with a key runs and its
 * answer is remembered; a retry with the same key and body gets that answer again instead of
 * running twice; the same key with another body is a 422; a retry while the first still runs is
 * a 409. The first attempt holds the key for a short lease only: if it crashes, or answers a 5xx
 * (whose outcome may be uncertain), the next retry takes over at once and learns that attempt's
 * real outcome before anything else (see `Attempt`). If Redis is down the request runs without
 * this protection (the booking itself stays safe: seats still have one owner).
 */
export function idempotency(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = c.req.header('idempotency-key');
    if (key === undefined) return next();
    if (!KEY_PATTERN.test(key)) {
      throw new ApiError('BAD_REQUEST', {
        detail: 'Idempotency-Key must be 1 to 255 visible ASCII characters',
        extensions: { errors: [{ path: 'header.idempotency-key', message: 'invalid key' }] },
      });
    }
    const { redis, logger, config } = c.get('services');
    const storeKey = `idempotency:${createHash('sha256')
      .update(`${c.get('caller')?.id ?? ''} ${c.req.method} ${c.req.path} ${key}`)
      .digest('hex')}`;
    const fingerprint = createHash('sha256')
      .update(await c.req.text())
      .digest('hex');
    const ttl = config.IDEMPOTENCY_TTL_S;
    const leaseMs = config.BOOK_WAIT_MS + config.KAFKA_SEND_TIMEOUT_MS + LEASE_SLACK_MS;

    let remembered: Remembered = {
      fingerprint,
      requestIds: [randomUUID()],
      leaseUntil: Date.now() + leaseMs,
    };
    let earlier: string[] = [];
    try {
      const claimed = await redis.set(storeKey, JSON.stringify(remembered), 'EX', ttl, 'NX');
      if (claimed === null) {
        const stored = (await redis.get(storeKey)) ?? '{}';
        const previous = JSON.parse(stored) as Partial<Remembered>;
        if (previous.fingerprint !== fingerprint) {
          throw new ApiError('UNPROCESSABLE', {
            detail: 'This Idempotency-Key was used with a different request body',
          });
        }
        if (previous.response) {
          const { status, headers, body } = previous.response;
          metrics.idempotencyReplays.inc();
          return new Response(body, { status, headers: { ...headers, 'idempotent-replayed': 'true' } });
        }
        earlier = previous.requestIds ?? [];
        remembered = { ...remembered, requestIds: [...earlier, ...remembered.requestIds] };
        const tookOver =
          (previous.leaseUntil ?? 0) <= Date.now() &&
          (await takeOver(redis, { storeKey, read: stored, replacement: JSON.stringify(remembered) }));
        if (!tookOver) {
          // A retry before the lease ends would only be refused again.
          const leftS = Math.ceil(((previous.leaseUntil ?? 0) - Date.now()) / 1000);
          throw new ApiError('CONFLICT', {
            detail: 'A request with this Idempotency-Key is still being processed; retry shortly',
            headers: { 'retry-after': String(Math.max(1, leftS)) },
          });
        }
      }
    } catch (error) {
      if (error instanceof ApiError) throw error;
      // Fail open, down or full (OOM) alike: a request without its key still books at most once
      // (seat locks and the processor), only a retry is no longer recognised.
      logger.warn(
        { err: error, redisOutOfMemory: isOutOfMemory(error) },
        'idempotency store unavailable; running without it',
      );
      return next();
    }

    c.set('attempt', { requestId: remembered.requestIds.at(-1) as string, earlier });
    await next();
    try {
      if (c.res.status === 429 || c.res.status === 403) {
        // Refused before it did anything (a handler that counts its own limits, as `book` does, or
        // a sale not open to this buyer yet): forget this attempt, so a retry once the limit
        // resets, the sale opens or the buyer is admitted runs rather than replaying the refusal.
        if (earlier.length === 0) await redis.del(storeKey);
        else
          await redis.set(
            storeKey,
            JSON.stringify({ ...remembered, requestIds: earlier, leaseUntil: 0 }),
            'EX',
            ttl,
          );
        return;
      }
      if (c.res.status >= 500) {
        // Not an answer to remember: the next retry takes over at once and settles this attempt.
        await redis.set(storeKey, JSON.stringify({ ...remembered, leaseUntil: 0 }), 'EX', ttl);
        return;
      }
      const body = await c.res.clone().text();
      const headers = Object.fromEntries(
        REPLAYED_HEADERS.flatMap((name) => {
          const value = c.res.headers.get(name);
          return value === null ? [] : [[name, value]];
        }),
      );
      const answered: Remembered = { ...remembered, response: { status: c.res.status, headers, body } };
      await redis.set(storeKey, JSON.stringify(answered), 'EX', ttl);
    } catch (error) {
      logger.warn({ err: error }, 'could not remember the idempotent answer');
    }
  };
}
