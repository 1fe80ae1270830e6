import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inArray } from 'drizzle-orm';
import * as v from 'valibot';
import { bookings, seats } from '../../lib/booking/db/schema.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import { closeServices } from '../../lib/services.ts';
import { bearer, createTestEvent, createTestUsers, testServices } from '../../test/support.ts';
import userBookings from './index.ts';
import { UserBooking } from './list-user-bookings.ts';

describe('user-bookings', () => {
  const services = testServices();
  const app = createFunctionApp(userBookings, services);
  let user: number;
  let other: number;
  let made: { id: number; eventId: number; seatId: number; seatNumber: string; status: string }[] = [];
  /** Reads here are an admin's: who may read whose bookings is test/authz.test.ts's concern. */
  let admin: { authorization: string };

  /** Bookings as the processor writes them: the rows, and the seats marked. */
  async function bookInPostgres(
    userId: number,
    event: { eventId: number; seatIds: number[]; seatNumbers: string[] },
    index: number,
    status: 'CONFIRMED' | 'CANCELED',
  ) {
    const seatId = event.seatIds[index] as number;
    const [row] = await services.db
      .insert(bookings)
      .values({ userId, eventId: event.eventId, seatId, status })
      .returning({ id: bookings.id });
    if (status === 'CONFIRMED') {
      await services.db
        .update(seats)
        .set({ isBooked: true, bookedBy: userId })
        .where(inArray(seats.id, [seatId]));
    }
    return {
      id: row?.id as number,
      eventId: event.eventId,
      seatId,
      seatNumber: event.seatNumbers[index] as string,
      status,
    };
  }

  before(async () => {
    admin = await bearer(1, 'admin');
    [user, other] = (await createTestUsers(services, 2)) as [number, number];
    const concert = await createTestEvent(services, 4, 'Concert');
    const talk = await createTestEvent(services, 4, 'Talk');
    made = [
      await bookInPostgres(user, concert, 0, 'CONFIRMED'),
      await bookInPostgres(user, talk, 2, 'CANCELED'),
      await bookInPostgres(other, talk, 1, 'CONFIRMED'),
      await bookInPostgres(user, talk, 3, 'CONFIRMED'),
      await bookInPostgres(user, concert, 1, 'CONFIRMED'),
    ];
  });
  after(() => closeServices(services));

  it("lists the user's bookings newest first, with event name, date, seat number and status", async () => {
    const response = await app.request(`/bookings/user/${user}`, { headers: admin });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('link'), null, 'one page');
    const json = await response.json();
    const rows = v.parse(v.array(UserBooking), json);
    assert.deepEqual(rows, json, 'the contract holds');
    const mine = made.filter((_, i) => i !== 2).reverse();
    assert.deepEqual(
      rows.map((r) => [r.id, r.event_id, r.seat_id, r.seat_number, r.status]),
      mine.map((b) => [b.id, b.eventId, b.seatId, b.seatNumber, b.status]),
    );
    const first = rows[0] as UserBooking;
    assert.equal(first.user_id, user);
    assert.match(first.event_name, /^Concert /);
    assert.equal(first.event_date, '2030-01-01T20:00:00.000Z');
    assert.equal(first.event_location, 'Test Hall');
    assert.ok(!Number.isNaN(Date.parse(first.created_at)));
    assert.ok(
      rows.every((r) => r.user_id === user),
      "nobody else's bookings",
    );
  });

  it('pages with limit and cursor, following the Link header', async () => {
    const seen: number[] = [];
    let next: string | undefined = `/bookings/user/${user}?limit=2`;
    let pages = 0;
    while (next) {
      const response = await app.request(next, { headers: admin });
      assert.equal(response.status, 200);
      const rows = (await response.json()) as UserBooking[];
      assert.ok(rows.length <= 2);
      seen.push(...rows.map((r) => r.id));
      next = /<([^>]+)>; rel="next"/.exec(response.headers.get('link') ?? '')?.[1];
      if (next) assert.match(next, /^\/bookings\/user\/\d+\?limit=2&cursor=\d+$/);
      pages++;
    }
    assert.equal(pages, 2);
    assert.deepEqual(
      seen,
      made
        .filter((_, i) => i !== 2)
        .map((b) => b.id)
        .reverse(),
    );
  });

  it('answers [] for a user without bookings, 404 for no such user, 400 for bad input', async () => {
    const [idle] = (await createTestUsers(services, 1)) as [number];
    const empty = await app.request(`/bookings/user/${idle}`, { headers: admin });
    assert.equal(empty.status, 200);
    assert.deepEqual(await empty.json(), []);

    const cases: [string, number, RegExp][] = [
      ['/bookings/user/2000000000', 404, /No user 2000000000/],
      ['/bookings/user/abc', 400, /param\.userId/],
      ['/bookings/user/0', 400, /param\.userId/],
      ['/bookings/user/1?limit=0', 400, /query\.limit/],
      ['/bookings/user/1?limit=201', 400, /query\.limit: must be an integer from 1 to 200/],
      ['/bookings/user/1?limit=2.5', 400, /query\.limit/],
      ['/bookings/user/1?cursor=-3', 400, /query\.cursor/],
      ['/bookings/user/1?page=2', 400, /page/],
    ];
    for (const [path, status, detail] of cases) {
      const response = await app.request(path, { headers: admin });
      assert.equal(response.status, status, path);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      assert.match(await response.text(), detail, path);
    }
  });
});
