import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Hono } from 'hono';
import bookFunction from '../../functions/book/index.ts';
import { testServices } from '../../test/support.ts';
import { closeServices } from '../services.ts';
import { createFunctionApp, newApp } from './app.ts';
import type { AppEnv } from './env.ts';
import { ApiError } from './errors.ts';

const services = testServices();
after(() => closeServices(services));

function appWith(routes: Hono<AppEnv>) {
  const app = newApp({ name: 'probe', services, needs: ['postgres', 'redis'] });
  app.route('/', routes);
  return app;
}

describe('newApp', () => {
  it('answers an ApiError as problem+json with its status, extensions and headers', async () => {
    const app = appWith(
      new Hono<AppEnv>().get('/taken', () => {
        throw new ApiError('CONFLICT', {
          detail: 'Seat A1 is taken.',
          extensions: { seats: [1] },
          headers: { 'retry-after': '1' },
        });
      }),
    );
    const response = await app.request('/taken');
    assert.equal(response.status, 409);
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    assert.equal(response.headers.get('retry-after'), '1');
    assert.ok(response.headers.get('x-request-id'));
    assert.deepEqual(await response.json(), {
      type: '/problems/conflict',
      title: 'Conflict',
      status: 409,
      detail: 'Seat A1 is taken.',
      instance: '/taken',
      seats: [1],
    });
  });

  it('never leaks a stack trace for an unexpected error', async () => {
    const app = appWith(
      new Hono<AppEnv>().get('/boom', () => {
        throw new Error('secret internals at /srv/app.ts:12');
      }),
    );
    const response = await app.request('/boom');
    assert.equal(response.status, 500);
    const text = await response.text();
    assert.doesNotMatch(text, /secret internals|app\.ts|at /);
    assert.equal(JSON.parse(text).title, 'Internal server error');
  });

  it('answers unknown routes with a 404 problem', async () => {
    const response = await appWith(new Hono<AppEnv>()).request('/nowhere');
    assert.equal(response.status, 404);
    assert.equal((await response.json()).type, '/problems/not-found');
  });

  it('keeps a request id the caller sent', async () => {
    const response = await appWith(new Hono<AppEnv>()).request('/healthz', {
      headers: { 'x-request-id': 'abc-123' },
    });
    assert.equal(response.headers.get('x-request-id'), 'abc-123');
    assert.deepEqual(await response.json(), { status: 'ok', function: 'probe' });
  });

  it('is ready only when its dependencies answer', async () => {
    const ready = await appWith(new Hono<AppEnv>()).request('/readyz');
    assert.equal(ready.status, 200);

    const deadRedis = testServices({ REDIS_URL: 'redis://127.0.0.1:1/0' });
    try {
      const app = newApp({ name: 'probe', services: deadRedis, needs: ['postgres', 'redis'] });
      const response = await app.request('/readyz');
      assert.equal(response.status, 503);
      assert.match((await response.json()).detail, /^redis: cannot reach REDIS_URL/);
    } finally {
      await closeServices(deadRedis);
    }
  });

  it('stays ready without a dependency it was built to do without, and says it is degraded', async () => {
    const deadRedis = testServices({ REDIS_URL: 'redis://127.0.0.1:1/0' });
    try {
      const app = createFunctionApp(bookFunction, deadRedis);
      const response = await app.request('/readyz');
      assert.equal(response.status, 200, 'book queues bookings while Redis is down');
      assert.deepEqual((await response.json()).degraded, ['redis']);
    } finally {
      await closeServices(deadRedis);
    }
  });
});
