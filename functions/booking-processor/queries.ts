import { sql } from 'drizzle-orm';
import type { Database } from '../../lib/booking/db/client.ts';
import type { BookedSeat, BookingCommand } from '../../lib/booking/messages.ts';
import type { BatchContext, BookingRecord, Decision, SeatRecord } from './decide.ts';

/** The transaction handle drizzle passes to `db.transaction`. */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/**
 * Reads, and locks in id order (so two processors never deadlock), every row the new commands
 * touch: the bookings named by cancels, then the requested and the cancelled seats.
 */
export async function loadContext(
  tx: Transaction,
  commands: readonly BookingCommand[],
): Promise<BatchContext> {
  const bookingIds = commands.flatMap((command) =>
    command.type === 'CancelRequested' ? command.bookingIds : [],
  );
  const bookingRows = bookingIds.length
    ? (
        await tx.execute<{
          id: number;
          user_id: number;
          event_id: number;
          seat_id: number;
          seat_number: string;
          status: string;
        }>(sql`
          select b.id, b.user_id, b.event_id, b.seat_id, s.seat_number, b.status
          from bookings b join seats s on s.id = b.seat_id
          where b.id = any(${sql.param(bookingIds)}::int[]) order by b.id for update of b`)
      ).rows
    : [];
  const seatIds = [
    ...new Set([
      ...commands.flatMap((command) => (command.type === 'BookingRequested' ? command.seatIds : [])),
      ...bookingRows.map((row) => row.seat_id),
    ]),
  ];
  const eventIds = [...new Set(commands.map((command) => command.eventId))];
  const userIds = [...new Set(commands.map((command) => command.userId))];
  const [seatRows, eventRows, userRows] = [
    (
      await tx.execute<{
        id: number;
        event_id: number;
        seat_number: string;
        is_booked: boolean;
        booked_by: number | null;
      }>(sql`
        select id, event_id, seat_number, is_booked, booked_by from seats
        where id = any(${sql.param(seatIds)}::int[]) order by id for update`)
    ).rows,
    (
      await tx.execute<{ id: number }>(
        sql`select id from events where id = any(${sql.param(eventIds)}::int[])`,
      )
    ).rows,
    (await tx.execute<{ id: number }>(sql`select id from users where id = any(${sql.param(userIds)}::int[])`))
      .rows,
  ];
  return {
    seats: new Map(
      seatRows.map((row): [number, SeatRecord] => [
        row.id,
        {
          id: row.id,
          eventId: row.event_id,
          seatNumber: row.seat_number,
          // A booked seat whose booker is unknown still counts as taken.
          bookedBy: row.is_booked ? (row.booked_by ?? 0) : null,
        },
      ]),
    ),
    bookings: new Map(
      bookingRows.map((row): [number, BookingRecord] => [
        row.id,
        {
          id: row.id,
          userId: row.user_id,
          eventId: row.event_id,
          seatId: row.seat_id,
          seatNumber: row.seat_number,
          status: row.status as BookingRecord['status'],
        },
      ]),
    ),
    events: new Set(eventRows.map((row) => row.id)),
    users: new Set(userRows.map((row) => row.id)),
  };
}

/**
 * Writes a batch's decisions with a fixed number of set-based statements, whatever the batch
 * size: cancellations first (they precede any re-booking of their seats in the batch), then the
 * new bookings, where each seat row changes only while it is still free, then the decisions.
 * Returns, per confirmed or cancelling request, the seats it changed with their new versions.
 */
