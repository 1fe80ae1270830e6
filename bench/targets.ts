/**
 * The targets of issue 18 every run is judged against, in one place: bench/verdicts.ts checks
 * them (on the median of the rounds) and the report's target table shows them.
 */
export const TARGETS = {
  /** Flash sale: the system confirms at least this many times the obvious design's bookings per second. */
  flashBookingsVsObvious: 3,
  /** Hot-seat on-sale (demand 20× the supply): the same, at least. */
  hotSeatBookingsVsObvious: 5,
  /** Open loop at twice the obvious design's maximum rate: the system's answer p99, ms, at most. */
  openLoopP99Ms: 25,
  /** The open loop's offered rate that target is judged at, as a multiple of the obvious design's maximum. */
  openLoopFactor: 2,
  /** Read storm: confirmed bookings/s lost to the concurrent seat-map reads, %, at most. */
  readStormLossPercent: 10,
  /** A 4,000-seat map read alone (Brotli): requests/s, at least. */
  seatMapReadsPerS: 5_000,
  /** The same map, answered 304 to its ETag: requests/s, at least. */
  seatMap304PerS: 10_000,
  /** A 50,000-seat map on the wire, compressed: KB, at most. */
  largeSeatMapKB: 100,
  // Measured outside the scenarios (bench/report.ts `measures`); not measured until given.
  /** A refused request's CPU ÷ a no-op request's, at most. */
  refusedCpuVsNoop: 2,
  /** Each function process's resident memory idle, MiB, at most. */
  idleRssMiB: 64,
  /** Each function process's resident memory at the flash sale's peak, MiB, at most. */
  peakRssMiB: 128,
  /** From start to ready, ms, at most. */
  readyMs: 300,
} as const;

/** The targets whose numbers come from outside this bench's scenarios (the lead's and the footprint's). */
export const MEASURED_ELSEWHERE = ['refusedCpuVsNoop', 'idleRssMiB', 'peakRssMiB', 'readyMs'] as const;
export type MeasuredElsewhere = (typeof MEASURED_ELSEWHERE)[number];
