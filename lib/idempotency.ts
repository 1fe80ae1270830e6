import { createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app.ts';
import { ApiError } from './errors.ts';

interface Remembered {
  fingerprint: string;
  response?: { status: number; headers: Record<string, string>; body: string };
}

const REPLAYED_HEADERS = ['content-type', 'location', 'retry-after', 'preference-applied'];
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * `Idempotency-Key` support (the IETF httpapi draft): the first request with a key runs and its
 * answer is remembered; a retry with the same key and body gets that answer again instead of
 * running twice; the same key with another body is a 422; a retry while the first still runs is
 * a 409. Server errors are forgotten, so the client may retry them. If Redis is down the request
 * runs without this protection (the booking itself stays safe: seats still have one owner).
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

    let claimed: string | null;
    try {
      claimed = await redis.set(
        storeKey,
        JSON.stringify({ fingerprint } satisfies Remembered),
        'EX',
        ttl,
        'NX',
      );
    } catch (error) {
      logger.warn({ err: error }, 'idempotency store unavailable; running without it');
      return next();
    }

    if (claimed === null) {
      const remembered = JSON.parse((await redis.get(storeKey)) ?? '{}') as Partial<Remembered>;
      if (remembered.fingerprint !== fingerprint) {
        throw new ApiError('UNPROCESSABLE', {
          detail: 'This Idempotency-Key was used with a different request body',
        });
      }
      if (!remembered.response) {
        throw new ApiError('CONFLICT', {
          detail: 'A request with this Idempotency-Key is still being processed; retry shortly',
          headers: { 'retry-after': '1' },
        });
      }
      const { status, headers, body } = remembered.response;
      return new Response(body, { status, headers: { ...headers, 'idempotent-replayed': 'true' } });
    }

    await next();
    try {
      if (c.res.status >= 500) {
        await redis.del(storeKey);
        return;
      }
      const body = await c.res.clone().text();
      const headers = Object.fromEntries(
        REPLAYED_HEADERS.flatMap((name) => {
          const value = c.res.headers.get(name);
          return value === null ? [] : [[name, value]];
        }),
      );
      const remembered: Remembered = { fingerprint, response: { status: c.res.status, headers, body } };
      await redis.set(storeKey, JSON.stringify(remembered), 'EX', ttl);
    } catch (error) {
      logger.warn({ err: error }, 'could not remember the idempotent answer');
    }
  };
}
