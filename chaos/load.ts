import { setTimeout as sleep } from 'node:timers/promises';
/**
 * The flash sale of one scenario: requests arrive at a steady rate (open loop), each from a user
 * of its own for 1–4 adjacent seats, the front rows wanted most; half ask `Prefer: respond-async`,
 * half wait. Some buyers cancel a booking soon after they got it, and a scenario may ask for a
 * burst of cancels at once.
 */

import { random } from '../bench/demand.ts';
import { userToken } from '../bench/token.ts';
import { type LogicalRequest, newKey, poll, send } from './client.ts';

export interface LoadPlan {
  eventId: number;
  /** The event's seat ids, front rows first. */
  seatIds: number[];
  /** One user per request. */
  userIds: number[];
  rate: number;
  /** Share of buyers who cancel one of their bookings shortly after it is confirmed. */
  cancelShare: number;
  seed: number;
  secret: string;
  urls: { book: () => string; cancel: () => string; status: () => string };
}

export class FlashSale {
  readonly books: LogicalRequest[] = [];
  readonly cancels: LogicalRequest[] = [];
  private readonly tasks: Promise<void>[] = [];
  private readonly polls: Promise<void>[] = [];
  private readonly startedAt = Date.now();
  private pollDeadline = Number.POSITIVE_INFINITY;
  private readonly next: () => number;
  /** ms since the load started. */
  readonly clock = () => Date.now() - this.startedAt;

  constructor(private readonly plan: LoadPlan) {
    this.next = random(plan.seed);
  }

  /** Sends every request at its time; resolves once the last is sent (answers may still be due). */
  async run(): Promise<void> {
    const { plan } = this;
    for (let i = 0; i < plan.userIds.length; i++) {
      const due = (i * 1000) / plan.rate - this.clock();
      if (due > 0) await sleep(due);
      this.tasks.push(this.book(plan.userIds[i] as number, this.pickSeats()));
    }
  }

  /** 1–4 adjacent seats (40/30/20/10 %), starting where the front rows are likelier. */
  private pickSeats(): number[] {
    const { seatIds } = this.plan;
    const roll = this.next();
    const count = roll < 0.4 ? 1 : roll < 0.7 ? 2 : roll < 0.9 ? 3 : 4;
    const start = Math.min(Math.floor(seatIds.length * this.next() ** 2), seatIds.length - count);
    return seatIds.slice(start, start + count);
  }

  private token(userId: number): string {
    return userToken(this.plan.secret, userId);
  }

  private async book(userId: number, seatIds: number[]): Promise<void> {
    const logical: LogicalRequest = {
      kind: 'book',
      userId,
      key: newKey(),
      seatIds,
      respondAsync: this.next() < 0.5,
      attempts: [],
    };
    this.books.push(logical);
    const wantsCancel = this.next() < this.plan.cancelShare;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token(userId)}`,
      'content-type': 'application/json',
      ...(logical.respondAsync ? { prefer: 'respond-async' } : {}),
    };
    const body = JSON.stringify({ user_id: userId, event_id: this.plan.eventId, seat_ids: seatIds });
    logical.final = await send(
      logical,
      'POST',
      () => `${this.plan.urls.book()}/bookings/book`,
      headers,
      body,
      this.clock,
    );
    if (logical.final.status === 202) this.watch(logical);
    const bookingId = logical.final.bookingIds?.[0];
    if (wantsCancel && logical.final.status === 201 && bookingId !== undefined) {
      await sleep(this.next() * 3_000);
      await this.cancel(logical, bookingId);
    }
  }

  private watch(logical: LogicalRequest): void {
    this.polls.push(
      poll(logical, this.plan.urls.status, this.token(logical.userId), () => this.pollDeadline, this.clock),
    );
  }

  /** DELETE /bookings/cancel/:bookingId for the booking's owner, with a key of its own. */
  private async cancel(booked: LogicalRequest, bookingId: number): Promise<void> {
    const logical: LogicalRequest = {
      kind: 'cancel',
      userId: booked.userId,
      key: newKey(),
      seatIds: [],
      bookingId,
      respondAsync: false,
      attempts: [],
    };
    this.cancels.push(logical);
    logical.final = await send(
      logical,
      'DELETE',
      () => `${this.plan.urls.cancel()}/bookings/cancel/${bookingId}?event_id=${this.plan.eventId}`,
      { authorization: `Bearer ${this.token(booked.userId)}` },
      undefined,
      this.clock,
    );
    if (logical.final.status === 202) this.watch(logical);
  }

  /** Cancels up to `count` bookings answered 201 and not cancelled yet, all at once. */
  cancelBurst(count: number): number {
    const cancelled = new Set(this.cancels.map((logical) => logical.bookingId));
    const candidates = this.books.filter(
      (logical) =>
        logical.final?.status === 201 &&
        logical.final.bookingIds?.[0] !== undefined &&
        !cancelled.has(logical.final.bookingIds[0]),
    );
    const chosen = candidates.slice(-count);
    for (const logical of chosen)
      this.tasks.push(this.cancel(logical, logical.final?.bookingIds?.[0] as number));
    return chosen.length;
  }

  /** Waits for every request's final answer (each is bounded by the client's retry policy). */
  async answered(): Promise<void> {
    for (let done = 0; done < this.tasks.length; done++) await this.tasks[done];
  }

  /** Lets the 202s' polling run until `deadline` (epoch ms), then waits for it to end. */
  async polled(deadline: number): Promise<void> {
    this.pollDeadline = deadline;
    for (let done = 0; done < this.polls.length; done++) await this.polls[done];
  }
}
