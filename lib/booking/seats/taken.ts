/**
 * What a `book` process knows of taken seats, so that a request for a seat already gone is
 * refused from memory, without a round trip to Redis: in an on-sale most requests are for seats
 * someone else got first. Learned from the seat-change feed (every hold, booking and release is
 * announced) and from the seats the take script refused. A fact is trusted until the hold lapses,
 * and never longer than TAKEN_SEAT_MEMORY_MS after it was learned: the bound on how stale a
 * refusal can be if the announcement that a seat is free again is missed. Memory only refuses;
 * every request it does not refuse is decided by the Lua take, as before.
 */
import { LRUCache } from 'lru-cache';
import type { Services } from '../../services.ts';
import { type SeatChange, seatChangeFeed } from './changes.ts';

/** Events remembered at once; an event falls out (and its feed is unwatched) least recently used first. */
const MAX_EVENTS = 1_000;

interface EventMemory {
  /** seat id → until when (ms since the epoch) it is known taken. */
  takenUntil: Map<number, number>;
  stop?: () => void;
}

export class TakenSeats {
  private readonly events = new LRUCache<number, EventMemory>({
    max: MAX_EVENTS,
    dispose: (memory) => memory.stop?.(),
  });

  constructor(
    private readonly services: Pick<Services, 'config' | 'logger' | 'subscriptions' | 'subscriber'>,
  ) {}

  private get trustMs(): number {
    return this.services.config.TAKEN_SEAT_MEMORY_MS;
  }

  /** The seats among `seatIds` known to be held or booked now (none known: empty). */
  knownTaken(eventId: number, seatIds: readonly number[]): number[] {
    if (this.trustMs === 0) return [];
    const takenUntil = this.memoryOf(eventId).takenUntil;
    if (takenUntil.size === 0) return [];
    const now = Date.now();
    return seatIds.filter((seatId) => (takenUntil.get(seatId) ?? 0) > now);
  }

  /** Seats the take script found taken: `lapsesAt` per seat, null for a booked one. */
  learn(eventId: number, seatIds: readonly number[], lapsesAt: readonly (number | null)[]): void {
    if (this.trustMs === 0) return;
    const { takenUntil } = this.memoryOf(eventId);
    const trustedUntil = Date.now() + this.trustMs;
    seatIds.forEach((seatId, i) => {
      takenUntil.set(seatId, Math.min(lapsesAt[i] ?? trustedUntil, trustedUntil));
    });
  }

  private memoryOf(eventId: number): EventMemory {
    let memory = this.events.get(eventId);
    if (!memory) {
      memory = { takenUntil: new Map() };
      this.events.set(eventId, memory);
      this.watch(eventId, memory);
    }
    return memory;
  }

  private watch(eventId: number, memory: EventMemory): void {
    const { takenUntil } = memory;
    const apply = (change: SeatChange) => {
      if (change.state === 'available') {
        for (const seatId of change.seatIds) takenUntil.delete(seatId);
        return;
      }
      const trustedUntil = Date.now() + this.trustMs;
      const until = Math.min(change.expiresAt ?? trustedUntil, trustedUntil);
      for (const seatId of change.seatIds) takenUntil.set(seatId, until);
    };
    seatChangeFeed(this.services)
      .watch(eventId, {
        change: apply,
        // Changes may have been missed while the subscriber reconnected: forget what may be stale.
        resync: () => takenUntil.clear(),
      })
      .then(
        (stop) => {
          if (this.events.peek(eventId) === memory) memory.stop = stop;
          else stop(); // forgotten while subscribing
        },
        (error: unknown) => {
          // Without the feed, memory learns only from refusals, each trusted TAKEN_SEAT_MEMORY_MS.
          this.services.logger.warn({ err: error, eventId }, 'seat changes unavailable (Redis)');
        },
      );
  }
}

const takenSeatsOf = new WeakMap<object, TakenSeats>();

/** The process's memory of taken seats (one per Services). */
export function takenSeats(services: Services): TakenSeats {
  let memory = takenSeatsOf.get(services);
  if (!memory) {
    memory = new TakenSeats(services);
    takenSeatsOf.set(services, memory);
  }
  return memory;
}
