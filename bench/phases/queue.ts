/**
 * The waiting room (`--queue`, issue 19 item 8): an on-sale behind the event's queue. The event
 * is created through POST /events with its on-sale time and queue; the buyers (bench/queue-
 * buyers.ts, their own process) join its line, learn their outcome and book once admitted. The
 * figures come from what the buyers saw and what Postgres recorded (bench/queue-report.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gridSeatNumbers } from '../../lib/booking/seats/numbers.ts';
import { issueToken } from '../../lib/platform/auth.ts';
import { confirmedRequests, ensureUsers, recordedTickets } from '../database.ts';
import type { QueueOptions } from '../options.ts';
import { ROOT } from '../processes.ts';
import type { GroupUsage } from '../procstat.ts';
import { progress, say } from '../progress.ts';
import type { QueueBuyersMessage, QueueBuyersResult, QueueEvent, QueueJob } from '../queue-buyers.ts';
import { type QueueRun, type QueueSettingsUsed, queueRun } from '../queue-report.ts';
import { QUEUE_FUNCTIONS, type RunningSystem, startSystem } from './designs.ts';
import { checkAnswers } from './invariants.ts';
import { quiesce, samplerFor } from './measure.ts';
import { waitQuiet } from './settle.ts';
import type { Context } from './stack.ts';

/** Buyers who join a second time once all have joined (one place per user: the same ticket). */
const REJOINS = 100;
/** The pre-queue's polling pages look first within this long after on-sale (refreshed at the announced time). */
const FIRST_POLL_SPREAD_S = 5;

export async function benchQueue(context: Context): Promise<QueueRun> {
  const { options } = context;
  const queue = options.queue;
  if (!queue) throw new Error('benchQueue needs --queue');
  if (context.userIds.length < queue.buyers)
    context.userIds = await ensureUsers(context.services.db.$client, queue.buyers);
  const system = await startSystem(context, QUEUE_FUNCTIONS, { queue: queue.instances });
  try {
    const warmUp = warmUpPlan(queue, options.warmup, options.seatsPerRow);
    if (warmUp) {
      const warm = await queueSale(context, system, warmUp, 'waiting room warm-up');
      say(
        `waiting room warm-up: ${Object.entries(warm.outcomes)
          .map(([outcome, n]) => `${outcome} ${n}`)
          .join(', ')}${warm.timedOut ? ' (timed out)' : ''}`,
      );
    }
    return await queueSale(context, system, queue, 'waiting room');
  } finally {
    await system.stop();
  }
}

/**
 * The same on-sale, smaller (a quarter of the buyers, at most `warmup` and 2,000), quick to sell
 * out: the functions' JIT, pools and the line's code paths are warm before the measured one.
 */
function warmUpPlan(queue: QueueOptions, warmup: number, seatsPerRow: number): QueueOptions | undefined {
  const buyers = Math.min(warmup, 2_000, Math.ceil(queue.buyers / 4));
  if (buyers === 0) return undefined;
  return {
    ...queue,
    buyers,
    seats: Math.max(seatsPerRow, Math.round((queue.seats * buyers) / queue.buyers)),
    onSaleS: 5,
    listeners: Math.min(queue.listeners, Math.ceil(buyers / 2)),
    thinkS: [0.2, 1],
    timeoutS: 60,
  };
}

