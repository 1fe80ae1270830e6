import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { testServices } from '../../../test/support.ts';
import { closeServices } from '../../services.ts';
import type { KafkaBatch } from './batch.ts';
import type { KafkaBus } from './client.ts';
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
    await sleep(50);
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
    options: {
      backoffMs?: { initial: number; max: number };
      fetchIntervalMs?: number;
      maxAttempts?: number;
      dependenciesHealthy?: () => Promise<boolean>;
    } = {},
  ) {
    const topic = `${bus.prefix}trigger-${randomUUID()}`;
    const groupId = `${topic}-group`;
    topics.push(topic);
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    const trigger = await startKafkaTrigger({
      bus,
      topic,
      groupId,
      functionName: 'trigger-test',
      app,
      logger: services.logger,
      dependenciesHealthy: options.dependenciesHealthy ?? (async () => true),
      maxAttempts: options.maxAttempts,
      retryBackoffMs: options.backoffMs ?? { initial: 20, max: 100 },
      fetchIntervalMs: options.fetchIntervalMs,
    });
    running.push(trigger);
    const committed = async () => {
      const [partition] = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
      return Number(partition?.offset ?? -1);
    };
    return { topic, committed, trigger };
  }

  /** Every dead letter from `topic` on the dead-letter topic so far, read up to its end. */
  async function deadLettersOf(topic: string) {
    const dlqTopic = bus.topic('deadLetters');
    const end = Number((await admin.fetchTopicOffsets(dlqTopic))[0]?.high ?? 0);
    const dead: { value: string; headers: Record<string, string> }[] = [];
    if (end === 0) return dead;
    const groupId = `${topic}-dlq-reader-${randomUUID()}`;
    const reader = bus.kafka.consumer({ groupId });
    let last = -1;
    await reader.connect();
    await reader.subscribe({ topic: dlqTopic, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]),
        );
        if (headers['dlq-topic'] === topic) dead.push({ value: String(message.value), headers });
        last = Number(message.offset);
      },
    });
    try {
      await waitFor(() => last >= end - 1);
    } finally {
      await reader.disconnect();
      await admin.deleteGroups([groupId]).catch(() => {});
    }
    return dead;
  }

  /** Counts the consumer's group joins from now on: a rebalance makes it join again. */
  function countJoins(trigger: RunningTrigger) {
    const counts = { joins: 0, rebalances: 0 };
    trigger.consumer.on(trigger.consumer.events.GROUP_JOIN, () => counts.joins++);
    trigger.consumer.on(trigger.consumer.events.REBALANCING, () => counts.rebalances++);
    return counts;
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

    const dead = await deadLettersOf(topic);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.value, 'bad');
    assert.equal(dead[0]?.headers['dlq-offset'], '1');
    assert.equal(dead[0]?.headers['dlq-status'], '422');
    assert.match(dead[0]?.headers['dlq-reason'] ?? '', /value is not an event/);
    assert.equal(dead[0]?.headers['dlq-attempts'], '1');
  });

  it('retries a failing batch with backoff until it is handled', async () => {
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
    // The database the app needs is down: its failures are never counted towards a dead letter.
    const { topic, committed } = await setup(app as unknown as ReturnType<typeof recordingApp>, {
      maxAttempts: 1,
      dependenciesHealthy: async () => !failing,
    });
    await bus.producer.send(topic, [{ value: 'x' }]);
    await bus.producer.flush();
    await waitFor(() => app.calls >= 3);
    assert.equal(await committed(), -1);
    failing = false;
    await waitFor(async () => (await committed()) === 1);
  });
  it('dead-letters a message that fails every time while its dependencies are healthy, and goes on', async () => {
    let healthChecks = 0;
    const app = {
      deliveries: [] as KafkaBatch[],
      fetch: async (request: Request) => {
        const batch = (await request.json()) as KafkaBatch;
        app.deliveries.push(batch);
        return batch.messages.some((message) => message.value === 'poison')
          ? new Response('seat 7 is not in the map', { status: 500 })
          : new Response(null, { status: 204 });
      },
    };
    const { topic, committed } = await setup(app, {
      maxAttempts: 3,
      dependenciesHealthy: async () => {
        healthChecks++;
        return true;
      },
    });
    await bus.producer.send(
      topic,
      ['ok1', 'poison', 'ok2'].map((value) => ({ value })),
    );
    await bus.producer.flush();
    await waitFor(async () => (await committed()) === 3);

    const alone = (value: string) =>
      app.deliveries.filter((batch) => batch.messages.length === 1 && batch.messages[0]?.value === value);
    assert.equal(alone('poison').length, 3);
    assert.ok(healthChecks >= 3);
    const handled = app.deliveries.filter((batch) =>
      batch.messages.every((message) => message.value !== 'poison'),
    );
    assert.deepEqual(
      handled.flatMap((batch) => batch.messages.map((message) => message.value)),
      ['ok1', 'ok2'],
    );

    const dead = await deadLettersOf(topic);
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.value, 'poison');
    assert.equal(dead[0]?.headers['dlq-offset'], '1');
    assert.equal(dead[0]?.headers['dlq-status'], '500');
    assert.equal(dead[0]?.headers['dlq-attempts'], '3');
    assert.match(dead[0]?.headers['dlq-reason'] ?? '', /seat 7 is not in the map/);
  });

  it('retries without counting while a dependency is down, and never dead-letters then', async () => {
    let down = true;
    let healthChecks = 0;
    const app = recordingApp(() => (down ? 503 : 200));
    const { topic, committed } = await setup(app, {
      maxAttempts: 2,
      dependenciesHealthy: async () => {
        healthChecks++;
        return !down;
      },
    });
    await bus.producer.send(topic, [{ value: 'good command' }]);
    await bus.producer.flush();
    // Four times as many failures as would dead-letter it if they counted.
    await waitFor(() => app.deliveries.length >= 8);
    assert.equal(await committed(), -1);
    assert.ok(healthChecks >= 7);
    down = false;
    await waitFor(async () => (await committed()) === 1);
    assert.ok(app.deliveries.every((batch) => batch.messages[0]?.value === 'good command'));
    assert.deepEqual(await deadLettersOf(topic), []);
  });

  // The consumer's session times out after 10 s without a heartbeat.
  it('keeps its group membership through failures that last longer than the session', async () => {
    let failUntil = Number.POSITIVE_INFINITY;
    const answers: number[] = [];
    const app = recordingApp(() => {
      if (failUntil === Number.POSITIVE_INFINITY) failUntil = Date.now() + 12_000;
      answers.push(Date.now() < failUntil ? 503 : 200);
      return answers.at(-1) ?? 500;
    });
    // Asks for waits longer than the session: the trigger caps them and heartbeats meanwhile.
    const { topic, committed, trigger } = await setup(app, {
      backoffMs: { initial: 12_000, max: 12_000 },
      maxAttempts: 1_000,
    });
    const counts = countJoins(trigger);
    await bus.producer.send(topic, [{ value: 'x' }]);
    await bus.producer.flush();
    await waitFor(async () => (await committed()) === 1, 30_000);
    assert.deepEqual(counts, { joins: 0, rebalances: 0 });
    // Waits capped well below the session: retried several times within the 12 s.
    assert.ok(answers.length >= 4, `retried ${answers.length - 1} times`);
    assert.equal(answers.at(-1), 200);
  });

  it('keeps its group membership while the app takes longer than the session to answer', async () => {
    const app = {
      deliveries: 0,
      fetch: async () => {
        app.deliveries++;
        await sleep(12_000);
        return new Response(null, { status: 200 });
      },
    };
    const { topic, committed, trigger } = await setup(app as unknown as ReturnType<typeof recordingApp>);
    const counts = countJoins(trigger);
    await bus.producer.send(topic, [{ value: 'slow' }]);
    await bus.producer.flush();
    await waitFor(async () => (await committed()) === 1, 30_000);
    assert.equal(app.deliveries, 1);
    assert.deepEqual(counts, { joins: 0, rebalances: 0 });
  });
});

