import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis as RedisServer } from 'ioredis';
import * as v from 'valibot';
import { ChangeData, SnapshotData } from '../../lib/booking/responses.ts';
import { seatChangeFeed } from '../../lib/booking/seats/changes.ts';
import { SEAT_CHANGES_CHANNEL, seatKeys } from '../../lib/booking/seats/keys.ts';
import { seatMapSnapshots } from '../../lib/booking/seats/snapshots.ts';
import { createFunctionApp } from '../../lib/platform/app.ts';
import { openStreams } from '../../lib/platform/connection-limit.ts';
import { type RunningFunctions, startFunctions } from '../../lib/platform/runner.ts';
import { closeServices, type Services } from '../../lib/services.ts';
import { type SseClient as Client, SseClient } from '../../test/sse.ts';
import { createTestEvent, testServices } from '../../test/support.ts';
import seatStream from './index.ts';

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? 0;

describe('seat-stream', () => {
  // Hundreds of streams from this one test address below; the caps have a test of their own.
  const services = testServices({ SSE_MAX_PER_ADDRESS: '0' });
  let running: RunningFunctions;
  const open: Client[] = [];
  const connect = async (eventId: number, headers: Record<string, string> = {}, query = '') => {
    const client = await SseClient.open(`${running.url}/events/${eventId}/stream${query}`, headers);
    open.push(client);
    return client;
  };
  const hold = (eventId: number, seatIds: number[], ttlMs = 60_000) =>
    services.seats.take(eventId, seatIds, randomUUID(), ttlMs);

  before(async () => {
    running = await startFunctions([seatStream], services, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    // Open streams never end by themselves; the server closes only once they are gone.
    for (const client of open) client.close();
    await running.stop();
    await closeServices(services);
    services.subscriber.disconnect(); // nothing may keep the test process alive
  });

  it('sends a snapshot first, then every change with its stream id as the SSE id', async (t) => {
    const event = await createTestEvent(services, 6);
    const [a, b] = event.seatIds as [number, number];
    const stream = await connect(event.eventId);
    assert.equal(stream.response.headers.get('cache-control'), 'no-cache');

    const snapshot = await stream.nextEvent();
    assert.equal(snapshot.event, 'snapshot');
    assert.equal(snapshot.id, '0-0', 'an event that never changed');
    const seats = v.parse(SnapshotData, snapshot.json);
    assert.deepEqual(seats, snapshot.json, 'the contract holds');
    assert.equal(seats.event_id, event.eventId);
    assert.deepEqual(seats.available_seats, event.seatIds);
    assert.deepEqual(seats.booked_seats, []);
    assert.deepEqual(
      seats.seats.map((s) => [s.seat_number, s.state]),
      event.seatNumbers.map((number) => [number, 'available']),
    );
    assert.ok(Math.abs(seats.server_time - Date.now()) < 5_000);

    const started = performance.now();
    const held = await hold(event.eventId, [a, b]);
    assert.equal(held.kind, 'held');
    const change = await stream.nextEvent();
    const latency = change.at - started;
    assert.equal(change.event, 'change');
    assert.deepEqual(v.parse(ChangeData, change.json), change.json, 'the contract holds');
    assert.deepEqual(change.json, {
      event_id: event.eventId,
      state: 'held',
      seat_ids: [a, b],
      expires_at: held.kind === 'held' ? held.expiresAt : 0,
    });
    const [[lastId] = []] = await services.redis.xrevrange(
      seatKeys.changes(event.eventId),
      '+',
      '-',
      'COUNT',
      1,
    );
    assert.equal(change.id, lastId);

    await services.seats
      .pipeline()
      .markBooked(event.eventId, [{ seatId: a, version: 1 }], 4242, null)
      .exec();
    const booked = await stream.nextEvent();
    assert.deepEqual(booked.json, { event_id: event.eventId, state: 'booked', seat_ids: [a] }, 'no user id');
    t.diagnostic(`change delivered ${latency.toFixed(1)} ms after the hold was taken`);
    assert.ok(latency < 500, `${latency} ms`);

    // A second stream's snapshot shows what happened, with the id of the last change.
    const second = await connect(event.eventId);
    const now = await second.nextEvent();
    assert.equal(now.id, booked.id);
    assert.deepEqual(now.json.booked_seats, [a]);
    assert.deepEqual(now.json.held_seats, [b]);
    const seatB = v.parse(SnapshotData, now.json).seats.find((s) => s.seat_id === b);
    assert.ok(
      seatB?.expires_at && Math.abs(seatB.expires_at - (held.kind === 'held' ? held.expiresAt : 0)) < 50,
    );
  });

  it('resumes after Last-Event-ID with only the missed changes, in order, then goes on live', async () => {
    const event = await createTestEvent(services, 4);
    const [a, b, c] = event.seatIds as [number, number, number];
    const first = await connect(event.eventId);
    await first.nextEvent(); // snapshot
    await hold(event.eventId, [a]);
    const seen = await first.nextEvent();
    first.close();

    const token = randomUUID();
    await services.seats.take(event.eventId, [b], token, 60_000);
    await services.seats.release(event.eventId, [b], token);

    const resumes: { headers: Record<string, string>; query: string }[] = [
      { headers: { 'last-event-id': seen.id as string }, query: '' },
      { headers: {}, query: `?last_event_id=${seen.id}` },
    ];
    for (const resume of resumes) {
      const again = await connect(event.eventId, resume.headers, resume.query);
      const missed = [await again.nextEvent(), await again.nextEvent()];
      assert.deepEqual(
        missed.map((m) => [m.event, m.json.state, m.json.seat_ids]),
        [
          ['change', 'held', [b]],
          ['change', 'available', [b]],
        ],
        'no snapshot, just what was missed',
      );
      assert.ok((missed[0]?.id ?? '') > (seen.id ?? ''));
      assert.equal(await again.quiet(150), undefined, 'nothing twice');
      again.close();
    }

    const live = await connect(event.eventId, { 'last-event-id': seen.id as string });
    await live.nextEvent();
    await live.nextEvent();
    await hold(event.eventId, [c]);
    const next = await live.nextEvent();
    assert.deepEqual([next.json.state, next.json.seat_ids], ['held', [c]]);
  });

  it('sends a fresh snapshot when the changes after Last-Event-ID are no longer all kept', async () => {
    const event = await createTestEvent(services, 3);
    const [a, b] = event.seatIds as [number, number];
    const stream = await connect(event.eventId);
    await stream.nextEvent();
    await hold(event.eventId, [a]);
    const seen = await stream.nextEvent();
    stream.close();
    await hold(event.eventId, [b]);
    // The stream is capped (MAXLEN ~ 10000); here everything up to now has been trimmed away.
    await services.redis.xtrim(seatKeys.changes(event.eventId), 'MAXLEN', 0);

    const resumed = await connect(event.eventId, { 'last-event-id': seen.id as string });
    const snapshot = await resumed.nextEvent();
    assert.equal(snapshot.event, 'snapshot');
    assert.deepEqual(snapshot.json.held_seats, [a, b]);

    // An id from another event's stream (or another Redis) is not trusted either.
    const stranger = await connect(event.eventId, { 'last-event-id': '99999999999999-0' });
    assert.equal((await stranger.nextEvent()).event, 'snapshot');
  });

  it('sends a snapshot instead of replaying more than a thousand changes', async () => {
    const event = await createTestEvent(services, 2);
    const [a] = event.seatIds as [number];
    const stream = await connect(event.eventId);
    const snapshot = await stream.nextEvent();
    stream.close();
    for (let i = 0; i < 520; i++) {
      const token = randomUUID();
      await services.seats.take(event.eventId, [a], token, 60_000);
      await services.seats.release(event.eventId, [a], token);
    }
    const resumed = await connect(event.eventId, { 'last-event-id': snapshot.id as string });
    const first = await resumed.nextEvent();
    assert.equal(first.event, 'snapshot');
    assert.deepEqual(first.json.available_seats, event.seatIds);
  });

  it("starts from the process's seat-map snapshot in memory, then the changes made since it was read", async () => {
    const event = await createTestEvent(services, 3);
    const [a, b] = event.seatIds as [number, number];
    const snapshot = await seatMapSnapshots(services).get(event.eventId);
    assert.equal(snapshot?.changeId, '0-0');
    // A change recorded in the event's stream but not announced: the snapshot in memory stays
    // as it is (SEAT_MAP_MAX_AGE_MS), so only the replay can show it.
    await services.redis.set(seatKeys.seat(event.eventId, b), 'b:1');
    const recordedId = await services.redis.xadd(
      seatKeys.changes(event.eventId),
      '*',
      'change',
      JSON.stringify({ eventId: event.eventId, state: 'booked', seatIds: [b], userId: 1 }),
    );

    const stream = await connect(event.eventId);
    const first = await stream.nextEvent();
    assert.equal(first.event, 'snapshot');
    assert.equal(first.id, '0-0', 'the snapshot read before the change');
    assert.deepEqual(v.parse(SnapshotData, first.json), first.json, 'the contract holds');
    assert.deepEqual(first.json.available_seats, [a, b, event.seatIds[2]]);
    assert.ok(Math.abs(v.parse(SnapshotData, first.json).server_time - Date.now()) < 5_000);
    const replayed = await stream.nextEvent();
    assert.deepEqual([replayed.event, replayed.id], ['change', recordedId]);
    assert.deepEqual(replayed.json, { event_id: event.eventId, state: 'booked', seat_ids: [b] });
  });

  it('shares one Redis subscription among all streams, and a change reaches every one of them', async (t) => {
    const event = await createTestEvent(services, 2);
    const [a] = event.seatIds as [number];
    const subscribers = async () =>
      Number(((await services.redis.pubsub('NUMSUB', SEAT_CHANGES_CHANNEL)) as [string, number])[1]);
    await connect(event.eventId); // this process is subscribed from here on
    const before = await subscribers();
    const streams = await Promise.all(Array.from({ length: 200 }, () => connect(event.eventId)));
    await Promise.all(streams.map((s) => s.nextEvent()));
    // Besides the streams, the process's seat-map snapshot of the event watches it.
    assert.equal(seatChangeFeed(services).watching(event.eventId), 202);
    assert.equal(await subscribers(), before, 'no new subscription for 200 more streams');

    const started = performance.now();
    await hold(event.eventId, [a]);
    const arrivals = await Promise.all(streams.map(async (s) => (await s.nextEvent()).at - started));
    const [p50, p99, max] = [percentile(arrivals, 50), percentile(arrivals, 99), Math.max(...arrivals)];
    t.diagnostic(
      `200 streams: change delivered p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
    );
    assert.ok(max < 1_000, `${max} ms`);

    for (const s of streams) s.close();
    const deadline = Date.now() + 2_000;
    while (seatChangeFeed(services).watching(event.eventId) > 2 && Date.now() < deadline) {
      await sleep(20);
    }
    assert.equal(seatChangeFeed(services).watching(event.eventId), 2, 'closed streams stop watching');
  });

  it('catches up from the stream after the subscriber connection was lost', async () => {
    const event = await createTestEvent(services, 3);
    const [a, b] = event.seatIds as [number, number];
    const stream = await connect(event.eventId);
    await stream.nextEvent();
    const { localAddress, localPort } = (services.subscriber as RedisServer).stream as {
      localAddress?: string;
      localPort?: number;
    };
    await services.redis.client('KILL', 'ADDR', `${localAddress}:${localPort}`);
    // Made while this process hears nothing: only the stream has it.
    await hold(event.eventId, [a]);
    const missed = await stream.nextEvent(5_000);
    assert.deepEqual([missed.json.state, missed.json.seat_ids], ['held', [a]]);
    await hold(event.eventId, [b]);
    const live = await stream.nextEvent();
    assert.deepEqual([live.json.state, live.json.seat_ids], ['held', [b]], 'each change once, in order');
  });

  it('keeps a quiet stream open with heartbeat comments, past the request timeout', async () => {
    const quick = testServices({ SSE_HEARTBEAT_MS: '100', REQUEST_TIMEOUT_MS: '100' });
    const server = await startFunctions([seatStream], quick, { host: '127.0.0.1', port: 0 });
    const event = await createTestEvent(services, 1);
    const stream = await SseClient.open(`${server.url}/events/${event.eventId}/stream`);
    try {
      const retry = await stream.next((f) => f.retry !== undefined);
      assert.equal(retry.retry, 2_000);
      await stream.nextEvent();
      const beats = [
        await stream.next((f) => f.comment !== undefined, 1_000),
        await stream.next((f) => f.comment !== undefined, 1_000),
      ];
      assert.match(beats[0]?.comment ?? '', /^heartbeat/);
      const gap = (beats[1]?.at ?? 0) - (beats[0]?.at ?? 0);
      assert.ok(gap > 50 && gap < 400, `${gap} ms between heartbeats`);
      await sleep(150);
      await stream.next((f) => f.comment !== undefined, 1_000); // still open after REQUEST_TIMEOUT_MS
    } finally {
      stream.close();
      await server.stop();
      await closeServices(quick);
      quick.subscriber.disconnect();
    }
  });

  it('answers a flood of streams from one address with 429 past its cap, and goes on serving others', async () => {
    const capped = testServices({ SSE_MAX_PER_ADDRESS: '4', SSE_MAX_PER_PROCESS: '6', TRUST_PROXY: 'true' });
    const server = await startFunctions([seatStream], capped, { host: '127.0.0.1', port: 0 });
    const event = await createTestEvent(services, 2);
    const url = `${server.url}/events/${event.eventId}/stream`;
    const from = (address: string) => ({ 'x-forwarded-for': address });
    const flooder = `10.7.${randomInt(256)}.${randomInt(256)}`;
    const streams: Client[] = [];
    const stream = async (address: string) => {
      const opened = await SseClient.open(url, from(address));
      streams.push(opened);
      await opened.nextEvent();
      return opened;
    };
    try {
      for (let i = 0; i < 4; i++) await stream(flooder);
      const flood = await Promise.all(
        Array.from({ length: 30 }, () => fetch(url, { headers: from(flooder) })),
      );
      for (const refused of flood) {
        assert.equal(refused.status, 429);
        assert.equal(refused.headers.get('content-type'), 'application/problem+json');
        assert.equal(refused.headers.get('retry-after'), '5');
        assert.match((await refused.json()).detail, /At most 4 live streams may be open from one address/);
      }

      // Others are served: a change reaches their stream as ever.
      const other = await stream(`${flooder}1`);
      await hold(event.eventId, [event.seatIds[0] as number]);
      assert.equal((await other.nextEvent()).json.state, 'held');

      // Six in all on this process: the next address is refused too.
      await stream(`${flooder}2`);
      const full = await fetch(url, { headers: from(`${flooder}3`) });
      assert.equal(full.status, 429);
      assert.match((await full.json()).detail, /its most live streams open \(6\)/);

      // A stream the client closes gives its slot back.
      streams[0]?.close();
      const deadline = Date.now() + 5_000;
      while (openStreams(capped).open > 5 && Date.now() < deadline) await sleep(20);
      assert.equal(openStreams(capped).open, 5);
      await stream(flooder);
    } finally {
      for (const client of streams) client.close();
      await server.stop();
      await closeServices(capped);
      capped.subscriber.disconnect();
    }
  });

  it('answers problems before streaming: 404 unknown event, 400 bad id or Last-Event-ID', async () => {
    const cases: [string, Record<string, string>, number, RegExp][] = [
      ['/events/2000000000/stream', {}, 404, /No event 2000000000/],
      ['/events/abc/stream', {}, 400, /param\.eventId/],
      ['/events/0/stream', {}, 400, /param\.eventId/],
      ['/events/1/stream', { 'last-event-id': 'yesterday' }, 400, /header\.last-event-id/],
      ['/events/1/stream?last_event_id=1-x', {}, 400, /query\.last_event_id/],
      ['/events/1/stream?since=1', {}, 400, /since/],
    ];
    for (const [path, headers, status, detail] of cases) {
      const response = await fetch(`${running.url}${path}`, { headers });
      assert.equal(response.status, status, path);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      assert.match(JSON.stringify(await response.json()), detail);
    }
    const head = await fetch(`${running.url}/events/1/stream`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/event-stream');
  });

  it('answers 503 with Retry-After when Redis is down', async () => {
    const noRedis: Services = testServices({ REDIS_URL: 'redis://127.0.0.1:1/0' });
    try {
      const event = await createTestEvent(services, 1);
      const response = await createFunctionApp(seatStream, noRedis).request(
        `/events/${event.eventId}/stream`,
      );
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '2');
      assert.match((await response.json()).detail, /Redis/);
    } finally {
      await closeServices(noRedis);
      noRedis.subscriber.disconnect();
    }
  });
});
