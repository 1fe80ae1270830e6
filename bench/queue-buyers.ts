/**
 * The waiting room's buyers (`npm run bench -- --queue`), run as their own process, forked with
 * IPC by bench/phases/queue.ts. Each buyer joins the event's line (the first ones during the
 * pre-queue, the rest once on sale) and then learns its outcome: `listeners` of them on the
 * ticket's stream from the moment they join, the others by polling their ticket, at most every
 * `pollMaxMs` and sooner the nearer the front, and on the stream once they are within
 * `streamWithin` of it (as a page that polls while far back would: holding every buyer's stream
 * from one process is what this machine cannot do). An admitted buyer picks 1–K adjacent
 * seats among those no buyer has taken yet (a live seat map, in effect), thinks, and books them
 * with its admission token. Progress goes to the parent as messages; every buyer's record goes to
 * the result file.
 *
 *   node --import tsx bench/queue-buyers.ts <job.json> <result.json>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';
import { Pool } from 'undici';
import { warmUpClient } from './client-warm-up.ts';
import { random } from './demand.ts';
import { userToken } from './token.ts';

export type TicketStatus = 'prequeue' | 'waiting' | 'admitted' | 'sold_out' | 'expired';

/** A ticket as the queue function answers it (POST /events/:id/queue, GET …/:ticket, each stream event). */
interface QueueTicket {
  ticket_id: string;
  status: TicketStatus;
  position: number | null;
  estimated_wait_s: number | null;
  opens_at: string | null;
  admission_token?: string;
  session_expires_at?: string;
  stream_url: string;
}

export interface QueueJob {
  /** Origins of the queue function's processes: buyer i talks to the (i mod n)th. */
  queueUrls: string[];
  bookUrl: string;
  jwtSecret: string;
  /** Buyer i's user id. */
  users: number[];
  /** Buyers 0..prequeueBuyers-1 join before on-sale, the rest once it is on sale. */
  prequeueBuyers: number;
  listeners: number;
  streamWithin: number;
  pollMaxMs: number;
  /** The pre-queue's polling pages look first within this long after on-sale. */
  firstPollSpreadMs: number;
  /** The queue's admit_per_minute: a polling buyer polls again in half the time the line needs to reach it at that pace. */
  admitPerMinute: number;
  thinkMs: [number, number];
  maxSeatsPerBuyer: number;
  joinConnections: number;
  pollConnections: number;
  bookConnections: number;
  /** Book with `Prefer: respond-async` (202 once the seats are held). */
  respondAsync: boolean;
  /** How long after the last join the buyers may take to learn their outcome. */
  timeoutMs: number;
  seed: number;
  /** Buyers who join a second time once all have: the same ticket must come back. */
  rejoins: number;
}

/** The event, sent with `go`: created once the buyers are ready, so its on-sale time is theirs. */
export interface QueueEvent {
  eventId: number;
  /** Epoch ms. */
  onSaleAt: number;
  /** Seat ids in seat-number order, and each one's row. */
  seatIds: number[];
  seatRows: string[];
}

/** Where a buyer learnt something: its join's answer, its stream, or a poll. */
export type Via = 'join' | 'stream' | 'poll';

export interface BookAttempt {
  sentAt: number;
  latencyMs: number;
  status: number;
  seatIds: number[];
  /** A 201's bookings. */
  bookingIds?: number[];
  /** A refusal's `reason` (problem documents). */
  reason?: string;
  requestId?: string;
}

export type BuyerOutcome =
  /** A booking was accepted (202 or 201). */
  | 'booked'
  /** Told sold out (and not admitted since). */
  | 'sold_out'
  /** Admitted, but every seat was taken by the time it looked. */
  | 'no_seat'
  /** The session ended before it booked. */
  | 'expired'
  /** Its join or booking was refused, or failed. */
  | 'refused'
  | 'unresolved';

