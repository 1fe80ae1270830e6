/**
 * Warms the Kafka broker before the first round. A broker in service has run for days; one
 * started minutes before the bench is still compiling its produce, fetch and commit paths (C2)
 * while the system is measured, on the cores the functions need: at 2,000 requests/s offered it
 * cost 167 µs of broker CPU a request, against 59–91 after this warm-up. The obvious design has
 * no broker, so a cold one only ever counted against the system.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { TOPICS } from '../lib/platform/kafka/topics.ts';

/** Produce requests in flight at once, like the functions' producers under load. */
const SENDERS = 8;
const MESSAGE = 'x'.repeat(300); // about a booking command's size

/**
 * Sends `produceRequests` produce requests of two messages each (acks=all, as the functions send)
 * to a topic of its own under `prefix`, consumes them in a consumer group that commits after
 * every batch (as the functions' triggers do), then deletes the topic and the group. Returns the
 * milliseconds it took.
 */
export async function warmBroker(
  kafka: Kafka,
  prefix: string,
  produceRequests: number,
  timeoutMs = 120_000,
): Promise<number> {
  const started = performance.now();
  const topic = `${prefix}broker-warm-up`;
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const consumer = kafka.consumer({ groupId: topic, maxWaitTimeInMs: 100 });
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      // As many partitions as the commands' topic, whose traffic it stands for.
      topics: [{ topic, numPartitions: TOPICS.bookingCommands.partitions, replicationFactor: 1 }],
    });
    await Promise.all([producer.connect(), consumer.connect()]);
    await consumer.subscribe({ topic, fromBeginning: true });
    let consumed = 0;
    await consumer.run({
      eachBatch: async ({ batch }) => {
        consumed += batch.messages.length;
      },
    });
    let sent = 0;
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        while (sent < produceRequests) {
          const n = sent++;
          await producer.send({
            topic,
            acks: -1,
            messages: [
              { key: String(n % 97), value: MESSAGE },
              { key: String(n % 89), value: MESSAGE },
            ],
          });
        }
      }),
    );
    const deadline = performance.now() + timeoutMs;
    while (consumed < 2 * produceRequests) {
      if (performance.now() > deadline)
        throw new Error(`broker warm-up: ${consumed} of ${2 * produceRequests} messages consumed in time`);
      await sleep(20);
    }
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.deleteGroups([topic]).catch(() => {});
    await admin.disconnect();
  }
  return performance.now() - started;
}
