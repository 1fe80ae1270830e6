/**
 * A buyer's client, as a careful real one behaves: each logical request has its own
 * Idempotency-Key, and an answer that does not settle it (a 5xx, a 429, a 409 "still being
 * processed", or no answer at all) is retried with the SAME key, honouring Retry-After, within a
 * bounded number of attempts and time. A 202 is polled at its status URL until decided.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { DECIDED_STATUSES } from '../lib/booking/responses.ts';

export interface Attempt {
  /** ms since the load started. */
  at: number;
  /** HTTP status, or 0 when no answer came (refused, reset, timed out). */
  status: number;
  ms: number;
  requestId?: string;
  detail?: string;
}

export interface Final {
  status: number;
  requestId?: string;
  bookingIds?: number[];
  detail?: string;
  /** A 409 that only said the key is still being processed: the client never learnt the outcome. */
  stillProcessing?: boolean;
}

export interface Polled {
  status: string;
  bookingIds?: number[];
  /** ms since the load started when booking-status first answered a decision. */
  decidedAt?: number;
}

export interface LogicalRequest {
  kind: 'book' | 'cancel' | 'probe';
  userId: number;
  key: string;
  seatIds: number[];
  /** For a cancel: the booking it cancels. */
  bookingId?: number;
  respondAsync: boolean;
  attempts: Attempt[];
  final?: Final;
  /** For a final 202: what booking-status said. */
  polled?: Polled;
}

/**
 * A patient client's budget: enough attempts to outlast a function's restart and an idempotency
 * lease at Retry-After: 1, and time to outlast Kafka's own retries (4 × 30 s).
 */
export const RETRY = { attempts: 30, totalMs: 200_000, maxRetryAfterMs: 15_000 };

const STILL_PROCESSING = /still being processed/i;

const agent = new Agent({
  connections: 512,
  keepAliveTimeout: 30_000,
  // A book request may wait for Kafka's own retries (4 × 30 s) before it answers.
  headersTimeout: 180_000,
  bodyTimeout: 180_000,
  connect: { timeout: 5_000 },
});

export async function closeClients(): Promise<void> {
  await agent.close();
}

interface Answered {
  status: number;
  body: Record<string, unknown>;
  retryAfterMs?: number;
}

async function call(
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answered> {
  const response = await request(url, { method, headers, body, dispatcher: agent });
  const text = await response.body.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {}
  const retryAfter = Number(response.headers['retry-after']);
  return {
    status: response.statusCode,
    body: parsed,
    retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
  };
}

const settles = (status: number, detail: string | undefined) =>
  status !== 0 && status < 500 && status !== 429 && !(status === 409 && STILL_PROCESSING.test(detail ?? ''));

/**
 * Sends one logical request until its answer settles it or the attempts or time run out; the
 * last answer is its final one. `url()` is read per attempt (a restarted function may move).
 */
export async function send(
  logical: LogicalRequest,
  method: 'POST' | 'DELETE',
  url: () => string,
  headers: Record<string, string>,
  body: string | undefined,
  clock: () => number,
): Promise<Final> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    const at = clock();
    let answered: Answered;
    try {
      answered = await call(method, url(), { ...headers, 'idempotency-key': logical.key }, body);
    } catch (error) {
      answered = { status: 0, body: { detail: error instanceof Error ? error.message : String(error) } };
    }
    const detail = typeof answered.body.detail === 'string' ? answered.body.detail : undefined;
    const requestId = typeof answered.body.request_id === 'string' ? answered.body.request_id : undefined;
    logical.attempts.push({ at, status: answered.status, ms: clock() - at, requestId, detail });
    const bookings = answered.body.bookings as { id: number }[] | undefined;
    const final: Final = {
      status: answered.status,
      requestId,
      bookingIds: bookings?.map((booking) => booking.id),
      detail,
      stillProcessing: answered.status === 409 && STILL_PROCESSING.test(detail ?? ''),
    };
    if (settles(answered.status, detail)) return final;
    const wait = Math.min(answered.retryAfterMs ?? 500 * 2 ** attempt, RETRY.maxRetryAfterMs);
    if (attempt + 1 >= RETRY.attempts || Date.now() - started + wait > RETRY.totalMs) return final;
    await sleep(wait);
  }
}

/**
 * Polls GET /bookings/requests/:id until it answers a decision or `deadline()` (epoch ms) passes;
 * refused connections and 5xx are polled through like any other not-yet.
 */
export async function poll(
  logical: LogicalRequest,
  statusUrl: () => string,
  token: string,
  deadline: () => number,
  clock: () => number,
): Promise<void> {
  const requestId = logical.final?.requestId;
  if (!requestId) return;
  for (;;) {
    try {
      const answered = await call('GET', `${statusUrl()}/bookings/requests/${requestId}`, {
        authorization: `Bearer ${token}`,
      });
      const status =
        typeof answered.body.status === 'string' ? answered.body.status : `HTTP ${answered.status}`;
      const bookings = answered.body.bookings as { id: number }[] | undefined;
      logical.polled = { status, bookingIds: bookings?.map((booking) => booking.id) };
      if (DECIDED_STATUSES.has(status)) {
        logical.polled.decidedAt = clock();
        return;
      }
    } catch (error) {
      logical.polled = { status: `no answer (${error instanceof Error ? error.message : String(error)})` };
    }
    if (Date.now() > deadline()) return;
    await sleep(1_000);
  }
}

export const newKey = () => randomUUID();
