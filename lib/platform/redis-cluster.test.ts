/**
 * Everything the functions do with Redis, on a real 3-master Redis Cluster: seat scripts of many
 * events (spread over the masters), the projector's pipelines, the rate limiter's script and the
 * pub/sub that wakes a waiting request.
 */
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import bookFunction from '../../functions/book/index.ts';
import { type LocalCluster, startRedisCluster } from '../../test/redis-cluster.ts';
import { bearer, createTestEvent, testServices } from '../../test/support.ts';
import { closeServices, pingDependencies, type Services } from '../services.ts';
import { createFunctionApp } from './app.ts';

describe('on a Redis Cluster', () => {
  let cluster: LocalCluster;
  let services: Services;

  before(async () => {
    // A random port range, tried again elsewhere if another process holds part of it.
    for (let tries = 0; !cluster; tries++) {
      cluster = await startRedisCluster(randomInt(21_000, 29_000)).catch((error) => {
        if (tries === 2) throw error;
        return undefined as unknown as LocalCluster;
      });
    }
    services = testServices({
      REDIS_CLUSTER_NODES: cluster.nodes.join(','),
      RATE_LIMIT_PER_USER: '2',
      RATE_LIMIT_WINDOW_S: '60',
    });
    await pingDependencies(services, ['redis', 'postgres']);
  });
  after(async () => {
    await closeServices(services);
    await cluster.stop();
  });

  it('speaks the cluster protocol', () => {
    assert.ok(services.redis instanceof Cluster);
  });

  it('holds, books, frees and repairs seats of events on every master, in one projector pipeline', async () => {
    const events = await Promise.all(Array.from({ length: 6 }, () => createTestEvent(services, 3)));
    const { seats } = services;
    const pipeline = seats.pipeline();
    for (const { eventId, seatIds } of events) {
      assert.equal(await seats.warm(eventId), true);
      const [a, b] = seatIds as [number, number];
      const token = randomUUID();
      assert.equal((await seats.take(eventId, [a, b], token, 60_000)).kind, 'held');
      pipeline.markBooked(eventId, [{ seatId: a, version: 1 }], 7, token).release(eventId, [b], token);
      pipeline.publish(eventId, 'booking-outcomes', `{"eventId":${eventId}}`);
    }
    await pipeline.exec();
    for (const { eventId, seatIds } of events) {
      const states = (await seats.snapshot(eventId))?.map((seat) => seat.state);
      assert.deepEqual(states, ['booked', 'available', 'available']);
      const { repairedSeatIds } = await seats.syncFromPostgres(eventId, [
        { seatId: seatIds[0] as number, bookedBy: null, version: 2 },
      ]);
      assert.deepEqual(repairedSeatIds, [seatIds[0]]);
    }
    const cached = await seats.cachedEventIds();
    assert.ok(events.every(({ eventId }) => cached.includes(eventId)));
  });

  it("rate-limits in the seat script (its window keys share the event's hash slot) instead of letting everything through", async () => {
    const app = createFunctionApp(bookFunction, services);
    const { eventId } = await createTestEvent(services, 1);
    const userId = randomInt(1_000_000, 2_000_000_000);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await app.request('/bookings/book', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(await bearer(userId)) },
        // A seat not of the event: counted, then refused (422), so nothing is booked.
        body: JSON.stringify({ event_id: eventId, seat_ids: [2_000_000_000] }),
      });
      statuses.push(response.status);
    }
    assert.deepEqual(statuses, [422, 422, 429]);
  });

  it('delivers published outcomes to a waiting request', async () => {
    await services.outcomes.ready();
    const requestId = randomUUID();
    const waiting = services.outcomes.expect(requestId, 5_000);
    const event = {
      type: 'CancelRejected',
      requestId,
      userId: 1,
      eventId: 1,
      bookingIds: [1],
      reason: 'ALREADY_CANCELLED',
      decidedAt: new Date().toISOString(),
    };
    await services.redis.publish('booking-outcomes', JSON.stringify(event));
    const heard = await waiting.outcome;
    assert.equal(heard && 'requestId' in heard ? heard.requestId : undefined, requestId);
  });
});
