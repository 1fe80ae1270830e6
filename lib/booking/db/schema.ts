import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  serial,
  timestamp,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import type { QueueSettings } from '../queue/settings.ts';

export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  name: varchar('name', { length: 255 }).notNull(),
  email: varchar('email', { length: 255 }).notNull().unique(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const events = pgTable('events', {
  id: serial('id').primaryKey(),
  name: varchar('name', { length: 255 }).notNull(),
  date: timestamp('date', { withTimezone: true }).notNull(),
  location: varchar('location', { length: 255 }).notNull(),
  totalSeats: integer('total_seats').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  /** Booking opens then (null: at once). */
  onSaleAt: timestamp('on_sale_at', { withTimezone: true }),
  /** The waiting room's settings (lib/booking/queue/settings.ts); null: no waiting room. */
  queue: jsonb('queue').$type<QueueSettings>(),
});

export const seats = pgTable(
  'seats',
  {
    id: serial('id').primaryKey(),
    eventId: integer('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    seatNumber: varchar('seat_number', { length: 32 }).notNull(),
    isBooked: boolean('is_booked').notNull().default(false),
    bookedBy: integer('booked_by').references(() => users.id),
    /**
     * Bumped by every booking and cancellation of the seat, in the same statement. Outcomes carry
     * it to Redis, where a change older than the one already shown is ignored: a paused
     * processor's late or replayed outcome can never undo a newer one.
     */
    version: integer('version').notNull().default(0),
  },
  (table) => [uniqueIndex('seats_event_seat_number_key').on(table.eventId, table.seatNumber)],
);

export const BOOKING_STATUSES = ['CONFIRMED', 'CANCELED'] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

export const bookings = pgTable(
  'bookings',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    eventId: integer('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    seatId: integer('seat_id')
      .notNull()
      .references(() => seats.id, { onDelete: 'cascade' }),
    status: varchar('status', { length: 16, enum: BOOKING_STATUSES }).notNull().default('CONFIRMED'),
    /** The booking request that made this row; with seat_id it makes a replayed request a no-op. */
    requestId: uuid('request_id'),
    /** The seat's version this booking gave it, and the one its cancellation gave it. */
    bookedVersion: integer('booked_version'),
    cancelledVersion: integer('cancelled_version'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('bookings_user_id_idx').on(table.userId),
    // The last line of defence for invariant 1: at most one CONFIRMED booking per seat, ever.
    uniqueIndex('bookings_one_confirmed_per_seat').on(table.seatId).where(sql`${table.status} = 'CONFIRMED'`),
    uniqueIndex('bookings_request_seat_key').on(table.requestId, table.seatId),
    check('bookings_status_check', sql`${table.status} in ('CONFIRMED', 'CANCELED')`),
  ],
);

export const REQUEST_KINDS = ['BOOK', 'CANCEL'] as const;
export const REQUEST_OUTCOMES = ['CONFIRMED', 'REJECTED'] as const;

/**
 * Every booking or cancel request the processor decided, written in the same transaction as its
 * effects: a replayed request finds its row and changes nothing. Pending requests live in Kafka.
 */
export const bookingRequests = pgTable(
  'booking_requests',
  {
    id: uuid('id').primaryKey(),
    kind: varchar('kind', { length: 8, enum: REQUEST_KINDS }).notNull(),
    userId: integer('user_id').notNull(),
    eventId: integer('event_id').notNull(),
    seatIds: integer('seat_ids').array().notNull(),
    /** The bookings a CANCEL request names. */
    bookingIds: integer('booking_ids').array(),
    status: varchar('status', { length: 16, enum: REQUEST_OUTCOMES }).notNull(),
    reason: varchar('reason', { length: 32 }),
    /** For a rejection, the seats or bookings that decided it. */
    offendingIds: integer('offending_ids').array(),
    requestedAt: timestamp('requested_at', { withTimezone: true }).notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('booking_requests_user_id_idx').on(table.userId)],
);

export type EventRow = typeof events.$inferSelect;
export type SeatRow = typeof seats.$inferSelect;
export type BookingRow = typeof bookings.$inferSelect;

/**
 * One row per event that has had a waiting room: the line's counters. Joins and the admission
 * function take this row's lock, which is what makes positions unique and contiguous.
 */
export const queueLines = pgTable('queue_lines', {
  eventId: integer('event_id')
    .primaryKey()
    .references(() => events.id, { onDelete: 'cascade' }),
  /** Tickets so far, pre-queue included: the last position given. */
  joined: integer('joined').notNull().default(0),
  /** Tickets that joined before on-sale; they hold positions 1..prequeued once shuffled. */
  prequeued: integer('prequeued').notNull().default(0),
  /** When the pre-queue was shuffled into positions (null: not yet on sale). */
  shuffledAt: timestamp('shuffled_at', { withTimezone: true }),
  /** Every ticket at or before this position has been admitted. */
  admittedThrough: integer('admitted_through').notNull().default(0),
  /** Admissions earned by time but not yet used (admit_per_minute, spread over ticks). */
  admitCredit: doublePrecision('admit_credit').notNull().default(0),
  lastTickAt: timestamp('last_tick_at', { withTimezone: true }),
  /** No seat was left at the last tick: every ticket still waiting hears `sold_out`. */
  soldOut: boolean('sold_out').notNull().default(false),
});

/** A buyer's place in an event's line: one per user and event. */
export const queueTickets = pgTable(
  'queue_tickets',
  {
    id: uuid('id').primaryKey(),
    eventId: integer('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    /** 1-based place in line; null for a pre-queue ticket until the shuffle at on-sale. */
    position: integer('position'),
    prequeue: boolean('prequeue').notNull(),
    joinedAt: timestamp('joined_at', { withTimezone: true }).notNull().defaultNow(),
    /** What `book` accepts while the session lasts; set on admission. */
    admissionToken: varchar('admission_token', { length: 64 }),
    admittedAt: timestamp('admitted_at', { withTimezone: true }),
    sessionExpiresAt: timestamp('session_expires_at', { withTimezone: true }),
    /** The session ended before it expired: a booking under it was confirmed. */
    endedAt: timestamp('ended_at', { withTimezone: true }),
  },
  (table) => [
    uniqueIndex('queue_tickets_event_user_key').on(table.eventId, table.userId),
    uniqueIndex('queue_tickets_event_position_key').on(table.eventId, table.position),
    uniqueIndex('queue_tickets_admission_token_key').on(table.admissionToken),
  ],
);

export type QueueTicketRow = typeof queueTickets.$inferSelect;
export type QueueLineRow = typeof queueLines.$inferSelect;