/** One buyer's run; times are epoch ms (fractional). */
export interface BuyerRecord {
  joinSentAt: number;
  joinLatencyMs: number;
  /** HTTP status of the join; 0: no answer. */
  joinStatus: number;
  joinedAs?: TicketStatus;
  /** On the stream from its join; else polling, and on the stream from `streamedAt` once near the front. */
  listener: boolean;
  streamedAt?: number;
  /** A pre-queue buyer: when it first learnt where it stands after on-sale (placed, let in or sold out), and how. */
  placedAt?: number;
  placedVia?: Via;
  /** The first estimated wait it was told in line (after on-sale), and when. */
  firstEstimate?: { at: number; waitS: number };
  admittedAt?: number;
  admittedVia?: Via;
  sessionExpiresAt?: number;
  soldOutAt?: number;
  soldOutVia?: Via;
  expiredAt?: number;
  books: BookAttempt[];
  polls: number;
  outcome: BuyerOutcome;
}

export interface QueueBuyersResult {
  buyers: BuyerRecord[];
  joinsFirstSentAt: number;
  /** The last join before on-sale answered, and the last of all. */
  prequeueJoinsDoneAt: number;
  joinsDoneAt: number;
  finishedAt: number;
  /** Some buyers had not learnt their outcome `timeoutMs` after the last join. */
  timedOut: boolean;
  pollLatenciesMs: number[];
  pollStatuses: Record<string, number>;
  streams: {
    opened: number;
    /** Streams refused at opening, by HTTP status (the buyer polls instead). */
    refused: Record<string, number>;
    /** Streams that ended or failed before the buyer's session did, and were opened again. */
    reconnects: number;
    maxOpen: number;
    events: Record<string, number>;
  };
  rejoins: { sent: number; sameTicket: number; statuses: Record<string, number> };
  /** Transport errors (no HTTP answer), by message. */
  errors: Record<string, number>;
}

export type QueueBuyersMessage =
  | { type: 'ready' }
  | { type: 'progress'; line: string }
  | { type: 'joined'; prequeue: boolean }
  | { type: 'done' };

/** A buyer whose seats were all taken meanwhile tries other seats this many times in all. */
const BOOK_ATTEMPTS = 5;
/** A stream that ended before its session did is opened again after this pause (the streams' `retry`). */
const RECONNECT_MS = 2_000;

const now = () => performance.timeOrigin + performance.now();
const bump = (counts: Record<string, number>, key: string | number) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** The seats no buyer has taken (as far as the buyers know): a random one in O(1), and its row neighbours. */
class FreeSeats {
  private readonly free: Int32Array;
  private readonly at: Int32Array;
  private size: number;

  constructor(
    private readonly rows: readonly string[],
    private readonly next: () => number,
  ) {
    this.size = rows.length;
    this.free = Int32Array.from({ length: this.size }, (_, i) => i);
    this.at = Int32Array.from({ length: this.size }, (_, i) => i);
  }

  get left(): number {
    return this.size;
  }

  /** Up to `want` adjacent free seats of one row around a random free seat, taken; undefined when none is free. */
  take(want: number): number[] | undefined {
    if (this.size === 0) return undefined;
    const first = this.free[Math.floor(this.next() * this.size)] as number;
    const picked = [first];
    const fits = (seat: number) => (this.at[seat] ?? -1) >= 0 && this.rows[seat] === this.rows[first];
    while (picked.length < want) {
      const right = (picked.at(-1) as number) + 1;
      const left = (picked[0] as number) - 1;
      if (fits(right) && !picked.includes(right)) picked.push(right);
      else if (fits(left) && !picked.includes(left)) picked.unshift(left);
      else break;
    }
    for (const seat of picked) this.remove(seat);
    return picked;
  }

  remove(seat: number): void {
    const position = this.at[seat] as number;
    if (position < 0) return;
    const last = this.free[--this.size] as number;
    this.free[position] = last;
    this.at[last] = position;
    this.at[seat] = -1;
  }

  release(seat: number): void {
    if ((this.at[seat] as number) >= 0) return;
    this.free[this.size] = seat;
    this.at[seat] = this.size++;
  }
}

