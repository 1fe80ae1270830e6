/**
 * The Kafka messages: the contract between functions, on `booking-commands` (what is asked) and
 * `booking-events` (what was decided; "events" in the event-sourcing sense, not concerts). Every producer builds its messages
 * with `encodeMessage` and every consumer parses them with these schemas; a message that does not
 * parse is rejected (4xx) and ends up in the dead-letter topic.
 */
import * as v from 'valibot';
import { ApiError } from '../platform/errors.ts';
import { Id } from '../platform/validation.ts';

/**
 * What `book` enforces, enforced again here: a command from any other producer that would not
 * pass `book` (a repeated seat, an id past Postgres' integer) is a dead letter, not a wedge.
 */
const SeatIds = v.pipe(
  v.array(Id),
  v.minLength(1),
  v.maxLength(100),
  v.check((ids) => new Set(ids).size === ids.length, 'seat ids must not repeat'),
);
const RequestId = v.pipe(v.string(), v.uuid());
const Timestamp = v.pipe(v.string(), v.isoTimestamp());

/** `book` took the seats' locks (or Redis was down and it took none) and asks for the booking. */
export const BookingRequested = v.object({
  type: v.literal('BookingRequested'),
  requestId: RequestId,
  userId: Id,
  eventId: Id,
  seatIds: SeatIds,
  /** The owner token of the seats' Redis locks; null when Redis was down and no lock was taken. */
  holdToken: v.nullable(v.string()),
  requestedAt: Timestamp,
});

/** `cancel` checked the bookings exist and belong to the user, and asks to cancel them. */
export const CancelRequested = v.object({
  type: v.literal('CancelRequested'),
  requestId: RequestId,
  userId: Id,
  eventId: Id,
  bookingIds: v.pipe(
    v.array(Id),
    v.minLength(1),
    v.maxLength(100),
    v.check((ids) => new Set(ids).size === ids.length, 'booking ids must not repeat'),
  ),
  requestedAt: Timestamp,
});

/**
 * A seat an outcome changed. `version` is the seat's version in Postgres after that change (the
 * booking's, or its cancellation's): Redis applies a change only if it is newer than the one shown.
 */
export const BookedSeat = v.object({
  bookingId: Id,
  seatId: Id,
  seatNumber: v.string(),
  version: v.pipe(v.number(), v.integer(), v.minValue(0)),
});

export const BookingConfirmed = v.object({
  type: v.literal('BookingConfirmed'),
  requestId: RequestId,
  userId: Id,
  eventId: Id,
  holdToken: v.nullable(v.string()),
  bookings: v.pipe(v.array(BookedSeat), v.minLength(1)),
  decidedAt: Timestamp,
});

/**
 * WITHDRAWN: `book` could not learn whether Kafka took the command and recorded it as withdrawn
 * before answering "nothing changed" (lib/booking/requests.ts); the command, if it arrives, is a no-op.
 */
export const REJECTION_REASONS = [
  'SEATS_TAKEN',
  'UNKNOWN_EVENT',
  'UNKNOWN_SEATS',
  'UNKNOWN_USER',
  'WITHDRAWN',
] as const;

export const BookingRejected = v.object({
  type: v.literal('BookingRejected'),
  requestId: RequestId,
  userId: Id,
  eventId: Id,
  seatIds: SeatIds,
  holdToken: v.nullable(v.string()),
  reason: v.picklist(REJECTION_REASONS),
  /** The seats that decided the rejection (taken, or not of this event). */
  offendingSeatIds: v.array(Id),
  decidedAt: Timestamp,
});

export const BookingCancelled = v.object({
  type: v.literal('BookingCancelled'),
  requestId: RequestId,
  userId: Id,
  eventId: Id,
  bookings: v.pipe(v.array(BookedSeat), v.minLength(1)),
  decidedAt: Timestamp,
});

export const CancelRejected = v.object({
  type: v.literal('CancelRejected'),
  requestId: RequestId,
  userId: Id,
  eventId: Id,
  bookingIds: v.array(Id),
  reason: v.picklist(['ALREADY_CANCELLED', 'WITHDRAWN']),
  decidedAt: Timestamp,
});

/** `events` created an event and its seats; the projector warms the seat cache from it. */
export const EventCreated = v.object({
  type: v.literal('EventCreated'),
  eventId: Id,
  name: v.string(),
  date: Timestamp,
  location: v.string(),
  totalSeats: v.pipe(v.number(), v.integer(), v.minValue(0)),
  createdAt: Timestamp,
});

/** On `booking-commands`, keyed by event id. */
export const BookingCommand = v.variant('type', [BookingRequested, CancelRequested]);
/** On `booking-events`, keyed by event id. */
export const BookingEvent = v.variant('type', [
  BookingConfirmed,
  BookingRejected,
  BookingCancelled,
  CancelRejected,
  EventCreated,
]);

export type BookingRequested = v.InferOutput<typeof BookingRequested>;
export type CancelRequested = v.InferOutput<typeof CancelRequested>;
export type BookingCommand = v.InferOutput<typeof BookingCommand>;
export type BookedSeat = v.InferOutput<typeof BookedSeat>;
export type BookingConfirmed = v.InferOutput<typeof BookingConfirmed>;
export type BookingRejected = v.InferOutput<typeof BookingRejected>;
export type BookingCancelled = v.InferOutput<typeof BookingCancelled>;
export type CancelRejected = v.InferOutput<typeof CancelRejected>;
export type EventCreated = v.InferOutput<typeof EventCreated>;
export type BookingEvent = v.InferOutput<typeof BookingEvent>;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** A Kafka message, keyed by the event (concert, conference) it concerns. */
export function encodeMessage(
  message: BookingCommand | BookingEvent,
  headers?: Record<string, string>,
): { key: string; value: string; headers?: Record<string, string> } {
  const encoded = { key: String(message.eventId), value: JSON.stringify(message) };
  return headers ? { ...encoded, headers } : encoded;
}

/**
 * Parses one Kafka message with one of these schemas. A message that is not JSON or not of the schema
 * is a 422, which the Kafka trigger turns into a dead letter carrying this detail.
 */
export function decodeMessage<Schema extends v.GenericSchema>(
  schema: Schema,
  message: { offset: string; value: string | null },
): v.InferOutput<Schema> {
  let payload: unknown;
  try {
    payload = JSON.parse(message.value ?? '');
  } catch {
    throw new ApiError('UNPROCESSABLE', { detail: `message ${message.offset} is not JSON` });
  }
  const parsed = v.safeParse(schema, payload);
  if (!parsed.success) {
    throw new ApiError('UNPROCESSABLE', {
      detail: `message ${message.offset} does not match its schema: ${v.summarize(parsed.issues)}`,
    });
  }
  return parsed.output;
}
