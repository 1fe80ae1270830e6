import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningFunctions } from '../lib/platform/runner.ts';
import { closeServices } from '../lib/services.ts';
import { type Answer, checkInvariants } from './invariants.ts';
import { createTestEvent, createTestUsers, testServices } from './support.ts';
import { book, startFunctionProcess, startSystem, stopProcess, waitUntilDecided } from './system.ts';

const services = testServices();
let system: RunningFunctions;
let processor: ChildProcess | undefined;

before(async () => {
  // Everything in this process but the processor, which runs as its own process to be killed.
  system = await startSystem(services, { except: ['booking-processor'] });
});
after(async () => {
  if (processor) await stopProcess(processor);
  await system.stop();
  await closeServices(services);
});

const decidedCount = async (eventId: number) =>
  (
    await services.db.$client.query('select count(*)::int as n from booking_requests where event_id = $1', [
      eventId,
    ])
  ).rows[0].n as number;

it('a processor killed mid-stream and started again loses nothing and doubles nothing', async () => {
  const event = await createTestEvent(services, 200, 'Crash');
  const users = await createTestUsers(services, 50);
  const send = (from: number, count: number) =>
    Promise.all(
      Array.from({ length: count }, (_, i) =>
        book(
          system.url,
          {
            user_id: users[(from + i) % users.length] as number,
            event_id: event.eventId,
            // Two requests want each seat: every seat is contended.
            seat_ids: [event.seatIds[(from + i) % event.seatIds.length] as number],
          },
          { prefer: 'respond-async' },
        ),
      ),
    );

  // The killed processor gathers its outcomes for 300 ms after each commit before publishing
  // them and committing offsets: a kill seen right after its first commit is sure to strand a
  // batch decided in Postgres but not committed in Kafka, which its successor must replay.
  processor = await startFunctionProcess('booking-processor', { KAFKA_LINGER_MS: '300' });
  // Watched while the first wave is still being sent, so the kill lands in the linger after the
  // first commit, not in some quiet moment between batches.
  const sending = send(0, 150);
  const deadline = Date.now() + 30_000;
  while ((await decidedCount(event.eventId)) === 0 && Date.now() < deadline) {
    await sleep(10);
  }
  await stopProcess(processor, 'SIGKILL');
  const decidedAtCrash = await decidedCount(event.eventId);
  const answers: Answer[] = await sending;
  const firstWave = answers.filter((answer) => answer.status === 202).length;
  // Requests keep coming while no processor runs: Kafka keeps them.
  answers.push(...(await send(150, 250)));
  assert.ok(
    answers.every((answer) => answer.status === 202 || answer.status === 409),
    'accepted or refused at once',
  );

  let replayed = 0;
  processor = await startFunctionProcess('booking-processor', { LOG_LEVEL: 'info' }, (line) => {
    if (line.includes('"msg":"decided"')) replayed += Number(/"replayed":(\d+)/.exec(line)?.[1] ?? 0);
  });
  const accepted = answers
    .filter((answer) => answer.status === 202)
    .map((answer) => answer.requestId as string);
  await waitUntilDecided(system.url, accepted, 90_000);

  let report = await checkInvariants(services, event.eventId, answers);
  for (let tries = 0; report.violations.length > 0 && tries < 50; tries++) {
    await sleep(200);
    report = await checkInvariants(services, event.eventId, answers);
  }
  assert.deepEqual(report.violations, []);
  assert.ok(
    decidedAtCrash > 0 && decidedAtCrash < firstWave,
    `the kill came mid-stream (${decidedAtCrash} of ${firstWave})`,
  );
  assert.ok(replayed > 0, 'the new processor replayed what the killed one decided but never committed');
  assert.equal(await decidedCount(event.eventId), accepted.length, 'each request decided exactly once');
  const { rows } = await services.db.$client.query(
    `select count(*)::int as n from bookings where event_id = $1`,
    [event.eventId],
  );
  assert.equal(rows[0].n, report.confirmedSeats, 'no booking was written twice');
});
