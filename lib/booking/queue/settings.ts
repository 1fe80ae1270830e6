import * as v from 'valibot';

const Whole = (min: number, max: number) =>
  v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max, `must be at most ${max}`));

/**
 * An event's waiting room, in Cloudflare Waiting Room's vocabulary. Stored as given (the events
 * row's `queue` column) and shown as given. Omitted fields take the defaults below.
 */
export const QueueSettings = v.pipe(
  v.strictObject({
    /** Off keeps the settings but lets buyers book without a place in line. */
    enabled: v.optional(v.boolean(), true),
    /** New buyers let in per minute, spread evenly over the admission function's ticks. */
    admit_per_minute: v.optional(Whole(1, 1_000_000), 600),
    /** Buyers in their session at once, at most. */
    max_active: v.optional(Whole(1, 1_000_000), 1_000),
    /** How long an admitted buyer may book before the place goes to the next. */
    session_minutes: v.optional(Whole(1, 240), 10),
    /** How long before on-sale the line opens; who joins then is shuffled at on-sale. */
    prequeue_minutes: v.optional(Whole(0, 10_080), 15),
  }),
  v.metadata({ ref: 'QueueSettings' }),
);
export type QueueSettings = v.InferOutput<typeof QueueSettings>;

/** When an event's line opens for joining: the pre-queue's start, or at once without on-sale time. */
export function lineOpensAt(onSaleAt: Date | null, settings: QueueSettings): Date | null {
  return onSaleAt && new Date(onSaleAt.getTime() - settings.prequeue_minutes * 60_000);
}

/**
 * Buyers let through per minute once the line runs steadily: admit_per_minute, unless max_active
 * sessions of session_minutes each turn over more slowly. What a wait is estimated from.
 */
export function steadyAdmitsPerMinute(settings: QueueSettings): number {
  return Math.min(settings.admit_per_minute, settings.max_active / settings.session_minutes);
}

/** An event's on-sale time, as a body gives it. */
export const OnSaleAt = v.pipe(
  v.string(),
  v.isoTimestamp('must be a date and time with its zone, e.g. 2030-01-01T20:00:00Z'),
);
