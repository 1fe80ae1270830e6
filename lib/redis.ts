import { Redis } from 'ioredis';
import type { Config } from './config.ts';
import { DependencyError } from './errors.ts';

export type { Redis };

/**
 * Commands fail at once while Redis is unreachable (no offline queue), so a caller can fall back
 * to Postgres instead of hanging; the client keeps reconnecting in the background.
 */
export function createRedis(
  config: Pick<Config, 'REDIS_URL'>,
  options: { subscriber?: boolean } = {},
): Redis {
  const redis = new Redis(config.REDIS_URL, {
    lazyConnect: true,
    enableOfflineQueue: options.subscriber ?? false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    // Commands issued in the same tick by concurrent requests go out in one write.
    enableAutoPipelining: !options.subscriber,
  });
  // Connection errors are reported by the commands that fail; the client reconnects by itself.
  redis.on('error', () => {});
  return redis;
}

/** Connects (once) and pings; fails with one line naming REDIS_URL and how to start Redis. */
export async function pingRedis(redis: Redis): Promise<void> {
  try {
    if (redis.status === 'wait') await redis.connect();
    await redis.ping();
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const { host, port, db } = redis.options;
    throw new DependencyError(
      'redis',
      `redis: cannot reach REDIS_URL (redis://${host}:${port}/${db ?? 0}): ${reason}; start it with: redis-server --daemonize yes --bind 127.0.0.1 --port ${port} --save "" --appendonly no`,
      { cause },
    );
  }
}

/** QUIT lets pending replies arrive; a client that never connected (or lost its server) just stops. */
export async function closeRedis(redis: Redis): Promise<void> {
  // A subscriber connection refuses QUIT in some states; then just drop the socket.
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}
