import * as v from 'valibot';

/** What the Kafka trigger POSTs to a Kafka function's app: one batch of one partition, in order. */
export const KafkaBatchSchema = v.object({
  topic: v.string(),
  partition: v.pipe(v.number(), v.integer()),
  messages: v.pipe(
    v.array(
      v.object({
        offset: v.string(),
        key: v.nullable(v.string()),
        /** The raw payload as UTF-8; the function parses it with its message schemas. */
        value: v.nullable(v.string()),
        timestamp: v.string(),
        headers: v.record(v.string(), v.string()),
      }),
    ),
    v.minLength(1),
  ),
});

export type KafkaBatch = v.InferOutput<typeof KafkaBatchSchema>;
export type KafkaBatchMessage = KafkaBatch['messages'][number];
