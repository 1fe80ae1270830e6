import type { Logger } from '../logger.ts';
import type { KafkaBus } from './client.ts';
import type { TopicKey } from './topics.ts';

/** A partition's end offset, and the last time it was seen there. */
interface Sighting {
  end: number;
  lastSeen: number;
}

/**
 * How long the oldest message of a topic has waited for a consumer group, measured in the
 * background from the group's committed offsets and the topic's end offsets (two admin requests
 * per interval, none on the request path). A partition's oldest waiting message is the one at its
 * committed offset; it was written after the last time the end offset was seen at or below it,
 * so its age is known to within one interval.
 */
export class Backlog {
  private readonly sightings = new Map<number, Sighting[]>();
  private oldestMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private measuring = false;

  constructor(
    private readonly bus: KafkaBus,
    private readonly topic: TopicKey,
    private readonly groupId: string,
    private readonly logger: Logger,
    private readonly intervalMs = 1_000,
    /** Sightings older than this are dropped: the answer saturates there. */
    private readonly horizonMs = 600_000,
  ) {}

  /** The age of the oldest message the group has not committed yet, as last measured (0: none). */
  oldestWaitingMs(): number {
    this.timer ??= setInterval(() => void this.measure(), this.intervalMs).unref();
    return this.oldestMs;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async measure(now = Date.now()): Promise<void> {
    if (this.measuring) return;
    this.measuring = true;
    try {
      const partitions = await this.bus.offsets(this.topic, this.groupId);
      let oldest = 0;
      for (const { partition, committed, end } of partitions) {
        const seen = (this.sightings.get(partition) ?? []).filter((s) => s.lastSeen >= now - this.horizonMs);
        const last = seen.at(-1);
        if (last?.end === end) last.lastSeen = now;
        else seen.push({ end, lastSeen: now });
        this.sightings.set(partition, seen);
        if (committed >= end) continue;
        // The waiting message came after the end offset was last seen short of it.
        const before = seen.findLast((sighting) => sighting.end <= committed);
        oldest = Math.max(oldest, now - (before?.lastSeen ?? seen[0]?.lastSeen ?? now));
      }
      this.oldestMs = oldest;
    } catch (error) {
      // Unknown is not "late": the send itself will tell if Kafka is gone.
      this.logger.debug({ err: error }, 'could not measure the backlog');
      this.oldestMs = 0;
    } finally {
      this.measuring = false;
    }
  }
}
