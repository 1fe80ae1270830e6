import * as v from 'valibot';

const integer = (fallback: number, min = 0) =>
  v.optional(v.pipe(v.string(), v.toNumber(), v.integer(), v.minValue(min)), String(fallback));

/** `true` or `false`. */
const flag = (fallback: boolean) =>
  v.optional(
    v.pipe(
      v.picklist(['true', 'false']),
      v.transform((value) => value === 'true'),
    ),
    fallback ? 'true' : 'false',
  );

/** A URL that tokens or keys come from: https, or plain http on this machine only (tests, development). */
const httpsUnlessLocal = v.check(
  (value: string) =>
    value === '' ||
    (URL.canParse(value) && /^(https:\/\/|http:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/|$))/.test(value)),
  'must be an https:// URL (http:// only on localhost or 127.0.0.1)',
);

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
 * description is its documentation: docs/configuration.md's table (`npm run docs:config`) and the
 * deploy files' comments (`npm run deploy:gen`) are generated from it.
 */
export const ConfigSchema = v.object({
  // Unset is production: a deployment that forgets it must not accept the public JWT_SECRET.
  NODE_ENV: v.pipe(
    v.optional(v.picklist(['development', 'test', 'production']), 'production'),
    v.description(
      '`development`, `test` or `production`; only `development` and `test` accept the public development JWT_SECRET (`npm start` and the tests set it)',
    ),
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
  TAKEN_SEAT_MEMORY_MS: v.pipe(
    integer(2_000),
    v.description(
      'once Redis has refused a seat as held or booked, `book` refuses requests for it from memory, without asking Redis, for at most this long (a hold only until it lapses): the bound on how stale such a refusal can be once the seat is free again (0: ask Redis every time)',
    ),
  ),
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
  QUEUE_TICK_MS: v.pipe(
    integer(1_000, 100),
    v.description(
      'the pause between two runs of `queue-admission`, which lets buyers in from each waiting room: admissions, sold-out news and a restarted Redis are seen within about this long',
    ),
  ),
  QUEUE_ADMIT_FACTOR: v.pipe(
    v.optional(v.pipe(v.string(), v.toNumber(), v.minValue(0.01), v.maxValue(100)), '1'),
    v.description(
      'buyers in their session at once are at most this many times the seats not yet booked (1: never more buyers than seats left; more lets in buyers ahead of seats that holds may free)',
    ),
  ),
  QUEUE_UPDATE_MS: v.pipe(
    integer(2_000, 0),
    v.description(
      "a waiting buyer's stream hears of a new position at most this often (admission and sold-out at once)",
    ),
  ),
  SALE_SETTINGS_MAX_AGE_MS: v.pipe(
    integer(1_000, 0),
    v.description(
      "how long `book` and `queue` keep an event's on-sale time and waiting room in memory: a change through PATCH /events/:id applies within about twice this long (an older read answers while a fresh one is made)",
    ),
  ),
  METRICS_ENABLED: v.pipe(
    flag(true),
    v.description(
      "`false` stops counting HTTP requests by route (GET /metrics still answers, with the rest): what the benchmark's overhead measurement turns off",
    ),
  ),
  OTEL_EXPORTER_OTLP_ENDPOINT: v.pipe(
    v.optional(
      v.pipe(
        v.string(),
        v.check(
          (value) => value === '' || URL.canParse(value),
          'must be a URL, e.g. http://otel-collector:4318',
        ),
        // Empty is unset, as a compose file passes a variable it does not set.
        v.transform((value) => value || undefined),
      ),
    ),
    v.description(
      'an OpenTelemetry collector (OTLP over HTTP, e.g. `http://otel-collector:4318`): when set, every function records traces there (HTTP → Kafka → processor → projector → `book`); unset, tracing is off and costs nothing',
    ),
  ),
  // Tokens and identity providers: how bearer tokens are verified, from
  // JWT_SECRET to AUTH_JWKS_CACHE_MAX_AGE_S. lib/platform/auth.ts reads them; parseConfig refuses
  // combinations that would leave tokens unchecked.
  JWT_SECRET: v.pipe(
    v.optional(
      v.pipe(
        v.string(),
        // Empty is unset: the deploy files pass every setting, with no value for this one.
        v.transform((value) => value || DEV_JWT_SECRET),
        v.minLength(32, 'must be at least 32 characters'),
      ),
      DEV_JWT_SECRET,
    ),
    v.description(
      'HS256 secret of the bearer tokens (32+ characters); unset, a public development secret that only NODE_ENV `development` or `test` accepts. Unused when AUTH_JWKS_URL is set',
    ),
  ),
  AUTH_MAX_TOKEN_LIFETIME_S: v.pipe(
    integer(86_400, 1),
    v.description(
      'the longest a bearer token may live: its `exp` minus its `iat` (minus now without `iat`); a token without `exp` is refused',
    ),
  ),
  AUTH_CLOCK_SKEW_S: v.pipe(
    integer(30),
    v.description("how far the token issuer's clock may be off ours: leeway on `exp`, `nbf` and `iat`"),
  ),
  AUTH_JWKS_URL: v.pipe(
    v.optional(v.string(), ''),
    httpsUnlessLocal,
    v.description(
      "an identity provider's JSON Web Key Set: when set, bearer tokens must be RS256 or ES256 tokens it signed (HS256 ones are refused); unset, HS256 with JWT_SECRET",
    ),
  ),
  AUTH_ISSUER: v.pipe(
    v.optional(v.string(), ''),
    v.description("the `iss` the provider's tokens carry (required with AUTH_JWKS_URL)"),
  ),
  AUTH_AUDIENCE: v.pipe(
    v.optional(v.string(), ''),
    v.description(
      "the `aud` the provider's tokens must name: this API's identifier there (required with AUTH_JWKS_URL)",
    ),
  ),
  AUTH_ROLE_CLAIM: v.pipe(
    v.optional(v.pipe(v.string(), v.minLength(1, 'must name a claim')), 'role'),
    v.description(
      'the claim carrying the role: a name, or a dotted path such as `realm_access.roles`; `admin` there (or in a list there) makes an admin, anything else or nothing a user',
    ),
  ),
  AUTH_USER_ID_CLAIM: v.pipe(
    v.optional(v.pipe(v.string(), v.minLength(1, 'must name a claim')), 'sub'),
    v.description(
      "the claim carrying the user id, a positive 32-bit integer (the database's): a name or a dotted path, for providers whose `sub` is a UUID",
    ),
  ),
  AUTH_JWKS_COOLDOWN_S: v.pipe(
    integer(30),
    v.description(
      'a token signed with a key (`kid`) the cached key set lacks fetches the set again at most this often',
    ),
  ),
  AUTH_JWKS_CACHE_MAX_AGE_S: v.pipe(
    integer(600, 1),
    v.description('how long a fetched key set is used before it is fetched again'),
  ),
  RATE_LIMIT_PER_USER: v.pipe(
    integer(20),
    v.description(
      '`book`/`cancel` requests per user per window (0: off); `book` counts them per event, in its seat script',
    ),
  ),
  RATE_LIMIT_PER_ADDRESS: v.pipe(
    integer(300),
    v.description(
      '`book`/`cancel` requests per client address per window (0: off); `book` counts them per event, in its seat script',
    ),
  ),
  RATE_LIMIT_WINDOW_S: v.pipe(integer(10, 1), v.description('the sliding window, in seconds')),
  // The bounded public surface: reads limited per address, seat streams
  // capped, unknown event ids remembered, a deadline on every answer.
  RATE_LIMIT_READS_PER_ADDRESS: v.pipe(
    integer(600),
    v.description(
      'public reads (`GET /events`, `/events/:id`, `/events/seats/:id`, `/events/:id/seat-map`, `/events/:id/seat-layout`, opening a seat stream) per client address per window, all of them together (0: off)',
    ),
  ),
  // A venue's or an office's buyers may share one address, each with a tab or two open.
  SSE_MAX_PER_ADDRESS: v.pipe(
    integer(16),
    v.description(
      'open seat streams per client address, counted per process (0: no cap); one more is refused with 429',
    ),
  ),
  SSE_MAX_PER_PROCESS: v.pipe(
    integer(5_000),
    v.description('open seat streams per process (0: no cap); one more is refused with 429'),
  ),
  UNKNOWN_EVENT_TTL_MS: v.pipe(
    integer(2_000, 1),
    v.description(
      'how long a process remembers that an event id named no event, answering 404 again without asking Postgres; an event created with that id meanwhile is seen at most this late',
    ),
  ),
  // Issue 18, seat maps at on-sale scale: lib/booking/seats/snapshots.ts.
  SEAT_MAP_MAX_AGE_MS: v.pipe(
    integer(1_000),
    v.description(
      "how long a process serves an event's seat map from its snapshot in memory before reading the seats again, even when no seat change was announced (a lost message, a cache filled behind its back); a change announced rebuilds it sooner, a hold lapsing too (0: read them on every request)",
    ),
  ),
  EVENTS_MAX_AGE_MS: v.pipe(
    integer(1_000),
    v.description(
      'how long a process serves GET /events and GET /events/:eventId from memory before reading Postgres again: `free_seats`, and an event created through another process, are at most this stale (one created through this process is listed at once; 0: read on every request)',
    ),
  ),
  REQUEST_TIMEOUT_MS: v.pipe(
    integer(10_000, 100),
    v.description(
      'an HTTP request not answered within this gets a 503 (an open seat stream goes on); keep it above KAFKA_SEND_TIMEOUT_MS, so `book` and `cancel` answer by their own deadlines',
    ),
  ),
  TRUST_PROXY: v.pipe(
    flag(false),
    v.description(
      "take the client address from `X-Forwarded-For`'s last entry, the one the proxy in front of the functions wrote (only behind a proxy that sets it; entries before it are the client's word)",
    ),
  ),
  // Trust boundaries: which other sites' pages may call the API.
  CORS_ORIGINS: v.pipe(
    v.optional(
      v.pipe(
        v.string(),
        v.transform((value) => (value.trim() === '' ? [] : value.split(',').map((origin) => origin.trim()))),
        v.array(
          v.pipe(
            v.string(),
            v.check(
              (origin) => origin === '*' || (URL.canParse(origin) && new URL(origin).origin === origin),
              'each origin must be scheme://host[:port] as a browser sends it (lower case, no path or trailing slash), or `*`',
            ),
          ),
        ),
        v.check(
          (origins) => !origins.includes('*') || origins.length === 1,
          '`*` stands alone: it already allows every origin',
        ),
      ),
      '',
    ),
    v.description(
      "other sites whose pages may call the API from a browser (CORS): comma-separated origins such as `https://shop.example`, or `*` for any; unset: this site's own pages only. Never with cookies (`Access-Control-Allow-Credentials`): callers authenticate with a bearer token",
    ),
  ),
  // Sign-in on the page: the seat-map page signs in with an OpenID Connect
  // provider itself (authorization code with PKCE, in the browser); '' leaves it unset.
  AUTH_OIDC_ISSUER: v.pipe(
    v.optional(v.string(), ''),
    httpsUnlessLocal,
    v.description(
      'the OpenID Connect provider the seat-map page signs in with (discovery at `<issuer>/.well-known/openid-configuration`); unset: no sign-in in production, sign-in as a demo user in development',
    ),
  ),
  AUTH_OIDC_CLIENT_ID: v.pipe(
    v.optional(v.string(), ''),
    v.description(
      "the page's client id at that provider: a public client (no secret, PKCE) allowed to redirect to `<this site>/map/*`",
    ),
  ),
  AUTH_OIDC_SCOPE: v.pipe(
    v.optional(v.pipe(v.string(), v.minLength(1)), 'openid'),
    v.description('the scopes the page asks the provider for, space-separated'),
  ),
  AUTH_OIDC_AUDIENCE: v.pipe(
    v.optional(v.string(), ''),
    v.description(
      'sent as the `audience` parameter when set, for providers that issue an access token for an API only when asked (Auth0)',
    ),
  ),
});

export type Config = v.InferOutput<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * What would let a token through unchecked. The public development secret
 * only where NODE_ENV says development or test (unset is production); a key set only with the
 * issuer and audience its tokens must carry, since one provider signs tokens for many clients.
 */
function tokenSettingsProblem(config: Config): string | undefined {
  if (config.AUTH_JWKS_URL !== '') {
    if (config.AUTH_ISSUER === '' || config.AUTH_AUDIENCE === '') {
      return 'AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE (the iss and aud its tokens carry)';
    }
  } else if (config.AUTH_ISSUER !== '' || config.AUTH_AUDIENCE !== '') {
    return 'AUTH_ISSUER and AUTH_AUDIENCE apply to the tokens of AUTH_JWKS_URL, which is not set';
  } else if (config.JWT_SECRET === DEV_JWT_SECRET && config.NODE_ENV === 'production') {
    return 'set JWT_SECRET (32+ random characters) or AUTH_JWKS_URL: the default secret is public, and only NODE_ENV=development or test accepts it';
  }
  return undefined;
}

/** Parses the environment; a bad value throws one line naming the variable. */
export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.entries).flatMap((key) => (env[key] === undefined ? [] : [[key, env[key]]])),
  );
  const result = v.safeParse(ConfigSchema, known);
  if (result.success) {
    const unverifiable = tokenSettingsProblem(result.output);
    if (unverifiable) throw new ConfigError(`config: ${unverifiable}`);
    if ((result.output.AUTH_OIDC_ISSUER === '') !== (result.output.AUTH_OIDC_CLIENT_ID === '')) {
      throw new ConfigError(
        'config: AUTH_OIDC_ISSUER and AUTH_OIDC_CLIENT_ID are set together or not at all',
      );
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
