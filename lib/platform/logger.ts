import { pino } from 'pino';
import type { Config } from './config.ts';
import { activeTraceIds, tracing } from './tracing.ts';

export type Logger = pino.Logger;

/** JSON lines on stdout: one per request or batch, plus start-up and failures. */
export function createLogger(
  config: Pick<Config, 'LOG_LEVEL'>,
  bindings: Record<string, unknown> = {},
  destination?: pino.DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    level: config.LOG_LEVEL,
    base: bindings,
    timestamp: pino.stdTimeFunctions.isoTime,
    // With tracing on, a line written inside a span names it: logs and traces join on these.
    mixin: () => (tracing.on ? (activeTraceIds() ?? {}) : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
