/**
 * kafkajs 2.2.4's request queue, as patches/kafkajs+2.2.4.patch leaves it. Unpatched, every broker
 * connection re-arms a 1 ms timer forever once its first answer arrives (kafkajs issues 1556 and
 * 1751): an idle function with a producer and an admin client burned about 4 % of a core.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { afterEach, describe, it } from 'node:test';

interface RequestQueue {
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  push(request: { entry: object; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(clientSideThrottleTime: number): void;
  destroy(): void;
}

const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as new (
  options: object,
) => RequestQueue;

const silent = { debug() {}, warn() {} };

function newQueue(): RequestQueue {
  return new RequestQueue({ requestTimeout: 30_000, clientId: 'test', broker: 'test:9092', logger: silent });
}

/** A request as a kafkajs connection pushes it; `sent` settles when the queue sends it. */
function request(correlationId: number) {
  let markSent: () => void = () => {};
  const sent = new Promise<void>((resolve) => {
    markSent = resolve;
  });
  const entry = { correlationId, apiName: 'Metadata', resolve() {}, reject() {} };
  return { entry, expectResponse: true, sendRequest: () => markSent(), sent };
}

describe('kafkajs request queue (patched)', () => {
  const queues: RequestQueue[] = [];
  afterEach(() => {
    for (const queue of queues.splice(0)) queue.destroy();
  });

  it('arms no timer once an answer leaves nothing pending', async () => {
    const queue = newQueue();
    queues.push(queue);
    const metadata = request(1);
    queue.push(metadata);
    await metadata.sent;
    queue.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    assert.equal(queue.throttleCheckTimeoutId, null);
  });

  it('still sends a request held back by a throttle once the throttle ends', async () => {
    const queue = newQueue();
    queues.push(queue);
    queue.maybeThrottle(20);
    const metadata = request(1);
    queue.push(metadata);
    assert.notEqual(queue.throttleCheckTimeoutId, null, 'a check is scheduled for the throttle’s end');
    await metadata.sent;
  });
});
