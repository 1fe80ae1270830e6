import type { FunctionDefinition } from '../lib/platform/function.ts';
import book from './book/index.ts';
import bookingProcessor from './booking-processor/index.ts';
import bookingStatus from './booking-status/index.ts';
import cancel from './cancel/index.ts';
import eventSeats from './event-seats/index.ts';
import events from './events/index.ts';
import queue from './queue/index.ts';
import queueAdmission from './queue-admission/index.ts';
import reconciler from './reconciler/index.ts';
import seatProjector from './seat-projector/index.ts';
import seatStream from './seat-stream/index.ts';
import userBookings from './user-bookings/index.ts';
import web from './web/index.ts';

/** Every function of the system, once. The runner, the tests and the deploy generator read this list. */
export const FUNCTIONS: readonly FunctionDefinition[] = [
  events,
  book,
  cancel,
  bookingStatus,
  bookingProcessor,
  seatProjector,
  eventSeats,
  userBookings,
  seatStream,
  web,
  reconciler,
  queue,
  queueAdmission,
];
