import { sql } from 'drizzle-orm';
import { events } from '../../lib/booking/db/schema.ts';

/**
 * An event as the API shows it: the seed's fields plus `free_seats`, the seats not booked in
 * Postgres (a seat held for a request still being decided counts as free here; the seat map and
 * GET /events/seats/:eventId show holds).
 */
export const eventColumns = {
  id: events.id,
  name: events.name,
  date: events.date,
  location: events.location,
  total_seats: events.totalSeats,
  created_at: events.createdAt,
  // Spelled out: Drizzle leaves the columns of a one-table select unqualified, and an unqualified
  // "id" in the subquery would be the seat's.
  free_seats: sql<number>`(select count(*)::int from seats s where s.event_id = "events"."id" and not s.is_booked)`,
};
