/** The measured floors: the same load against a no-op endpoint, and Postgres committing one booking per transaction. */
import { createEvent } from '../database.ts';
import { postgresFloor } from '../floors/postgres.ts';
import type { LoadJob } from '../load.ts';
import { startProcess, stopProcess } from '../processes.ts';
import { ProcSampler } from '../procstat.ts';
import { say } from '../progress.ts';
import { loadReport, type PostgresFloor, type RunReport } from '../report.ts';
import { measureLoad, postgresPids, quiesce } from './measure.ts';
import type { Context } from './stack.ts';
import { warmUp } from './warm-up.ts';

export async function benchNoop(context: Context): Promise<RunReport> {
  const { options } = context;
  const noop = await startProcess(
    'noop',
    'bench/floors/noop-server.ts',
    { PORT: '0' },
    { logDir: context.logDir },
  );
  try {
    await warmUp(context, 'no-op', noop.url);
    const count = options.noopRequests;
    const job: LoadJob = {
      bookUrl: noop.url,
      connections: options.connections,
      rate: options.rate,
      respondAsync: false,
      eventId: 1,
      users: Array.from({ length: count }, (_, i) => i + 1),
      seats: Array.from({ length: count }, (_, i) => [(i % 1000) + 1]),
    };
    const { result, usage } = await measureLoad(context, 'no-op floor', job, (loadPid) => {
      const sampler = new ProcSampler(options.sampleMs);
      sampler.track('no-op endpoint', () => [noop.pid]);
      sampler.track('load generator', () => [loadPid]);
      return sampler;
    });
    return loadReport('flash', 'no-op floor', '201, nothing done', result, usage);
  } finally {
    await stopProcess(noop.child);
  }
}

export async function benchPostgresFloor(context: Context): Promise<PostgresFloor> {
  const { options, services } = context;
  const event = await createEvent(
    services.db.$client,
    'Postgres floor',
    options.floorBookings,
    options.seatsPerRow,
  );
  await quiesce(services);
  say(
    `postgres floor: ${options.floorBookings} bookings, one per transaction, ${options.floorClients} clients`,
  );
  const sampler = new ProcSampler(options.sampleMs);
  sampler.track('postgres', postgresPids(services));
  await sampler.begin();
  const floor = await postgresFloor({
    databaseUrl: options.databaseUrl,
    eventId: event.eventId,
    seatIds: event.seatIds,
    userIds: context.userIds,
    clients: options.floorClients,
  });
  const processes = await sampler.end();
  say(`postgres floor: ${Math.round(floor.bookingsPerS)} bookings/s (${floor.tool})`);
  return { ...floor, bookingsPerS: Math.round(floor.bookingsPerS), clients: options.floorClients, processes };
}
