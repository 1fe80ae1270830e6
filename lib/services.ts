import { createDatabase, type Database, pingDatabase } from './booking/db/client.ts';
import { OutcomeWaiter } from './booking/outcome-waiter.ts';
import { SeatCache } from './booking/seats/cache.ts';
import type { Config } from './platform/config.ts';
import { Backlog } from './platform/kafka/backlog.ts';
import { createKafka, KafkaBus } from './platform/kafka/client.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { Subscriptions } from './platform/pubsub.ts';
import { closeRedis, createRedis, pingRedis, type Redis } from './platform/redis.ts';

export type Dependency = 'postgres' | 'redis' | 'kafka';

/**
 * What a function's handlers reach through `c.get('services')`. Clients connect lazily, so a
 * function that never touches Kafka never opens a connection to it; tests may pass their own.
 */
export interface Services {
  config: Config;
  logger: Logger;
  db: Database;
  redis: Redis;
  kafka: KafkaBus;
  /** The process's one Redis subscriber connection, shared by every listener. */
  subscriber: Redis;
  subscriptions: Subscriptions;
  seats: SeatCache;
  outcomes: OutcomeWaiter;
  /** How long booking commands have waited for the processor (measured only once asked). */
  commandBacklog: Backlog;
}

export function createServices(config: Config, logger: Logger = createLogger(config)): Services {
  const db = createDatabase(config);
  const redis = createRedis(config);
  const subscriber = createRedis(config, { subscriber: true });
  const subscriptions = new Subscriptions(subscriber);
  const kafka = new KafkaBus(createKafka(config, logger), config);
  return {
    config,
    logger,
    db,
    redis,
    kafka,
    subscriber,
    subscriptions,
    seats: new SeatCache(redis, db),
    outcomes: new OutcomeWaiter(subscriptions),
    // The processor's consumer group is named after it (lib/platform/runner.ts).
    commandBacklog: new Backlog(kafka, 'bookingCommands', kafka.groupId('booking-processor'), logger),
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

/** Which of these dependencies do not answer right now. */
export async function unreachable(
  services: Services,
  dependencies: Iterable<Dependency>,
): Promise<Dependency[]> {
  const checked = await Promise.all(
    [...new Set(dependencies)].map((dependency) =>
      PINGS[dependency](services).then(
        () => undefined,
        () => dependency,
      ),
    ),
  );
  return checked.filter((dependency) => dependency !== undefined);
}

export async function closeServices(services: Services): Promise<void> {
  services.commandBacklog.stop();
  await Promise.allSettled([
    services.kafka.disconnect(),
    closeRedis(services.redis),
    closeRedis(services.subscriber),
    services.db.$client.end(),
  ]);
}
