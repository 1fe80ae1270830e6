import { Hono } from 'hono';
import { pendingRequestKey } from '../../lib/booking/commands.ts';
import { BookingEvent, decodeMessage } from '../../lib/booking/messages.ts';
import { OUTCOMES_CHANNEL } from '../../lib/booking/outcome-waiter.ts';
import type { AppEnv } from '../../lib/platform/env.ts';
import { KafkaBatchSchema } from '../../lib/platform/kafka/batch.ts';
import { type MessageSpan, messageSpan } from '../../lib/platform/tracing.ts';
import { validate } from '../../lib/platform/validation.ts';

/**
 * POST / with one batch of `booking-events` (from the Kafka trigger): applies each outcome to the
 * seat cache in Redis, in order, then announces it on the outcomes channel, in one pipeline per
 * event. A waiting `book` or `cancel` therefore hears of an outcome only once Redis shows it. Each
 * seat change carries its Postgres version and is ignored if Redis already shows a newer one, so
 * outcomes that arrive late or twice (a paused processor's, a replay's) never undo newer ones.
 */
export const projectBatch = new Hono<AppEnv>().post('/', validate('json', KafkaBatchSchema), async (c) => {
  const { seats, redis } = c.get('services');
  const pipeline = seats.pipeline();
  const created: number[] = [];
  const decided: string[] = [];

  const spans: MessageSpan[] = [];
  for (const message of c.req.valid('json').messages) {
    const event = decodeMessage(BookingEvent, message);
    spans.push(messageSpan('seat-projector apply', message.headers, { 'seatrush.outcome': event.type }));
    switch (event.type) {
      case 'BookingConfirmed':
        pipeline.markBooked(event.eventId, event.bookings, event.userId, event.holdToken);
        break;
      case 'BookingRejected':
        if (event.holdToken) pipeline.release(event.eventId, event.seatIds, event.holdToken);
        break;
      case 'BookingCancelled':
        pipeline.freeBooked(event.eventId, event.bookings);
        break;
      case 'EventCreated':
        created.push(event.eventId);
        continue;
      case 'CancelRejected':
        break;
    }
    pipeline.publish(event.eventId, OUTCOMES_CHANNEL, message.value as string);
    decided.push(event.requestId);
  }

  await pipeline.exec();
  // A decided request is read from Postgres: its pending marker would only hold memory for a day.
  await Promise.all(decided.map((requestId) => redis.unlink(pendingRequestKey(requestId))));
  await Promise.all(created.map((eventId) => seats.warm(eventId)));
  for (const span of spans) span.end();
  return c.body(null, 204);
});
