/**
 * Creates the project's Kafka topics (lib/platform/kafka/topics.ts) and exits: the one-shot step a
 * deployment runs before its functions, so consumers never start on a missing topic and several
 * functions starting at once do not race to create the same ones.
 */
import { runCli } from '../lib/platform/cli.ts';
import { parseConfig } from '../lib/platform/config.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { closeServices, createServices } from '../lib/services.ts';

runCli('create-topics', async () => {
  const config = parseConfig();
  const services = createServices(config, createLogger(config));
  try {
    await services.kafka.ping();
    await services.kafka.ensureTopics();
  } finally {
    await closeServices(services);
  }
  console.error(`kafka: topics ready on ${config.KAFKA_BROKERS.join(',')}`);
});
