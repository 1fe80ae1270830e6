import type {
  BookingCommand,
  BookingRequested,
  CancelRequested,
  RejectionReason,
} from '../../lib/booking/messages.ts';

export interface SeatRecord {
  id: number;
  eventId: number;
  seatNumber: string;
  /** Who holds the seat's CONFIRMED booking; null while it is free. */
  bookedBy: number | null;
}

export interface BookingRecord {
  id: number;
  userId: number;
  eventId: number;
  seatId: number;
  seatNumber: string;
  status: 'CONFIRMED' | 'CANCELED';
}

/** What Postgres holds for the seats, bookings, events and users a batch touches (rows locked). */
export interface BatchContext {
  seats: Map<number, SeatRecord>;
  bookings: Map<number, BookingRecord>;
  events: Set<number>;
  users: Set<number>;
}

export type Decision =
  | { kind: 'confirm'; command: BookingRequested; seats: SeatRecord[] }
  | { kind: 'reject'; command: BookingRequested; reason: RejectionReason; offendingIds: number[] }
  | { kind: 'cancel'; command: CancelRequested; bookings: BookingRecord[] }
  | { kind: 'cancel-reject'; command: CancelRequested; reason: 'ALREADY_CANCELLED'; offendingIds: number[] };

/**
 * Decides each command in partition order, as if applied one by one: a request is confirmed
 * whole only if every seat is still free after the commands before it; a cancel frees seats
 * for the requests after it. Pure, so the rules are tested without a database.
 */
export function decide(commands: readonly BookingCommand[], context: BatchContext): Decision[] {
  const owner = new Map([...context.seats].map(([id, seat]) => [id, seat.bookedBy]));
  const bookingStatus = new Map([...context.bookings].map(([id, booking]) => [id, booking.status]));

  return commands.map((command): Decision => {
    if (command.type === 'CancelRequested') {
      const cancellable = command.bookingIds
        .map((id) => context.bookings.get(id))
        .filter(
          (booking): booking is BookingRecord =>
            booking !== undefined &&
            bookingStatus.get(booking.id) === 'CONFIRMED' &&
            booking.userId === command.userId &&
            booking.eventId === command.eventId,
        );
      if (cancellable.length === 0) {
        return {
          kind: 'cancel-reject',
          command,
          reason: 'ALREADY_CANCELLED',
          offendingIds: command.bookingIds,
        };
      }
      for (const booking of cancellable) {
        bookingStatus.set(booking.id, 'CANCELED');
        owner.set(booking.seatId, null);
      }
      return { kind: 'cancel', command, bookings: cancellable };
    }

    const reject = (reason: RejectionReason, offendingIds: number[]): Decision => ({
      kind: 'reject',
      command,
      reason,
      offendingIds,
    });
    if (!context.events.has(command.eventId)) return reject('UNKNOWN_EVENT', []);
    if (!context.users.has(command.userId)) return reject('UNKNOWN_USER', []);
    const unknown = command.seatIds.filter((id) => context.seats.get(id)?.eventId !== command.eventId);
    if (unknown.length > 0) return reject('UNKNOWN_SEATS', unknown);
    const taken = command.seatIds.filter((id) => owner.get(id) != null);
    if (taken.length > 0) return reject('SEATS_TAKEN', taken);
    for (const id of command.seatIds) owner.set(id, command.userId);
    return {
      kind: 'confirm',
      command,
      seats: command.seatIds.map((id) => context.seats.get(id) as SeatRecord),
    };
  });
}
