/**
 * A command Kafka wrote but did not acknowledge in time (a stalled broker): the answer must still
 * be true. Kafka is real; the fault is a late acknowledgement, injected by delaying the answer of
 * a send that the broker has already taken.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFunctionApp } from '../../lib/platform/app.ts';
import { type RunningFunctions, startFunctions } from '../../lib/platform/runner.ts';
import { closeServices, pingDependencies, type Services } from '../../lib/services.ts';
import { checkInvariants } from '../../test/invariants.ts';
import { bearer, createTestEvent, createTestUsers, testServices } from '../../test/support.ts';
import { startSystem } from '../../test/system.ts';
import bookingProcessor from '../booking-processor/index.ts';
import bookFunction from './index.ts';

/** Services whose commands reach Kafka at once but whose acknowledgement comes `lateMs` later. */
async function lateAcks(overrides: Record<string, string>, lateMs: number): Promise<Services> {
  const services = testServices({ KAFKA_SEND_TIMEOUT_MS: '300', ...overrides });
  await pingDependencies(services, ['redis', 'kafka']);
  const send = services.kafka.send.bind(services.kafka);
  services.kafka.send = async (topic, messages) => {
    await send(topic, messages);
    if (topic === 'bookingCommands') await sleep(lateMs);
  };
  return services;
}

describe('book when Kafka does not acknowledge in time', () => {
  const services = testServices();
  let system: RunningFunctions;
  let processor: RunningFunctions | undefined;
  let userId: number;

  before(async () => {
    system = await startSystem(services, { except: ['booking-processor'] });
    [userId] = (await createTestUsers(services, 1)) as [number];
  });
  after(async () => {
    await processor?.stop();
    await system.stop();
    await closeServices(services);
  });

  const post = async (app: { request: typeof fetch } | string, body: object, key: string) => {
    const headers = {
      'content-type': 'application/json',
      'idempotency-key': key,
      ...(await bearer(userId)),
    };
    const init = { method: 'POST', headers, body: JSON.stringify(body) };
    const response =
      typeof app === 'string'
        ? await fetch(`${app}/bookings/book`, init)
        : await app.request('/bookings/book', init);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const requestRow = async (requestId: unknown) =>
    (
      await services.db.$client.query('select status, reason from booking_requests where id = $1', [
        requestId,
      ])
    ).rows[0] as { status: string; reason: string | null } | undefined;

  it('withdraws the request before answering "nothing changed", so the late command books nothing', async () => {
    const event = await createTestEvent(services, 2);
    const body = { event_id: event.eventId, seat_ids: event.seatIds };
    const slow = await lateAcks({}, 1_000);
    try {
      const first = await post(createFunctionApp(bookFunction, slow) as never, body, randomUUID());
      assert.equal(first.status, 503, JSON.stringify(first.body));
      assert.match(String(first.body.detail), /nothing changed/);
      assert.deepEqual(await requestRow(first.body.request_id), { status: 'REJECTED', reason: 'WITHDRAWN' });
      const snapshot = await services.seats.snapshot(event.eventId);
      assert.deepEqual(
        snapshot?.map((seat) => seat.state),
        ['available', 'available'],
        'its holds are released',
      );

      // The processor comes back and meets the command that was written after all.
      processor = await startFunctions([bookingProcessor], services, { host: '127.0.0.1', port: 0 });
      const second = await post(system.url, body, randomUUID());
      assert.equal(second.status, 201, JSON.stringify(second.body));
      const { rows } = await services.db.$client.query('select 1 from bookings where request_id = $1', [
        first.body.request_id,
      ]);
      assert.equal(rows.length, 0, 'the withdrawn command booked nothing');
    } finally {
      await closeServices(slow);
    }
  });

  it('a retry with the same Idempotency-Key after an uncertain 503 gets the real outcome', async () => {
    processor ??= await startFunctions([bookingProcessor], services, { host: '127.0.0.1', port: 0 });
    const event = await createTestEvent(services, 2);
    await services.seats.warm(event.eventId);
    const body = { event_id: event.eventId, seat_ids: event.seatIds };
    const key = randomUUID();
    // Postgres is unreachable for this instance too: it cannot settle the request.
    const stranded = await lateAcks({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' }, 1_500);
    try {
      const first = await post(createFunctionApp(bookFunction, stranded) as never, body, key);
      assert.equal(first.status, 503, JSON.stringify(first.body));
      assert.match(String(first.body.detail), /not known/);
      const requestId = first.body.request_id;
      for (let tries = 0; !(await requestRow(requestId)) && tries < 100; tries++) await sleep(100);
      assert.equal((await requestRow(requestId))?.status, 'CONFIRMED', 'Kafka had the command');

      const retry = await post(system.url, body, key);
      assert.equal(retry.status, 201, JSON.stringify(retry.body));
      assert.equal(retry.body.request_id, requestId);
      const answers = [
        {
          status: 201,
          requestId: requestId as string,
          userId,
          seatIds: event.seatIds,
          bookingIds: (retry.body.bookings as { id: number }[]).map((b) => b.id),
        },
      ];
      assert.deepEqual((await checkInvariants(services, event.eventId, answers)).violations, []);
    } finally {
      await closeServices(stranded);
    }
  });
});
