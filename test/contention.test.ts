import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import bookFunction from '../functions/book/index.ts';
import { type RunningFunctions, startFunctions } from '../lib/platform/runner.ts';
import { closeServices } from '../lib/services.ts';
import { type Answer, checkInvariants } from './invariants.ts';
import { createTestEvent, createTestUsers, testServices } from './support.ts';
import { book, inFlight, startSystem, waitUntilDecided } from './system.ts';

const SEATS = 300;
const REQUESTS = 2_000;
/** Clients in flight at once, as many as the benchmark's connections. */
const CONCURRENCY = 256;

const services = testServices();
/** A `book` whose Redis is down: its requests take no locks, so only the processor stops them. */
const lockless = testServices({ REDIS_URL: 'redis://127.0.0.1:1/0' });
let system: RunningFunctions;
let locklessBook: RunningFunctions;
before(async () => {
  system = await startSystem(services);
  locklessBook = await startFunctions([bookFunction], lockless, { host: '127.0.0.1', port: 0 });
});
after(async () => {
  await locklessBook.stop();
  await system.stop();
  await closeServices(lockless);
  await closeServices(services);
});

/** Seat indexes skewed to the front rows, 1–4 adjacent-ish seats, so requests overlap heavily. */
function wantedSeats(seatIds: number[], random: () => number): number[] {
  const count = 1 + Math.floor(random() * 4);
  const start = Math.floor(random() ** 2 * (seatIds.length - count));
  const picked = new Set<number>();
  while (picked.size < count)
    picked.add(seatIds[start + Math.floor(random() * (count + 2))] ?? (seatIds[start] as number));
  return [...picked];
}

it(`${REQUESTS} overlapping requests, ${CONCURRENCY} at a time, for ${SEATS} seats keep all five invariants`, async () => {
  const event = await createTestEvent(services, SEATS, 'Contention');
  const users = await createTestUsers(services, 500);
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const bodies = Array.from({ length: REQUESTS }, (_, i) => ({
    user_id: users[i % users.length] as number,
    event_id: event.eventId,
    seat_ids: wantedSeats(event.seatIds, random),
  }));

  // One request in ten comes through the lockless `book`: contention reaches the processor too.
  const viaLockless = new Set(bodies.filter((_, i) => i % 10 === 0));
  const answers: Answer[] = await inFlight(bodies, CONCURRENCY, (body) =>
    book(viaLockless.has(body) ? locklessBook.url : system.url, body),
  );

  const byStatus: Record<string, Answer[]> = {};
  for (const answer of answers) {
    byStatus[answer.status] ??= [];
    byStatus[answer.status]?.push(answer);
  }
  assert.deepEqual(
    Object.keys(byStatus).filter((status) => !['201', '202', '409'].includes(status)),
    [],
    'only 201, 202 and 409 answers',
  );
  assert.ok((byStatus['201']?.length ?? 0) > 0, 'some requests were confirmed');
  assert.ok((byStatus['409']?.length ?? 0) > 0, 'some requests met taken seats');
  await waitUntilDecided(
    system.url,
    (byStatus['202'] ?? []).map((answer) => answer.requestId as string),
  );

  // Once quiet: the projector has caught up with every outcome.
  let report = await checkInvariants(services, event.eventId, answers);
  for (let tries = 0; report.violations.length > 0 && tries < 50; tries++) {
    await sleep(200);
    report = await checkInvariants(services, event.eventId, answers);
  }
  assert.deepEqual(report.violations, []);
  const confirmedSeats = answers
    .filter((answer) => answer.status === 201)
    .reduce((sum, answer) => sum + answer.seatIds.length, 0);
  assert.ok(report.confirmedSeats >= confirmedSeats);
  const { rows } = await services.db.$client.query(
    `select count(*)::int as n from booking_requests where event_id = $1 and reason = 'SEATS_TAKEN'`,
    [event.eventId],
  );
  assert.ok(rows[0].n > 0, 'the processor itself refused requests for seats taken before them');
});
