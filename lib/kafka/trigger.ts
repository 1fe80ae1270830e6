import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { Logger } from '../logger.ts';
import type { KafkaBatch, KafkaBatchMessage } from './batch.ts';
import type { KafkaBus } from './client.ts';

export interface KafkaTriggerOptions {
  bus: KafkaBus;
  /** The consumed topic's full (prefixed) name. */
  topic: string;
  groupId: string;
  /** The function's app; only `fetch` is used, as a push subscription would POST to it. */
  app: { fetch(request: Request): Response | Promise<Response> };
  logger: Logger;
  /** Backoff between retries of a failing batch; it doubles up to the maximum. */
  retryBackoffMs?: { initial: number; max: number };
  maxBytesPerPartition?: number;
  /**
   * The least time from one fetch's answer to the next fetch: a batch ends with a pause until
   * then. kafkajs fetches again as soon as a batch is handled, and each fetch cycle costs the
   * consumer and the broker about as much as a dozen messages do; under load the pause lets the
   * next batch gather. An idle consumer waits at the broker (minBytes 1), so a lone message is
   * still fetched at once.
   */
  fetchIntervalMs?: number;
}

export interface RunningTrigger {
  consumer: Consumer;
  stop(): Promise<void>;
}

type Outcome =
  | { kind: 'ok' }
  | { kind: 'rejected'; status: number; reason: string }
  | { kind: 'failed'; reason: string };

/**
 * Consumes a topic and hands each batch to a function's app as `POST /`. The answer decides the
 * offsets: 2xx commits; 4xx means some message is bad, so the batch is re-delivered one message at
 * a time and each rejected message goes to the dead-letter topic with the reason; anything else
 * is retried with backoff, forever, so no message is ever skipped.
 */
export async function startKafkaTrigger(options: KafkaTriggerOptions): Promise<RunningTrigger> {
  const { bus, topic, groupId, app, logger } = options;
  const backoff = options.retryBackoffMs ?? { initial: 200, max: 10_000 };
  const consumer = bus.kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
    // A crashed consumer's partitions are handed over quickly (the default is 30 s).
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    // Errors are retried inside eachBatch; a consumer that still crashes restarts itself.
    retry: { retries: 5, restartOnFailure: async () => true },
  });

  const deliver = async (partition: number, messages: KafkaMessage[]): Promise<Outcome> => {
    const body: KafkaBatch = { topic, partition, messages: messages.map(toBatchMessage) };
    try {
      const response = await app.fetch(
        new Request('http://kafka-trigger/', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-request-id': `${topic}-${partition}-${messages[0]?.offset}`,
          },
          body: JSON.stringify(body),
        }),
      );
      if (response.ok) {
        await response.body?.cancel();
        return { kind: 'ok' };
      }
      const reason = await response.text();
      return response.status < 500
        ? { kind: 'rejected', status: response.status, reason }
        : { kind: 'failed', reason: `${response.status} ${reason}` };
    } catch (error) {
      return { kind: 'failed', reason: error instanceof Error ? error.message : String(error) };
    }
  };

  /** Delivers until the answer is not a failure; false when the consumer is stopping instead. */
  const deliverWithRetry = async (
    payload: EachBatchPayload,
    messages: KafkaMessage[],
  ): Promise<Exclude<Outcome, { kind: 'failed' }> | undefined> => {
    let wait = backoff.initial;
    for (;;) {
      const outcome = await deliver(payload.batch.partition, messages);
      if (outcome.kind !== 'failed') return outcome;
      logger.warn(
        {
          topic,
          partition: payload.batch.partition,
          offset: messages[0]?.offset,
          reason: outcome.reason,
          retryInMs: wait,
        },
        'batch failed; retrying',
      );
      await sleep(wait);
      wait = Math.min(wait * 2, backoff.max);
      if (!payload.isRunning() || payload.isStale()) return undefined;
      await payload.heartbeat();
    }
  };

  const deadLetter = async (partition: number, message: KafkaMessage, status: number, reason: string) => {
    await bus.send('deadLetters', [
      {
        key: message.key,
        value: message.value,
        headers: {
          ...message.headers,
          'dlq-topic': topic,
          'dlq-partition': String(partition),
          'dlq-offset': message.offset,
          'dlq-group': groupId,
          'dlq-status': String(status),
          'dlq-reason': reason,
        },
      },
    ]);
    await bus.producer.flush();
    logger.warn(
      { topic, partition, offset: message.offset, status, reason },
      'message sent to the dead-letter topic',
    );
  };

  const fetchIntervalMs = options.fetchIntervalMs ?? 0;
  let fetchedAt = 0;
  consumer.on(consumer.events.FETCH, () => {
    fetchedAt = performance.now();
  });

  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachBatchAutoResolve: false,
    autoCommit: true,
    eachBatch: async (payload) => {
      const { batch, resolveOffset } = payload;
      if (batch.messages.length === 0) return;
      const started = performance.now();
      const outcome = await deliverWithRetry(payload, batch.messages);
      if (!outcome) return;
      if (outcome.kind === 'ok') {
        resolveOffset(batch.lastOffset());
      } else {
        for (const message of batch.messages) {
          const single = batch.messages.length === 1 ? outcome : await deliverWithRetry(payload, [message]);
          if (!single) return;
          if (single.kind === 'rejected')
            await deadLetter(batch.partition, message, single.status, single.reason);
          resolveOffset(message.offset);
        }
      }
      logger.info(
        {
          topic,
          partition: batch.partition,
          firstOffset: batch.firstOffset(),
          lastOffset: batch.lastOffset(),
          size: batch.messages.length,
          ms: +(performance.now() - started).toFixed(2),
        },
        'batch',
      );
      // The other partitions' batches of the same fetch find the interval already over.
      const pause = fetchedAt + fetchIntervalMs - performance.now();
      if (pause > 0 && payload.isRunning()) await sleep(pause);
    },
  });

  return {
    consumer,
    // kafkajs finishes the batch in hand, commits its resolved offsets and leaves the group.
    stop: () => consumer.disconnect(),
  };
}

function toBatchMessage(message: KafkaMessage): KafkaBatchMessage {
  return {
    offset: message.offset,
    key: message.key?.toString('utf8') ?? null,
    value: message.value?.toString('utf8') ?? null,
    timestamp: message.timestamp,
    headers: Object.fromEntries(
      Object.entries(message.headers ?? {}).flatMap(([name, value]) =>
        value === undefined ? [] : [[name, Array.isArray(value) ? value.join(',') : value.toString('utf8')]],
      ),
    ),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
