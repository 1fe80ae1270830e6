/**
 * A buyer's place in an event's waiting room, and how the API shows it. The line lives in
 * Postgres (queue_lines, queue_tickets): a place is a promise, kept like a booking, and Redis here
 * keeps nothing on disk. Positions are handed out under the line's row lock, so they are unique
 * and contiguous; the pre-queue's tickets get theirs (1..prequeued) when the admission function
 * shuffles them at on-sale, and a ticket at or before `admitted_through` has been let in.
 */
import { randomUUID } from 'node:crypto';
import DataLoader from 'dataloader';
import { and, eq, sql } from 'drizzle-orm';
import * as v from 'valibot';
import { Id } from '../../platform/validation.ts';
import type { Database } from '../db/client.ts';
import { type QueueLineRow, type QueueTicketRow, queueLines, queueTickets } from '../db/schema.ts';
import { Timestamp } from '../responses.ts';
import { type QueueSettings, steadyAdmitsPerMinute } from './settings.ts';

export const TICKET_STATUSES = ['prequeue', 'waiting', 'admitted', 'sold_out', 'expired'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** A ticket as POST /events/:id/queue, GET .../queue/:ticket and its stream show it. */
export const QueueTicketBody = v.pipe(
  v.object({
    ticket_id: v.pipe(v.string(), v.uuid()),
    event_id: Id,
    /**
     * `prequeue`: joined before on-sale, placed by lot at on-sale; `waiting`: in line;
     * `admitted`: may book with `admission_token` until `session_expires_at`; `sold_out`: no
     * seat is left (a place is kept in case seats come back); `expired`: the session is over.
     */
    status: v.picklist(TICKET_STATUSES),
    /** Buyers ahead, plus one; null outside the line (pre-queue, admitted, expired). */
    position: v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1))),
    /** Seconds until admission at the line's steady pace; null with no position. */
    estimated_wait_s: v.nullable(v.pipe(v.number(), v.integer(), v.minValue(0))),
    /** While in the pre-queue: when places are drawn and admission starts. */
    opens_at: v.nullable(Timestamp),
    admission_token: v.optional(v.string()),
    session_expires_at: v.optional(Timestamp),
    /** Server-Sent Events of this ticket's changes (GET, with the same bearer token). */
    stream_url: v.string(),
  }),
  v.metadata({ ref: 'QueueTicket' }),
);
export type QueueTicketBody = v.InferOutput<typeof QueueTicketBody>;

/** What a ticket's status depends on besides the ticket: its line's progress and settings. */
export interface LineState {
  admittedThrough: number;
  soldOut: boolean;
  onSaleAt: Date | null;
  settings: QueueSettings;
}

export function ticketStatus(ticket: QueueTicketRow, line: LineState, now = Date.now()): TicketStatus {
  if (ticket.admittedAt) {
    const over = ticket.endedAt !== null || (ticket.sessionExpiresAt?.getTime() ?? 0) <= now;
    return over ? 'expired' : 'admitted';
  }
  if (ticket.position === null) return 'prequeue';
  return line.soldOut ? 'sold_out' : 'waiting';
}

export function ticketBody(ticket: QueueTicketRow, line: LineState, now = Date.now()): QueueTicketBody {
  const status = ticketStatus(ticket, line, now);
  const position =
    status === 'waiting' && ticket.position !== null ? ticket.position - line.admittedThrough : null;
  return {
    ticket_id: ticket.id,
    event_id: ticket.eventId,
    status,
    position,
    estimated_wait_s:
      position === null ? null : Math.ceil((position * 60) / steadyAdmitsPerMinute(line.settings)),
    opens_at: status === 'prequeue' ? (line.onSaleAt?.toISOString() ?? null) : null,
    ...(status === 'admitted' && ticket.admissionToken && ticket.sessionExpiresAt
      ? { admission_token: ticket.admissionToken, session_expires_at: ticket.sessionExpiresAt.toISOString() }
      : {}),
    stream_url: `/events/${ticket.eventId}/queue/${ticket.id}/stream`,
  };
}

export const streamUrl = (eventId: number, ticketId: string) => `/events/${eventId}/queue/${ticketId}/stream`;

/** What of its line a ticket's status needs. */
export type LineProgress = Pick<QueueLineRow, 'admittedThrough' | 'soldOut'>;

/** A ticket as joining gives it: the buyer's, made now (`created`) or before. */
export interface Joined {
  ticket: QueueTicketRow;
  line: LineProgress;
  created: boolean;
}

/**
 * The user's ticket for the event, made if there is none. Joins are gathered per event in each
 * process: while one batch holds the line's row lock (until its commit), the joins that arrive
 * wait and go in the next batch, one statement and one commit for all of them. A commit is what a
 * join costs under the lock, so batches keep an on-sale's burst of joins from queueing behind it
 * one by one.
 */
export function joinLine(db: Database, eventId: number, userId: number): Promise<Joined> {
  let byEvent = joinBatchers.get(db);
  if (!byEvent) {
    byEvent = new Map();
    joinBatchers.set(db, byEvent);
  }
  let batcher = byEvent.get(eventId);
  if (!batcher) {
    batcher = joinBatcher(db, eventId);
    byEvent.set(eventId, batcher);
  }
  return batcher.load(userId);
}

