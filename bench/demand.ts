/**
 * The flash sale's demand, the same for the system and the obvious design: request i comes from
 * user i and wants 1–4 adjacent seats of one row, the row drawn so that the front rows are
 * wanted by many (row = floor(rows × u^skew)). Seats are indexes into the event's seat list, so
 * every copy of the event gets the very same requests.
 */

export interface DemandOptions {
  seats: number;
  seatsPerRow: number;
  requests: number;
  minSeats: number;
  maxSeats: number;
  skew: number;
  seed: number;
}

export interface Wanted {
  /** Index of the user (0..requests-1), so every request has its own user. */
  user: number;
  /** Indexes of the wanted seats in the event's seat list, adjacent in one row. */
  seats: number[];
}

/** mulberry32: small, fast and the same on every machine. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function planDemand(options: DemandOptions): Wanted[] {
  const next = random(options.seed);
  const rows = Math.ceil(options.seats / options.seatsPerRow);
  return Array.from({ length: options.requests }, (_, user) => {
    const row = Math.min(rows - 1, Math.floor(rows * next() ** options.skew));
    const rowStart = row * options.seatsPerRow;
    const rowLength = Math.min(options.seatsPerRow, options.seats - rowStart);
    const wanted = Math.min(
      rowLength,
      options.minSeats + Math.floor(next() * (options.maxSeats - options.minSeats + 1)),
    );
    const first = rowStart + Math.floor(next() * (rowLength - wanted + 1));
    return { user, seats: Array.from({ length: wanted }, (_, i) => first + i) };
  });
}
