import * as v from 'valibot';
import type { Subscriptions } from '../platform/pubsub.ts';
import { BookingEvent } from './messages.ts';

/** Redis pub/sub channel on which the projector announces each decided request, once applied. */
export const OUTCOMES_CHANNEL = 'booking-outcomes';

/**
 * Lets a request wait for its outcome. The projector publishes every outcome after Redis reflects
 * it; the waiter is registered before the command is sent, so no outcome can slip past.
 */
export class OutcomeWaiter {
  private readonly waiting = new Map<string, (event: BookingEvent) => void>();
  private listening: Promise<unknown> | undefined;

  constructor(private readonly subscriptions: Subscriptions) {}

  /** Subscribes (once per process); call before sending the command whose outcome you want. */
  ready(): Promise<unknown> {
    this.listening ??= this.subscriptions
      .listen(OUTCOMES_CHANNEL, (message) => this.deliver(message))
      .catch((error: unknown) => {
        this.listening = undefined;
        throw error;
      });
    return this.listening;
  }

  /**
   * Registers interest in a request's outcome; `outcome` resolves with it, or undefined after
   * `timeoutMs` (or at once if `cancel` is called, e.g. when the command could not be sent).
   */
  expect(
    requestId: string,
    timeoutMs: number,
  ): { outcome: Promise<BookingEvent | undefined>; cancel(): void } {
    let settle: (event: BookingEvent | undefined) => void = () => {};
    const outcome = new Promise<BookingEvent | undefined>((resolve) => {
      settle = resolve;
    });
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const done = (event: BookingEvent | undefined) => {
      clearTimeout(timer);
      this.waiting.delete(requestId);
      settle(event);
    };
    this.waiting.set(requestId, done);
    return { outcome, cancel: () => done(undefined) };
  }

  private deliver(message: string): void {
    const requestId = /"requestId":"([^"]+)"/.exec(message)?.[1];
    const resolve = requestId ? this.waiting.get(requestId) : undefined;
    if (!resolve) return; // most outcomes belong to requests waiting in other processes
    const parsed = v.safeParse(BookingEvent, JSON.parse(message));
    if (parsed.success) resolve(parsed.output);
  }
}
