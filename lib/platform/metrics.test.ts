/**
 * GET /metrics of the running functions, over the real stack: the counters a booking moves move,
 * in Prometheus's text format, with no label that names a user, a seat or a request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import events from '../../functions/events/index.ts';
import { createTestEvent, createTestUsers, testServices } from '../../test/support.ts';
import { book, startSystem } from '../../test/system.ts';
import { closeServices } from '../services.ts';
import { createFunctionApp } from './app.ts';
import type { RunningFunctions } from './runner.ts';

/** Every sample of the exposition whose name and labels match, summed. */
function sampled(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? ([\d.e+-]+|NaN)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const given = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((label) => [label[1], label[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => given[key] === value)) sum += Number(match[3]);
  }
  return sum;
}

describe('metrics', () => {
  const services = testServices();
  let system: RunningFunctions;

  before(async () => {
    system = await startSystem(services);
  });
  after(async () => {
    await system.stop();
    await closeServices(services);
  });

  const scrape = async () => {
    const response = await fetch(`${system.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return response.text();
  };

  it('moves the booking counters after a booking, in Prometheus text format', async () => {
    const event = await createTestEvent(services, 5);
    const [userId] = await createTestUsers(services, 1);
    const before = await scrape();
    const answer = await book(system.url, {
      user_id: userId as number,
      event_id: event.eventId,
      seat_ids: event.seatIds.slice(0, 2),
    });
    assert.equal(answer.status, 201);
    const taken = await book(system.url, {
      user_id: userId as number,
      event_id: event.eventId,
      seat_ids: event.seatIds.slice(1, 3),
    });
    assert.equal(taken.status, 409);
    // The processor's batch metrics are recorded once its delivery is answered.
    await sleep(200);
    const now = await scrape();
    const moved = (name: string, labels?: Record<string, string>) =>
      sampled(now, name, labels) - sampled(before, name, labels);

    assert.equal(moved('seatrush_bookings_requested_total'), 2);
    assert.equal(moved('seatrush_bookings_confirmed_total'), 1);
    assert.equal(moved('seatrush_bookings_rejected_total', { reason: 'SEATS_TAKEN' }), 1);
    assert.equal(moved('seatrush_holds_taken_total'), 2);
    assert.equal(
      moved('seatrush_http_requests_total', { function: 'book', route: '/bookings/book', status: '201' }),
      1,
    );
    assert.equal(
      moved('seatrush_http_requests_total', { function: 'book', route: '/bookings/book', status: '409' }),
      1,
    );
    assert.ok(moved('seatrush_http_request_duration_seconds_count', { function: 'book' }) >= 2);
    assert.ok(moved('seatrush_kafka_batch_messages_count', { function: 'booking-processor' }) >= 1);
    assert.ok(moved('seatrush_kafka_batch_messages_count', { function: 'seat-projector' }) >= 1);
    assert.ok(sampled(now, 'seatrush_postgres_pool_connections', { state: 'total' }) >= 1);
    assert.ok(sampled(now, 'seatrush_process_resident_memory_bytes') > 0);
    assert.ok(now.includes('seatrush_kafka_consumer_lag{'));
  });

  it('labels no series by user, seat or request, and routes by pattern', async () => {
    const exposition = await scrape();
    const labelNames = new Set([...exposition.matchAll(/[{,](\w+)="/g)].map((match) => match[1] as string));
    for (const forbidden of ['user', 'user_id', 'seat', 'seat_id', 'request_id', 'path'])
      assert.ok(!labelNames.has(forbidden), `a ${forbidden} label`);
    assert.ok(!/route="\/events\/\d/.test(exposition), 'a route with an id in it');
    const ofMetrics = (await fetch(`${system.url}/events/999999`)).status;
    assert.equal(ofMetrics, 404);
    assert.match(await scrape(), /route="\/events\/:eventId"/);
    // A function alone (as in its container) counts its own scrapes under their route.
    const alone = createFunctionApp(events, services);
    assert.equal((await alone.request('/metrics')).status, 200);
    assert.match(await (await alone.request('/metrics')).text(), /function="events",route="\/metrics"/);
  });
});
