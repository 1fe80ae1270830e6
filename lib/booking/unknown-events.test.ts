import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import eventSeats from '../../functions/event-seats/index.ts';
import events from '../../functions/events/index.ts';
import seatStream from '../../functions/seat-stream/index.ts';
import web from '../../functions/web/index.ts';
import { createTestEvent, testServices } from '../../test/support.ts';
import { createFunctionApp } from '../platform/app.ts';
import { closeServices, pingDependencies, type Services } from '../services.ts';
import { events as eventsTable } from './db/schema.ts';

/** Runs `work`, counting the statements it sends to Postgres through the services' pool. */
async function countQueries(services: Services, work: () => Promise<unknown>): Promise<number> {
  const pool = services.db.$client;
  const query = pool.query;
  let count = 0;
  pool.query = ((...args: Parameters<typeof query>) => {
    count += 1;
    return (query as (...a: unknown[]) => unknown).apply(pool, args);
  }) as typeof query;
  try {
    await work();
  } finally {
    pool.query = query;
  }
  return count;
}

/** The reads that name one event by id, each in its own function's app. */
const readsOfOneEvent = [
  { fn: events, path: (id: number) => `/events/${id}` },
  { fn: eventSeats, path: (id: number) => `/events/seats/${id}` },
  { fn: seatStream, path: (id: number) => `/events/${id}/stream` },
  { fn: web, path: (id: number) => `/map/${id}` },
];

describe('unknown event ids', () => {
  const TTL_MS = 300;
  const services = testServices({ UNKNOWN_EVENT_TTL_MS: String(TTL_MS), RATE_LIMIT_READS_PER_ADDRESS: '0' });
  const unknownId = () => randomInt(1_500_000_000, 1_900_000_000);

  before(() => pingDependencies(services, ['postgres', 'redis']));
  after(async () => {
    await closeServices(services);
    services.subscriber.disconnect();
  });

  for (const { fn, path } of readsOfOneEvent) {
    it(`${path(0).replace('0', ':eventId')}: 50 requests for an unknown id cost Postgres one lookup`, async () => {
      const app = createFunctionApp(fn, services);
      const eventId = unknownId();
      const statuses: number[] = [];
      const ask = async (times: number) => {
        for (let i = 0; i < times; i++) statuses.push((await app.request(path(eventId))).status);
      };
      assert.ok((await countQueries(services, () => ask(1))) >= 1, 'the first request looks the id up');
      assert.equal(await countQueries(services, () => ask(49)), 0, 'the next 49 do not');
      assert.deepEqual(new Set(statuses), new Set([404]));
    });
  }

  it('sees an event created with a remembered id once UNKNOWN_EVENT_TTL_MS has passed', async () => {
    const { eventId: template } = await createTestEvent(services, 0, 'Template');
    const eventId = unknownId();
    const apps = readsOfOneEvent.map(({ fn, path }) => ({ app: createFunctionApp(fn, services), path }));
    for (const { app, path } of apps) assert.equal((await app.request(path(eventId))).status, 404);
    // As another process would create it, after its id was asked for.
    const [row] = await services.db.select().from(eventsTable).where(eq(eventsTable.id, template));
    await services.db
      .insert(eventsTable)
      .values({ ...(row as typeof eventsTable.$inferSelect), id: eventId });
    try {
      await sleep(TTL_MS + 50);
      for (const { app, path } of apps) {
        const response = await app.request(path(eventId));
        assert.equal(response.status, 200, path(eventId));
        await response.body?.cancel(); // the stream's
      }
    } finally {
      await services.db.delete(eventsTable).where(eq(eventsTable.id, eventId));
    }
  });
});
