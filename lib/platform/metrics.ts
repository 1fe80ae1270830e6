/**
 * Every metric of the system, once, in the process's one registry: what GET /metrics of any
 * function (and of the all-in-one gateway: the union) answers, in Prometheus's text format. The
 * deploy files' dashboard, alerts and autoscaler queries name these (a test checks them against
 * `METRIC_NAMES`). Labels are bounded: functions, routes, topics, partitions, reasons, never a
 * user, seat or request.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();

let collectingProcessMetrics = false;

/**
 * Adds the Node process's own metrics (CPU, memory, event-loop lag, GC: prom-client's defaults,
 * as `seatrush_process_*` and `seatrush_nodejs_*`). Called by the Node runner, not at import:
 * workerd has no process.cpuUsage, and there the platform measures the isolate.
 */
export function collectProcessMetrics(): void {
  if (collectingProcessMetrics) return;
  collectingProcessMetrics = true;
  collectDefaultMetrics({ register: registry, prefix: 'seatrush_' });
}

/** What the pool gauge reads of a pg pool. */
interface PoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

const pools = new Set<PoolCounts>();

/** Counts this pool in seatrush_postgres_pool_connections until it ends. */
export function watchPool(pool: PoolCounts & { once(event: 'end', listener: () => void): unknown }): void {
  pools.add(pool);
  pool.once('end', () => pools.delete(pool));
}

/** Latencies from a refusal from memory (under a millisecond) to a booking that waits for its outcome. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const metrics = {
  httpRequests: new Counter({
    name: 'seatrush_http_requests_total',
    help: 'HTTP requests answered, by function, route pattern, method and status',
    labelNames: ['function', 'route', 'method', 'status'] as const,
    registers: [registry],
  }),
  httpDuration: new Histogram({
    name: 'seatrush_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (to its first byte for a stream)',
    labelNames: ['function', 'route', 'method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  }),
  bookingsRequested: new Counter({
    name: 'seatrush_bookings_requested_total',
    help: 'Booking requests that reached the seats (book)',
    registers: [registry],
  }),
  bookingsConfirmed: new Counter({
    name: 'seatrush_bookings_confirmed_total',
    help: 'Booking requests confirmed in Postgres (booking-processor)',
    registers: [registry],
  }),
  bookingsRejected: new Counter({
    name: 'seatrush_bookings_rejected_total',
    help: 'Booking requests refused, by reason (by book at once, or by booking-processor)',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  holdsTaken: new Counter({
    name: 'seatrush_holds_taken_total',
    help: 'Seats held in Redis for a booking request',
    registers: [registry],
  }),
  holdsReleased: new Counter({
    name: 'seatrush_holds_released_total',
    help: 'Held seats released without a booking (a rejected or withdrawn request)',
    registers: [registry],
  }),
  holdsExpired: new Counter({
    name: 'seatrush_holds_expired_total',
    help: 'Seats confirmed after their hold had lapsed in Redis (the hold TTL was shorter than the wait for the processor)',
    registers: [registry],
  }),
  kafkaLag: new Gauge({
    name: 'seatrush_kafka_consumer_lag',
    help: "Messages behind the partition's end, as of the consumer's last batch",
    labelNames: ['function', 'topic', 'partition'] as const,
    registers: [registry],
  }),
  kafkaDelay: new Gauge({
    name: 'seatrush_kafka_consumer_delay_seconds',
    help: "How long the first message of the consumer's last batch waited in Kafka: for booking-processor, how long a held seat waits for its decision (against HOLD_TTL_MS)",
    labelNames: ['function', 'topic', 'partition'] as const,
    registers: [registry],
  }),
  kafkaBatchMessages: new Histogram({
    name: 'seatrush_kafka_batch_messages',
    help: 'Messages per batch a Kafka function processed',
    labelNames: ['function', 'topic'] as const,
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [registry],
  }),
  kafkaBatchDuration: new Histogram({
    name: 'seatrush_kafka_batch_duration_seconds',
    help: 'Time a Kafka function took for one batch',
    labelNames: ['function', 'topic'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  }),
  kafkaRetries: new Counter({
    name: 'seatrush_kafka_retries_total',
    help: 'Batch deliveries retried after a failure',
    labelNames: ['function', 'topic'] as const,
    registers: [registry],
  }),
  kafkaDeadLetters: new Counter({
    name: 'seatrush_kafka_dead_letters_total',
    help: 'Messages sent to the dead-letters topic',
    labelNames: ['function', 'topic'] as const,
    registers: [registry],
  }),
  redisErrors: new Counter({
    name: 'seatrush_redis_errors_total',
    help: 'Redis connection errors',
    registers: [registry],
  }),
  postgresErrors: new Counter({
    name: 'seatrush_postgres_errors_total',
    help: 'Postgres connection errors',
    registers: [registry],
  }),
  postgresPool: new Gauge({
    name: 'seatrush_postgres_pool_connections',
    help: "The process's Postgres pools: connections open, idle, and queries waiting for one",
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      let total = 0;
      let idle = 0;
      let waiting = 0;
      for (const pool of pools) {
        total += pool.totalCount;
        idle += pool.idleCount;
        waiting += pool.waitingCount;
      }
      this.set({ state: 'total' }, total);
      this.set({ state: 'idle' }, idle);
      this.set({ state: 'waiting' }, waiting);
    },
  }),
  idempotencyReplays: new Counter({
    name: 'seatrush_idempotency_replays_total',
    help: 'Answers replayed to a retry with the same Idempotency-Key',
    registers: [registry],
  }),
  rateLimitRefusals: new Counter({
    name: 'seatrush_rate_limit_refusals_total',
    help: 'Requests refused with 429, by limiter',
    labelNames: ['limiter'] as const,
    registers: [registry],
  }),
  streamsOpen: new Gauge({
    name: 'seatrush_sse_streams_open',
    help: 'Server-Sent Event streams open (seat maps and places in line)',
    registers: [registry],
  }),
  reconcilerRepairs: new Counter({
    name: 'seatrush_reconciler_repairs_total',
    help: 'Seats whose Redis state the reconciler repaired from Postgres',
    registers: [registry],
  }),
  queueAdmitted: new Counter({
    name: 'seatrush_queue_admitted_total',
    help: 'Buyers let in from waiting rooms',
    registers: [registry],
  }),
};

/** The name of every metric the registry serves, default metrics included. */
export async function metricNames(): Promise<string[]> {
  return (await registry.getMetricsAsJSON()).map((metric) => metric.name);
}
