import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ConnectionLimiter } from './connection-limit.ts';
import { ApiError } from './errors.ts';

const refusal = (limiter: ConnectionLimiter, address: string) => {
  try {
    limiter.acquire(address);
  } catch (error) {
    assert.ok(error instanceof ApiError);
    return { status: error.status, retryAfter: error.headers['retry-after'], detail: error.message };
  }
  assert.fail(`${address} was let in`);
};

it('caps connections per address and per process, and gives a slot back once', () => {
  const limiter = new ConnectionLimiter({ perProcess: 3, perAddress: 2 });
  const releaseA = limiter.acquire('10.0.0.1');
  limiter.acquire('10.0.0.1');
  const refused = refusal(limiter, '10.0.0.1');
  assert.equal(refused.status, 429);
  assert.equal(refused.retryAfter, '5');
  assert.match(refused.detail, /At most 2 live streams may be open from one address/);

  limiter.acquire('10.0.0.2');
  assert.equal(limiter.open, 3);
  assert.match(refusal(limiter, '10.0.0.3').detail, /its most live streams open \(3\)/);

  releaseA();
  releaseA();
  assert.equal(limiter.open, 2, 'released once, however often called');
  limiter.acquire('10.0.0.1');
  assert.match(refusal(limiter, '10.0.0.1').detail, /from one address/, 'the address is back at its cap');
});

it('has no cap where a cap is 0', () => {
  const limiter = new ConnectionLimiter({ perProcess: 0, perAddress: 0 });
  for (let i = 0; i < 100; i++) limiter.acquire('10.0.0.1');
  assert.equal(limiter.open, 100);
});
