import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as v from 'valibot';
import { RequestStatusBody } from '../../lib/booking/responses.ts';
import type { RunningFunctions } from '../../lib/platform/runner.ts';
import { closeServices } from '../../lib/services.ts';
import { checkInvariants } from '../../test/invariants.ts';
import { bearer, createTestEvent, createTestUsers, testServices } from '../../test/support.ts';
import { book, startSystem } from '../../test/system.ts';
import { CanceledBody } from './cancel-booking.ts';

describe('cancel', () => {
  const services = testServices();
  let system: RunningFunctions;
  let users: number[];

  before(async () => {
    system = await startSystem(services);
    users = await createTestUsers(services, 2);
  });
  after(async () => {
    await system.stop();
    await closeServices(services);
  });

  /** Cancels as the user who booked (every booking in these tests is users[0]'s). */
  const cancel = async (bookingId: number, query: string) =>
    fetch(`${system.url}/bookings/cancel/${bookingId}${query}`, {
      method: 'DELETE',
      headers: await bearer(users[0] as number),
    });

  it("cancels in the seed's form; the seat is bookable again at once, in Redis and Postgres", async () => {
    const event = await createTestEvent(services, 3);
    const seatId = event.seatIds[0] as number;
    const booked = await book(system.url, {
      user_id: users[0] as number,
      event_id: event.eventId,
      seat_ids: [seatId],
    });
    assert.equal(booked.status, 201);
    const bookingId = booked.bookingIds?.[0] as number;

    const response = await cancel(bookingId, `?event_id=${event.eventId}&seat_id=${seatId}`);
    assert.equal(response.status, 200);
    const body = v.parse(CanceledBody, await response.json());
    assert.equal(body.status, 'CANCELED');
    assert.deepEqual(
      body.bookings.map((b) => [b.id, b.status]),
      [[bookingId, 'CANCELED']],
    );
    const status = await fetch(`${system.url}/bookings/requests/${body.request_id}`, {
      headers: await bearer(users[0] as number),
    });
    const decided = v.parse(RequestStatusBody, await status.json());
    assert.deepEqual([decided.status, 'kind' in decided && decided.kind], ['CANCELED', 'CANCEL']);
    const snapshot = await services.seats.snapshot(event.eventId);
    assert.equal(snapshot?.find((seat) => seat.seatId === seatId)?.state, 'available');

    const rebooked = await book(system.url, {
      user_id: users[1] as number,
      event_id: event.eventId,
      seat_ids: [seatId],
    });
    assert.equal(rebooked.status, 201);
    assert.deepEqual((await checkInvariants(services, event.eventId, [booked, rebooked])).violations, []);

    const again = await cancel(bookingId, `?event_id=${event.eventId}&seat_id=${seatId}`);
    assert.equal(again.status, 409);
    assert.match((await again.json()).detail, /already cancelled/);
  });

  it('cancels several seats of one request with a repeated seat_id', async () => {
    const event = await createTestEvent(services, 3);
    const booked = await book(system.url, {
      user_id: users[0] as number,
      event_id: event.eventId,
      seat_ids: event.seatIds,
    });
    const [first] = booked.bookingIds as number[];
    const [a, b] = event.seatIds as [number, number];
    const response = await cancel(first as number, `?event_id=${event.eventId}&seat_id=${a}&seat_id=${b}`);
    assert.equal(response.status, 200);
    assert.equal((await response.json()).bookings.length, 2);
    const states = (await services.seats.snapshot(event.eventId))?.map((seat) => seat.state);
    assert.deepEqual(states, ['available', 'available', 'booked']);
    assert.deepEqual((await checkInvariants(services, event.eventId, [booked])).violations, []);
  });

  it('answers 404 for a booking that does not match the event or seats given, and changes nothing', async () => {
    const event = await createTestEvent(services, 2);
    const other = await createTestEvent(services, 1);
    const booked = await book(system.url, {
      user_id: users[0] as number,
      event_id: event.eventId,
      seat_ids: [event.seatIds[0] as number],
    });
    const bookingId = booked.bookingIds?.[0] as number;
    for (const query of [
      `?event_id=${other.eventId}`,
      `?event_id=${event.eventId}&seat_id=${event.seatIds[1]}`,
    ]) {
      const response = await cancel(bookingId, query);
      assert.equal(response.status, 404, query);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
    }
    assert.equal((await cancel(2_000_000_000, '')).status, 404);
    assert.equal((await cancel(0, '')).status, 400);
    assert.equal((await cancel(bookingId, '?event_id=abc')).status, 400);
    const snapshot = await services.seats.snapshot(event.eventId);
    assert.equal(snapshot?.[0]?.state, 'booked');
  });
});
