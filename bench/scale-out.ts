/**
 * The scale-out argument as arithmetic (issue 18, item 4), from the flash sale's median runs (no
 * I/O): what each shared resource spent per confirmed booking, and so the confirmed bookings/s at
 * which it would be saturated with as many `book` instances (or obvious-design endpoints) in
 * front as it takes: cores ÷ CPU per booking. HTTP, tokens and the rate limit scale out with the
 * instances; what does not is one Postgres primary, Redis (one thread per shard: an event's seat
 * keys live on one), the booking-processor that owns an event's partition (one Node thread) and
 * the Kafka broker that leads it.
 */
import type { RunReport } from './report.ts';

export interface Ceiling {
  resource: string;
  /** CPU it spent per confirmed booking, ms (its CPU seconds in the run ÷ confirmed bookings). */
  cpuMsPerBooking: number | null;
  /** The cores it can use. */
  cores: number;
  /** cores ÷ CPU per booking: the confirmed bookings/s that saturate it. */
  bookingsPerS: number | null;
}

export interface DesignScaleOut {
  name: string;
  confirmedBookings: number;
  requests: number;
  /** Redis CPU per request (every request, refused ones too), µs. */
  redisCpuUsPerRequest?: number;
  ceilings: Ceiling[];
  /** The resource whose ceiling is lowest with a primary of the larger size. */
  firstToSaturate: string | undefined;
}

export interface ScaleOut {
  /** The primary sizes the Postgres ceiling is stated for: this machine's cores, and a larger one. */
  primaryCores: number[];
  designs: DesignScaleOut[];
}

/** The larger Postgres primary the ceilings are also stated for. */
export const LARGE_PRIMARY_CORES = 16;

const cpuSecondsOf = (run: RunReport, group: string) =>
  run.processes.find((candidate) => candidate.name === group)?.cpuSeconds;

function ceiling(resource: string, cpuSeconds: number | undefined, bookings: number, cores: number): Ceiling {
  const perBooking = cpuSeconds === undefined || bookings === 0 ? null : cpuSeconds / bookings;
  return {
    resource,
    cpuMsPerBooking: perBooking === null ? null : +(perBooking * 1000).toFixed(3),
    cores,
    bookingsPerS: perBooking === null || perBooking === 0 ? null : Math.round(cores / perBooking),
  };
}

/** Postgres for both designs; Redis, the event's processor and the broker for the system's runs. */
export function scaleOutOf(runs: readonly RunReport[], machineCores: number): ScaleOut {
  const primaryCores = [...new Set([machineCores, LARGE_PRIMARY_CORES])];
  const designs = runs.flatMap((run): DesignScaleOut[] => {
    const bookings = run.confirmed?.bookings ?? 0;
    if (bookings === 0) return [];
    const postgres = primaryCores.map((cores) =>
      ceiling(`Postgres primary, ${cores} cores`, cpuSecondsOf(run, 'postgres'), bookings, cores),
    );
    const isSystem = run.processes.some((group) => group.name === 'booking-processor');
    const others = isSystem
      ? [
          ceiling('Redis (one thread)', cpuSecondsOf(run, 'redis'), bookings, 1),
          ceiling(
            "booking-processor of the event's partition (one thread)",
            cpuSecondsOf(run, 'booking-processor'),
            bookings,
            1,
          ),
          ceiling(`Kafka broker, ${machineCores} cores`, cpuSecondsOf(run, 'kafka'), bookings, machineCores),
        ]
      : [];
    const atScale = [postgres.at(-1) as Ceiling, ...others].filter((c) => c.bookingsPerS !== null);
    const first = atScale.sort((a, b) => (a.bookingsPerS as number) - (b.bookingsPerS as number))[0];
    const redis = cpuSecondsOf(run, 'redis');
    return [
      {
        name: run.name,
        confirmedBookings: bookings,
        requests: run.requests,
        ...(isSystem && redis !== undefined
          ? { redisCpuUsPerRequest: +((redis / run.requests) * 1e6).toFixed(1) }
          : {}),
        ceilings: [...postgres, ...others],
        firstToSaturate: first?.resource,
      },
    ];
  });
  return { primaryCores, designs };
}
