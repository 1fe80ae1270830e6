/**
 * One booking, one trace: over the real stack, with spans kept in memory, the trace of a
 * POST /bookings/book runs through the processor's decision and the projector's apply (carried in
 * the Kafka messages' headers) and ends with the outcome reaching the waiting request. Log lines
 * written inside a span name it.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createTestEvent, createTestUsers, testServices } from '../../test/support.ts';
import { book, startSystem } from '../../test/system.ts';
import { closeServices } from '../services.ts';
import { createLogger } from './logger.ts';
import type { RunningFunctions } from './runner.ts';
import { inSpan, startTracing, stopTracing } from './tracing.ts';

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  const services = testServices();
  let system: RunningFunctions;

  before(async () => {
    await startTracing('seatrush-test', exporter);
    system = await startSystem(services);
  });
  after(async () => {
    await system.stop();
    await closeServices(services);
    await stopTracing();
  });

  it('follows a booking from book through the processor and the projector, in one trace', async () => {
    const event = await createTestEvent(services, 3);
    const [userId] = await createTestUsers(services, 1);
    const answer = await book(system.url, {
      user_id: userId as number,
      event_id: event.eventId,
      seat_ids: [event.seatIds[0] as number],
    });
    assert.equal(answer.status, 201);
    await sleep(200);

    const spans = exporter.getFinishedSpans();
    const request = spans.find(
      (span) =>
        span.name === 'POST /bookings/book' && span.events.some((event) => event.name === 'outcome received'),
    );
    assert.ok(request, `no book span with its outcome among ${spans.map((span) => span.name).join(', ')}`);
    const { traceId } = request.spanContext();
    const inTrace = (name: string): ReadableSpan | undefined =>
      spans.find((span) => span.name === name && span.spanContext().traceId === traceId);
    const decided = inTrace('booking-processor decide');
    const applied = inTrace('seat-projector apply');
    assert.ok(decided, 'the processor decided in the booking trace');
    assert.ok(applied, 'the projector applied it in the booking trace');
    assert.equal(decided.attributes['seatrush.request_id'], answer.requestId);
    assert.equal(applied.parentSpanContext?.spanId, decided.spanContext().spanId);
    // The batch that decided it is linked to the booking's trace, and the command's span to the batch.
    const batch = spans.find(
      (span) => span.links.some((link) => link.context.traceId === traceId) && span !== decided,
    );
    assert.ok(batch, "the processor's batch span links to the command");
    assert.ok(decided.links.some((link) => link.context.spanId === batch.spanContext().spanId));
  });

  it('puts the trace and span ids on log lines written inside a span', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ LOG_LEVEL: 'info' }, {}, sink);
    let ids: { traceId: string; spanId: string } | undefined;
    await inSpan('a unit of work', {}, async (span) => {
      ids = { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
      logger.info('inside');
    });
    logger.info('outside');
    const [inside, outside] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(inside?.traceId, ids?.traceId);
    assert.equal(inside?.spanId, ids?.spanId);
    assert.equal(outside?.traceId, undefined);
  });
});
