/**
 * The targets of issue 6 every system run is judged against, in one place: bench/verdicts.ts
 * checks them and the report's target table shows them.
 */
export const TARGETS = {
  /** The system confirms at least this many times the obvious design's bookings per second. */
  confirmedBookingsVsObvious: 2,
  /** Answer p99 at the run's connections (256 by default), ms, at most. */
  answerP99Ms: 25,
} as const;
