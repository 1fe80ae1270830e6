import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq, sql } from 'drizzle-orm';
import { pino } from 'pino';
import { seats } from '../../lib/booking/db/schema.ts';
import type { SeatCache } from '../../lib/booking/seats/cache.ts';
import { seatKeys } from '../../lib/booking/seats/keys.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import { parseConfig } from '../../lib/platform/config.ts';
import { startFunctions } from '../../lib/platform/runner.ts';
import { closeServices, createServices, pingDependencies } from '../../lib/services.ts';
import { createTestEvent, createTestUsers, type TestEvent, testServices } from '../../test/support.ts';
import reconciler from './index.ts';

type Answer = { events: number; repaired: number; failed: number[] };
type LogLine = {
  level: number;
  msg: string;
  repaired?: number;
  repairs?: { eventId: number; seatIds: number[] }[];
};

describe('reconciler', () => {
  const lines: LogLine[] = [];
  const services = createServices(
    parseConfig(),
    pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }),
  );
  const app = createFunctionApp(reconciler, services);
  let users: number[];

  before(async () => {
    await pingDependencies(services, ['postgres', 'redis']);
    users = await createTestUsers(services, 2);
  });
  after(() => closeServices(services));

  const run = async (): Promise<Answer> => {
    const response = await app.request('/', { method: 'POST' });
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as Answer;
  };

  /** Books a seat in Postgres as the processor does: booked, its booker, its version bumped. */
  const bookInPostgres = (seatId: number, userId: number) =>
    services.db
      .update(seats)
      .set({ isBooked: true, bookedBy: userId, version: sql`${seats.version} + 1` })
      .where(eq(seats.id, seatId));

  /** Each seat's Redis value next to what Postgres says it should be (holds read as free). */
  async function compare(event: TestEvent) {
    const rows = await services.db
      .select({ id: seats.id, isBooked: seats.isBooked, bookedBy: seats.bookedBy })
      .from(seats)
      .where(eq(seats.eventId, event.eventId))
      .orderBy(seats.id);
    const values = await services.redis.mget(rows.map((row) => seatKeys.seat(event.eventId, row.id)));
    return {
      redis: rows.map((row, i) => [row.id, values[i]?.startsWith('b:') ? values[i] : null]),
      postgres: rows.map((row) => [row.id, row.isBooked ? `b:${row.bookedBy}` : null]),
      values,
    };
  }

  it('repairs drift between Redis and Postgres, counts and logs it, and leaves holds alone', async () => {
    const event = await createTestEvent(services, 5, 'Reconciled');
    const [a, b, c, d, e] = event.seatIds as [number, number, number, number, number];
    const [alice, bob] = users as [number, number];
    await bookInPostgres(a, alice);
    await bookInPostgres(b, bob);
    assert.equal(await services.seats.warm(event.eventId), true);
    const hold = await services.seats.take(event.eventId, [e], randomUUID(), 60_000);
    assert.equal(hold.kind, 'held');
    assert.ok((await services.seats.cachedEventIds()).includes(event.eventId), 'warming lists the event');

    // Whatever earlier tests left behind in this Redis is repaired first, so the next run counts ours.
    await run();
    const warmed = await compare(event);
    assert.deepEqual(warmed.redis, warmed.postgres, 'in sync once warmed');
    const stream = seatKeys.changes(event.eventId);
    const [lastChange] = await services.redis.xrevrange(stream, '+', '-', 'COUNT', 1);

    // Break Redis by hand: a booked seat forgotten, a free one booked by nobody Postgres knows.
    await services.redis.del(seatKeys.seat(event.eventId, a));
    await services.redis.set(seatKeys.seat(event.eventId, c), 'b:999');
    lines.length = 0;

    const answer = await run();
    assert.ok(answer.events >= 1);
    assert.deepEqual([answer.repaired, answer.failed], [2, []]);

    const after = await compare(event);
    assert.deepEqual(after.redis, after.postgres, 'Redis equals Postgres again');
    assert.deepEqual(after.redis, [
      [a, `b:${alice}`],
      [b, `b:${bob}`],
      [c, null],
      [d, null],
      [e, null],
    ]);
    assert.match(after.values[4] ?? '', /^h:/, 'the hold on a free seat is kept');

    // One warning names the repaired seats; nothing else is logged at warn or above.
    const [warning, ...others] = lines.filter((line) => line.level >= 40);
    assert.equal(others.length, 0, JSON.stringify(others));
    assert.equal(warning?.msg, 'reconciled: repaired drift');
    assert.equal(warning?.repaired, 2);
    assert.deepEqual(
      warning?.repairs?.map((repair) => ({ ...repair, seatIds: [...repair.seatIds].sort((x, y) => x - y) })),
      [{ eventId: event.eventId, seatIds: [a, c] }],
    );

    // Stream clients hear of the repairs like any other change.
    const changes = await services.redis.xrange(stream, lastChange ? `(${lastChange[0]}` : '-', '+');
    const announced = changes.map(([, fields]) => JSON.parse(fields[1] as string));
    assert.deepEqual(
      announced.map((change) => [change.state, change.seatIds]),
      [
        ['booked', [a]],
        ['available', [c]],
      ],
    );

    // In sync now: the next run repairs nothing and logs at info.
    lines.length = 0;
    assert.equal((await run()).repaired, 0);
    assert.deepEqual(
      lines.filter((line) => line.msg.startsWith('reconciled')).map((line) => [line.level, line.msg]),
      [[30, 'reconciled']],
    );
  });

  it('never undoes a change Redis shows at a newer version than the Postgres it read', async () => {
    const event = await createTestEvent(services, 2, 'Newer in Redis');
    const [a, b] = event.seatIds as [number, number];
    const [alice] = users as [number];
    await services.seats.warm(event.eventId);
    // As if the projector applied a booking (version 1) committed after the reconciler's read.
    await services.redis.hset(seatKeys.versions(event.eventId), a, 1);
    await services.redis.set(seatKeys.seat(event.eventId, a), `b:${alice}`);
    await services.redis.set(seatKeys.seat(event.eventId, b), 'b:999');

    await run();
    assert.deepEqual(
      await services.redis.mget(seatKeys.seat(event.eventId, a), seatKeys.seat(event.eventId, b)),
      [`b:${alice}`, null],
      'the newer booking stays; the drifted seat at the same version is repaired',
    );
  });

  it('goes on past an event that fails, names it, and fails the run as a whole only without Redis', async () => {
    const [broken, fine] = [
      await createTestEvent(services, 1, 'Fails'),
      await createTestEvent(services, 1, 'Fine'),
    ];
    await Promise.all([services.seats.warm(broken.eventId), services.seats.warm(fine.eventId)]);
    await services.redis.set(seatKeys.seat(fine.eventId, fine.seatIds[0] as number), 'b:999');
    // One event's seats cannot be written (as a script error or a cluster slot moving would do).
    const seatsFailingOne: SeatCache = Object.create(services.seats);
    seatsFailingOne.syncFromPostgres = (eventId, rows, options) =>
      eventId === broken.eventId
        ? Promise.reject(new Error('cannot write this event'))
        : services.seats.syncFromPostgres(eventId, rows, options);
    const failingApp = createFunctionApp(reconciler, { ...services, seats: seatsFailingOne });
    lines.length = 0;
    const response = await failingApp.request('/', { method: 'POST' });
    assert.equal(response.status, 200);
    const answer = (await response.json()) as Answer;
    assert.deepEqual(answer.failed, [broken.eventId]);
    assert.ok(answer.repaired >= 1, 'the other events were still reconciled');
    assert.equal(await services.redis.get(seatKeys.seat(fine.eventId, fine.seatIds[0] as number)), null);
    assert.deepEqual(
      lines.filter((line) => line.level >= 50).map((line) => line.msg),
      ['reconciled with failures'],
    );

    const noRedis = testServices({ REDIS_URL: 'redis://127.0.0.1:1/0' });
    try {
      const down = await createFunctionApp(reconciler, noRedis).request('/', { method: 'POST' });
      assert.equal(down.status, 500);
      assert.equal(down.headers.get('content-type'), 'application/problem+json');
    } finally {
      await closeServices(noRedis);
      noRedis.subscriber.disconnect();
    }
  });

  it('runs by itself every RECONCILE_INTERVAL_MS from the runner, answering /healthz and /readyz', async () => {
    const scheduled = testServices({ RECONCILE_INTERVAL_MS: '100' });
    const running = await startFunctions([reconciler], scheduled, { host: '127.0.0.1', port: 0 });
    try {
      assert.deepEqual(await (await fetch(`${running.url}/healthz`)).json(), {
        status: 'ok',
        function: 'reconciler',
      });
      assert.equal((await fetch(`${running.url}/readyz`)).status, 200);

      const event = await createTestEvent(services, 1, 'Healed by the schedule');
      const [a] = event.seatIds as [number];
      await services.seats.warm(event.eventId);
      await services.redis.set(seatKeys.seat(event.eventId, a), 'b:999');
      const deadline = Date.now() + 5_000;
      while ((await services.redis.get(seatKeys.seat(event.eventId, a))) !== null) {
        assert.ok(Date.now() < deadline, 'drift healed within a few intervals');
        await sleep(50);
      }
    } finally {
      await running.stop();
      await closeServices(scheduled);
    }
  });
});
