/**
 * Every topic the functions use, with the partition count the project creates it with.
 * Commands and events are keyed by event id, so one event's traffic stays in order on one partition.
 */
export const TOPICS = {
  bookingCommands: { name: 'booking-commands', partitions: 4 },
  bookingEvents: { name: 'booking-events', partitions: 4 },
  deadLetters: { name: 'dead-letters', partitions: 1 },
} as const;

export type TopicKey = keyof typeof TOPICS;

export function topicName(key: TopicKey, prefix: string): string {
  return `${prefix}${TOPICS[key].name}`;
}
