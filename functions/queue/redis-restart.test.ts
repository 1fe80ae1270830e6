/**
 * A Redis restart keeps the line: a private redis-server that keeps nothing on disk (as deployed
 * here) is stopped and started again under the running functions. Places, admissions and the
 * admitted buyers' right to book come back from Postgres.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as v from 'valibot';
import { freePort } from '../../chaos/children.ts';
import { PrivateRedis } from '../../chaos/infra.ts';
import { QueueTicketBody } from '../../lib/booking/queue/tickets.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import type { RunningFunctions } from '../../lib/platform/runner.ts';
import { closeServices, type Services } from '../../lib/services.ts';
import { SseClient } from '../../test/sse.ts';
import { bearer, createTestUsers, testServices } from '../../test/support.ts';
import { startSystem } from '../../test/system.ts';
import queueAdmission from '../queue-admission/index.ts';

describe('waiting room across a Redis restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seatrush-queue-redis-'));
  let redis: PrivateRedis;
  let services: Services;
  let system: RunningFunctions;
  let url: string;

  before(async () => {
    redis = new PrivateRedis(dir, await freePort());
    await redis.start();
    services = testServices({ REDIS_URL: redis.url, SALE_SETTINGS_MAX_AGE_MS: '0', QUEUE_UPDATE_MS: '0' });
    system = await startSystem(services, { except: ['queue-admission'] });
    url = system.url;
  });
  after(async () => {
    await system?.stop();
    if (services) await closeServices(services);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every place and admission, and the admitted still book', async () => {
    const admission = createFunctionApp(queueAdmission, services);
    const [adminId, ...buyers] = await createTestUsers(services, 6);
    const admin = await bearer(adminId as number, 'admin');
    const created = await fetch(`${url}/events`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'Restart',
        date: '2030-01-01T20:00:00Z',
        location: 'Hall',
        rows: 1,
        seats_per_row: 4,
        queue: { admit_per_minute: 120, max_active: 2 },
      }),
    });
    const event = (await created.json()) as { id: number; seats: { seat_id: number }[] };
    const join = async (userId: number) => {
      const response = await fetch(`${url}/events/${event.id}/queue`, {
        method: 'POST',
        headers: await bearer(userId),
      });
      return { status: response.status, ticket: v.parse(QueueTicketBody, await response.json()) };
    };
    const ticketOf = async (userId: number, ticketId: string) =>
      v.parse(
        QueueTicketBody,
        await (
          await fetch(`${url}/events/${event.id}/queue/${ticketId}`, { headers: await bearer(userId) })
        ).json(),
      );
    const tickets = [];
    for (const buyer of buyers) tickets.push((await join(buyer)).ticket);
    assert.equal((await admission.request('/', { method: 'POST' })).status, 200);
    const before = await Promise.all(
      tickets.map((ticket, i) => ticketOf(buyers[i] as number, ticket.ticket_id)),
    );
    assert.deepEqual(
      before.map((ticket) => ticket.status),
      ['admitted', 'admitted', 'waiting', 'waiting', 'waiting'],
    );

    await redis.stop();
    await redis.start();

    // Nothing in Redis now: the places are Postgres's.
    const rejoined = await join(buyers[3] as number);
    assert.equal(rejoined.status, 200);
    assert.equal(rejoined.ticket.ticket_id, tickets[3]?.ticket_id);
    assert.equal(rejoined.ticket.position, 2);
    const after = await Promise.all(
      tickets.map((ticket, i) => ticketOf(buyers[i] as number, ticket.ticket_id)),
    );
    assert.deepEqual(after, before);

    // Before any admission run refills Redis, the admitted buyer books: the session is read from Postgres.
    const booked = await fetch(`${url}/bookings/book`, {
      method: 'POST',
      headers: { ...(await bearer(buyers[0] as number)), 'content-type': 'application/json' },
      body: JSON.stringify({
        event_id: event.id,
        seat_ids: [event.seats[0]?.seat_id],
        admission_token: before[0]?.admission_token,
      }),
    });
    assert.equal(booked.status, 201, await booked.clone().text());

    // The next run refills Redis and the line moves on, live.
    const stream = await SseClient.open(`${url}${tickets[2]?.stream_url}`, await bearer(buyers[2] as number));
    try {
      assert.equal((await stream.next()).event, 'position');
      await sleep(50);
      assert.equal((await admission.request('/', { method: 'POST' })).status, 200);
      const admitted = await stream.next((frame) => frame.event === 'admitted', 5_000);
      assert.ok(JSON.parse(admitted.data ?? '').admission_token);
    } finally {
      stream.close();
    }
  });
});
