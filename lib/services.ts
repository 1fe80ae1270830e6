import type { Config } from './config.ts';
import { createDatabase, type Database, pingDatabase } from './db/client.ts';
import { createKafka, KafkaBus } from './kafka/client.ts';
import { createLogger, type Logger } from './logger.ts';
import { closeRedis, createRedis, pingRedis, type Redis } from './redis.ts';

export type Dependency = 'postgres' | 'redis' | 'kafka';

/**
 * What a function's handlers reach through `c.var.services`. Clients connect lazily, so a
 * function that never touches Kafka never opens a connection to it; tests may pass their own.
 */
export interface Services {
  config: Config;
  logger: Logger;
  db: Database;
  redis: Redis;
  kafka: KafkaBus;
}

export function createServices(config: Config, logger: Logger = createLogger(config)): Services {
  return {
    config,
    logger,
    db: createDatabase(config),
    redis: createRedis(config),
    kafka: new KafkaBus(createKafka(config, logger), config),
  };
}

const PINGS: Record<Dependency, (services: Services) => Promise<void>> = {
  postgres: (services) => pingDatabase(services.db),
  redis: (services) => pingRedis(services.redis),
  kafka: (services) => services.kafka.ping(),
};

/** Checks each dependency; rejects with the first one that cannot be reached (one clear line). */
export async function pingDependencies(services: Services, needs: Iterable<Dependency>): Promise<void> {
  await Promise.all([...new Set(needs)].map((dependency) => PINGS[dependency](services)));
}

export async function closeServices(services: Services): Promise<void> {
  await Promise.allSettled([
    services.kafka.disconnect(),
    closeRedis(services.redis),
    services.db.$client.end(),
  ]);
}
