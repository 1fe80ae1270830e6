import { Cluster, type RedisOptions, Redis as RedisServer } from 'ioredis';
import type { Config } from './config.ts';
import { DependencyError } from './errors.ts';
import { metrics } from './metrics.ts';

/**
 * One Redis server or a Redis Cluster (REDIS_CLUSTER_NODES): the same commands either way. Every
 * multi-key command and script of the project names keys of one hash slot only (an event's keys
 * share `{e<id>}`; a rate limit's two windows share their identifier's tag).
 */
export type Redis = RedisServer | Cluster;

/**
 * Commands fail at once while Redis is unreachable (no offline queue), so a caller can fall back
 * to Postgres instead of hanging; the client keeps reconnecting in the background.
 */
export function createRedis(
  config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>,
  options: { subscriber?: boolean } = {},
): Redis {
  const shared = {
    lazyConnect: true,
    enableOfflineQueue: options.subscriber ?? false,
    // Commands issued in the same tick by concurrent requests go out in one write.
    enableAutoPipelining: !options.subscriber,
  };
  const perServer: RedisOptions = {
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  };
  const redis =
    config.REDIS_CLUSTER_NODES.length > 0
      ? new Cluster(
          config.REDIS_CLUSTER_NODES.map((node) => {
            const [host, port] = node.split(':');
            return { host, port: Number(port) };
          }),
          {
            ...shared,
            redisOptions: perServer,
            clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
          },
        )
      : new RedisServer(config.REDIS_URL, { ...shared, ...perServer });
  // Connection errors are reported by the commands that fail; the client reconnects by itself.
  redis.on('error', () => metrics.redisErrors.inc());
  return redis;
}

/** Connects (once) and pings; fails with one line naming the setting and how to start Redis. */
export async function pingRedis(redis: Redis): Promise<void> {
  try {
    if (redis.status === 'wait') await redis.connect();
    await redis.ping();
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    if (redis instanceof Cluster) {
      throw new DependencyError(
        'redis',
        `redis: cannot reach the cluster of REDIS_CLUSTER_NODES: ${reason}`,
        {
          cause,
        },
      );
    }
    const { host, port, db } = redis.options;
    throw new DependencyError(
      'redis',
      `redis: cannot reach REDIS_URL (redis://${host}:${port}/${db ?? 0}): ${reason}; start it with: redis-server --daemonize yes --bind 127.0.0.1 --port ${port} --save "" --appendonly no`,
      { cause },
    );
  }
}

/**
 * Redis refused a write because it reached `maxmemory` (with `noeviction`). Each feature decides
 * what that means for it (see README, "When a part is down"); the error says OOM, not "down".
 */
export const isOutOfMemory = (error: unknown): boolean =>
  error instanceof Error && /^OOM\b|\bOOM command not allowed/.test(error.message);

/** QUIT lets pending replies arrive; a client that never connected (or lost its server) just stops. */
export async function closeRedis(redis: Redis): Promise<void> {
  // A subscriber connection refuses QUIT in some states; then just drop the socket.
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}
