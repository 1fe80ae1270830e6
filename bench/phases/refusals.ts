/**
 * The refusal path alone (issue 18 item 2): `book`, as the image runs it, answering requests for
 * seats that are all taken, through the flash sale's load generator and connections. Its CPU per
 * request is set against the no-op endpoint's (the floors): a refusal should cost close to a
 * request that does nothing. Measured twice: as configured (a seat known taken is refused from
 * memory; the first refusal of each seat asks Redis), and with TAKEN_SEAT_MEMORY_MS=0 (every
 * refusal is the one Redis round trip that also counts the rate limits).
 */
import { createEvent } from '../database.ts';
import type { LoadJob } from '../load.ts';
import { functionsBundle, startProcess, stopProcess } from '../processes.ts';
import { say } from '../progress.ts';
import type { RunReport } from '../report.ts';
import { measureLoad, samplerFor } from './measure.ts';
import type { Context } from './stack.ts';

export interface RefusalCost {
  /** CPU of `book` per refused request, µs, as configured and asking Redis every time. */
  refusedUs: number;
  refusedByRedisUs: number;
  /** The no-op endpoint's CPU per request, µs. */
  noopUs: number;
}

/** A process group's CPU per request of a run, µs. */
const cpuPerRequestUs = (run: Pick<RunReport, 'processes' | 'requests'>, name: string) =>
  ((run.processes.find((group) => group.name === name)?.cpuSeconds ?? Number.NaN) * 1e6) / run.requests;

export async function benchRefusals(context: Context, noop: RunReport): Promise<RefusalCost> {
  const refusedUs = await refusalRun(context, {});
  const refusedByRedisUs = await refusalRun(context, { TAKEN_SEAT_MEMORY_MS: '0' });
  return { refusedUs, refusedByRedisUs, noopUs: cpuPerRequestUs(noop, 'no-op endpoint') };
}

async function refusalRun(context: Context, settings: Record<string, string>): Promise<number> {
  const { options, services } = context;
  const label = `refusals${
    Object.keys(settings).length > 0
      ? ` (${Object.entries(settings)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')})`
      : ''
  }`;
  const bundle = await functionsBundle(`${context.logDir}/bundle`);
  const book = await startProcess(
    'book-refusals',
    bundle,
    { ...context.env, ...settings, FUNCTION: 'book' },
    { logDir: context.logDir },
  );
  try {
    const seats = Math.min(options.seats, 5_000);
    const event = await createEvent(services.db.$client, `Sold out (${label})`, seats, options.seatsPerRow);
    await services.seats.warm(event.eventId);
    // Every seat held for the run by someone else: each request is refused.
    for (let i = 0; i < event.seatIds.length; i += 500) {
      await services.seats.take(event.eventId, event.seatIds.slice(i, i + 500), 'bench-holder', 3_600_000);
    }
    const count = options.noopRequests;
    const job = (first: number, n: number): LoadJob => ({
      bookUrl: book.url,
      connections: options.connections,
      rate: options.rate,
      jwtSecret: context.env.JWT_SECRET,
      respondAsync: true,
      eventId: event.eventId,
      users: Array.from(
        { length: n },
        (_, i) => context.userIds[(first + i) % context.userIds.length] as number,
      ),
      seats: Array.from({ length: n }, (_, i) => [event.seatIds[(first + i) % seats] as number]),
    });
    say(`${label}: ${count} requests for taken seats`);
    // Warm: JIT and connections, as before every measured run.
    await measureLoad(context, `${label} warm-up`, job(count, Math.min(count, 4_000)), (loadPid) =>
      samplerFor(context, { book: book.pid, 'load generator': loadPid }),
    );
    const { result, usage } = await measureLoad(context, label, job(0, count), (loadPid) =>
      samplerFor(context, { book: book.pid, 'load generator': loadPid }),
    );
    const refused = result.answers.filter((answer) => answer.status === 409).length;
    if (refused !== result.answers.length)
      throw new Error(`${label}: ${result.answers.length - refused} requests were not refused`);
    return cpuPerRequestUs({ processes: usage, requests: result.answers.length }, 'book');
  } finally {
    await stopProcess(book.child);
  }
}
