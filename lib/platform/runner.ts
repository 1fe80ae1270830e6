import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type Dependency, pingDependencies, type Services, unreachable } from '../services.ts';
import { createFunctionApp } from './app.ts';
import { essentialNeeds, type FunctionDefinition } from './function.ts';
import { gatewayApp } from './gateway.ts';
import { type RunningTrigger, startKafkaTrigger } from './kafka/trigger.ts';
import { collectProcessMetrics } from './metrics.ts';
import { startScheduleTrigger } from './schedule/trigger.ts';

/** How long requests in flight may take to finish once stopping starts. */
const DRAIN_MS = 5_000;

type ClosableServer = { closeIdleConnections?: () => void; closeAllConnections?: () => void };
const closeIdleConnections = (server: unknown) => (server as ClosableServer).closeIdleConnections?.();
const closeAllConnections = (server: unknown) => (server as ClosableServer).closeAllConnections?.();

export interface RunningFunctions {
  /** Where the HTTP server listens, e.g. http://127.0.0.1:3000. */
  url: string;
  /**
   * Stops taking requests and scheduling runs, lets those in flight finish, finishes each Kafka
   * batch and commits.
   */
  stop(): Promise<void>;
}

/**
 * Starts the given functions in this process: one alone (as in its container) answers on the
 * port itself; several share the port through a gateway that only routes by method and path.
 * A Kafka or scheduled function also gets its trigger, and still answers /healthz and /readyz on
 * the port.
 */
export async function startFunctions(
  definitions: readonly FunctionDefinition[],
  services: Services,
  listen: { host: string; port: number },
): Promise<RunningFunctions> {
  collectProcessMetrics();
  const needs = new Set<Dependency>(definitions.flatMap((definition) => definition.needs));
  const essential = new Set<Dependency>(definitions.flatMap(essentialNeeds));
  // A function restarted during an outage it was built for starts degraded rather than not at all.
  // Both checks at once: each is a connection's round trips, and they add up to the start time.
  const optional = [...needs].filter((dependency) => !essential.has(dependency));
  const [, down] = await Promise.all([
    pingDependencies(services, essential),
    unreachable(services, optional),
  ]);
  for (const dependency of down) {
    services.logger.warn({ dependency }, `${dependency} is unreachable; starting degraded`);
  }
  if (essential.has('kafka')) await services.kafka.ensureTopics();

  const apps = definitions.map((definition) => ({
    definition,
    app: createFunctionApp(definition, services),
  }));
  const triggers: Pick<RunningTrigger, 'stop'>[] = [];
  try {
    for (const { definition, app } of apps) {
      if (definition.trigger.kind === 'schedule') {
        triggers.push(
          startScheduleTrigger({
            app,
            everyMs: definition.trigger.everyMs(services.config),
            logger: services.logger.child({ fn: definition.name }),
          }),
        );
        continue;
      }
      if (definition.trigger.kind !== 'kafka') continue;
      triggers.push(
        await startKafkaTrigger({
          bus: services.kafka,
          topic: services.kafka.topic(definition.trigger.topic),
          groupId: services.kafka.groupId(definition.name),
          functionName: definition.name,
          app,
          logger: services.logger.child({ fn: definition.name }),
          dependenciesHealthy: () =>
            pingDependencies(services, definition.needs).then(
              () => true,
              () => false,
            ),
          fetchIntervalMs: services.config.KAFKA_FETCH_INTERVAL_MS,
        }),
      );
    }
  } catch (error) {
    await Promise.allSettled(triggers.map((trigger) => trigger.stop()));
    throw error;
  }

  const only = apps.length === 1 ? apps[0] : undefined;
  const fetch = only
    ? only.app.fetch
    : gatewayApp(
        apps.filter(({ definition }) => definition.trigger.kind === 'http'),
        { services, logger: services.logger },
      ).fetch;
  const server = serve({ fetch, hostname: listen.host, port: listen.port });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${listen.host}:${port}`,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would hold close() for their timeout; requests in flight finish.
      closeIdleConnections(server);
      // Long-lived answers (event streams) never finish by themselves: end them after a grace.
      const drain = setTimeout(() => closeAllConnections(server), DRAIN_MS);
      await Promise.all([closed, ...triggers.map((trigger) => trigger.stop())]);
      clearTimeout(drain);
    },
  };
}
