import type { Logger } from '../logger.ts';

export interface ScheduleTriggerOptions {
  /** The function's app; only `fetch` is used, as a cron job or a scheduler service would POST to it. */
  app: { fetch(request: Request): Response | Promise<Response> };
  /** The pause from one tick's answer to the next tick. */
  everyMs: number;
  logger: Logger;
}

export interface RunningSchedule {
  /** Stops scheduling; a tick in flight is answered first. */
  stop(): Promise<void>;
}

/**
 * POSTs `/` to a function's app every `everyMs`, counted from the previous answer, so ticks
 * never overlap however long one takes. A tick that fails (an error answer or a throw) is logged
 * and the next one comes on time: the work is expected to be safe to repeat.
 */
export function startScheduleTrigger(options: ScheduleTriggerOptions): RunningSchedule {
  const { app, everyMs, logger } = options;
  let ticks = 0;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let stopped = false;

  const tick = async () => {
    ticks += 1;
    const started = performance.now();
    try {
      const response = await app.fetch(
        new Request('http://schedule-trigger/', {
          method: 'POST',
          headers: { 'x-request-id': `schedule-${ticks}` },
        }),
      );
      if (response.ok) {
        await response.body?.cancel();
      } else {
        logger.error(
          { tick: ticks, status: response.status, reason: await response.text() },
          'scheduled run failed',
        );
      }
    } catch (error) {
      logger.error({ tick: ticks, err: error }, 'scheduled run failed');
    }
    // Whatever a run repairs waits for the next one: a run longer than the interval stretches that.
    const tookMs = Math.round(performance.now() - started);
    if (tookMs > everyMs)
      logger.warn({ tick: ticks, tookMs, everyMs }, 'scheduled run took longer than its interval');
  };

  const schedule = () => {
    timer = setTimeout(() => {
      inFlight = tick().finally(() => {
        inFlight = undefined;
        if (!stopped) schedule();
      });
    }, everyMs);
  };
  schedule();

  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
