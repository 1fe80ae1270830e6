import * as v from 'valibot';

const integer = (fallback: number, min = 0) =>
  v.optional(v.pipe(v.string(), v.toNumber(), v.integer(), v.minValue(min)), String(fallback));

const urlWithScheme = (schemes: string[], fallback: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.url(),
      v.check(
        (value) => schemes.some((s) => value.startsWith(`${s}://`)),
        `must start with ${schemes.join(':// or ')}://`,
      ),
    ),
    fallback,
  );

export const DEV_JWT_SECRET = 'development-only-secret-change-me-in-production';

/** Every setting the functions read, with defaults that work against the local stack. */
export const ConfigSchema = v.object({
  NODE_ENV: v.optional(v.picklist(['development', 'test', 'production']), 'development'),
  LOG_LEVEL: v.optional(v.picklist(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
  HOST: v.optional(v.string(), '127.0.0.1'),
  // 0 picks a free port (tests); the URL is printed at start.
  PORT: integer(3000),
  FUNCTION: v.optional(v.string()),
  DATABASE_URL: urlWithScheme(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/seatrush'),
  DATABASE_POOL_SIZE: integer(10, 1),
  REDIS_URL: urlWithScheme(['redis', 'rediss'], 'redis://127.0.0.1:6379/0'),
  /**
   * A Redis Cluster's nodes (comma-separated host:port, any of its masters); when set, REDIS_URL
   * is not used and the functions speak the cluster protocol (MOVED/ASK redirects).
   */
  REDIS_CLUSTER_NODES: v.optional(
    v.pipe(
      v.string(),
      v.transform((value) => (value.trim() === '' ? [] : value.split(',').map((node) => node.trim()))),
      v.array(v.pipe(v.string(), v.regex(/^[\w.-]+:\d+$/, 'each node must be host:port'))),
    ),
    '',
  ),
  KAFKA_BROKERS: v.optional(
    v.pipe(
      v.string(),
      v.transform((value) => value.split(',').map((broker) => broker.trim())),
      v.array(v.pipe(v.string(), v.regex(/^[\w.-]+:\d+$/, 'each broker must be host:port'))),
    ),
    '127.0.0.1:9092',
  ),
  KAFKA_CLIENT_ID: v.optional(v.string(), 'seatrush'),
  /** Prefixes every topic and consumer group, so tests and several stacks can share one broker. */
  KAFKA_PREFIX: v.optional(v.pipe(v.string(), v.regex(/^[\w.-]*$/)), ''),
  /**
   * How long the shared producer gathers concurrent sends into one request (kafkajs has no
   * linger.ms of its own): longer means fewer, fuller requests and a later 202.
   */
  KAFKA_LINGER_MS: integer(2),
  /**
   * A Kafka function fetches again at most this often (from the last fetch's answer): under load
   * each batch gathers this long, so the broker, the consumer and Postgres pay their per-batch
   * costs for many messages. A quiet topic's next message is still fetched at once. A processor
   * batch costs about as much CPU as fifty of its commands, so under load it should carry more.
   */
  KAFKA_FETCH_INTERVAL_MS: integer(100, 0),
  /** How long `book` and `cancel` wait for the outcome before answering 202 with a request id. */
  BOOK_WAIT_MS: integer(2_000),
  /**
   * How long `book` and `cancel` wait for Kafka to acknowledge a command. Past it (or on any send
   * error) the request is settled in Postgres (lib/booking/requests.ts) and the client hears its certain
   * outcome, so a stalled broker costs a buyer seconds, not the producer's minutes of retries.
   */
  KAFKA_SEND_TIMEOUT_MS: integer(5_000, 100),
  /** How long a seat stays held for a request that is never confirmed. */
  HOLD_TTL_MS: integer(60_000, 1_000),
  MAX_SEATS_PER_REQUEST: integer(10, 1),
  /** How long an Idempotency-Key remembers its first answer. */
  IDEMPOTENCY_TTL_S: integer(86_400, 1),
  /** How often an open seat stream (SSE) sends a comment line, so proxies keep it open. */
  SSE_HEARTBEAT_MS: integer(15_000, 10),
  /**
   * The pause between two runs of the reconciler, which repairs the Redis seat cache from
   * Postgres: drift from any cause heals within about this long plus one run.
   */
  RECONCILE_INTERVAL_MS: integer(10_000, 100),
  /** HS256 secret of the bearer tokens; the default is for development only. */
  JWT_SECRET: v.optional(
    v.pipe(v.string(), v.minLength(32, 'must be at least 32 characters')),
    DEV_JWT_SECRET,
  ),
  /** Booking and cancel requests per user and per client address in each window; 0 turns one off. */
  RATE_LIMIT_PER_USER: integer(20),
  RATE_LIMIT_PER_ADDRESS: integer(300),
  RATE_LIMIT_WINDOW_S: integer(10, 1),
  /** Take the client address from X-Forwarded-For (only behind a proxy that sets it). */
  TRUST_PROXY: v.optional(
    v.pipe(
      v.picklist(['true', 'false']),
      v.transform((value) => value === 'true'),
    ),
    'false',
  ),
});

export type Config = v.InferOutput<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; a bad value throws one line naming the variable. */
export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.entries).flatMap((key) => (env[key] === undefined ? [] : [[key, env[key]]])),
  );
  const result = v.safeParse(ConfigSchema, known);
  if (result.success) {
    if (result.output.NODE_ENV === 'production' && result.output.JWT_SECRET === DEV_JWT_SECRET) {
      throw new ConfigError('config: JWT_SECRET must be set in production (the default is public)');
    }
    return result.output;
  }
  const issue = result.issues[0];
  // The first path segment is the variable; deeper ones (a list item) are inside its value.
  const variable = String(issue.path?.[0]?.key ?? 'environment');
  throw new ConfigError(
    `config: ${variable}=${JSON.stringify(known[variable] ?? '')} is invalid: ${issue.message}`,
  );
}
