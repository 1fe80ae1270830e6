import { eq } from 'drizzle-orm';
import type { Database } from '../../lib/booking/db/client.ts';
import { seats } from '../../lib/booking/db/schema.ts';
import type { SeatTruth } from '../../lib/booking/seats/scripts.ts';

/** Every seat of an event as Postgres has it, read in one statement (one consistent snapshot). */
export async function seatTruths(db: Database, eventId: number): Promise<SeatTruth[]> {
  const rows = await db
    .select({ id: seats.id, isBooked: seats.isBooked, bookedBy: seats.bookedBy, version: seats.version })
    .from(seats)
    .where(eq(seats.eventId, eventId));
  return rows.map((row) => ({
    seatId: row.id,
    // A booked seat whose booker is unknown still counts as taken, as the cache's own loader has it.
    bookedBy: row.isBooked ? (row.bookedBy ?? 0) : null,
    version: row.version,
  }));
}
