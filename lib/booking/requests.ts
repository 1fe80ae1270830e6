/**
 * Making an uncertain request certain. When `book` or `cancel` cannot tell whether Kafka took a
 * command (a timeout, a connection lost after the broker may have written it), or a retry with
 * the same Idempotency-Key finds an earlier attempt that never answered, the request is settled
 * in Postgres: either the processor already decided it (that is its real outcome), or it is
 * recorded as WITHDRAWN in `booking_requests` first, so that the command, if it ever arrives, finds
 * its request decided and changes nothing. Only then may the client hear "nothing changed".
 * The primary key of `booking_requests` orders a withdrawal against the processor's decision.
 */
import { sql } from 'drizzle-orm';
import type { Database } from './db/client.ts';
import { decidedOutcome, findDecided, seatsOfRequest } from './decided.ts';
import type { BookingEvent } from './messages.ts';

export interface UncertainRequest {
  requestId: string;
  kind: 'BOOK' | 'CANCEL';
  userId: number;
  eventId: number;
  /** The seats a booking asked for (empty for a cancel). */
  seatIds: readonly number[];
}

export type Settled = { kind: 'withdrawn' } | { kind: 'decided'; outcome: BookingEvent };

export async function settleRequest(db: Database, request: UncertainRequest): Promise<Settled> {
  const withdrawn = await db.execute(sql`
    insert into booking_requests (id, kind, user_id, event_id, seat_ids, status, reason, requested_at)
    values (${request.requestId}, ${request.kind}, ${request.userId}, ${request.eventId},
      ${sql.param([...request.seatIds])}::int[], 'REJECTED', 'WITHDRAWN', now())
    on conflict (id) do nothing`);
  if (withdrawn.rowCount === 1) return { kind: 'withdrawn' };

  const decided = (await findDecided(db, [request.requestId])).get(request.requestId);
  if (!decided || decided.reason === 'WITHDRAWN') return { kind: 'withdrawn' };
  // The event the processor announced for it, rebuilt from Postgres.
  return { kind: 'decided', outcome: decidedOutcome(decided, await seatsOfRequest(db, decided)) };
}
