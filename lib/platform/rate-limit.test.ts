import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, describe, it } from 'node:test';
import bookFunction from '../../functions/book/index.ts';
import { bearer, testServices } from '../../test/support.ts';
import { closeServices, pingDependencies } from '../services.ts';
import { createFunctionApp } from './app.ts';

/** Requests the limiter counts but the booking refuses (400): nothing is ever booked here. */
const invalidBooking = async (app: ReturnType<typeof createFunctionApp>, userId: number, address: string) =>
  app.request('/bookings/book', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address, ...(await bearer(userId)) },
    body: '{}',
  });

describe('rate limits on book', () => {
  const services = testServices({
    RATE_LIMIT_PER_USER: '3',
    RATE_LIMIT_PER_ADDRESS: '5',
    RATE_LIMIT_WINDOW_S: '60',
    TRUST_PROXY: 'true',
  });
  const app = createFunctionApp(bookFunction, services);
  after(() => closeServices(services));

  it('answers the (N+1)th request of a user in the window with 429, Retry-After and RateLimit headers', async () => {
    await pingDependencies(services, ['redis']);
    const userId = randomInt(1_000_000, 2_000_000_000);
    const address = `10.0.${randomInt(256)}.${randomInt(256)}`;
    for (let i = 3; i > 0; i--) {
      const response = await invalidBooking(app, userId, address);
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('ratelimit-limit'), '3');
      assert.equal(response.headers.get('ratelimit-remaining'), String(i - 1));
    }
    const limited = await invalidBooking(app, userId, address);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('content-type'), 'application/problem+json');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(limited.headers.get('ratelimit-remaining'), '0');
    assert.ok(Number(limited.headers.get('ratelimit-reset')) <= 60);
  });

  it('limits a client address across users', async () => {
    const address = `10.1.${randomInt(256)}.${randomInt(256)}`;
    const statuses = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await invalidBooking(app, randomInt(1_000_000, 2_000_000_000), address)).status);
    assert.deepEqual(statuses, [400, 400, 400, 400, 400, 429]);
  });

  it('lets requests through when Redis is down', async () => {
    const noRedis = testServices({ REDIS_URL: 'redis://127.0.0.1:1/0', RATE_LIMIT_PER_USER: '1' });
    try {
      const appWithoutRedis = createFunctionApp(bookFunction, noRedis);
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await invalidBooking(appWithoutRedis, 7, '10.2.0.1')).status);
      assert.deepEqual(statuses, [400, 400, 400]);
    } finally {
      await closeServices(noRedis);
    }
  });
});
