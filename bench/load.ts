/**
 * The load generator, run as its own process (forked with IPC by bench/run.ts). It sends every
 * request of its job as fast as the target takes them over C keep-alive connections (undici), and
 * records each answer and its latency. Then, when told to, it asks booking-status for the outcome
 * of every request answered 202, as a client would. Progress goes to the parent as messages; the
 * answers go to the result file.
 *
 *   node --import tsx bench/load.ts <job.json> <result.json>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { warmUpClient } from './client-warm-up.ts';
import { userToken } from './token.ts';

export interface LoadJob {
  /** Origin of the booking endpoint, e.g. http://127.0.0.1:40001. */
  bookUrl: string;
  /** Origin of booking-status, for the 202s (none for the obvious design or the no-op). */
  statusUrl?: string;
  connections: number;
  /**
   * Requests per second to offer (open loop), or 0 to send the next request as soon as a
   * connection is free (closed loop: as fast as the target takes them).
   */
  rate: number;
  /** Signs each user's bearer token (the functions' JWT_SECRET); none for the no-op endpoint. */
  jwtSecret?: string;
  /** Send `Prefer: respond-async`. */
  respondAsync: boolean;
  eventId: number;
  /** Per request: its user id and seat ids. */
  users: number[];
  seats: number[][];
}

export interface LoadAnswer {
  status: number;
  /** Epoch ms (fractional) when the request was sent. */
  sentAt: number;
  latencyMs: number;
  requestId?: string;
  bookingIds?: number[];
  /** For a 202: what booking-status said once the system was quiet. */
  final?: { status: string; bookingIds?: number[] };
}

export interface LoadResult {
  firstSentAt: number;
  lastAnsweredAt: number;
  answers: LoadAnswer[];
  /** Transport errors (no HTTP answer), by message. */
  errors: Record<string, number>;
}

export type LoadMessage =
  | { type: 'ready' }
  | { type: 'progress'; answered: number; statuses: Record<string, number> }
  | { type: 'burst-done'; accepted: number; pending: number }
  | { type: 'done' };

const now = () => performance.timeOrigin + performance.now();

/** `Bearer <token>` of each request's user, signed before the load starts. */
function bearers(job: LoadJob): string[] | undefined {
  const secret = job.jwtSecret;
  return secret ? job.users.map((user) => `Bearer ${userToken(secret, user)}`) : undefined;
}

