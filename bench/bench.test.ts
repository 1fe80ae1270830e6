/**
 * The bench's own parts: the obvious design's endpoint against the real Postgres, its invariants,
 * the demand, and the reporting (numbers → verdicts → markdown), which needs no stack.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { Hono } from 'hono';
import { authenticate } from '../lib/platform/auth.ts';
import type { AppEnv } from '../lib/platform/env.ts';
import { closeServices, type Services } from '../lib/services.ts';
import { createTestEvent, createTestUsers, testServices } from '../test/support.ts';
import { baselineApp } from './baseline/app.ts';
import { warmBroker } from './broker.ts';
import { checkBaselineInvariants } from './database.ts';
import { planDemand } from './demand.ts';
import { longestRun } from './floors/postgres.ts';
import type { LoadResult } from './load.ts';
import { renderMarkdown, replaceLatest } from './markdown.ts';
import { parseOptions } from './options.ts';
import { stillPending, systemAnswers } from './phases/invariants.ts';
import { SERVER_NODE_FLAGS } from './processes.ts';
import { OTHERS, readProc } from './procstat.ts';
import {
  type BenchReport,
  confirmedRate,
  loadReport,
  medianRuns,
  percentiles,
  type RunReport,
  systemConfirmationMs,
} from './report.ts';
import { TARGETS } from './targets.ts';
import { userToken } from './token.ts';
import { ratiosOf, summarize, verdictsOf } from './verdicts.ts';

describe('the obvious design (bench/baseline)', () => {
  const services = testServices();
  const secret = 'a-test-secret-of-at-least-32-characters';
  const app = baselineApp(services.db.$client, { jwtSecret: secret });
  let users: number[];

  before(async () => {
    users = await createTestUsers(services, 3);
  });
  after(() => closeServices(services));

  const book = async (body: Record<string, unknown>, token = userToken(secret, Number(body.user_id))) => {
    const response = await app.request('/bookings/book', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('books all the seats in one transaction and answers 409 naming the taken ones', async () => {
    const event = await createTestEvent(services, 4);
    const [a, b, c] = event.seatIds as [number, number, number];
    const [u1, u2, u3] = users as [number, number, number];
    const first = await book({ user_id: u1, event_id: event.eventId, seat_ids: [a, b] });
    assert.equal(first.status, 201);
    const bookings = first.body.bookings as { id: number; seat_id: number; seat_number: string }[];
    assert.deepEqual(
      bookings.map((booking) => [booking.seat_id, booking.seat_number]),
      [
        [a, 'A1'],
        [b, 'A2'],
      ],
    );

    const second = await book({ user_id: u2, event_id: event.eventId, seat_ids: [c, b] });
    assert.equal(second.status, 409);
    assert.deepEqual(second.body.taken_seat_ids, [b]);
    const third = await book({ user_id: u3, event_id: event.eventId, seat_ids: [c] });
    assert.equal(third.status, 201, 'the refused request left seat c free');

    const answers = [
      { status: 201, userId: u1, seatIds: [a, b], bookingIds: bookings.map((booking) => booking.id) },
      { status: 409, userId: u2, seatIds: [c, b] },
      {
        status: 201,
        userId: u3,
        seatIds: [c],
        bookingIds: (third.body.bookings as { id: number }[]).map((booking) => booking.id),
      },
    ];
    assert.deepEqual(await checkBaselineInvariants(services.db.$client, event.eventId, answers), []);
    // The checker does see a broken promise: a 201 whose booking is not there, a 409 that booked.
    const broken = await checkBaselineInvariants(services.db.$client, event.eventId, [
      { status: 201, userId: u1, seatIds: [a], bookingIds: [2_000_000_000] },
      { status: 409, userId: u3, seatIds: [c] },
    ]);
    assert.equal(broken.length, 2);
    assert.match(broken[0] as string, /invariant 2/);
    assert.match(broken[1] as string, /invariant 3/);
  });

  it('needs a valid token of the booking user (401, 403)', async () => {
    const event = await createTestEvent(services, 1);
    const body = { user_id: users[0], event_id: event.eventId, seat_ids: event.seatIds };
    assert.equal(
      (await book(body, userToken('another-secret-of-at-least-32-chars', users[0] as number))).status,
      401,
    );
    assert.equal((await book(body, userToken(secret, users[1] as number))).status, 403);
    assert.equal((await book(body)).status, 201);
  });

  it('refuses seats of another event (422) and bad bodies (400), booking nothing', async () => {
    const event = await createTestEvent(services, 2);
    const other = await createTestEvent(services, 1);
    const foreign = await book({ user_id: users[0], event_id: event.eventId, seat_ids: [other.seatIds[0]] });
    assert.equal(foreign.status, 422);
    assert.deepEqual(foreign.body.unknown_seat_ids, [other.seatIds[0]]);
    assert.equal((await book({ user_id: users[0], event_id: event.eventId, seat_ids: [] })).status, 400);
    assert.equal(
      (await book({ user_id: 'x', event_id: event.eventId, seat_ids: [1] }, userToken(secret, 1))).status,
      400,
    );
    const { rows } = await services.db.$client.query(
      'select count(*)::int as n from bookings where event_id = any($1)',
      [[event.eventId, other.eventId]],
    );
    assert.equal(rows[0].n, 0);
  });
});

describe('bench helpers', () => {
  it('plans the same skewed demand every time: 1–4 adjacent seats of one row, front rows wanted most', () => {
    const options = {
      seats: 1_000,
      seatsPerRow: 50,
      requests: 5_000,
      minSeats: 1,
      maxSeats: 4,
      skew: 2,
      seed: 7,
    };
    const demand = planDemand(options);
    assert.deepEqual(planDemand(options), demand);
    const perRow = new Array<number>(20).fill(0);
    for (const [user, wanted] of demand.entries()) {
      assert.equal(wanted.user, user);
      assert.ok(wanted.seats.length >= 1 && wanted.seats.length <= 4);
      const row = Math.floor((wanted.seats[0] as number) / 50);
      assert.ok(wanted.seats.every((seat, i) => seat === (wanted.seats[0] as number) + i && seat < 1_000));
      assert.equal(Math.floor((wanted.seats.at(-1) as number) / 50), row, 'one row');
      perRow[row] = (perRow[row] ?? 0) + 1;
    }
    assert.ok((perRow[0] as number) > 3 * (perRow[19] as number), `front row wanted most: ${perRow}`);
  });

  it('computes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.deepEqual(percentiles(values), { p50: 50, p95: 95, p99: 99, max: 100 });
    assert.equal(percentiles([]), undefined);
  });

  it('finds the longest block of consecutive ids', () => {
    assert.deepEqual(longestRun([9, 1, 2, 3, 7, 8, 10, 11]), [7, 8, 9, 10, 11]);
  });

  it('starts every server with the V8 flags the image gives the functions', async () => {
    const dockerfile = await readFile(new URL('../deploy/Dockerfile', import.meta.url), 'utf8');
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    for (const flag of SERVER_NODE_FLAGS) assert.ok(entrypoint.includes(flag), `ENTRYPOINT has ${flag}`);
  });

  it('reads its own CPU and memory from /proc', () => {
    const sample = readProc(process.pid);
    assert.ok(sample && sample.cpu > 0 && sample.privateBytes > 0);
  });

  it("signs tokens the functions' authenticate() accepts", async () => {
    const secret = 'a-test-secret-of-at-least-32-characters';
    const app = new Hono<AppEnv>()
      .use(async (c, next) => {
        c.set('services', { config: { JWT_SECRET: secret } } as unknown as Services);
        await next();
      })
      .get('/', authenticate(), (c) => c.json(c.get('caller')));
    const response = await app.request('/', {
      headers: { authorization: `Bearer ${userToken(secret, 42)}` },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { id: 42, role: 'user' });
  });

  it('replaces only the table between the README markers', () => {
    const readme = 'a\n<!-- bench:latest:start -->\nold\n<!-- bench:latest:end -->\nb\n';
    assert.equal(
      replaceLatest(readme, 'new'),
      'a\n<!-- bench:latest:start -->\nnew\n<!-- bench:latest:end -->\nb\n',
    );
    assert.equal(replaceLatest('no markers', 'new'), undefined);
  });
});

describe('bench reporting: numbers, verdicts, markdown (no stack)', () => {
  const result = (answers: LoadResult['answers']): LoadResult => ({
    firstSentAt: 1_000,
    lastAnsweredAt: 3_000,
    answers,
    errors: {},
  });
  /** A run whose confirmed bookings/s and answer p99 are the given ones. */
  const run = (name: string, bookingsPerS: number, p99: number, othersCores = 0): RunReport => ({
    name,
    answerMeans: 'test',
    requests: 10,
    durationS: 1,
    requestsPerS: 2 * bookingsPerS,
    latencyMs: { p50: 1, p95: p99, p99, max: p99 },
    statuses: { 201: 10 },
    latencyByStatusMs: {},
    errors: {},
    confirmed: { bookings: bookingsPerS, requests: bookingsPerS, spanS: 1, bookingsPerS },
    processes: [{ name: OTHERS, processes: 0, cpuSeconds: othersCores, cores: othersCores, peakRssBytes: 0 }],
    invariants: { checked: '1–5', violations: [] },
  });
  const report = (runs: RunReport[]): BenchReport => ({
    runId: 'test-run',
    machine: { cores: 2, loadAverageAtStart: '0.10 0.20 0.30' },
    options: { ...parseOptions(['--quick']) },
    runs,
    floors: {},
    ratios: {},
    targets: [],
    notes: [],
  });

  it('counts a run: rate over first sent → last answered, latency without transport errors', () => {
    const numbers = loadReport(
      'run',
      'test',
      result([
        { status: 201, sentAt: 1_000, latencyMs: 10 },
        { status: 409, sentAt: 1_000, latencyMs: 20 },
        { status: 0, sentAt: 1_000, latencyMs: 500 },
        { status: 202, sentAt: 1_000, latencyMs: 30 },
      ]),
      [],
    );
    assert.equal(numbers.durationS, 2);
    assert.equal(numbers.requestsPerS, 2);
    assert.deepEqual(numbers.statuses, { 201: 1, 409: 1, error: 1, 202: 1 });
    assert.equal(numbers.latencyMs?.max, 30);
    assert.equal(numbers.latencyByStatusMs.error?.max, 500);
  });

  it('rates confirmations up to the last one, or the last answer when none is known', () => {
    const times = { firstSentAt: 1_000, lastAnsweredAt: 3_000 };
    assert.deepEqual(confirmedRate({ bookings: 300, requests: 100, lastAt: 4_000 }, times), {
      bookings: 300,
      requests: 100,
      spanS: 3,
      bookingsPerS: 100,
    });
    assert.equal(confirmedRate({ bookings: 300, requests: 100 }, times).bookingsPerS, 150);
  });

  it("times the system's confirmations in Postgres and as clients see them", () => {
    const timings = systemConfirmationMs(
      new Map([['a', { requestedAt: 100, decidedAt: 150 }]]),
      result([{ status: 202, sentAt: 90, latencyMs: 1, requestId: 'a' }]),
      new Map([['a', 200]]),
    );
    assert.equal(timings.requestedToDecided?.p50, 50);
    assert.equal(timings.sentToVisible?.p50, 110);
  });

  it("reports each design's median round, carrying every round's numbers", () => {
    const rounds = [30, 10, 20].map((bookingsPerS, i) => [
      run('system', bookingsPerS, 5, i),
      run('obvious design', 10, 5),
    ]);
    const [system, baseline] = medianRuns(rounds);
    assert.equal(system?.confirmed?.bookingsPerS, 20);
    assert.deepEqual(
      system?.rounds?.map((round) => [round.bookingsPerS, round.othersCores]),
      [
        [30, 0],
        [10, 1],
        [20, 2],
      ],
    );
    assert.equal(baseline?.rounds?.length, 3);
    const single = run('system', 10, 5);
    assert.deepEqual(medianRuns([[single]]), [single]);
  });

  it('judges every system run against the targets of bench/targets.ts', () => {
    const { confirmedBookingsVsObvious: ratio, answerP99Ms: p99 } = TARGETS;
    const runs = [
      run('met', 100 * ratio, p99),
      run('missed', 100 * ratio - 1, p99 + 1),
      run('obvious design', 100, 100),
    ];
    assert.deepEqual(verdictsOf(runs, 256), [
      { name: 'confirmed bookings/s ÷ obvious design (met)', value: ratio, target: `≥ ${ratio}`, met: true },
      { name: 'answer p99 at 256 connections (met), ms', value: p99, target: `≤ ${p99}`, met: true },
      {
        name: 'confirmed bookings/s ÷ obvious design (missed)',
        value: +((100 * ratio - 1) / 100).toFixed(2),
        target: `≥ ${ratio}`,
        met: false,
      },
      { name: 'answer p99 at 256 connections (missed), ms', value: p99 + 1, target: `≤ ${p99}`, met: false },
    ]);
    // Without the obvious design there is no ratio to judge.
    assert.equal(verdictsOf([run('alone', 100, p99)], 256)[0]?.met, null);
  });

  it('compares each system run with the obvious design and the floors, a missing floor as no value', () => {
    const ratios = ratiosOf({ runs: [run('system', 200, 10), run('obvious design', 100, 40)], floors: {} });
    assert.deepEqual(ratios, {
      'confirmed bookings/s, system ÷ obvious design': 2,
      'requests/s, system ÷ obvious design': 2,
      'answer p99, system ÷ obvious design': 0.25,
      'requests/s, system ÷ no-op floor': null,
      'confirmed bookings/s, system ÷ Postgres floor': null,
      'requests/s, obvious design ÷ no-op floor': null,
      'confirmed bookings/s, obvious design ÷ Postgres floor': null,
    });
  });

  it('renders the verdicts with their targets, and a broken invariant, in the markdown', () => {
    const broken = run('system', 150, 30);
    broken.invariants = { checked: '1–5', violations: ['invariant 1: …'] };
    const summarized = report([broken, run('obvious design', 100, 40)]);
    summarize(summarized, parseOptions(['--quick']));
    const markdown = renderMarkdown(summarized);
    assert.match(markdown, /^\*\*Run test-run\*\*/);
    assert.ok(
      markdown.includes(
        `| confirmed bookings/s ÷ obvious design (system) | 1.50 | ≥ ${TARGETS.confirmedBookingsVsObvious} | **no** |`,
      ),
    );
    assert.ok(
      markdown.includes(`| answer p99 at 256 connections (system), ms | 30.00 | ≤ ${TARGETS.answerP99Ms} |`),
    );
    assert.ok(markdown.includes('| invariants | **BROKEN** | 1–5 hold |'));
    assert.ok(markdown.includes("- Every process shares the machine's 2 cores"));
  });

  it('counts a 202 later CONFIRMED as a 201, and a 202 still PENDING as broken invariant 4', () => {
    const job = { users: [7, 8], seats: [[1], [2, 3]] };
    const answers = result([
      {
        status: 202,
        sentAt: 0,
        latencyMs: 1,
        requestId: 'a',
        final: { status: 'CONFIRMED', bookingIds: [5] },
      },
      { status: 202, sentAt: 0, latencyMs: 1, requestId: 'b', final: { status: 'PENDING' } },
    ]);
    assert.deepEqual(systemAnswers(job, answers), [
      { userId: 7, seatIds: [1], status: 201, requestId: 'a', bookingIds: [5] },
      { userId: 8, seatIds: [2, 3], status: 202, requestId: 'b', bookingIds: undefined },
    ]);
    assert.deepEqual(stillPending(answers), ['invariant 4: still PENDING at booking-status: b']);
  });
});

describe('the Kafka broker warm-up (bench/broker)', () => {
  const services = testServices();
  after(() => closeServices(services));

  it('pushes its produce requests through the real broker, consumes them all, and leaves nothing behind', async () => {
    const prefix = `${services.kafka.prefix}warm-${randomUUID().slice(0, 8)}.`;
    const ms = await warmBroker(services.kafka.kafka, prefix, 200);
    assert.ok(ms > 0);
    const admin = services.kafka.kafka.admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      assert.deepEqual(
        topics.filter((topic) => topic.startsWith(prefix)),
        [],
      );
      const { groups } = await admin.listGroups();
      assert.deepEqual(
        groups.filter((group) => group.groupId.startsWith(prefix)),
        [],
      );
    } finally {
      await admin.disconnect();
    }
  });
});
