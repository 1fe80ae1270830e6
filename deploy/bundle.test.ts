/**
 * What a container runs, run here: the bundles of deploy/build.ts with plain Node, against the
 * real Postgres, Redis and Kafka, each function alone as in its container, stopped with SIGTERM.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FUNCTIONS } from '../functions/registry.ts';
import { TOPICS } from '../lib/platform/kafka/topics.ts';
import { closeServices } from '../lib/services.ts';
import { bearer, createTestEvent, createTestUsers, testServices } from '../test/support.ts';
import { BUNDLE_DIR, buildBundles } from './build.ts';
import { spawnProcess } from './spawned.ts';

/** Topics and groups of their own, so these consumers never take messages other tests wait for. */
const PREFIX = `${process.env.KAFKA_PREFIX ?? 'test.'}deploy.`;

function runBundle(entry: string, env: Record<string, string> = {}) {
  return spawnProcess(process.execPath, [`${BUNDLE_DIR}/${entry}.mjs`], {
    env: { ...process.env, LOG_LEVEL: 'silent', KAFKA_PREFIX: PREFIX, HOST: '127.0.0.1', PORT: '0', ...env },
    ready: /listening on (http:\/\/\S+)/,
  });
}

describe('the container bundles (dist/node)', () => {
  const services = testServices({ KAFKA_PREFIX: PREFIX });
  const admin = services.kafka.kafka.admin();

  before(async () => {
    await buildBundles();
    await admin.connect();
  });
  after(async () => {
    await admin.disconnect();
    await closeServices(services);
  });

  it('migrate.mjs brings the database to the latest migration and exits 0', async () => {
    const { code, output } = await runBundle('migrate').exited;
    assert.equal(code, 0, output);
    assert.match(output, /migrations applied/);
  });

  it('create-topics.mjs creates every topic of lib/platform/kafka/topics.ts and exits 0', async () => {
    const { code, output } = await runBundle('create-topics').exited;
    assert.equal(code, 0, output);
    const existing = new Set(await admin.listTopics());
    for (const key of Object.keys(TOPICS) as (keyof typeof TOPICS)[]) {
      assert.ok(existing.has(services.kafka.topic(key)), `${services.kafka.topic(key)} exists`);
    }
  });

  for (const definition of FUNCTIONS) {
    it(`run.mjs serves ${definition.name} alone (FUNCTION=${definition.name}) and stops cleanly on SIGTERM`, async () => {
      const container = runBundle('run', { FUNCTION: definition.name });
      try {
        const [, url] = await container.ready;
        const health = await fetch(`${url}/healthz`);
        assert.deepEqual(await health.json(), { status: 'ok', function: definition.name });
        const ready = await fetch(`${url}/readyz`);
        assert.equal(ready.status, 200, await ready.text());
        container.child.kill('SIGTERM');
        const { code, output } = await container.exited;
        assert.equal(code, 0, output);
        if (definition.trigger.kind === 'kafka') {
          // The consumer left its group on the way out (no session has to time out first).
          const { groups } = await admin.describeGroups([services.kafka.groupId(definition.name)]);
          assert.deepEqual(
            groups.map((group) => group.members.length),
            [0],
          );
        }
      } finally {
        await container.stop();
      }
    });
  }

  const book = FUNCTIONS.find((definition) => definition.name === 'book');
  it('run.mjs finishes a booking in flight on SIGTERM, and takes no new connection', {
    skip: book ? false : 'no book function registered',
  }, async () => {
    const event = await createTestEvent(services, 2, 'In flight');
    const [userId = 0] = await createTestUsers(services, 1);
    // No processor runs here, so the request waits the whole BOOK_WAIT_MS for its outcome.
    const container = runBundle('run', { FUNCTION: 'book', BOOK_WAIT_MS: '2000' });
    try {
      const [, url] = await container.ready;
      const answer = fetch(`${url}/bookings/book`, {
        method: 'POST',
        // The bundle gets this process's environment, so the token is signed with its JWT_SECRET.
        headers: { 'content-type': 'application/json', ...(await bearer(userId)) },
        body: JSON.stringify({ event_id: event.eventId, seat_ids: event.seatIds }),
      });
      await sleep(700);
      container.child.kill('SIGTERM');
      await sleep(100);
      await assert.rejects(fetch(`${url}/healthz`), 'a stopping function accepts no connection');
      const response = await answer;
      assert.equal(response.status, 202, await response.clone().text());
      assert.equal(((await response.json()) as { status: string }).status, 'PENDING');
      const { code, output } = await container.exited;
      assert.equal(code, 0, output);
    } finally {
      await container.stop();
    }
  });
});
