import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startScheduleTrigger } from './trigger.ts';

/** A logger whose lines the test reads. */
function recordingLogger() {
  const lines: { level: number; msg: string; status?: number; reason?: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines, errors: () => lines.filter((line) => line.level >= 50) };
}

/** A function stand-in: records each call's start and end, answers as `answer` says after `takesMs`. */
function recordingApp(options: { takesMs?: number; answer?: (call: number) => number | Error } = {}) {
  const calls: { method: string; path: string; startedAt: number; endedAt?: number }[] = [];
  let running = 0;
  let mostAtOnce = 0;
  return {
    calls,
    mostAtOnce: () => mostAtOnce,
    fetch: async (request: Request) => {
      const call = { method: request.method, path: new URL(request.url).pathname, startedAt: Date.now() };
      calls.push(call);
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      try {
        await sleep(options.takesMs ?? 0);
        const answer = options.answer?.(calls.length) ?? 200;
        if (answer instanceof Error) throw answer;
        return new Response(answer === 200 ? '{}' : 'broken', { status: answer });
      } finally {
        running -= 1;
        Object.assign(call, { endedAt: Date.now() });
      }
    },
  };
}

describe('schedule trigger', () => {
  it('POSTs / every interval, counted from the previous answer, never two at once', async () => {
    const app = recordingApp({ takesMs: 80 });
    const { logger } = recordingLogger();
    const trigger = startScheduleTrigger({ app, everyMs: 40, logger });
    await sleep(700);
    await trigger.stop();

    assert.ok(app.calls.length >= 3, `${app.calls.length} ticks in 700 ms`);
    assert.ok(app.calls.length <= 6, `${app.calls.length} ticks: a slow answer must delay the next tick`);
    assert.equal(app.mostAtOnce(), 1);
    for (const call of app.calls) assert.deepEqual([call.method, call.path], ['POST', '/']);
    for (let i = 1; i < app.calls.length; i++) {
      const previous = app.calls[i - 1]?.endedAt ?? Number.POSITIVE_INFINITY;
      const gap = (app.calls[i]?.startedAt ?? 0) - previous;
      // Timers may fire a millisecond early by Date.now()'s rounding.
      assert.ok(gap >= 38, `tick ${i} started ${gap} ms after the previous answer`);
    }
  });

  it('logs a failed tick (an error answer or a throw) and goes on', async () => {
    const app = recordingApp({
      answer: (call) => (call === 1 ? 500 : call === 2 ? new Error('redis is down') : 200),
    });
    const { logger, errors } = recordingLogger();
    const trigger = startScheduleTrigger({ app, everyMs: 20, logger });
    try {
      const deadline = Date.now() + 5_000;
      while (app.calls.length < 4 && Date.now() < deadline) await sleep(10);
    } finally {
      await trigger.stop();
    }
    assert.ok(app.calls.length >= 4, 'ticks go on after failures');
    const failed = errors();
    assert.equal(failed.length, 2, JSON.stringify(failed));
    assert.deepEqual(
      failed.map((line) => [line.msg, line.status, line.reason]),
      [
        ['scheduled run failed', 500, 'broken'],
        ['scheduled run failed', undefined, undefined],
      ],
    );
  });

  it('stops: a tick in flight is answered first, and no tick follows', async () => {
    const app = recordingApp({ takesMs: 150 });
    const { logger } = recordingLogger();
    const trigger = startScheduleTrigger({ app, everyMs: 10, logger });
    while (app.calls.length === 0) await sleep(5);
    await trigger.stop();
    assert.equal(app.calls.length, 1);
    assert.ok(app.calls[0]?.endedAt, 'stop() resolved only once the tick was answered');
    await sleep(100);
    assert.equal(app.calls.length, 1, 'no tick after stop()');
  });

  it('stops before its first tick without ever calling the app', async () => {
    const app = recordingApp();
    const trigger = startScheduleTrigger({ app, everyMs: 50, logger: recordingLogger().logger });
    await trigger.stop();
    await sleep(120);
    assert.equal(app.calls.length, 0);
  });
});
