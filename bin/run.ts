/**
 * Starts one function (FUNCTION=<name>, as in its container) or all of them in one process (the
 * development default). A bad setting or a dependency that does not answer stops start-up with
 * one line and a non-zero exit.
 */
import { runCli } from '../lib/platform/cli.ts';
import { parseConfig } from '../lib/platform/config.ts';
import { createLogger } from '../lib/platform/logger.ts';
import { startFunctions } from '../lib/platform/runner.ts';
import { startTracing, stopTracing } from '../lib/platform/tracing.ts';
import { closeServices, createServices } from '../lib/services.ts';
import { selectFunctions } from './functions.ts';

async function main(): Promise<void> {
  const config = parseConfig();
  const selected = await selectFunctions(config.FUNCTION);
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT) await startTracing(config.FUNCTION ?? 'seatrush');
  const logger = createLogger(config);
  const services = createServices(config, logger);
  let running: Awaited<ReturnType<typeof startFunctions>>;
  try {
    running = await startFunctions(selected, services, { host: config.HOST, port: config.PORT });
  } catch (error) {
    await closeServices(services);
    throw error;
  }
  logger.info({ url: running.url, functions: selected.map((definition) => definition.name) }, 'listening');
  const names = selected.map((definition) => definition.name);
  console.error(`seatrush: ${names.join(', ')} listening on ${running.url}`);
  // Where to go next (what a newcomer looks for after \`npm start\`).
  const places = [
    ['the API', `${running.url}/events`],
    ['its reference', `${running.url}/docs`],
    ['metrics', `${running.url}/metrics`],
    ...(names.includes('web') ? [['the events and their seat maps', `${running.url}/`]] : []),
  ];
  for (const [what, url] of places) console.error(`  ${what}: ${url}`);

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    await running.stop();
    await closeServices(services);
    await stopTracing();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

runCli('seatrush', main);
