import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { type BookingRequested, encodeMessage } from '../../lib/booking/messages.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import type { KafkaBatch } from '../../lib/platform/kafka/batch.ts';
import { closeServices } from '../../lib/services.ts';
import { createTestEvent, createTestUsers, testServices } from '../../test/support.ts';
import bookingProcessor from './index.ts';

describe('booking-processor', () => {
  const services = testServices();
  const app = createFunctionApp(bookingProcessor, services);
  after(() => closeServices(services));

  const deliver = (values: string[]) => {
    const batch: KafkaBatch = {
      topic: 'booking-commands',
      partition: 0,
      messages: values.map((value, offset) => ({
        offset: String(offset),
        key: null,
        value,
        timestamp: String(Date.now()),
        headers: {},
      })),
    };
    return app.request('/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
  };
  const count = async (sql: string, params: unknown[]) =>
    (await services.db.$client.query(sql, params)).rows[0].n as number;

  it('decides a batch in order, and the same batch delivered again changes nothing', async () => {
    const event = await createTestEvent(services, 3);
    const [u1, u2, u3] = (await createTestUsers(services, 3)) as [number, number, number];
    const [a, b, c] = event.seatIds as [number, number, number];
    const request = (userId: number, seatIds: number[]): BookingRequested => ({
      type: 'BookingRequested',
      requestId: randomUUID(),
      userId,
      eventId: event.eventId,
      seatIds,
      holdToken: null,
      requestedAt: new Date().toISOString(),
    });
    const commands = [request(u1, [a, b]), request(u2, [b, c]), request(u3, [c])];
    const values = commands.map((command) => encodeMessage(command).value);

    const first = await deliver(values);
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { decided: 3, replayed: 0 });
    const replay = await deliver(values);
    assert.equal(replay.status, 200);
    assert.deepEqual(await replay.json(), { decided: 0, replayed: 3 });

    const bookingsOf = (requestId: string) =>
      count('select count(*)::int as n from bookings where request_id = $1', [requestId]);
    assert.deepEqual(await Promise.all(commands.map((command) => bookingsOf(command.requestId))), [2, 0, 1]);
    assert.equal(
      await count('select count(*)::int as n from booking_requests where event_id = $1', [event.eventId]),
      3,
    );
    const { rows } = await services.db.$client.query(
      'select id, status, reason from booking_requests where id = $1',
      [commands[1]?.requestId],
    );
    assert.deepEqual(rows[0], { id: commands[1]?.requestId, status: 'REJECTED', reason: 'SEATS_TAKEN' });
  });

  it('rejects (422) a batch holding a message that is not a command, and writes nothing', async () => {
    const event = await createTestEvent(services, 1);
    const [user] = (await createTestUsers(services, 1)) as [number];
    const good = encodeMessage({
      type: 'BookingRequested',
      requestId: randomUUID(),
      userId: user,
      eventId: event.eventId,
      seatIds: event.seatIds,
      holdToken: null,
      requestedAt: new Date().toISOString(),
    }).value;
    const response = await deliver([good, '{"type":"BookingRequested","seatIds":"all"}']);
    assert.equal(response.status, 422);
    assert.match((await response.json()).detail, /message 1 does not match its schema/);
    assert.equal(
      await count('select count(*)::int as n from bookings where event_id = $1', [event.eventId]),
      0,
    );
  });
});
