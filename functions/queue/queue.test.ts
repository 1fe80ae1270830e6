/**
 * The waiting room end to end over the real Postgres, Redis and Kafka: every function runs in
 * this process except the admission function's timer; each test runs an admission when it wants
 * one (POST / to that function's app, as its trigger does), so what one run does is seen alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq, sql } from 'drizzle-orm';
import * as v from 'valibot';
import { events, queueLines, queueTickets } from '../../lib/booking/db/schema.ts';
import { QueueTicketBody } from '../../lib/booking/queue/tickets.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import type { RunningFunctions } from '../../lib/platform/runner.ts';
import { closeServices } from '../../lib/services.ts';
import { SseClient } from '../../test/sse.ts';
import { bearer, createTestUsers, testServices } from '../../test/support.ts';
import { startSystem } from '../../test/system.ts';
import queueAdmission from '../queue-admission/index.ts';

const QUEUE = { admit_per_minute: 600, max_active: 100, session_minutes: 5, prequeue_minutes: 60 };

describe('waiting room', () => {
  // Settings read fresh on every request, so a test that moves on-sale sees it at once.
  const services = testServices({
    SALE_SETTINGS_MAX_AGE_MS: '0',
    QUEUE_UPDATE_MS: '0',
    SSE_MAX_PER_ADDRESS: '100',
  });
  const admission = createFunctionApp(queueAdmission, services);
  let system: RunningFunctions;
  let url: string;
  let admin: { authorization: string };

  before(async () => {
    system = await startSystem(services, { except: ['queue-admission'] });
    url = system.url;
    const [adminId] = await createTestUsers(services, 1);
    admin = await bearer(adminId as number, 'admin');
  });
  after(async () => {
    await system.stop();
    await closeServices(services);
  });

  /** One run of the admission function (over every open line, other tests' too). */
  async function admit(): Promise<void> {
    const response = await admission.request('/', { method: 'POST' });
    assert.equal(response.status, 200, await response.text());
  }

  /** One run; how many of the event's buyers it let in. */
  async function admitCounting(eventId: number): Promise<number> {
    const before = await admittedThrough(eventId);
    await admit();
    return (await admittedThrough(eventId)) - before;
  }

  async function admittedThrough(eventId: number): Promise<number> {
    const [line] = await services.db.select().from(queueLines).where(eq(queueLines.eventId, eventId));
    return line?.admittedThrough ?? 0;
  }

  async function createEvent(
    seats: number,
    settings: { on_sale_at?: string; queue?: Partial<typeof QUEUE & { enabled: boolean }> } = {},
  ): Promise<{ eventId: number; seatIds: number[] }> {
    const response = await fetch(`${url}/events`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'On-sale',
        date: '2030-01-01T20:00:00Z',
        location: 'Hall',
        seat_numbers: Array.from({ length: seats }, (_, i) => `S${i + 1}`),
        queue: QUEUE,
        ...settings,
      }),
    });
    const body = (await response.json()) as { id: number; seats: { seat_id: number }[] };
    assert.equal(response.status, 201, JSON.stringify(body));
    return { eventId: body.id, seatIds: body.seats.map((seat) => seat.seat_id) };
  }

  async function join(eventId: number, userId: number) {
    const response = await fetch(`${url}/events/${eventId}/queue`, {
      method: 'POST',
      headers: await bearer(userId),
    });
    const body = await response.json();
    return { status: response.status, body: response.ok ? v.parse(QueueTicketBody, body) : body };
  }

  async function ticketOf(eventId: number, userId: number, ticketId: string) {
    const response = await fetch(`${url}/events/${eventId}/queue/${ticketId}`, {
      headers: await bearer(userId),
    });
    assert.equal(response.status, 200);
    return v.parse(QueueTicketBody, await response.json());
  }

  async function bookWith(userId: number, eventId: number, seatIds: number[], token?: string) {
    const response = await fetch(`${url}/bookings/book`, {
      method: 'POST',
      headers: { ...(await bearer(userId)), 'content-type': 'application/json' },
      body: JSON.stringify({ event_id: eventId, seat_ids: seatIds, admission_token: token }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  /** Joins every user, `concurrency` at a time. */
  async function joinAll(eventId: number, userIds: number[], concurrency = 32) {
    const joined: QueueTicketBody[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < userIds.length) {
          const userId = userIds[next++] as number;
          const answer = await join(eventId, userId);
          assert.equal(answer.status, 201, JSON.stringify(answer.body));
          joined.push(answer.body as QueueTicketBody);
        }
      }),
    );
    return joined;
  }

  it('takes event settings on POST /events and PATCH /events/:id, validated', async () => {
    const { eventId } = await createEvent(3, { on_sale_at: '2031-05-01T10:00:00Z' });
    const shown = (await (await fetch(`${url}/events/${eventId}`)).json()) as Record<string, unknown>;
    assert.equal(shown.on_sale_at, '2031-05-01T10:00:00.000Z');
    assert.deepEqual(shown.queue, { enabled: true, ...QUEUE });

    const patch = (body: unknown) =>
      fetch(`${url}/events/${eventId}`, {
        method: 'PATCH',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const bad = await patch({ queue: { admit_per_minute: 0 } });
    assert.equal(bad.status, 400);
    const problem = (await bad.json()) as { errors: { path: string }[] };
    assert.ok(problem.errors.some((error) => error.path.includes('admit_per_minute')));
    assert.equal((await patch({})).status, 400);
    const [userId] = await createTestUsers(services, 1);
    const notAdmin = await fetch(`${url}/events/${eventId}`, {
      method: 'PATCH',
      headers: { ...(await bearer(userId as number)), 'content-type': 'application/json' },
      body: JSON.stringify({ queue: null }),
    });
    assert.equal(notAdmin.status, 403);

    const changed = await patch({ on_sale_at: null, queue: { enabled: false } });
    assert.equal(changed.status, 200);
    const body = (await changed.json()) as Record<string, unknown>;
    assert.equal(body.on_sale_at, null);
    assert.equal((body.queue as { enabled: boolean }).enabled, false);
    assert.equal((await patch({ on_sale_at: '2031-05-01T10:00:00Z' })).status, 200);
  });

  it('refuses booking before on-sale with 403 "not on sale yet", and changes nothing', async () => {
    const { eventId, seatIds } = await createEvent(3, {
      on_sale_at: new Date(Date.now() + 3_600_000).toISOString(),
      queue: { ...QUEUE, enabled: false },
    });
    const [userId] = await createTestUsers(services, 1);
    const refused = await bookWith(userId as number, eventId, [seatIds[0] as number]);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.reason, 'not_on_sale');
    assert.match(String(refused.body.detail), /not on sale yet/i);
    const held = await services.redis.exists(`seat:{e${eventId}}:${seatIds[0]}`);
    assert.equal(held, 0);
  });

  it('gives 10,000 joins unique, contiguous positions; joining again keeps the place', async () => {
    const { eventId } = await createEvent(10);
    const userIds = await createTestUsers(services, 10_000);
    const joined = await joinAll(eventId, userIds);
    const positions = joined.map((ticket) => ticket.position).sort((a, b) => (a ?? 0) - (b ?? 0));
    assert.deepEqual(
      positions,
      Array.from({ length: 10_000 }, (_, i) => i + 1),
    );
    assert.ok(joined.every((ticket) => ticket.status === 'waiting'));
    const again = await join(eventId, userIds[42] as number);
    assert.equal(again.status, 200);
    const first = joined.find((ticket) => ticket.ticket_id === (again.body as QueueTicketBody).ticket_id);
    assert.equal((again.body as QueueTicketBody).position, first?.position);
  });

  it('places the pre-queue by lot at on-sale, ahead of later joiners', async () => {
    const onSaleAt = new Date(Date.now() + 3_600_000);
    const { eventId } = await createEvent(10, { on_sale_at: onSaleAt.toISOString() });
    const early = await createTestUsers(services, 200);
    const joinOrder: string[] = [];
    for (const userId of early) {
      const answer = await join(eventId, userId);
      assert.equal(answer.status, 201);
      const ticket = answer.body as QueueTicketBody;
      assert.equal(ticket.status, 'prequeue');
      assert.equal(ticket.position, null);
      assert.equal(ticket.opens_at, onSaleAt.toISOString());
      joinOrder.push(ticket.ticket_id);
    }
    // Before on-sale an admission run places nobody and lets nobody in.
    assert.equal(await admitCounting(eventId), 0);
    await services.db
      .update(events)
      .set({ onSaleAt: new Date(Date.now() - 1_000) })
      .where(eq(events.id, eventId));
    const [late] = await createTestUsers(services, 1);
    const lateTicket = (await join(eventId, late as number)).body as QueueTicketBody;
    assert.equal(lateTicket.position, 201, 'a buyer joining after on-sale stands behind the whole pre-queue');

    await admit();
    const placed = await services.db
      .select({ id: queueTickets.id, position: queueTickets.position })
      .from(queueTickets)
      .where(eq(queueTickets.eventId, eventId));
    const byPosition = placed
      .filter((ticket) => ticket.id !== lateTicket.ticket_id)
      .sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
    assert.deepEqual(
      byPosition.map((ticket) => ticket.position),
      Array.from({ length: 200 }, (_, i) => i + 1),
      'positions 1..200: a permutation',
    );
    assert.deepEqual(new Set(byPosition.map((ticket) => ticket.id)), new Set(joinOrder));
    assert.notDeepEqual(
      byPosition.map((ticket) => ticket.id),
      joinOrder,
      'the lot differs from the order of arrival',
    );
    // Moving on-sale once places were given after it is refused.
    const moved = await fetch(`${url}/events/${eventId}`, {
      method: 'PATCH',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ on_sale_at: new Date(Date.now() + 3_600_000).toISOString() }),
    });
    assert.equal(moved.status, 409);
  });

  it('lets in no more per run than admit_per_minute earns, and never more than max_active', async () => {
    const { eventId } = await createEvent(1_000, {
      queue: { ...QUEUE, admit_per_minute: 600, max_active: 25 },
    });
    await joinAll(eventId, await createTestUsers(services, 60));
    // The first run earns one run's share: 600/min over QUEUE_TICK_MS (1 s) = 10.
    assert.equal(await admitCounting(eventId), 10);
    // Long idle earns no burst: credit is capped at one run's share.
    await services.db
      .update(queueLines)
      .set({ lastTickAt: sql`now() - interval '1 hour'` })
      .where(eq(queueLines.eventId, eventId));
    assert.equal(await admitCounting(eventId), 10);
    await services.db
      .update(queueLines)
      .set({ lastTickAt: sql`now() - interval '1 hour'` })
      .where(eq(queueLines.eventId, eventId));
    assert.equal(await admitCounting(eventId), 5, 'max_active 25 caps the third run');
    assert.equal(await admittedThrough(eventId), 25);
  });

  it('admits no more buyers than the seats left, and requires the admission token to book', async () => {
    const { eventId, seatIds } = await createEvent(3);
    const buyers = await createTestUsers(services, 6);
    const joined = await joinAll(eventId, buyers, 1);
    await admit();
    const tickets = await Promise.all(
      joined.map((ticket, i) => ticketOf(eventId, buyers[i] as number, ticket.ticket_id)),
    );
    const admitted = tickets.filter((ticket) => ticket.status === 'admitted');
    assert.equal(admitted.length, 3, '3 seats, factor 1: 3 sessions');
    assert.deepEqual(
      tickets.map((ticket) => ticket.position),
      [null, null, null, 1, 2, 3],
    );

    const first = admitted[0] as QueueTicketBody;
    const firstBuyer = buyers[0] as number;
    const without = await bookWith(firstBuyer, eventId, [seatIds[0] as number]);
    assert.equal(without.status, 403);
    assert.equal(without.body.reason, 'admission_required');
    assert.equal(without.body.queue_url, `/events/${eventId}/queue`);
    const othersToken = await bookWith(
      buyers[1] as number,
      eventId,
      [seatIds[0] as number],
      first.admission_token,
    );
    assert.equal(othersToken.status, 403, "another buyer's token is refused");

    const booked = await bookWith(firstBuyer, eventId, [seatIds[0] as number], first.admission_token);
    assert.equal(booked.status, 201, JSON.stringify(booked.body));
    const again = await bookWith(firstBuyer, eventId, [seatIds[1] as number], first.admission_token);
    assert.equal(again.status, 403, 'the session ended with its booking');

    // The booked seat is gone and its session ended: one more buyer may come in, not two.
    await admit();
    const after = await Promise.all(
      joined.map((ticket, i) => ticketOf(eventId, buyers[i] as number, ticket.ticket_id)),
    );
    assert.equal(after[0]?.status, 'expired');
    assert.deepEqual(
      after.map((ticket) => ticket.status),
      ['expired', 'admitted', 'admitted', 'waiting', 'waiting', 'waiting'],
    );
  });

  it('tells every buyer in line "sold out" at once, and the stream follows the ticket', async () => {
    const { eventId, seatIds } = await createEvent(2, { queue: { ...QUEUE, max_active: 1 } });
    const buyers = await createTestUsers(services, 41);
    const joined = await joinAll(eventId, buyers, 1);
    const streams = await Promise.all(
      joined.map(async (ticket, i) =>
        SseClient.open(`${url}${ticket.stream_url}`, await bearer(buyers[i] as number)),
      ),
    );
    try {
      const firsts = await Promise.all(streams.map((stream) => stream.next()));
      assert.ok(firsts.every((frame) => frame.event === 'position'));

      await admit();
      const admittedFrame = await (streams[0] as SseClient).next((frame) => frame.event === 'admitted');
      const admitted = v.parse(QueueTicketBody, JSON.parse(admittedFrame.data ?? ''));
      assert.ok(admitted.admission_token);
      const moved = v.parse(QueueTicketBody, JSON.parse((await (streams[1] as SseClient).next()).data ?? ''));
      assert.equal(moved.position, 1);

      // The admitted buyer takes both seats: nothing is left for the 40 still in line.
      const booked = await bookWith(buyers[0] as number, eventId, seatIds, admitted.admission_token);
      assert.equal(booked.status, 201);

      // The next run records the ended session and finds no seat left.
      await admit();
      const expired = await (streams[0] as SseClient).next((frame) => frame.event !== 'position', 5_000);
      assert.equal(expired.event, 'expired');
      const soldOut = await Promise.all(
        streams.slice(1).map((stream) => stream.next((frame) => frame.event === 'sold_out', 5_000)),
      );
      assert.equal(soldOut.length, 40);
      assert.ok(soldOut.every((frame) => JSON.parse(frame.data ?? '').status === 'sold_out'));
    } finally {
      for (const stream of streams) stream.close();
    }
  });

  it('ends a session when it runs out: the token no longer books', async () => {
    const { eventId, seatIds } = await createEvent(5);
    const [buyer] = await createTestUsers(services, 1);
    const ticket = (await join(eventId, buyer as number)).body as QueueTicketBody;
    await admit();
    const admitted = await ticketOf(eventId, buyer as number, ticket.ticket_id);
    assert.equal(admitted.status, 'admitted');
    const stream = await SseClient.open(`${url}${ticket.stream_url}`, await bearer(buyer as number));
    try {
      assert.equal((await stream.next()).event, 'admitted');
      await services.db
        .update(queueTickets)
        .set({ sessionExpiresAt: new Date(Date.now() + 300) })
        .where(eq(queueTickets.id, ticket.ticket_id));
      await admit();
      await sleep(400);
      const refused = await bookWith(
        buyer as number,
        eventId,
        [seatIds[0] as number],
        admitted.admission_token,
      );
      assert.equal(refused.status, 403);
      assert.equal(refused.body.reason, 'admission_required');
      assert.equal((await ticketOf(eventId, buyer as number, ticket.ticket_id)).status, 'expired');
    } finally {
      stream.close();
    }
  });

  it('keeps tickets to their owner', async () => {
    const { eventId } = await createEvent(2);
    const [owner, other] = await createTestUsers(services, 2);
    const ticket = (await join(eventId, owner as number)).body as QueueTicketBody;
    const peek = await fetch(`${url}/events/${eventId}/queue/${ticket.ticket_id}`, {
      headers: await bearer(other as number),
    });
    assert.equal(peek.status, 404);
    const stream = await fetch(`${url}${ticket.stream_url}`, { headers: await bearer(other as number) });
    assert.equal(stream.status, 404);
    const noQueue = await createEvent(2, { queue: { ...QUEUE, enabled: false } });
    const refused = await join(noQueue.eventId, owner as number);
    assert.equal(refused.status, 409);
    assert.equal((refused.body as { reason: string }).reason, 'no_queue');
    const notOpen = await createEvent(2, { on_sale_at: new Date(Date.now() + 7_200_000).toISOString() });
    const early = await join(notOpen.eventId, owner as number);
    assert.equal(early.status, 403);
    assert.equal((early.body as { reason: string }).reason, 'queue_not_open');
  });
});