/** At most this many joins go in one statement. */
const MAX_JOIN_BATCH = 1_000;

const joinBatchers = new WeakMap<Database, Map<number, DataLoader<number, Joined>>>();

function joinBatcher(db: Database, eventId: number): DataLoader<number, Joined> {
  let running: Promise<unknown> = Promise.resolve();
  return new DataLoader<number, Joined>(
    async (userIds) => {
      const batch = joinBatch(db, eventId, userIds);
      running = batch.catch(() => {});
      return batch;
    },
    {
      // Each join gets its own answer (a user joining twice at once is one key of the batch).
      cache: false,
      maxBatchSize: MAX_JOIN_BATCH,
      // The next batch starts once the one before has committed.
      batchScheduleFn: (dispatch) => {
        void running.then(() => setImmediate(dispatch));
      },
    },
  );
}

/**
 * One statement: tickets for those of `userIds` who have none, at the next positions in the
 * order asked (or pre-queued, while the line is before on-sale and all its tickets are), and the
 * tickets of the others as they were. The line's on-sale time is read in the statement: `now()`
 * is the statement's start, so a batch that began before on-sale but reaches the lock after the
 * shuffle (or after a ticket placed after on-sale) is placed, not pre-queued.
 */
async function joinBatch(db: Database, eventId: number, userIds: readonly number[]): Promise<Joined[]> {
  const ticketIds = userIds.map(() => randomUUID());
  for (let attempt = 1; ; attempt++) {
    try {
      const { rows } = await db.execute<{
        id: string;
        user_id: number;
        position: number | null;
        joined_at: string | Date;
        admitted_through: number;
        sold_out: boolean;
      }>(sql`
        with asked as (
          select * from unnest(${sql.param(ticketIds)}::uuid[], ${sql.param(userIds)}::int[])
            with ordinality as asked(id, user_id, ord)
        ), fresh as (
          select asked.* from asked where not exists (
            select 1 from queue_tickets t where t.event_id = ${eventId} and t.user_id = asked.user_id)
        ), sale as (
          select on_sale_at > now() as before_sale from events where id = ${eventId}
        ), line as (
          insert into queue_lines as l (event_id, joined, prequeued)
          select ${eventId}, count(*), case when (select before_sale from sale) then count(*) else 0 end from fresh
          on conflict (event_id) do update set
            joined = l.joined + excluded.joined,
            prequeued = l.prequeued + case
              when l.shuffled_at is null and l.joined = l.prequeued and (select before_sale from sale)
              then excluded.joined else 0 end
          returning joined, prequeued, admitted_through, sold_out
        ), placed as (
          insert into queue_tickets (id, event_id, user_id, position, prequeue)
          select fresh.id, ${eventId}, fresh.user_id,
            case when line.joined = line.prequeued then null
              else line.joined - (select count(*) from fresh) + row_number() over (order by fresh.ord) end,
            line.joined = line.prequeued
          from fresh, line
          returning id, user_id, position, joined_at
        )
        select placed.*, line.admitted_through, line.sold_out from placed, line`);
      const line = (row: { admitted_through: number; sold_out: boolean }): LineProgress => ({
        admittedThrough: row.admitted_through,
        soldOut: row.sold_out,
      });
      const made = new Map(rows.map((row) => [row.user_id, row]));
      return await Promise.all(
        userIds.map(async (userId): Promise<Joined> => {
          const row = made.get(userId);
          if (!row) {
            const earlier = await findUserTicket(db, eventId, userId);
            if (!earlier) throw new Error('a user not placed has no ticket');
            return { ...earlier, created: false };
          }
          const ticket: QueueTicketRow = {
            id: row.id,
            eventId,
            userId,
            position: row.position,
            prequeue: row.position === null,
            joinedAt: new Date(row.joined_at),
            admissionToken: null,
            admittedAt: null,
            sessionExpiresAt: null,
            endedAt: null,
          };
          return { ticket, line: line(row), created: true };
        }),
      );
    } catch (error) {
      // A user of the batch joined through another process meanwhile: again, finding that ticket.
      if (!isUniqueViolation(error, 'queue_tickets_event_user_key') || attempt === 3) throw error;
    }
  }
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const cause = (error as { cause?: { code?: string; constraint?: string } }).cause ?? error;
  const pgError = cause as { code?: string; constraint?: string };
  return pgError.code === '23505' && pgError.constraint === constraint;
}

const ticketWithLine = (db: Database) =>
  db
    .select({ ticket: queueTickets, line: queueLines })
    .from(queueTickets)
    .innerJoin(queueLines, eq(queueLines.eventId, queueTickets.eventId));

async function findUserTicket(db: Database, eventId: number, userId: number) {
  const [found] = await ticketWithLine(db).where(
    and(eq(queueTickets.eventId, eventId), eq(queueTickets.userId, userId)),
  );
  return found;
}

/** The ticket and its line, or undefined if the event has no such ticket. */
export async function findTicket(db: Database, eventId: number, ticketId: string) {
  const [found] = await ticketWithLine(db).where(
    and(eq(queueTickets.eventId, eventId), eq(queueTickets.id, ticketId)),
  );
  return found;
}