async function queueSale(
  context: Context,
  system: RunningSystem,
  plan: QueueOptions,
  label: string,
): Promise<QueueRun> {
  const { options, services } = context;
  const pool = services.db.$client;
  await quiesce(services);
  const users = context.userIds.slice(0, plan.buyers);
  const prequeueBuyers = Math.round((plan.buyers * plan.prequeuePercent) / 100);
  const respondAsync = options.modes[0] === 'async';
  const job: QueueJob = {
    queueUrls: system.urls('queue'),
    bookUrl: system.url('book'),
    jwtSecret: context.env.JWT_SECRET as string,
    users,
    prequeueBuyers,
    listeners: plan.listeners,
    streamWithin: plan.streamWithin,
    pollMaxMs: plan.pollMaxS * 1000,
    firstPollSpreadMs: FIRST_POLL_SPREAD_S * 1000,
    admitPerMinute: plan.admitPerMinute,
    thinkMs: [plan.thinkS[0] * 1000, plan.thinkS[1] * 1000],
    maxSeatsPerBuyer: plan.maxSeatsPerBuyer,
    joinConnections: plan.joinConnections,
    pollConnections: plan.pollConnections,
    bookConnections: plan.bookConnections,
    respondAsync,
    timeoutMs: plan.timeoutS * 1000,
    seed: options.seed,
    rejoins: Math.min(REJOINS, plan.buyers),
  };

  let event: QueueEvent | undefined;
  let sampler: ReturnType<typeof samplerFor> | undefined;
  let processes: GroupUsage[] = [];
  const result = await runBuyers(context, label, job, {
    ready: async (buyersPid) => {
      event = await createQueueEvent(context, system, plan, label, users[0] as number);
      say(
        `${label}: event ${event.eventId}, ${plan.seats} seats, on sale at ${new Date(event.onSaleAt).toISOString()}; ` +
          `${plan.buyers} buyers, ${prequeueBuyers} of them before on-sale`,
      );
      sampler = samplerFor(context, { ...system.pids, buyers: buyersPid });
      await sampler.begin();
      return event;
    },
    finished: async () => {
      processes = (await sampler?.end()) ?? [];
    },
  });
  if (!event) throw new Error(`${label}: the buyers finished without an event`);

  const attempts = result.buyers.flatMap((buyer, i) =>
    buyer.books.map((book) => ({
      status: book.status,
      userId: users[i] as number,
      seatIds: book.seatIds,
      ...(book.requestId ? { requestId: book.requestId } : {}),
      ...(book.bookingIds ? { bookingIds: book.bookingIds } : {}),
    })),
  );
  const accepted = attempts.filter((answer) => answer.status === 201 || answer.status === 202).length;
  await waitQuiet(context, event.eventId, accepted, options.settleTimeoutMs, label);
  const settings: QueueSettingsUsed = {
    buyers: plan.buyers,
    seats: plan.seats,
    seatsPerRow: options.seatsPerRow,
    admitPerMinute: plan.admitPerMinute,
    maxActive: plan.maxActive,
    sessionMinutes: plan.sessionMinutes,
    prequeueMinutes: plan.prequeueMinutes,
    tickMs: services.config.QUEUE_TICK_MS,
    admitFactor: services.config.QUEUE_ADMIT_FACTOR,
    onSaleS: plan.onSaleS,
    prequeuePercent: plan.prequeuePercent,
    listeners: plan.listeners,
    streamWithin: plan.streamWithin,
    pollMaxS: plan.pollMaxS,
    firstPollSpreadS: Math.min(plan.pollMaxS, FIRST_POLL_SPREAD_S),
    thinkS: plan.thinkS,
    maxSeatsPerBuyer: plan.maxSeatsPerBuyer,
    instances: plan.instances,
    bookMode: respondAsync ? '`Prefer: respond-async`' : 'waiting for 201',
  };
  const run = queueRun({
    settings,
    onSaleAt: event.onSaleAt,
    result,
    users,
    prequeueBuyers,
    tickets: await recordedTickets(pool, event.eventId),
    confirmed: await confirmedRequests(pool, event.eventId),
    processes,
  });
  run.invariants = await checkAnswers(context, label, event.eventId, attempts);
  return run;
}

/** POST /events as an admin: the event's seats in rows, on sale `onSaleS` from now, behind its queue. */
async function createQueueEvent(
  context: Context,
  system: RunningSystem,
  plan: QueueOptions,
  label: string,
  adminId: number,
): Promise<QueueEvent> {
  const { seatsPerRow } = context.options;
  const onSaleAt = Date.now() + plan.onSaleS * 1000;
  const token = issueToken({ JWT_SECRET: context.env.JWT_SECRET as string }, { id: adminId, role: 'admin' });
  const response = await fetch(`${system.url('events')}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      name: `${label} (bench)`,
      date: '2030-01-01T20:00:00Z',
      location: 'Bench Arena',
      seat_numbers: gridSeatNumbers(Math.ceil(plan.seats / seatsPerRow), seatsPerRow).slice(0, plan.seats),
      on_sale_at: new Date(onSaleAt).toISOString(),
      queue: {
        enabled: true,
        admit_per_minute: plan.admitPerMinute,
        max_active: plan.maxActive,
        session_minutes: plan.sessionMinutes,
        prequeue_minutes: plan.prequeueMinutes,
      },
    }),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`${label}: POST /events answered ${response.status}: ${text}`);
  const created = JSON.parse(text) as { id: number; seats: { seat_id: number; seat_number: string }[] };
  // The answer lists the seats by id, drawn in the order of the numbers: row by row.
  return {
    eventId: created.id,
    onSaleAt,
    seatIds: created.seats.map((seat) => seat.seat_id),
    seatRows: created.seats.map((seat) => /^[A-Z]+/.exec(seat.seat_number)?.[0] ?? seat.seat_number),
  };
}

/**
 * Runs the buyers in their own process: once it is ready, `ready` creates the event (so its
 * on-sale time counts from the buyers' start) and starts the sampler; `finished` runs when the
 * last buyer knows its outcome. Resolves with the buyers' result.
 */
async function runBuyers(
  context: Context,
  label: string,
  job: QueueJob,
  hooks: { ready(pid: number): Promise<QueueEvent>; finished(): Promise<void> },
): Promise<QueueBuyersResult> {
  const dir = mkdtempSync(join(context.logDir, 'queue-'));
  const jobPath = join(dir, 'job.json');
  const resultPath = join(dir, 'result.json');
  writeFileSync(jobPath, JSON.stringify(job));
  const child: ChildProcess = fork(join(ROOT, 'bench/queue-buyers.ts'), [jobPath, resultPath], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: QueueBuyersMessage) => {
      if (message.type === 'ready') {
        hooks
          .ready(child.pid as number)
          .then((event) => child.send({ type: 'go', event }))
          .catch(reject);
      } else if (message.type === 'progress') {
        progress(`${label}: ${message.line}`);
      } else if (message.type === 'joined') {
        say(`${label}: ${message.prequeue ? 'the pre-queue has joined' : 'every buyer has joined'}`);
      } else if (message.type === 'done') {
        hooks.finished().then(resolve, reject);
      }
    });
    child.once('exit', (code) =>
      code === 0 ? undefined : reject(new Error(`queue buyers exited with ${code}`)),
    );
  });
  return JSON.parse(readFileSync(resultPath, 'utf8')) as QueueBuyersResult;
}