export async function applyDecisions(
  tx: Transaction,
  decisions: readonly Decision[],
): Promise<Map<string, BookedSeat[]>> {
  const cancelled = decisions.flatMap((d) => (d.kind === 'cancel' ? d.bookings : []));
  const changed: Map<string, BookedSeat[]> = new Map();
  if (cancelled.length > 0) {
    // Each freed seat takes a new version, which its booking keeps as the cancellation's.
    const { rows } = await tx.execute<{ id: number; seat_id: number; version: number }>(sql`
      with freed as (
        update seats set is_booked = false, booked_by = null, version = version + 1
        where id = any(${sql.param(cancelled.map((b) => b.seatId))}::int[])
        returning id, version)
      update bookings set status = 'CANCELED', cancelled_version = freed.version
      from freed
      where bookings.seat_id = freed.id and bookings.status = 'CONFIRMED'
        and bookings.id = any(${sql.param(cancelled.map((b) => b.id))}::int[])
      returning bookings.id, bookings.seat_id, freed.version`);
    const versions = new Map(rows.map((row) => [row.id, row.version]));
    for (const decision of decisions) {
      if (decision.kind !== 'cancel') continue;
      changed.set(
        decision.command.requestId,
        decision.bookings.map((b) => ({
          bookingId: b.id,
          seatId: b.seatId,
          seatNumber: b.seatNumber,
          version: versions.get(b.id) ?? 0,
        })),
      );
    }
  }
  const confirmed = decisions.flatMap((d) =>
    d.kind === 'confirm' ? d.seats.map((seat) => ({ seat, command: d.command })) : [],
  );
  if (confirmed.length > 0) {
    const seatIds = confirmed.map(({ seat }) => seat.id);
    const userIds = confirmed.map(({ command }) => command.userId);
    const claimed = await tx.execute<{ id: number; version: number }>(sql`
      update seats set is_booked = true, booked_by = claim.user_id, version = seats.version + 1
      from unnest(${sql.param(seatIds)}::int[], ${sql.param(userIds)}::int[]) as claim(seat_id, user_id)
      where seats.id = claim.seat_id and not seats.is_booked
      returning seats.id, seats.version`);
    if (claimed.rowCount !== confirmed.length) {
      // Impossible while the rows are locked; abort rather than confirm a seat twice.
      throw new Error(`seat claim mismatch: ${claimed.rowCount} of ${confirmed.length} seats were free`);
    }
    const versions = new Map(claimed.rows.map((row) => [row.id, row.version]));
    const { rows } = await tx.execute<{
      id: number;
      seat_id: number;
      request_id: string;
      booked_version: number;
    }>(sql`
      insert into bookings (user_id, event_id, seat_id, request_id, booked_version)
      select * from unnest(
        ${sql.param(userIds)}::int[],
        ${sql.param(confirmed.map(({ command }) => command.eventId))}::int[],
        ${sql.param(seatIds)}::int[],
        ${sql.param(confirmed.map(({ command }) => command.requestId))}::uuid[],
        ${sql.param(seatIds.map((id) => versions.get(id)))}::int[])
      returning id, seat_id, request_id, booked_version`);
    const seatNumbers = new Map(confirmed.map(({ seat }) => [seat.id, seat.seatNumber]));
    for (const row of rows) {
      const seats = changed.get(row.request_id) ?? [];
      seats.push({
        bookingId: row.id,
        seatId: row.seat_id,
        seatNumber: seatNumbers.get(row.seat_id) ?? '',
        version: row.booked_version,
      });
      changed.set(row.request_id, seats);
    }
  }

  const requests = decisions.map((d) => ({
    id: d.command.requestId,
    kind: d.command.type === 'BookingRequested' ? 'BOOK' : 'CANCEL',
    user_id: d.command.userId,
    event_id: d.command.eventId,
    seat_ids:
      d.command.type === 'BookingRequested'
        ? d.command.seatIds
        : d.kind === 'cancel'
          ? d.bookings.map((b) => b.seatId)
          : [],
    booking_ids: d.command.type === 'CancelRequested' ? d.command.bookingIds : null,
    status: d.kind === 'confirm' || d.kind === 'cancel' ? 'CONFIRMED' : 'REJECTED',
    reason: 'reason' in d ? d.reason : null,
    offending_ids: 'offendingIds' in d ? d.offendingIds : null,
    requested_at: d.command.requestedAt,
  }));
  // The primary key makes a concurrent or replayed decision of the same request abort this batch.
  await tx.execute(sql`
    insert into booking_requests
      (id, kind, user_id, event_id, seat_ids, booking_ids, status, reason, offending_ids, requested_at)
    select id, kind, user_id, event_id, seat_ids, booking_ids, status, reason, offending_ids, requested_at
    from jsonb_to_recordset(${JSON.stringify(requests)}::jsonb) as r(
      id uuid, kind text, user_id int, event_id int, seat_ids int[], booking_ids int[],
      status text, reason text, offending_ids int[], requested_at timestamptz)`);
  return changed;
}
