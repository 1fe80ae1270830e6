import { pino } from 'pino';
import type { Config } from './config.ts';

export type Logger = pino.Logger;

/** JSON lines on stdout: one per request or batch, plus start-up and failures. */
export function createLogger(
  config: Pick<Config, 'LOG_LEVEL'>,
  bindings: Record<string, unknown> = {},
): Logger {
  return pino({ level: config.LOG_LEVEL, base: bindings, timestamp: pino.stdTimeFunctions.isoTime });
}
