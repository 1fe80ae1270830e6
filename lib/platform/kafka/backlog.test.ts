import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import bookFunction from '../../../functions/book/index.ts';
import bookingProcessor from '../../../functions/booking-processor/index.ts';
import { bearer, testServices } from '../../../test/support.ts';
import { closeServices, pingDependencies } from '../../services.ts';
import { createFunctionApp } from '../app.ts';
import { type RunningFunctions, startFunctions } from '../runner.ts';
import { TOPICS, type TopicKey } from './topics.ts';

describe('the processor backlog guard', () => {
  // Topics and groups of its own: the backlog of this test is nobody else's.
  const prefix = `backlog-${randomUUID().slice(0, 8)}.`;
  const services = testServices({ KAFKA_PREFIX: prefix, HOLD_TTL_MS: '2000' });
  let processor: RunningFunctions | undefined;

  before(async () => {
    await pingDependencies(services, ['kafka', 'redis', 'postgres']);
    await services.kafka.ensureTopics();
  });
  after(async () => {
    await processor?.stop();
    const admin = services.kafka.kafka.admin();
    await admin.connect();
    await admin
      .deleteTopics({ topics: (Object.keys(TOPICS) as TopicKey[]).map((key) => services.kafka.topic(key)) })
      .catch(() => {});
    await admin.disconnect();
    await closeServices(services);
  });

  const book = async () =>
    createFunctionApp(bookFunction, services).request('/bookings/book', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await bearer(1)) },
      body: JSON.stringify({ event_id: 2_000_000_000, seat_ids: [1] }),
    });

  it('measures how long commands wait, refuses bookings whose holds would lapse, and clears', async () => {
    const { commandBacklog } = services;
    await commandBacklog.measure();
    assert.equal(commandBacklog.oldestWaitingMs(), 0, 'nothing waits');

    // A command nobody decides yet (no processor runs): it is not even a valid one.
    await services.kafka.send('bookingCommands', [{ key: '1', value: '{"not":"a command"}' }]);
    const sent = Date.now();
    while (Date.now() - sent < 1_300) {
      await commandBacklog.measure();
      await sleep(200);
    }
    await commandBacklog.measure();
    const waited = commandBacklog.oldestWaitingMs();
    assert.ok(waited >= 1_000 && waited <= Date.now() - sent + 300, `${waited} ms`);

    const refused = await book();
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.match((await refused.json()).detail, /behind; nothing changed/);

    // The processor comes and moves past it (to the dead-letter topic): the backlog is gone.
    processor = await startFunctions([bookingProcessor], services, { host: '127.0.0.1', port: 0 });
    const deadline = Date.now() + 30_000;
    do {
      await sleep(200);
      await commandBacklog.measure();
    } while (commandBacklog.oldestWaitingMs() > 0 && Date.now() < deadline);
    assert.equal(commandBacklog.oldestWaitingMs(), 0);
    assert.equal((await book()).status, 404, 'taken again (no such event)');
  });
});
