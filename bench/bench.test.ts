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
import { parseOptions, type Scenario } from './options.ts';
import { stillPending, systemAnswers } from './phases/invariants.ts';
import { planSales } from './phases/scenarios.ts';
import type { Context } from './phases/stack.ts';
import { SERVER_NODE_FLAGS } from './processes.ts';
import { OTHERS, readProc } from './procstat.ts';
import {
  type BenchReport,
  confirmedRate,
  loadReport,
  medianReadRuns,
  medianRuns,
  percentiles,
  type ReadReport,
  type ReadRun,
  type RunReport,
  readReports,
  systemConfirmationMs,
  type Verdict,
} from './report.ts';
import { LARGE_PRIMARY_CORES, scaleOutOf } from './scale-out.ts';
import { TARGETS } from './targets.ts';
import { userToken } from './token.ts';
import { ratiosOf, stormLossPercent, summarize, verdictsOf } from './verdicts.ts';

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

  it("answers an event's seat map from Postgres in event-seats' shape (404 without seats, 400 for a bad id)", async () => {
    const event = await createTestEvent(services, 3);
    const [a, b, c] = event.seatIds as [number, number, number];
    assert.equal((await book({ user_id: users[0], event_id: event.eventId, seat_ids: [b] })).status, 201);
    const response = await app.request(`/events/seats/${event.eventId}`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      event_id: event.eventId,
      booked_seats: [b],
      available_seats: [a, c],
      held_seats: [],
      seats: [
        { seat_id: a, seat_number: 'A1', state: 'available' },
        { seat_id: b, seat_number: 'A2', state: 'booked' },
        { seat_id: c, seat_number: 'A3', state: 'available' },
      ],
    });
    assert.equal((await app.request('/events/seats/2000000000')).status, 404);
    const bad = await app.request('/events/seats/abc');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { status: number }).status, 400);
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
    const nodeOptions = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile)?.[1]?.split(' ') ?? [];
    for (const flag of SERVER_NODE_FLAGS) assert.ok(nodeOptions.includes(flag), `NODE_OPTIONS has ${flag}`);
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
  /** A run of `scenario` whose confirmed bookings/s and answer p99 are the given ones. */
  const run = (
    name: string,
    bookingsPerS: number,
    p99: number,
    othersCores = 0,
    scenario: Scenario = 'flash',
  ): RunReport => ({
    scenario,
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
  const openLoop = (name: string, factor: number, p99: number): RunReport => ({
    ...run(name, 10, p99, 0, 'open-loop'),
    offered: { factor, rate: 1_000 * factor },
  });
  const read = (seats: number, mode: string, readsPerS: number, bytesPerAnswer: number): ReadReport => ({
    label: `${seats} seats, ${mode}`,
    seats,
    mode,
    connections: 32,
    requests: readsPerS,
    readsPerS,
    latencyMs: { p50: 1, p95: 2, p99: 3, max: 4 },
    bytesPerAnswer,
    statuses: { [mode === '304' ? 304 : 200]: readsPerS },
    errors: {},
  });
  const report = (runs: RunReport[], reads: ReadRun[] = []): BenchReport => ({
    runId: 'test-run',
    machine: { cores: 2, loadAverageAtStart: '0.10 0.20 0.30' },
    options: { ...parseOptions(['--quick']) },
    runs,
    reads,
    floors: {},
    ratios: {},
    targets: [],
    notes: [],
    measures: {},
  });
  const verdict = (verdicts: Verdict[], name: string) => verdicts.find((v) => v.name.startsWith(name));
  const has = (markdown: string, text: string) =>
    assert.ok(markdown.includes(text), `no ${text} in\n${markdown}`);

  it('counts a run: rate over first sent → last answered, latency without transport errors', () => {
    const numbers = loadReport(
      'flash',
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
    assert.equal(numbers.scenario, 'flash');
    assert.equal(numbers.durationS, 2);
    assert.equal(numbers.requestsPerS, 2);
    assert.deepEqual(numbers.statuses, { 201: 1, 409: 1, error: 1, 202: 1 });
    assert.equal(numbers.latencyMs?.max, 30);
    assert.equal(numbers.latencyByStatusMs.error?.max, 500);
  });

  it('counts reads: rate over first sent → last answered, bytes on the wire per answer', () => {
    const [numbers] = readReports([
      {
        label: '4,000 seats, br',
        seats: 4_000,
        mode: 'br',
        form: 'seats',
        connections: 2,
        firstSentAt: 1_000,
        lastAnsweredAt: 1_500,
        latenciesMs: [1, 2, 3, 4],
        bytes: 4_000,
        statuses: { 200: 4 },
        errors: {},
      },
    ]);
    assert.equal(numbers?.readsPerS, 8);
    assert.equal(numbers?.bytesPerAnswer, 1_000);
    assert.equal(numbers?.latencyMs?.p50, 2);
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

  it("reports each scenario's and design's median round, carrying every round's numbers", () => {
    const rounds = [30, 10, 20].map((bookingsPerS, i) => [
      run('system', bookingsPerS, 5, i),
      run('obvious design', 10, 5),
      run('system', 100 - bookingsPerS, 5, 0, 'hot-seat'),
    ]);
    const [system, baseline, hot] = medianRuns(rounds);
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
    assert.equal(hot?.scenario, 'hot-seat');
    assert.equal(hot?.confirmed?.bookingsPerS, 80);
    const single = run('system', 10, 5);
    assert.deepEqual(medianRuns([[single]]), [single]);
  });

  it('keeps the open loop apart by offered rate, its median round by answer p99', () => {
    const rounds = [9, 40, 20].map((p99) => [openLoop('system', 1, p99), openLoop('system', 2, p99 * 10)]);
    const medians = medianRuns(rounds);
    assert.deepEqual(
      medians.map((median) => [median.offered?.factor, median.latencyMs?.p99]),
      [
        [1, 20],
        [2, 200],
      ],
    );
  });

  it("reports each design's median round of the seat maps read alone", () => {
    const rounds = [3_000, 1_000, 2_000].map((readsPerS) => [
      { name: 'system', reads: [read(4_000, 'br', readsPerS, 10)], processes: [] },
    ]);
    const [system] = medianReadRuns(rounds);
    assert.equal(system?.reads[0]?.readsPerS, 2_000);
    assert.deepEqual(system?.rounds, [{ readsPerS: 3_000 }, { readsPerS: 1_000 }, { readsPerS: 2_000 }]);
  });

  it('judges the system against every target of bench/targets.ts, on the runs of each scenario', () => {
    const flash = TARGETS.flashBookingsVsObvious;
    const measured = report(
      [
        run('system', 100 * flash, 50),
        run('obvious design', 100, 100),
        run('system', 100 * TARGETS.hotSeatBookingsVsObvious - 1, 5, 0, 'hot-seat'),
        run('obvious design', 100, 5, 0, 'hot-seat'),
        openLoop('system', 1, 100),
        openLoop('system', TARGETS.openLoopFactor, TARGETS.openLoopP99Ms),
        openLoop('obvious design', TARGETS.openLoopFactor, 1_000),
        run('system', 100 * flash * 0.85, 5, 0, 'read-storm'),
      ],
      [
        {
          name: 'system',
          reads: [
            read(4_000, 'br', TARGETS.seatMapReadsPerS, 14_000),
            read(4_000, '304', TARGETS.seatMap304PerS - 1, 0),
            read(50_000, 'br', 100, 120_000),
          ],
          processes: [],
        },
      ],
    );
    const verdicts = verdictsOf(measured);
    assert.deepEqual(verdict(verdicts, 'flash sale: confirmed bookings/s ÷ obvious design (system)'), {
      name: 'flash sale: confirmed bookings/s ÷ obvious design (system)',
      value: flash,
      target: `≥ ${flash}`,
      met: true,
    });
    assert.equal(verdict(verdicts, 'hot-seat on-sale')?.met, false);
    const open = verdict(verdicts, `open loop at ${TARGETS.openLoopFactor}×`);
    assert.equal(open?.value, TARGETS.openLoopP99Ms, 'judged at the target factor, on the system');
    assert.equal(open?.met, true);
    assert.deepEqual(
      [verdict(verdicts, 'read storm')?.value, verdict(verdicts, 'read storm')?.met],
      [15, false],
    );
    assert.equal(verdict(verdicts, 'seat map of 4,000 seats read alone, Brotli')?.met, true);
    assert.equal(verdict(verdicts, 'seat map of 4,000 seats read alone, 304')?.met, false);
    assert.deepEqual(
      [
        verdict(verdicts, 'seat map of 50,000 seats on the wire')?.value,
        verdict(verdicts, 'seat map of 50,000')?.met,
      ],
      [120, false],
    );
    // With the compact form read too, a large map is judged on it: its states plus its layout.
    const system = measured.reads[0] as (typeof measured.reads)[number];
    system.reads.push(
      { ...read(50_000, 'br', 100, 4_000), form: 'seat-map' },
      { ...read(50_000, 'br', 100, 5_000), form: 'seat-layout' },
    );
    const compact = verdict(verdictsOf(measured), 'seat map of 50,000');
    assert.deepEqual([compact?.value, compact?.met], [9, true]);
    assert.match(compact?.name ?? '', /seat-map \+ seat-layout/);
    // Measured elsewhere and not given: there, with no value.
    assert.deepEqual(verdict(verdicts, "a refused request's CPU"), {
      name: "a refused request's CPU ÷ a no-op request's",
      value: null,
      target: `≤ ${TARGETS.refusedCpuVsNoop}`,
      met: null,
    });
    measured.measures = { refusedCpuVsNoop: 1.5, idleRssMiB: 70 };
    const given = verdictsOf(measured);
    assert.equal(verdict(given, "a refused request's CPU")?.met, true);
    assert.equal(verdict(given, 'each function idle')?.met, false);
    assert.equal(verdict(given, 'each function: start to ready')?.met, null);
  });

  it('shows a scenario that did not run, or ran without the obvious design, as not measured', () => {
    const verdicts = verdictsOf(report([run('system', 100, 5)]));
    for (const name of ['flash sale', 'hot-seat on-sale', 'open loop', 'read storm', 'seat map of 4,000'])
      assert.equal(verdict(verdicts, name)?.met, null, name);
  });

  it('compares each flash-sale system run with the obvious design and the floors, a missing floor as no value', () => {
    const ratios = ratiosOf({
      runs: [run('system', 200, 10), run('obvious design', 100, 40), run('system', 1, 1, 0, 'hot-seat')],
      floors: {},
    });
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

  it('measures the read storm against the same design’s flash sale', () => {
    assert.equal(stormLossPercent(run('system', 90, 1, 0, 'read-storm'), run('system', 100, 1)), 10);
    assert.equal(stormLossPercent(run('system', 110, 1, 0, 'read-storm'), run('system', 100, 1)), -10);
    assert.equal(stormLossPercent(run('system', 90, 1, 0, 'read-storm'), undefined), null);
  });

  it('states each design’s ceiling as cores ÷ CPU per confirmed booking, and what saturates first', () => {
    const usage = (name: string, cpuSeconds: number) => ({
      name,
      processes: 1,
      cpuSeconds,
      cores: 0,
      peakRssBytes: 0,
    });
    const system = {
      ...run('system, respond-async', 1_000, 5),
      requests: 20_000,
      confirmed: { bookings: 10_000, requests: 4_000, spanS: 10, bookingsPerS: 1_000 },
      processes: [usage('booking-processor', 2), usage('postgres', 1), usage('redis', 4), usage('kafka', 1)],
    };
    const obvious = {
      ...run('obvious design', 500, 5),
      confirmed: { bookings: 10_000, requests: 4_000, spanS: 20, bookingsPerS: 500 },
      processes: [usage('postgres', 10)],
    };
    const scale = scaleOutOf([system, obvious], 2);
    assert.deepEqual(scale.primaryCores, [2, LARGE_PRIMARY_CORES]);
    const [s, o] = scale.designs;
    assert.deepEqual(
      s?.ceilings.map((c) => [c.resource, c.cpuMsPerBooking, c.bookingsPerS]),
      [
        ['Postgres primary, 2 cores', 0.1, 20_000],
        [`Postgres primary, ${LARGE_PRIMARY_CORES} cores`, 0.1, 160_000],
        ['Redis (one thread)', 0.4, 2_500],
        ["booking-processor of the event's partition (one thread)", 0.2, 5_000],
        ['Kafka broker, 2 cores', 0.1, 20_000],
      ],
    );
    assert.equal(s?.firstToSaturate, 'Redis (one thread)');
    assert.equal(s?.redisCpuUsPerRequest, 200);
    assert.deepEqual(
      o?.ceilings.map((c) => [c.resource, c.bookingsPerS]),
      [
        ['Postgres primary, 2 cores', 2_000],
        [`Postgres primary, ${LARGE_PRIMARY_CORES} cores`, 16_000],
      ],
    );
    assert.equal(o?.firstToSaturate, `Postgres primary, ${LARGE_PRIMARY_CORES} cores`);
  });

  it('renders every scenario, the scale-out and the verdicts (not measured too) in the markdown', () => {
    const broken = run('system', 150, 30);
    broken.invariants = { checked: '1–5', violations: ['invariant 1: …'] };
    const summarized = report(
      [
        broken,
        run('obvious design', 100, 40),
        run('system', 500, 5, 0, 'hot-seat'),
        run('obvious design', 100, 5, 0, 'hot-seat'),
        openLoop('system', 2, 24),
        run('system', 135, 5, 0, 'read-storm'),
      ],
      [{ name: 'system', reads: [read(4_000, 'br', 6_000, 14_000)], processes: [] }],
    );
    summarized.openLoopBase = { requestsPerS: 1_000, measuredIn: 'its flash sale in round 1' };
    summarize(summarized, parseOptions(['--quick']));
    const markdown = renderMarkdown(summarized);
    assert.match(markdown, /^\*\*Run test-run\*\*/);
    for (const title of ['### Flash sale', '### Hot-seat on-sale', '### Open loop', '### Read storm'])
      has(markdown, title);
    has(
      markdown,
      `| flash sale: confirmed bookings/s ÷ obvious design (system) | 1.50 | ≥ ${TARGETS.flashBookingsVsObvious} | **no** |`,
    );
    has(markdown, '| hot-seat on-sale: confirmed bookings/s ÷ obvious design (system) | 5.00 | ≥ 5 | yes |');
    has(markdown, '| 2,000/s (2×) | system | 20 |');
    has(markdown, '| system | 150 | 135 | 10.0 % |');
    has(markdown, '| 4000 seats, br | system | 6,000 |');
    has(markdown, `| a refused request's CPU ÷ a no-op request's | – | ≤ 2 | not measured |`);
    has(markdown, '| invariants | **BROKEN** | 1–5 hold |');
    has(markdown, '### Scale-out');
    has(markdown, "- Every process shares the machine's 2 cores");
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

describe('bench scenarios and flags (no stack)', () => {
  it('runs every scenario by default, in round order, three rounds for a full run and one quick', () => {
    const full = parseOptions([]);
    assert.deepEqual(full.scenarios, ['flash', 'hot-seat', 'open-loop', 'read-storm']);
    assert.equal(full.rounds, 3);
    assert.equal(parseOptions(['--quick']).rounds, 1);
    assert.deepEqual(parseOptions(['--scenario', 'read-storm,hot-seat']).scenarios, [
      'hot-seat',
      'read-storm',
    ]);
    assert.deepEqual(parseOptions(['--only', 'system']).scenarios, ['flash', 'hot-seat', 'read-storm']);
    assert.throws(() => parseOptions(['--scenario', 'flash,stampede']), /unknown scenario stampede/);
    assert.throws(() => parseOptions(['--read-events', '4000,x']), /--read-events/);
    assert.deepEqual(full.readEventSeats, [4_000, 50_000]);
    assert.equal(full.readSaleMap, true);
    assert.equal(parseOptions(['--no-sale-map']).readSaleMap, false);
  });

  /** planSales reads only the options, the flash sale's demand and the open loop's unit. */
  const contextOf = (argv: string[], openLoopBase?: Context['openLoopBase']) => {
    const options = parseOptions(argv);
    return { options, demand: planDemand(options), openLoopBase } as unknown as Context;
  };

  it('plans the hot-seat on-sale as demand 20× the supply on 500 seats, in the first mode only', () => {
    const [hot] = planSales(contextOf([]), 'hot-seat');
    assert.equal(hot?.seats, 500);
    assert.equal(hot?.demand.length, 10_000);
    assert.deepEqual(hot?.modes, ['async']);
    assert.ok(hot?.demand.every((wanted) => wanted.seats.every((seat) => seat < 500)));
  });

  it('offers the open loop 0.5×, 1× and 2× the obvious design’s maximum, three requests per seat', () => {
    const plans = planSales(
      contextOf(['--open-loop-seconds', '10'], { requestsPerS: 3_000, measuredIn: 'x' }),
      'open-loop',
    );
    assert.deepEqual(
      plans.map((plan) => [plan.offered?.factor, plan.rate, plan.demand.length, plan.seats]),
      [
        [0.5, 1_500, 15_000, 5_000],
        [1, 3_000, 30_000, 10_000],
        [2, 6_000, 60_000, 20_000],
      ],
    );
    assert.throws(() => planSales(contextOf([]), 'open-loop'), /not been measured/);
  });

  it('runs the read storm through the flash sale, and the flash sale without it when not asked for', () => {
    const both = planSales(contextOf([]), 'read-storm');
    assert.deepEqual(
      both.map((plan) => [plan.scenario, plan.storm]),
      [['read-storm', true]],
    );
    const alone = planSales(contextOf(['--scenario', 'read-storm']), 'read-storm');
    assert.deepEqual(
      alone.map((plan) => [plan.scenario, plan.storm, plan.modes]),
      [
        ['flash', false, ['async']],
        ['read-storm', true, ['async']],
      ],
    );
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
