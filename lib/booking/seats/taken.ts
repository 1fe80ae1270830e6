/**
 * What a `book` process knows of taken seats, so that a request for a seat already gone is
 * refused from memory, without a round trip to Redis: in an on-sale most requests are for seats
 * someone else got first. Learned from the seats the take script refused, each with when its hold
 * lapses; a fact is trusted until the hold lapses, and never longer than TAKEN_SEAT_MEMORY_MS
 * after it was learned: the bound on how stale a refusal can be once a seat is free again.
 * Memory only refuses; every request it does not refuse is decided by the Lua take, as before.
 *
 * It does not listen to the seat-change feed: subscribing to a second channel on the process's
 * fresh subscriber connection at the same moment as the outcome waiter's first subscription made
 * ioredis's ready check fail in subscriber mode, and a waiting `book` request missed its outcome.
 */
import { LRUCache } from 'lru-cache';
import type { Services } from '../../services.ts';

/** Events remembered at once; an event falls out least recently used first. */
const MAX_EVENTS = 1_000;

export class TakenSeats {
  /** Per event: seat id → until when (ms since the epoch) it is known taken. */
  private readonly events = new LRUCache<number, Map<number, number>>({ max: MAX_EVENTS });

  constructor(private readonly config: Pick<Services['config'], 'TAKEN_SEAT_MEMORY_MS'>) {}

  /** The seats among `seatIds` known to be held or booked now (none known: empty). */
  knownTaken(eventId: number, seatIds: readonly number[]): number[] {
    const takenUntil = this.events.get(eventId);
    if (!takenUntil) return [];
    const now = Date.now();
    return seatIds.filter((seatId) => (takenUntil.get(seatId) ?? 0) > now);
  }

  /** Seats the take script found taken: `lapsesAt` per seat, null for a booked one. */
  learn(eventId: number, seatIds: readonly number[], lapsesAt: readonly (number | null)[]): void {
    const trustMs = this.config.TAKEN_SEAT_MEMORY_MS;
    if (trustMs === 0) return;
    let takenUntil = this.events.get(eventId);
    if (!takenUntil) {
      takenUntil = new Map();
      this.events.set(eventId, takenUntil);
    }
    const trustedUntil = Date.now() + trustMs;
    seatIds.forEach((seatId, i) => {
      takenUntil.set(seatId, Math.min(lapsesAt[i] ?? trustedUntil, trustedUntil));
    });
  }
}

const takenSeatsOf = new WeakMap<object, TakenSeats>();

/** The process's memory of taken seats (one per Services). */
export function takenSeats(services: Services): TakenSeats {
  let memory = takenSeatsOf.get(services);
  if (!memory) {
    memory = new TakenSeats(services.config);
    takenSeatsOf.set(services, memory);
  }
  return memory;
}