async function burst(
  job: LoadJob,
  tokens: string[] | undefined,
  result: LoadResult,
  statuses: Record<string, number>,
): Promise<void> {
  const pool = new Pool(job.bookUrl, {
    connections: job.connections,
    pipelining: 1,
    keepAliveTimeout: 120_000,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (job.respondAsync) headers.prefer = 'respond-async';
  let next = 0;
  const total = job.users.length;
  result.firstSentAt = now();
  const worker = async () => {
    for (let i = next++; i < total; i = next++) {
      const body = `{"user_id":${job.users[i]},"event_id":${job.eventId},"seat_ids":[${(job.seats[i] ?? []).join(',')}]}`;
      let sentAt = now();
      if (job.rate > 0) {
        // Open loop: request i is due at i/rate. Ahead of time, wait and count from the send;
        // behind it (every connection was busy), count from when it was due, so the wait the
        // target caused is in the latency (no coordinated omission).
        const due = result.firstSentAt + (i * 1000) / job.rate;
        if (due > sentAt) {
          await sleep(due - sentAt);
          sentAt = now();
        } else {
          sentAt = due;
        }
      }
      try {
        const response = await pool.request({
          path: '/bookings/book',
          method: 'POST',
          headers: tokens ? { ...headers, authorization: tokens[i] as string } : headers,
          body,
        });
        const text = await response.body.text();
        const answeredAt = now();
        const answer: LoadAnswer = { status: response.statusCode, sentAt, latencyMs: answeredAt - sentAt };
        if (response.statusCode === 201 || response.statusCode === 202 || response.statusCode === 409) {
          const parsed = JSON.parse(text) as { request_id?: string; bookings?: { id: number }[] };
          if (parsed.request_id) answer.requestId = parsed.request_id;
          if (parsed.bookings) answer.bookingIds = parsed.bookings.map((booking) => booking.id);
        }
        result.answers[i] = answer;
        result.lastAnsweredAt = Math.max(result.lastAnsweredAt, answeredAt);
        statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        result.errors[message] = (result.errors[message] ?? 0) + 1;
        result.answers[i] = { status: 0, sentAt, latencyMs: now() - sentAt };
        statuses.error = (statuses.error ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(job.connections, total) }, worker));
  await pool.close();
}

const DECIDED = new Set(['CONFIRMED', 'REJECTED']);

/** Asks booking-status for each 202's outcome; a request still PENDING is asked again until the deadline. */
async function pollOutcomes(job: LoadJob, result: LoadResult, deadline: number): Promise<void> {
  const waiting = result.answers.flatMap((answer, i) =>
    answer.status === 202 && answer.requestId ? [{ answer, user: job.users[i] as number }] : [],
  );
  if (!job.statusUrl || waiting.length === 0) return;
  const secret = job.jwtSecret;
  const pool = new Pool(job.statusUrl, { connections: Math.min(job.connections, 64), pipelining: 1 });
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < waiting.length; i = next++) {
      const { answer, user } = waiting[i] as { answer: LoadAnswer; user: number };
      const headers = secret ? { authorization: `Bearer ${userToken(secret, user)}` } : {};
      for (;;) {
        const response = await pool.request({
          path: `/bookings/requests/${answer.requestId}`,
          method: 'GET',
          headers,
        });
        const body = (await response.body.json()) as { status?: string; bookings?: { id: number }[] };
        answer.final = { status: body.status ?? `HTTP ${response.statusCode}` };
        if (body.bookings) answer.final.bookingIds = body.bookings.map((booking) => booking.id);
        if (DECIDED.has(answer.final.status) || Date.now() > deadline) break;
        await sleep(200);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(64, waiting.length) }, worker));
  await pool.close();
}

async function main(): Promise<void> {
  const [jobPath, resultPath] = process.argv.slice(2);
  if (!jobPath || !resultPath || !process.send)
    throw new Error('usage: forked with <job.json> <result.json>');
  const send = (message: LoadMessage) => process.send?.(message);
  const job = JSON.parse(readFileSync(jobPath, 'utf8')) as LoadJob;
  const result: LoadResult = {
    firstSentAt: 0,
    lastAnsweredAt: 0,
    answers: new Array(job.users.length),
    errors: {},
  };
  const statuses: Record<string, number> = {};
  const orders: { type: string; deadline?: number }[] = [];
  let ordered: (() => void) | undefined;
  process.on('message', (message: { type: string; deadline?: number }) => {
    orders.push(message);
    ordered?.();
  });
  const order = async (type: string) => {
    for (;;) {
      const index = orders.findIndex((message) => message.type === type);
      if (index >= 0) return orders.splice(index, 1)[0] as { type: string; deadline?: number };
      await new Promise<void>((resolve) => {
        ordered = resolve;
      });
    }
  };
  const tokens = bearers(job);
  await warmUpClient(job.bookUrl);
  send({ type: 'ready' });
  await order('go');
  const progress = setInterval(() => {
    const answered = Object.values(statuses).reduce((sum, n) => sum + n, 0);
    send({ type: 'progress', answered, statuses: { ...statuses } });
  }, 500);
  await burst(job, tokens, result, statuses);
  clearInterval(progress);
  const accepted = result.answers.filter((a) => (a.status === 201 || a.status === 202) && a.requestId).length;
  send({ type: 'burst-done', accepted, pending: result.answers.filter((a) => a.status === 202).length });
  const { deadline } = await order('poll');
  await pollOutcomes(job, result, deadline ?? Date.now());
  writeFileSync(resultPath, JSON.stringify(result));
  send({ type: 'done' });
  process.disconnect();
}

main().catch((error: unknown) => {
  console.error(`load: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
