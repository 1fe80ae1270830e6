/** After a burst at the system: waiting until it has decided everything, and watching its confirmations reach clients. */
import { setTimeout as sleep } from 'node:timers/promises';
import { OUTCOMES_CHANNEL } from '../../lib/booking/outcome-waiter.ts';
import { topicName } from '../../lib/platform/kafka/topics.ts';
import { createRedis } from '../../lib/platform/redis.ts';
import { decidedCount } from '../database.ts';
import { progress, say } from '../progress.ts';
import type { Context } from './stack.ts';

const now = () => performance.timeOrigin + performance.now();

/**
 * Waits until Postgres decided `accepted` requests of the event and both consumer groups caught
 * up (lag 0); false when `timeoutMs` passed first (the invariants are checked anyway).
 */
export async function waitQuiet(
  context: Context,
  eventId: number,
  accepted: number,
  timeoutMs: number,
  label: string,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const startedAt = Date.now();
  for (;;) {
    const decided = await decidedCount(context.services.db.$client, eventId);
    const lag = await consumerLag(context);
    progress(
      `${label}: settling, ${decided}/${accepted} decided, consumer lag ${lag}, ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
    if (decided >= accepted && lag === 0) {
      progress(`${label}: quiet after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`, true);
      return true;
    }
    if (Date.now() > deadline) {
      say(
        `${label}: not quiet after ${timeoutMs} ms (${decided}/${accepted} decided, lag ${lag}); checking anyway`,
      );
      return false;
    }
    await sleep(100);
  }
}

async function consumerLag(context: Context): Promise<number> {
  let lag = 0;
  for (const [topic, group] of [
    ['bookingCommands', 'booking-processor'],
    ['bookingEvents', 'seat-projector'],
  ] as const) {
    const name = topicName(topic, context.prefix);
    const [ends, committed] = await Promise.all([
      context.admin.fetchTopicOffsets(name),
      context.admin.fetchOffsets({ groupId: `${context.prefix}${group}`, topics: [name] }),
    ]);
    const done = new Map(
      (committed[0]?.partitions ?? []).map((partition) => [partition.partition, Number(partition.offset)]),
    );
    for (const end of ends) lag += Math.max(0, Number(end.high) - Math.max(0, done.get(end.partition) ?? 0));
  }
  return lag;
}

/**
 * Records when each confirmation is announced to waiting clients (the projector's outcome
 * message); `stop` returns the epoch ms of each, by request id.
 */
export async function observeConfirmations(
  redisUrl: string,
): Promise<{ stop(): Promise<Map<string, number>> }> {
  const seen = new Map<string, number>();
  const subscriber = createRedis({ REDIS_URL: redisUrl, REDIS_CLUSTER_NODES: [] }, { subscriber: true });
  subscriber.on('message', (_channel: string, message: string) => {
    if (!message.includes('"BookingConfirmed"')) return;
    const requestId = /"requestId":"([^"]+)"/.exec(message)?.[1];
    if (requestId && !seen.has(requestId)) seen.set(requestId, now());
  });
  await subscriber.connect();
  await subscriber.subscribe(OUTCOMES_CHANNEL);
  return {
    stop: async () => {
      subscriber.disconnect();
      return seen;
    },
  };
}