interface Buyer {
  index: number;
  user: number;
  bearer: string;
  record: BuyerRecord;
  ticketId?: string;
  streamUrl?: string;
  admissionToken?: string;
  /** Its stream is open (or opening); polls stop. */
  streaming: boolean;
  /** A stream was refused: it polls to the end. */
  noStream: boolean;
  abort?: AbortController;
  booking: boolean;
}

async function main(): Promise<void> {
  const [jobPath, resultPath] = process.argv.slice(2);
  if (!jobPath || !resultPath || !process.send)
    throw new Error('usage: forked with <job.json> <result.json>');
  const send = (message: QueueBuyersMessage) => process.send?.(message);
  const job = JSON.parse(readFileSync(jobPath, 'utf8')) as QueueJob;
  const next = random(job.seed);
  const total = job.users.length;

  const listeners = new Set<number>();
  // Spread over the join order, the first and the last buyer included.
  const wanted = Math.min(job.listeners, total);
  for (let k = 0; k < wanted; k++)
    listeners.add(wanted === 1 ? total - 1 : Math.round((k * (total - 1)) / (wanted - 1)));
  const buyers: Buyer[] = job.users.map((user, index) => ({
    index,
    user,
    bearer: `Bearer ${userToken(job.jwtSecret, user)}`,
    record: {
      joinSentAt: 0,
      joinLatencyMs: 0,
      joinStatus: 0,
      listener: listeners.has(index),
      books: [],
      polls: 0,
      outcome: 'unresolved',
    },
    streaming: false,
    noStream: false,
    booking: false,
  }));

  const pools = (connections: number | null, extra: ConstructorParameters<typeof Pool>[1] = {}) =>
    job.queueUrls.map((url) => new Pool(url, { connections, pipelining: 1, ...extra }));
  const joinPools = pools(job.joinConnections);
  const pollPools = pools(job.pollConnections);
  // One connection per open stream; heartbeats keep them busy, so no body timeout.
  const streamPools = pools(null, { bodyTimeout: 0, headersTimeout: 60_000 });
  const bookPool = new Pool(job.bookUrl, { connections: job.bookConnections, pipelining: 1 });
  const instance = <T>(list: T[], buyer: Buyer) => list[buyer.index % list.length] as T;

  const result: QueueBuyersResult = {
    buyers: buyers.map((buyer) => buyer.record),
    joinsFirstSentAt: 0,
    prequeueJoinsDoneAt: 0,
    joinsDoneAt: 0,
    finishedAt: 0,
    timedOut: false,
    pollLatenciesMs: [],
    pollStatuses: {},
    streams: { opened: 0, refused: {}, reconnects: 0, maxOpen: 0, events: {} },
    rejoins: { sent: 0, sameTicket: 0, statuses: {} },
    errors: {},
  };
  const failed = (error: unknown) =>
    bump(result.errors, error instanceof Error ? error.message : String(error));

  let unresolved = total;
  let joinsDone = false;
  let closing = false;
  let streamsOpen = 0;
  let everyoneKnows: () => void = () => {};
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closing) run();
    }, ms);
    timers.add(timer);
  };
  const resolve = (buyer: Buyer, outcome: BuyerOutcome) => {
    if (buyer.record.outcome === 'unresolved') unresolved -= 1;
    buyer.record.outcome = outcome;
    if (unresolved === 0 && joinsDone) everyoneKnows();
  };
  const unresolve = (buyer: Buyer) => {
    if (buyer.record.outcome !== 'unresolved') unresolved += 1;
    buyer.record.outcome = 'unresolved';
  };

  let seats: FreeSeats | undefined;
  let eventId = 0;
  let seatIds: number[] = [];
  let indexOfSeat = new Map<number, number>();

  /** Whatever a ticket says, from wherever it came. */
  const learn = (buyer: Buyer, ticket: QueueTicket, via: Via) => {
    const { record } = buyer;
    if (record.joinedAs === 'prequeue' && ticket.status !== 'prequeue' && record.placedAt === undefined) {
      record.placedAt = now();
      record.placedVia = via;
    }
    switch (ticket.status) {
      case 'prequeue':
      case 'waiting':
        if (ticket.estimated_wait_s !== null)
          record.firstEstimate ??= { at: now(), waitS: ticket.estimated_wait_s };
        // Seats came back after a sold-out: the buyer is in line again.
        if (record.outcome === 'sold_out') unresolve(buyer);
        break;
      case 'admitted':
        if (record.admittedAt === undefined) {
          record.admittedAt = now();
          record.admittedVia = via;
          if (ticket.session_expires_at) record.sessionExpiresAt = Date.parse(ticket.session_expires_at);
          buyer.admissionToken = ticket.admission_token;
          if (record.outcome === 'sold_out') unresolve(buyer);
          const [min, max] = job.thinkMs;
          buyer.booking = true;
          later(min + next() * (max - min), () => void book(buyer));
        }
        break;
      case 'sold_out':
        if (record.soldOutAt === undefined) {
          record.soldOutAt = now();
          record.soldOutVia = via;
        }
        if (!buyer.booking) resolve(buyer, 'sold_out');
        break;
      case 'expired':
        record.expiredAt ??= now();
        if (record.outcome === 'unresolved' && !buyer.booking) resolve(buyer, 'expired');
        break;
    }
  };

  /** A polling buyer's next step after `ticket`: poll again (sooner the nearer its turn), or open its stream. */
  const watch = (buyer: Buyer, ticket: QueueTicket) => {
    if (buyer.streaming || closing) return;
    if (ticket.status === 'prequeue') {
      const opensAt = ticket.opens_at ? Date.parse(ticket.opens_at) : now();
      later(
        Math.max(0, opensAt - Date.now()) + next() * Math.min(job.pollMaxMs, job.firstPollSpreadMs),
        () => void poll(buyer),
      );
    } else if (ticket.status === 'waiting') {
      if (!buyer.noStream && ticket.position !== null && ticket.position <= job.streamWithin) {
        void stream(buyer);
      } else {
        // Not by estimated_wait_s: it counts whole sessions (max_active ÷ session_minutes), and
        // these buyers book in seconds, so the line moves many times faster than it says.
        const reachedInMs = ((ticket.position ?? Number.POSITIVE_INFINITY) * 60_000) / job.admitPerMinute;
        later(Math.min(job.pollMaxMs, Math.max(1_000, reachedInMs / 2)), () => void poll(buyer));
      }
    }
  };

  const poll = async (buyer: Buyer) => {
    if (buyer.streaming) return;
    buyer.record.polls += 1;
    const sentAt = now();
    try {
      const response = await instance(pollPools, buyer).request({
        path: `/events/${eventId}/queue/${buyer.ticketId}`,
        method: 'GET',
        headers: { authorization: buyer.bearer },
      });
      const text = await response.body.text();
      result.pollLatenciesMs.push(now() - sentAt);
      bump(result.pollStatuses, response.statusCode);
      if (response.statusCode === 200) {
        const ticket = JSON.parse(text) as QueueTicket;
        learn(buyer, ticket, 'poll');
        watch(buyer, ticket);
        return;
      }
    } catch (error) {
      if (closing) return;
      failed(error);
    }
    later(job.pollMaxMs, () => void poll(buyer));
  };

  const stream = async (buyer: Buyer) => {
    buyer.streaming = true;
    buyer.record.streamedAt ??= now();
    const abort = new AbortController();
    buyer.abort = abort;
    streamsOpen += 1;
    result.streams.maxOpen = Math.max(result.streams.maxOpen, streamsOpen);
    let ended = false;
    try {
      const response = await instance(streamPools, buyer).request({
        path: buyer.streamUrl as string,
        method: 'GET',
        headers: { authorization: buyer.bearer, accept: 'text/event-stream' },
        signal: abort.signal,
      });
      if (response.statusCode !== 200) {
        bump(result.streams.refused, response.statusCode);
        await response.body.dump();
        buyer.streaming = false;
        buyer.noStream = true;
        later(RECONNECT_MS, () => void poll(buyer));
        return;
      }
      result.streams.opened += 1;
      const parser = createParser({
        onEvent: (message) => {
          bump(result.streams.events, message.event ?? 'message');
          const ticket = JSON.parse(message.data) as QueueTicket;
          learn(buyer, ticket, 'stream');
          if (ticket.status === 'expired') ended = true;
        },
      });
      const text = new TextDecoder();
      for await (const chunk of response.body) parser.feed(text.decode(chunk as Buffer, { stream: true }));
    } catch (error) {
      if (closing) return;
      failed(error);
    } finally {
      streamsOpen -= 1;
    }
    // The server ends a stream after `expired`; any other end is a dropped stream, opened again.
    if (!ended && !closing) {
      result.streams.reconnects += 1;
      later(RECONNECT_MS, () => void stream(buyer));
    }
  };

  const book = async (buyer: Buyer) => {
    const want = 1 + Math.floor(next() * job.maxSeatsPerBuyer);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization: buyer.bearer,
    };
    if (job.respondAsync) headers.prefer = 'respond-async';
    for (let tries = 0; tries < BOOK_ATTEMPTS; tries++) {
      const picked = seats?.take(want);
      if (!picked) break;
      const sentAt = now();
      const attempt: BookAttempt = {
        sentAt,
        latencyMs: 0,
        status: 0,
        seatIds: picked.map((seat) => seatIds[seat] as number),
      };
      buyer.record.books.push(attempt);
      try {
        const response = await bookPool.request({
          path: '/bookings/book',
          method: 'POST',
          headers,
          body: JSON.stringify({
            user_id: buyer.user,
            event_id: eventId,
            seat_ids: attempt.seatIds,
            admission_token: buyer.admissionToken,
          }),
        });
        const text = await response.body.text();
        attempt.latencyMs = now() - sentAt;
        attempt.status = response.statusCode;
        const body = (text ? JSON.parse(text) : {}) as {
          request_id?: string;
          reason?: string;
          taken_seat_ids?: number[];
          bookings?: { id: number }[];
        };
        if (body.request_id) attempt.requestId = body.request_id;
        if (body.bookings) attempt.bookingIds = body.bookings.map((booking) => booking.id);
        if (body.reason) attempt.reason = body.reason;
        if (response.statusCode === 201 || response.statusCode === 202) {
          resolve(buyer, 'booked');
          return;
        }
        if (response.statusCode === 409) {
          // Taken meanwhile: those are off the map, the others back on it; try other seats.
          const taken = new Set((body.taken_seat_ids ?? []).map((id) => indexOfSeat.get(id)));
          for (const seat of picked) if (!taken.has(seat)) seats?.release(seat);
          continue;
        }
      } catch (error) {
        attempt.latencyMs = now() - sentAt;
        failed(error);
      }
      for (const seat of picked) seats?.release(seat);
      resolve(buyer, 'refused');
      return;
    }
    resolve(buyer, 'no_seat');
  };

  /** POST /events/:id/queue as this buyer: a join, or a join again. */
  const postJoin = (buyer: Buyer) =>
    instance(joinPools, buyer).request({
      path: `/events/${eventId}/queue`,
      method: 'POST',
      headers: { authorization: buyer.bearer },
    });

  const join = async (buyer: Buyer) => {
    const { record } = buyer;
    record.joinSentAt = now();
    try {
      const response = await postJoin(buyer);
      const text = await response.body.text();
      record.joinLatencyMs = now() - record.joinSentAt;
      record.joinStatus = response.statusCode;
      if (response.statusCode !== 201 && response.statusCode !== 200) {
        resolve(buyer, 'refused');
        return;
      }
      const ticket = JSON.parse(text) as QueueTicket;
      buyer.ticketId = ticket.ticket_id;
      buyer.streamUrl = ticket.stream_url;
      record.joinedAs = ticket.status;
      learn(buyer, ticket, 'join');
      if (record.listener && (ticket.status === 'prequeue' || ticket.status === 'waiting'))
        void stream(buyer);
      else watch(buyer, ticket);
    } catch (error) {
      record.joinLatencyMs = now() - record.joinSentAt;
      failed(error);
      resolve(buyer, 'refused');
    }
  };

  const joinAll = async (from: number, to: number, connections: number) => {
    let at = from;
    const worker = async () => {
      for (let i = at++; i < to; i = at++) await join(buyers[i] as Buyer);
    };
    await Promise.all(Array.from({ length: Math.min(connections, to - from) }, worker));
  };

  /** Buyers who join again: one place per user and event, so the same ticket. */
  const rejoin = async () => {
    const joined = buyers.filter((buyer) => buyer.ticketId);
    for (let k = 0; k < Math.min(job.rejoins, joined.length); k++) {
      const buyer = joined[Math.floor(next() * joined.length)] as Buyer;
      result.rejoins.sent += 1;
      try {
        const response = await postJoin(buyer);
        const text = await response.body.text();
        bump(result.rejoins.statuses, response.statusCode);
        if ((JSON.parse(text) as { ticket_id?: string }).ticket_id === buyer.ticketId)
          result.rejoins.sameTicket += 1;
      } catch (error) {
        failed(error);
      }
    }
  };

  const orders: { type: string; event?: QueueEvent }[] = [];
  let ordered: (() => void) | undefined;
  process.on('message', (message: { type: string; event?: QueueEvent }) => {
    orders.push(message);
    ordered?.();
  });
  const order = async (type: string) => {
    for (;;) {
      const index = orders.findIndex((message) => message.type === type);
      if (index >= 0) return orders.splice(index, 1)[0] as { type: string; event?: QueueEvent };
      await new Promise<void>((wake) => {
        ordered = wake;
      });
    }
  };

  await warmUpClient(job.queueUrls[0] as string);
  send({ type: 'ready' });
  const { event } = await order('go');
  if (!event) throw new Error('go without the event');
  eventId = event.eventId;
  seatIds = event.seatIds;
  indexOfSeat = new Map(seatIds.map((id, index) => [id, index]));
  seats = new FreeSeats(event.seatRows, next);

  const progress = setInterval(() => {
    const records = buyers.map((buyer) => buyer.record);
    const count = (test: (record: BuyerRecord) => boolean) => records.filter(test).length;
    send({
      type: 'progress',
      line:
        `joined ${count((r) => r.joinStatus === 200 || r.joinStatus === 201)}/${total}, ` +
        `admitted ${count((r) => r.admittedAt !== undefined)}, booked ${count((r) => r.outcome === 'booked')}, ` +
        `told sold out ${count((r) => r.soldOutAt !== undefined)}, unresolved ${unresolved}, ` +
        `streams open ${streamsOpen}, polls ${result.pollLatenciesMs.length}, seats left (as buyers know) ${seats?.left}`,
    });
  }, 1_000);

  const allKnow = new Promise<void>((wake) => {
    everyoneKnows = wake;
  });
  result.joinsFirstSentAt = now();
  await joinAll(0, job.prequeueBuyers, job.joinConnections);
  result.prequeueJoinsDoneAt = now();
  send({ type: 'joined', prequeue: true });
  await sleep(Math.max(0, event.onSaleAt - Date.now()));
  await joinAll(job.prequeueBuyers, total, job.joinConnections);
  result.joinsDoneAt = now();
  joinsDone = true;
  send({ type: 'joined', prequeue: false });
  await rejoin();
  if (unresolved === 0) everyoneKnows();
  const deadline = new Promise<'timeout'>((wake) => {
    setTimeout(() => wake('timeout'), job.timeoutMs).unref();
  });
  result.timedOut = (await Promise.race([allKnow, deadline])) === 'timeout';
  result.finishedAt = now();

  closing = true;
  clearInterval(progress);
  for (const timer of timers) clearTimeout(timer);
  for (const buyer of buyers) buyer.abort?.abort();
  await Promise.all(
    [...joinPools, ...pollPools, ...streamPools, bookPool].map((pool) => pool.destroy().catch(() => {})),
  );
  writeFileSync(resultPath, JSON.stringify(result));
  send({ type: 'done' });
  process.disconnect();
}

main().catch((error: unknown) => {
  console.error(`queue buyers: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
