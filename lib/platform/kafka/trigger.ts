import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { withDeadline } from '../deadline.ts';
import type { Logger } from '../logger.ts';
import { metrics } from '../metrics.ts';
import type { KafkaBatch, KafkaBatchMessage } from './batch.ts';
import type { KafkaBus } from './client.ts';

/** A crashed consumer's partitions are handed over this quickly (kafkajs' default is 30 s). */
const SESSION_TIMEOUT_MS = 10_000;
const HEARTBEAT_INTERVAL_MS = 1_000;
/**
 * The longest wait between two attempts. Heartbeats go on while waiting, so the wait is not what
 * keeps the member in its group; it bounds how long a dependency that came back goes unused.
 */
const MAX_BACKOFF_MS = SESSION_TIMEOUT_MS / 4;
/** How often a wait or a delivery in flight asks kafkajs to heartbeat; it sends one once due. */
const TICK_MS = HEARTBEAT_INTERVAL_MS / 4;
/** A dependency check slower than this counts as "down": a dependency that does not answer is. */
const HEALTH_CHECK_TIMEOUT_MS = 3_000;

export interface KafkaTriggerOptions {
  bus: KafkaBus;
  /** The consumed topic's full (prefixed) name. */
  topic: string;
  groupId: string;
  /** The function's name, which its metrics are labelled with. */
  functionName: string;
  /** The function's app; only `fetch` is used, as a push subscription would POST to it. */
  app: { fetch(request: Request): Response | Promise<Response> };
  logger: Logger;
  /**
   * Whether the function's own dependencies answer (the runner pings what it `needs`). A failure
   * while one is down is an outage, not a bad message: it is retried without being counted, so an
   * outage never sends a good command to the dead-letter topic (that would lose a booking).
   */
  dependenciesHealthy(): Promise<boolean>;
  /**
   * Failed attempts, counted only while the dependencies are healthy, after which a batch is
   * re-delivered one message at a time, and a single message goes to the dead-letter topic.
   * 10 (about 20 s of failures with the backoff's cap) rather than fewer: a good command that
   * fails while every ping passes (a deadlock, a failover) must get time to go through.
   */
  maxAttempts?: number;
  /** Backoff between attempts; it doubles up to the maximum, itself at most MAX_BACKOFF_MS. */
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
  | { kind: 'failed'; status?: number; reason: string };

/** How delivering some messages ended: handled, or given up on (rejected, or failed too often). */
type Verdict = { kind: 'ok' } | { kind: 'undeliverable'; status?: number; reason: string; attempts: number };

/**
 * Consumes a topic and hands each batch to a function's app as `POST /`. The answer decides the
 * offsets: 2xx commits; 4xx means some message is bad, so the batch is re-delivered one message at
 * a time and each rejected message goes to the dead-letter topic with the reason; anything else
 * is retried with backoff. A batch that fails `maxAttempts` times while the function's
 * dependencies are healthy is re-delivered one message at a time too, and a message that still
 * fails that often goes to the dead-letter topic, so one poison message cannot block its
 * partition; while a dependency is down, failures are retried without end and never counted.
 * Nothing is handed to the app once the consumer is stopping or its group has moved on.
 */
export async function startKafkaTrigger(options: KafkaTriggerOptions): Promise<RunningTrigger> {
  const { bus, topic, groupId, app, logger } = options;
  const labels = { function: options.functionName, topic };
  const maxAttempts = options.maxAttempts ?? 10;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error('maxAttempts must be 1 or more');
  const backoffMax = Math.min(options.retryBackoffMs?.max ?? MAX_BACKOFF_MS, MAX_BACKOFF_MS);
  const backoffInitial = Math.min(options.retryBackoffMs?.initial ?? 200, backoffMax);
  const consumer = bus.kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
    sessionTimeout: SESSION_TIMEOUT_MS,
    heartbeatInterval: HEARTBEAT_INTERVAL_MS,
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
        : { kind: 'failed', status: response.status, reason: `${response.status} ${reason}` };
    } catch (error) {
      return { kind: 'failed', reason: error instanceof Error ? error.message : String(error) };
    }
  };

  const dependenciesHealthy = (): Promise<boolean> =>
    withDeadline(options.dependenciesHealthy(), HEALTH_CHECK_TIMEOUT_MS).catch(() => false);

  /**
   * Delivers until the app answers 2xx or 4xx, or until `maxAttempts` failures while the
   * dependencies are healthy; undefined once a delivery may no longer start.
   */
  const attempt = async (
    own: Ownership,
    partition: number,
    messages: KafkaMessage[],
  ): Promise<Verdict | undefined> => {
    let wait = backoffInitial;
    let attempts = 0;
    for (;;) {
      if (!(await own.mayDeliver())) return undefined;
      const outcome = await own.during(deliver(partition, messages));
      if (outcome.kind === 'ok') return outcome;
      if (outcome.kind === 'rejected') return { ...outcome, kind: 'undeliverable', attempts: attempts + 1 };
      const counted = await own.during(dependenciesHealthy());
      if (counted) attempts++;
      metrics.kafkaRetries.inc(labels);
      const context = { topic, partition, offset: messages[0]?.offset, size: messages.length };
      if (attempts >= maxAttempts) {
        logger.warn({ ...context, reason: outcome.reason, attempts }, 'delivery failed too often; giving up');
        return { ...outcome, kind: 'undeliverable', attempts };
      }
      logger.warn(
        { ...context, reason: outcome.reason, attempts, maxAttempts, retryInMs: wait },
        counted
          ? 'delivery failed; retrying'
          : 'delivery failed while a dependency is down; retrying uncounted',
      );
      if (!(await own.wait(wait))) return undefined;
      wait = Math.min(wait * 2, backoffMax);
    }
  };

  /** Sends the message to the dead-letter topic, retrying; false once it no longer may. */
  const deadLetter = async (
    own: Ownership,
    partition: number,
    message: KafkaMessage,
    verdict: Extract<Verdict, { kind: 'undeliverable' }>,
  ): Promise<boolean> => {
    const { status, reason, attempts } = verdict;
    const send = async () => {
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
            ...(status === undefined ? {} : { 'dlq-status': String(status) }),
            'dlq-reason': reason,
            'dlq-attempts': String(attempts),
          },
        },
      ]);
      await bus.producer.flush();
    };
    let wait = backoffInitial;
    for (;;) {
      if (!own.mayResolve()) return false;
      try {
        await own.during(send());
        metrics.kafkaDeadLetters.inc(labels);
        logger.warn(
          { topic, partition, offset: message.offset, status, reason, attempts },
          'message sent to the dead-letter topic',
        );
        return true;
      } catch (error) {
        logger.error(
          { topic, partition, offset: message.offset, error: (error as Error).message, retryInMs: wait },
          'could not send to the dead-letter topic; retrying',
        );
        if (!(await own.wait(wait))) return false;
        wait = Math.min(wait * 2, backoffMax);
      }
    }
  };

  /** Resolves a handled offset while the partition is still this member's; false otherwise. */
  const resolve = (payload: EachBatchPayload, own: Ownership, offset: string): boolean => {
    if (!own.mayResolve()) return false;
    payload.resolveOffset(offset);
    return true;
  };

  /** Hands the batch to the app; false when it stopped early (the next fetch re-delivers the rest). */
  const handle = async (payload: EachBatchPayload, own: Ownership): Promise<boolean> => {
    const { batch } = payload;
    if (batch.messages.length > 1) {
      const verdict = await attempt(own, batch.partition, batch.messages);
      if (!verdict) return false;
      if (verdict.kind === 'ok') return resolve(payload, own, batch.lastOffset());
      logger.info(
        { topic, partition: batch.partition, firstOffset: batch.firstOffset(), size: batch.messages.length },
        'batch not handled; re-delivering it one message at a time',
      );
    }
    for (const message of batch.messages) {
      const verdict = await attempt(own, batch.partition, [message]);
      if (!verdict) return false;
      if (verdict.kind === 'undeliverable' && !(await deadLetter(own, batch.partition, message, verdict)))
        return false;
      if (!resolve(payload, own, message.offset)) return false;
    }
    return true;
  };

  // A partition handed to another member is no longer measured here: its series go.
  const measured = new Set<number>();
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const assigned = new Set(payload.memberAssignment[topic] ?? []);
    for (const partition of measured) {
      if (assigned.has(partition)) continue;
      metrics.kafkaLag.remove({ ...labels, partition });
      metrics.kafkaDelay.remove({ ...labels, partition });
      measured.delete(partition);
    }
  });

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
      const { batch } = payload;
      if (batch.messages.length === 0) return;
      const started = performance.now();
      const own = new Ownership(payload);
      const handled = await handle(payload, own);
      if (own.lost !== undefined) {
        logger.warn(
          { topic, partition: batch.partition, error: (own.lost as Error).message },
          'heartbeat failed; the batch stops here and the consumer rejoins its group',
        );
        // kafkajs commits what was resolved, then rejoins (or restarts the consumer).
        throw own.lost;
      }
      if (!handled) return;
      const ms = performance.now() - started;
      metrics.kafkaBatchMessages.observe(labels, batch.messages.length);
      metrics.kafkaBatchDuration.observe(labels, ms / 1000);
      const partitionLabels = { ...labels, partition: batch.partition };
      metrics.kafkaLag.set(partitionLabels, Number(batch.offsetLag()));
      const firstTimestamp = Number(batch.messages[0]?.timestamp);
      metrics.kafkaDelay.set(partitionLabels, Math.max(0, Date.now() - firstTimestamp) / 1000);
      measured.add(batch.partition);
      logger.info(
        {
          topic,
          partition: batch.partition,
          firstOffset: batch.firstOffset(),
          lastOffset: batch.lastOffset(),
          size: batch.messages.length,
          ms: +ms.toFixed(2),
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

/**
 * What one eachBatch call knows of its hold on the partition. kafkajs heartbeats only when asked,
 * so every wait and every delivery in flight asks each tick (a slow app or a long outage would
 * otherwise outlive the session and start a rebalance). Once a heartbeat fails (the group is
 * rebalancing or dropped this member, or the coordinator cannot be reached), no message is handed
 * out any more; eachBatch then rethrows the failure so kafkajs rejoins.
 */
class Ownership {
  /** The latest heartbeat failure, if any: a rebalance in progress may end with this member dropped. */
  lost: unknown;

  constructor(private readonly payload: EachBatchPayload) {}

  /** A delivery may start: not stopping, not seeked away, and the coordinator still has this member. */
  async mayDeliver(): Promise<boolean> {
    if (this.lost !== undefined || !this.payload.isRunning() || this.payload.isStale()) return false;
    await this.heartbeat();
    return this.lost === undefined;
  }

  /**
   * A handled message may be resolved (or dead-lettered): nothing seeked, and no heartbeat failed,
   * except with REBALANCE_IN_PROGRESS: the group then waits for this member to finish and rejoin,
   * so the partition is still its own. Stopping is no reason not to: the member commits, then leaves.
   */
  mayResolve(): boolean {
    if (this.payload.isStale()) return false;
    return this.lost === undefined || (this.lost as { type?: string }).type === 'REBALANCE_IN_PROGRESS';
  }

  /** Awaits `work` while heartbeating, and heartbeats once more when it is done. */
  async during<T>(work: Promise<T>): Promise<T> {
    const timer = setInterval(() => void this.heartbeat(), TICK_MS);
    try {
      return await work;
    } finally {
      clearInterval(timer);
      await this.heartbeat();
    }
  }

  /** Waits `ms` while heartbeating; false as soon as a delivery may no longer start. */
  async wait(ms: number): Promise<boolean> {
    const until = performance.now() + ms;
    for (;;) {
      if (!(await this.mayDeliver())) return false;
      const left = until - performance.now();
      if (left <= 0) return true;
      await sleep(Math.min(left, TICK_MS));
    }
  }

  // Heartbeats go on after a failure: during a rebalance they keep this member in the group
  // until its delivery in flight is answered and it rejoins.
  private async heartbeat(): Promise<void> {
    try {
      await this.payload.heartbeat();
    } catch (error) {
      this.lost = error;
    }
  }
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
