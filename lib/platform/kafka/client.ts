import { type Admin, Kafka, logLevel, type Message, Partitioners, type Producer } from 'kafkajs';
import { errorCodes } from 'kafkajs/src/protocol/error.js';
import type { Config } from '../config.ts';
import { DependencyError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { traceHeaders, tracing } from '../tracing.ts';
import { TOPICS, type TopicKey, topicName } from './topics.ts';

export type { Message };

const PINO_LEVEL = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
  [logLevel.NOTHING]: 'silent',
} as const;

/**
 * What kafkajs logs at ERROR though it retries it: a retriable protocol error, such as "The group
 * coordinator is not available" while a broker that just started settles. It is worth a warning;
 * if the retries run out, the failure that follows is the error.
 */
const RETRIED_ERRORS = new Set(errorCodes.filter((error) => error.retriable).map((error) => error.message));

export function createKafka(
  config: Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_CLIENT_ID'>,
  logger: Logger,
): Kafka {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: config.KAFKA_CLIENT_ID,
    brokers: config.KAFKA_BROKERS,
    connectionTimeout: 3_000,
    // Few, quick retries: a broker that is down should surface as a 503 or a clear start-up line.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...extra } = log;
        const retried = level === logLevel.ERROR && RETRIED_ERRORS.has(String(extra.error));
        kafkaLogger[PINO_LEVEL[retried ? logLevel.WARN : level]](extra, message);
      },
  });
}

/**
 * kafkajs sends every `send()` as its own request (it has no linger.ms), so concurrent callers
 * are gathered here for `lingerMs` and sent as one `sendBatch`; each caller's promise settles
 * with the request that carried its messages.
 */
export class BatchingProducer {
  private pending: { topic: string; messages: Message[]; settle: (error?: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;

  constructor(
    readonly producer: Producer,
    private readonly lingerMs: number,
  ) {}

  connect(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  send(topic: string, messages: Message[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ topic, messages, settle: (error) => (error ? reject(error) : resolve()) });
      this.timer ??= setTimeout(() => void this.flush(), this.lingerMs);
    });
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    for (const { topic, messages } of batch) {
      const gathered = byTopic.get(topic);
      if (gathered) gathered.push(...messages);
      else byTopic.set(topic, [...messages]);
    }
    try {
      await this.connect();
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      for (const entry of batch) entry.settle();
    } catch (error) {
      for (const entry of batch) entry.settle(error ?? new Error('kafka send failed'));
    }
  }

  async disconnect(): Promise<void> {
    await this.flush();
    await this.producer.disconnect();
    this.connecting = undefined;
  }
}

/** The Kafka side of the services: the client, the prefixed topic names and one shared producer. */
export class KafkaBus {
  readonly producer: BatchingProducer;
  private admin: Admin | undefined;

  constructor(
    readonly kafka: Kafka,
    private readonly config: Pick<Config, 'KAFKA_BROKERS' | 'KAFKA_PREFIX' | 'KAFKA_LINGER_MS'>,
  ) {
    // The default partitioner is the Java client's murmur2: a key lands where any other client puts it.
    this.producer = new BatchingProducer(
      kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner }),
      config.KAFKA_LINGER_MS,
    );
  }

  get prefix(): string {
    return this.config.KAFKA_PREFIX;
  }

  topic(key: TopicKey): string {
    return topicName(key, this.prefix);
  }

  groupId(functionName: string): string {
    return `${this.prefix}${functionName}`;
  }

  /**
   * Sends the messages; with tracing on, each carries the sender's trace context in its headers
   * (`traceparent`), unless it already carries its own (a processor's outcome, per command).
   */
  send(key: TopicKey, messages: Message[]): Promise<void> {
    const traced = tracing.on
      ? messages.map((message) =>
          message.headers?.traceparent
            ? message
            : { ...message, headers: { ...message.headers, ...traceHeaders() } },
        )
      : messages;
    return this.producer.send(this.topic(key), traced);
  }

  /** Creates the project's topics that do not exist yet (auto-creation is off on our brokers). */
  async ensureTopics(): Promise<void> {
    const admin = await this.connectedAdmin();
    const existing = new Set(await admin.listTopics());
    const missing = (Object.keys(TOPICS) as TopicKey[]).filter((key) => !existing.has(this.topic(key)));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((key) => ({
        topic: this.topic(key),
        numPartitions: TOPICS[key].partitions,
        replicationFactor: 1,
      })),
    });
  }

  /** Per partition of a topic: the group's committed offset (its start if none) and the end. */
  async offsets(
    key: TopicKey,
    groupId: string,
  ): Promise<{ partition: number; committed: number; end: number }[]> {
    const admin = await this.connectedAdmin();
    const topic = this.topic(key);
    const [ends, [group]] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const committed = new Map(group?.partitions.map((p) => [p.partition, Number(p.offset)]));
    return ends.map(({ partition, high, low }) => {
      const offset = committed.get(partition) ?? -1;
      return { partition, committed: offset < 0 ? Number(low) : offset, end: Number(high) };
    });
  }

  /** Fails with one line naming KAFKA_BROKERS and how to start the local broker. */
  async ping(): Promise<void> {
    try {
      const admin = await this.connectedAdmin();
      await admin.describeCluster();
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new DependencyError(
        'kafka',
        `kafka: cannot reach KAFKA_BROKERS (${this.config.KAFKA_BROKERS.join(',')}): ${reason}; start it with: npm run stack:up`,
        { cause },
      );
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
    await this.admin?.disconnect();
    this.admin = undefined;
  }

  private async connectedAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }
}