describe('Kafka trigger and partition ownership (a scripted consumer)', () => {
  const { logger } = services;

  /** Starts the trigger on a stand-in consumer; returns its eachBatch and what it dead-lettered. */
  async function scripted(app: { fetch(request: Request): Promise<Response> }, backoffMs = 20) {
    let eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
    const consumer = {
      events: { FETCH: 'consumer.fetch' },
      on: () => {},
      connect: async () => {},
      subscribe: async () => {},
      run: async (config: { eachBatch: typeof eachBatch }) => {
        eachBatch = config.eachBatch;
      },
      disconnect: async () => {},
    };
    const deadLetters: unknown[] = [];
    const fakeBus = {
      kafka: { consumer: () => consumer },
      send: async (_topic: string, messages: unknown[]) => {
        deadLetters.push(...messages);
      },
      producer: { flush: async () => {} },
    } as unknown as KafkaBus;
    await startKafkaTrigger({
      bus: fakeBus,
      topic: 'orders',
      groupId: 'orders-group',
      functionName: 'orders',
      app,
      logger,
      dependenciesHealthy: async () => true,
      maxAttempts: 3,
      retryBackoffMs: { initial: backoffMs, max: backoffMs },
    });
    if (!eachBatch) throw new Error('the trigger did not run its consumer');
    return { eachBatch, deadLetters };
  }

  /** A batch of `values` whose group membership behaves as `script` says. */
  function batchOf(
    values: string[],
    script: { heartbeat?: () => void; isRunning?: () => boolean; isStale?: () => boolean },
  ) {
    const messages = values.map(
      (value, offset) =>
        ({
          offset: String(offset),
          key: null,
          value: Buffer.from(value),
          timestamp: '0',
          headers: {},
        }) as unknown as KafkaMessage,
    );
    const resolved: string[] = [];
    const payload = {
      batch: {
        topic: 'orders',
        partition: 0,
        messages,
        firstOffset: () => messages[0]?.offset,
        lastOffset: () => messages.at(-1)?.offset,
      },
      resolveOffset: (offset: string) => resolved.push(offset),
      heartbeat: async () => script.heartbeat?.(),
      isRunning: () => script.isRunning?.() ?? true,
      isStale: () => script.isStale?.() ?? false,
    } as unknown as EachBatchPayload;
    return { payload, resolved };
  }

  const kafkaError = (type: string) => Object.assign(new Error(type), { type });

  /** An app that answers `status(values)` and counts its deliveries. */
  function answering(status: (values: string[]) => number) {
    const app = {
      deliveries: 0,
      fetch: async (request: Request) => {
        app.deliveries++;
        const batch = (await request.json()) as KafkaBatch;
        return new Response(null, { status: status(batch.messages.map((message) => message.value ?? '')) });
      },
    };
    return app;
  }

  it('hands nothing more to the app, and resolves nothing, once the group has dropped the member', async () => {
    const app = answering((values) => (values.includes('bad') ? 422 : 200));
    const { eachBatch, deadLetters } = await scripted(app);
    const { payload, resolved } = batchOf(['a', 'bad', 'c'], {
      heartbeat: () => {
        if (app.deliveries > 0) throw kafkaError('UNKNOWN_MEMBER_ID');
      },
    });
    await assert.rejects(eachBatch(payload), /UNKNOWN_MEMBER_ID/);
    assert.equal(app.deliveries, 1);
    assert.deepEqual(resolved, []);
    assert.deepEqual(deadLetters, []);
  });

  it('does not resolve a handled batch once the member is dropped or the partition is seeked', async () => {
    const scripts = [
      (app: { deliveries: number }) => ({
        heartbeat: () => {
          if (app.deliveries > 0) throw kafkaError('ILLEGAL_GENERATION');
        },
      }),
      (app: { deliveries: number }) => ({ isStale: () => app.deliveries > 0 }),
    ];
    for (const script of scripts) {
      const app = answering(() => 200);
      const { eachBatch } = await scripted(app);
      const { payload, resolved } = batchOf(['a', 'b'], script(app));
      await eachBatch(payload).catch(() => {});
      assert.equal(app.deliveries, 1);
      assert.deepEqual(resolved, []);
    }
  });

  it('resolves what it handled when a rebalance begins, then hands out nothing more and rejoins', async () => {
    const app = answering((values) => (values.includes('bad') ? 422 : 200));
    const { eachBatch } = await scripted(app);
    const { payload, resolved } = batchOf(['a', 'bad', 'c'], {
      // The batch is split; the group starts rebalancing while 'a' is delivered alone.
      heartbeat: () => {
        if (app.deliveries > 1) throw kafkaError('REBALANCE_IN_PROGRESS');
      },
    });
    await assert.rejects(eachBatch(payload), /REBALANCE_IN_PROGRESS/);
    assert.equal(app.deliveries, 2);
    assert.deepEqual(resolved, ['0']);
  });

  it('heartbeats while it waits to retry, and stops waiting as soon as the consumer stops', async () => {
    const app = answering(() => 503);
    const { eachBatch } = await scripted(app, 2_000);
    let heartbeats = 0;
    let running = true;
    const { payload, resolved } = batchOf(['a'], {
      heartbeat: () => {
        heartbeats++;
      },
      isRunning: () => running,
    });
    const handling = eachBatch(payload);
    await waitFor(() => app.deliveries === 1);
    const during = heartbeats;
    await sleep(1_200);
    assert.ok(heartbeats >= during + 4, `asked for ${heartbeats - during} heartbeats in 1.2 s`);
    running = false;
    const stoppedAt = performance.now();
    await handling;
    assert.ok(performance.now() - stoppedAt < 500);
    assert.equal(app.deliveries, 1);
    assert.deepEqual(resolved, []);
  });
});
