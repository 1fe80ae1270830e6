import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { testServices } from '../../test/support.ts';
import { closeServices } from '../services.ts';
import type { KafkaBatch } from './batch.ts';
import { type RunningTrigger, startKafkaTrigger } from './trigger.ts';

const services = testServices();
const bus = services.kafka;

/** A function stand-in that records every delivery and answers as `answer` decides. */
function recordingApp(answer: (batch: KafkaBatch, attempt: number) => number) {
  const deliveries: KafkaBatch[] = [];
  return {
    deliveries,
    fetch: async (request: Request) => {
      const batch = (await request.json()) as KafkaBatch;
      deliveries.push(batch);
      return new Response(null, { status: answer(batch, deliveries.length) });
    },
  };
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Kafka trigger against the real broker', () => {
  const topics: string[] = [];
  const running: RunningTrigger[] = [];
  const admin = bus.kafka.admin();

  before(async () => {
    await bus.ensureTopics();
    await admin.connect();
  });

  after(async () => {
    await Promise.all(running.map((trigger) => trigger.stop()));
    await admin.deleteTopics({ topics }).catch(() => {});
    await admin.disconnect();
    await closeServices(services);
  });

  async function setup(
    app: ReturnType<typeof recordingApp>,
    options: { backoffMs?: number; fetchIntervalMs?: number } = {},
  ) {
    const topic = `${bus.prefix}trigger-${randomUUID()}`;
    const groupId = `${topic}-group`;
    topics.push(topic);
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    const trigger = await startKafkaTrigger({
      bus,
      topic,
      groupId,
      app,
      logger: services.logger,
      retryBackoffMs: { initial: options.backoffMs ?? 20, max: 100 },
      fetchIntervalMs: options.fetchIntervalMs,
    });
    running.push(trigger);
    const committed = async () => {
      const [partition] = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
      return Number(partition?.offset ?? -1);
    };
    return { topic, committed };
  }

  it('hands batches to the app in order and commits on 2xx', async () => {
    const app = recordingApp(() => 200);
    const { topic, committed } = await setup(app);
    await bus.producer.send(
      topic,
      ['a', 'b', 'c', 'd', 'e'].map((value) => ({ key: 'k', value })),
    );
    await bus.producer.flush();
    await waitFor(async () => (await committed()) === 5);
    const values = app.deliveries.flatMap((batch) => batch.messages.map((message) => message.value));
    assert.deepEqual(values, ['a', 'b', 'c', 'd', 'e']);
    assert.equal(app.deliveries[0]?.topic, topic);
    assert.equal(app.deliveries[0]?.messages[0]?.key, 'k');
  });

  it('gathers the messages sent during the fetch interval into one batch', async () => {
    const app = recordingApp(() => 200);
    const { topic, committed } = await setup(app, { fetchIntervalMs: 2_000 });
    await bus.producer.send(topic, [{ value: 'first' }]);
    await waitFor(() => app.deliveries.length === 1);
    // Sent one by one while the trigger pauses after the first batch: the next fetch takes all.
    for (const value of ['a', 'b', 'c', 'd']) {
      await bus.producer.send(topic, [{ value }]);
      await bus.producer.flush();
    }
    await waitFor(async () => (await committed()) === 5);
    assert.deepEqual(
      app.deliveries.map((batch) => batch.messages.map((message) => message.value)),
      [['first'], ['a', 'b', 'c', 'd']],
    );
  });

  it('sends a rejected (4xx) message to the dead-letter topic with the reason and goes on', async () => {
    const app = {
      deliveries: [] as KafkaBatch[],
      fetch: async (request: Request) => {
        const batch = (await request.json()) as KafkaBatch;
        app.deliveries.push(batch);
        return batch.messages.some((message) => message.value === 'bad')
          ? new Response('{"detail":"value is not an event"}', { status: 422 })
          : new Response(null, { status: 204 });
      },
    };
    const { topic, committed } = await setup(app);
    await bus.producer.send(
      topic,
      ['ok1', 'bad', 'ok2'].map((value) => ({ value })),
    );
    await bus.producer.flush();
    await waitFor(async () => (await committed()) === 3);

    const accepted = app.deliveries.filter((batch) =>
      batch.messages.every((message) => message.value !== 'bad'),
    );
    assert.deepEqual(
      accepted.flatMap((batch) => batch.messages.map((message) => message.value)),
      ['ok1', 'ok2'],
    );

    const dlqConsumer = bus.kafka.consumer({ groupId: `${topic}-dlq-reader` });
    const dead: { value: string; headers: Record<string, string> }[] = [];
    await dlqConsumer.connect();
    await dlqConsumer.subscribe({ topic: bus.topic('deadLetters'), fromBeginning: true });
    await dlqConsumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]),
        );
        if (headers['dlq-topic'] === topic) dead.push({ value: String(message.value), headers });
      },
    });
    try {
      await waitFor(() => dead.length === 1);
    } finally {
      await dlqConsumer.disconnect();
    }
    assert.equal(dead[0]?.value, 'bad');
    assert.equal(dead[0]?.headers['dlq-offset'], '1');
    assert.equal(dead[0]?.headers['dlq-status'], '422');
    assert.match(dead[0]?.headers['dlq-reason'] ?? '', /value is not an event/);
  });

  it('retries a failing batch with backoff and never skips it', async () => {
    const app = recordingApp((_batch, attempt) => (attempt <= 3 ? 503 : 200));
    const { topic, committed } = await setup(app);
    await bus.producer.send(topic, [{ value: 'only' }]);
    await bus.producer.flush();
    await waitFor(async () => (await committed()) === 1);
    assert.equal(app.deliveries.length, 4);
    assert.ok(app.deliveries.every((batch) => batch.messages[0]?.value === 'only'));
  });

  it('retries when the app throws, and does not commit meanwhile', async () => {
    let failing = true;
    const app = {
      calls: 0,
      fetch: async () => {
        app.calls++;
        if (failing) throw new Error('database is down');
        return new Response(null, { status: 200 });
      },
    };
    const { topic, committed } = await setup(app as unknown as ReturnType<typeof recordingApp>);
    await bus.producer.send(topic, [{ value: 'x' }]);
    await bus.producer.flush();
    await waitFor(() => app.calls >= 3);
    assert.equal(await committed(), -1);
    failing = false;
    await waitFor(async () => (await committed()) === 1);
  });
});
