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

/**
 * Every setting the functions read, with defaults that work against the local stack. Each entry's
 * description is its documentation: README's configuration table (`npm run docs:config`) and the
 * deploy files' comments (`npm run deploy:gen`) are generated from it.
 */
export const ConfigSchema = v.object({
  NODE_ENV: v.pipe(
    v.optional(v.picklist(['development', 'test', 'production']), 'development'),
    v.description('`development`, `test` or `production`'),
  ),
  LOG_LEVEL: v.pipe(
    v.optional(v.picklist(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'),
    v.description('pino level; `silent` turns logs off'),
  ),
  HOST: v.pipe(v.optional(v.string(), '127.0.0.1'), v.description('the address HTTP is served on')),
  PORT: v.pipe(
    integer(3000),
    v.description(
      'the port HTTP is served on (`0`: any free port, as tests use; the URL is printed at start)',
    ),
  ),
  FUNCTION: v.pipe(
    v.optional(v.string()),
    v.description('run only this function, as in its container (unset: all of them in one process)'),
  ),
  DATABASE_URL: v.pipe(
    urlWithScheme(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/seatrush'),
    v.description('PostgreSQL'),
  ),
  DATABASE_POOL_SIZE: v.pipe(integer(10, 1), v.description('connections per process')),
  REDIS_URL: v.pipe(urlWithScheme(['redis', 'rediss'], 'redis://127.0.0.1:6379/0'), v.description('Redis')),
  // When set, the functions speak the cluster protocol (MOVED/ASK redirects) to any of its masters.
  REDIS_CLUSTER_NODES: v.pipe(
    v.optional(
      v.pipe(
        v.string(),
        v.transform((value) => (value.trim() === '' ? [] : value.split(',').map((node) => node.trim()))),
        v.array(v.pipe(v.string(), v.regex(/^[\w.-]+:\d+$/, 'each node must be host:port'))),
      ),
      '',
    ),
    v.description(
      'a Redis Cluster instead: comma-separated `host:port` of its masters (REDIS_URL is then unused)',
    ),
  ),
  KAFKA_BROKERS: v.pipe(
    v.optional(
      v.pipe(
        v.string(),
        v.transform((value) => value.split(',').map((broker) => broker.trim())),
        v.array(v.pipe(v.string(), v.regex(/^[\w.-]+:\d+$/, 'each broker must be host:port'))),
      ),
      '127.0.0.1:9092',
    ),
    v.description('comma-separated `host:port` list'),
  ),
  KAFKA_CLIENT_ID: v.pipe(v.optional(v.string(), 'seatrush'), v.description('Kafka client id')),
  KAFKA_PREFIX: v.pipe(
    v.optional(v.pipe(v.string(), v.regex(/^[\w.-]*$/)), ''),
    v.description(
      'prefix of every topic and consumer group, so several stacks can share one broker (tests use `test.`)',
    ),
  ),
  // kafkajs has no linger.ms of its own: longer means fewer, fuller requests and a later 202.
  KAFKA_LINGER_MS: v.pipe(
    integer(2),
    v.description('how long the producer gathers concurrent sends into one request'),
  ),
  // Under load each batch gathers this long, so the broker, the consumer and Postgres pay their
  // per-batch costs for many messages: a processor batch costs about as much CPU as fifty of its
  // commands, so under load it should carry more.
  KAFKA_FETCH_INTERVAL_MS: v.pipe(
    integer(100, 0),
    v.description(
      "a Kafka function fetches at most this often: fuller batches under load; a quiet topic's message is still fetched at once",
    ),
  ),
  BOOK_WAIT_MS: v.pipe(
    integer(2_000),
    v.description('how long `book` and `cancel` wait for the outcome before answering 202'),
  ),
  // Past it (or on any send error) the request is settled in Postgres (lib/booking/requests.ts) and
  // the client hears its certain outcome, so a stalled broker costs a buyer seconds, not the
  // producer's minutes of retries.
  KAFKA_SEND_TIMEOUT_MS: v.pipe(
    integer(5_000, 100),
    v.description(
      'how long `book` and `cancel` wait for Kafka to acknowledge a command before settling it in Postgres',
    ),
  ),
  HOLD_TTL_MS: v.pipe(
    integer(60_000, 1_000),
    v.description('how long a seat stays held for a request that is never confirmed'),
  ),
  MAX_SEATS_PER_REQUEST: v.pipe(integer(10, 1), v.description('seats one booking request may ask for')),
  IDEMPOTENCY_TTL_S: v.pipe(
    integer(86_400, 1),
    v.description('how long an `Idempotency-Key` remembers its first answer'),
  ),
  SSE_HEARTBEAT_MS: v.pipe(
    integer(15_000, 10),
    v.description('how often an open seat stream sends a heartbeat comment, so proxies keep it open'),
  ),
  RECONCILE_INTERVAL_MS: v.pipe(
    integer(10_000, 100),
    v.description(
      'the pause between two runs of `reconciler`, which repairs the Redis seat cache from Postgres: drift from any cause heals within about this long plus one run',
    ),
  ),
  JWT_SECRET: v.pipe(
    v.optional(v.pipe(v.string(), v.minLength(32, 'must be at least 32 characters')), DEV_JWT_SECRET),
    v.description(
      'HS256 secret of the bearer tokens (32+ characters); start-up refuses the default in production',
    ),
  ),
  RATE_LIMIT_PER_USER: v.pipe(
    integer(20),
    v.description('`book`/`cancel` requests per user per window (0: off)'),
  ),
  RATE_LIMIT_PER_ADDRESS: v.pipe(
    integer(300),
    v.description('`book`/`cancel` requests per client address per window (0: off)'),
  ),
  RATE_LIMIT_WINDOW_S: v.pipe(integer(10, 1), v.description('the sliding window, in seconds')),
  TRUST_PROXY: v.pipe(
    v.optional(
      v.pipe(
        v.picklist(['true', 'false']),
        v.transform((value) => value === 'true'),
      ),
      'false',
    ),
    v.description('take the client address from `X-Forwarded-For` (only behind a proxy that sets it)'),
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
