import { sql } from 'drizzle-orm';
import * as v from 'valibot';
import { events } from '../../lib/booking/db/schema.ts';
import { QueueSettings } from '../../lib/booking/queue/settings.ts';
import { Timestamp } from '../../lib/booking/responses.ts';
import { Id } from '../../lib/platform/validation.ts';

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));

/**
 * An event as the API shows it: the seed's fields plus `free_seats`, the seats not booked in
 * Postgres (a seat held for a request still being decided counts as free here; the seat map and
 * GET /events/seats/:eventId show holds).
 */
export const EventView = v.pipe(
  v.object({
    id: Id,
    name: v.string(),
    date: Timestamp,
    location: v.string(),
    total_seats: Count,
    created_at: Timestamp,
    free_seats: Count,
    /** Booking opens then; null: open. */
    on_sale_at: v.nullable(Timestamp),
    /** The waiting room; null: none. */
    queue: v.nullable(QueueSettings),
  }),
  v.metadata({ ref: 'EventView' }),
);
export type EventView = v.InferOutput<typeof EventView>;

/** The columns an event's view is read with (`eventView` turns the row into the body). */
export const eventColumns = {
  id: events.id,
  name: events.name,
  date: events.date,
  location: events.location,
  total_seats: events.totalSeats,
  created_at: events.createdAt,
  // Spelled out: Drizzle leaves the columns of a one-table select unqualified, and an unqualified
  // "id" in the subquery would be the seat's.
  on_sale_at: events.onSaleAt,
  queue: events.queue,
  free_seats: sql<number>`(select count(*)::int from seats s where s.event_id = "events"."id" and not s.is_booked)`,
};

/** An event as `eventColumns` reads it, its times still dates. */
type EventRow = Omit<EventView, 'date' | 'created_at' | 'on_sale_at'> & {
  date: Date;
  created_at: Date;
  on_sale_at: Date | null;
};

export const eventView = (row: EventRow): EventView => ({
  ...row,
  date: row.date.toISOString(),
  created_at: row.created_at.toISOString(),
  on_sale_at: row.on_sale_at?.toISOString() ?? null,
});
