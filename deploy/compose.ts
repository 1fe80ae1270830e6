/**
 * The Raspberry Pi deployment: docker-compose.yml, the gateway's nginx.conf and .env.example,
 * every function a service of its own from the one image.
 */
import type { Node } from 'yaml';
import { ApiError, problemOf } from '../lib/platform/errors.ts';
import { type BundleEntry, bundleOf } from './build.ts';
import { generatedNotice, newDocument, yamlFile } from './files.ts';
import { type DeployedFunction, isHttp, methodsOf, pathPattern } from './functions.ts';
import {
  ALERT_RULES,
  GRAFANA_DASHBOARD,
  GRAFANA_DATASOURCE,
  GRAFANA_IMAGE,
  GRAFANA_PORT,
  MOUNTS,
  OBSERVABILITY_PROFILE,
  PROMETHEUS_IMAGE,
  PROMETHEUS_PORT,
} from './observability.ts';
import {
  CONTAINER_PORT,
  deploymentValues,
  isRequiredOneOf,
  PER_CONTAINER,
  REQUIRED_ONE_OF,
  SHARED_VARIABLES,
  type Variable,
  variableMeanings,
} from './settings.ts';

export const NGINX_CONF = 'deploy/compose/nginx.conf';

/**
 * The most a function was measured resident, in MiB, with FUNCTION_NODE_OPTIONS below: `book` at
 * the flash sale's peak, 125 MB (npm run bench, each function its own process from the bundle);
 * the other functions peaked at 85–109 MB, and sit at 60–64 MB idle (the reconciler 73, the web
 * page 68). Every function gets the one limit, 10 % above `book`'s peak.
 */
export const FUNCTION_MEASURED_RSS_MB = 125;

/**
 * Memory limits in MiB. A function's is the measured peak plus about 10 %; Kafka's is its
 * measured peak (271 MiB with a fixed 256 MB heap, 227 with the heap starting at 32 MB and
 * growing to 256) plus about 10 %.
 */
export const MEMORY_MB = { postgres: 160, redis: 48, kafka: 300, gateway: 32, function: 144 } as const;

/**
 * Memory limits in MiB of the observability profile's services. Prometheus peaked at 79 MiB
 * resident scraping the thirteen functions every 5 s through local flash sales, with 1,700 series
 * and the dashboard's queries (Debian's Prometheus 2.42); the limit leaves room for more routes
 * and statuses, and for replaying its write-ahead log after a restart. Grafana's could not be
 * measured where this project is developed (no registry it reaches has Grafana); 256 MiB is about
 * twice what Grafana 12 is commonly seen using with one data source and a few dashboards.
 */
export const OBSERVABILITY_MEMORY_MB = { prometheus: 192, grafana: 256 } as const;

/** The smallest Raspberry Pi the stack is for (a Pi 5 with 4 GB), and what its OS and Docker keep. */
export const PI_MEMORY_MB = 4096;
export const PI_SYSTEM_RESERVE_MB = 300;

/**
 * The sum of the running services' limits may reach this: 2.6 GB (thirteen functions at 144 MB
 * and the services make it 2,412 MB), which leaves a 4 GB Pi 5 1.2 GB with every limit reached at
 * once. It was 2.2 GB for eleven; the waiting room's two functions (queue, queue-admission) were
 * given room rather than every limit cut below what `book` was measured to use. A fourteenth
 * function passes this budget: decide again then (e.g. the all-in-one FUNCTION unset for a Pi).
 */
export const PI_MEMORY_BUDGET_MB = 2600;

/**
 * With `--profile observability`, Prometheus and Grafana run beside the stack: 2,412 + 192 + 256
 * = 2,860 MB of limits, within this, which leaves a 4 GB Pi 5 0.8 GB with every limit reached at
 * once. The profile is for watching an on-sale, not part of the stack's own budget: without it
 * nothing is added, and the budget above holds.
 */
export const PI_OBSERVABILITY_BUDGET_MB = 3000;

/**
 * V8's heap for a Pi, chosen by measurement (quick flash sales, `book` alone, each pair in the same
 * run): a 16 MB young generation with old space capped at 64 MB kept `book` at a 125 MiB peak for
 * 16 % more CPU per request than the image's default (32 MB young, no cap: 165–189 MiB). A smaller
 * young generation without a cap only moves garbage into old space (137–178 MiB), and a 48 MB cap
 * makes `book` collect all the time: 2.5× the CPU. On a Pi memory runs out first, so this wins.
 */
const FUNCTION_NODE_OPTIONS = '--max-semi-space-size=16 --max-old-space-size=64';

/** Settings of the stack itself (not of the functions), documented in .env.example as well. */
export const STACK_VARIABLES = [
  {
    name: 'SEATRUSH_IMAGE',
    value: 'seatrush:latest',
    meaning:
      'the image of every function: built from deploy/Dockerfile by compose, or a pulled multi-arch tag',
  },
  { name: 'PUBLIC_PORT', value: '8080', meaning: 'the one public port: the gateway to every HTTP function' },
  {
    name: 'POSTGRES_PASSWORD',
    value: 'seatrush',
    meaning: "the seatrush role's password, set on the first start; DATABASE_URL must carry the same",
  },
  {
    name: 'GRAFANA_PORT',
    value: String(GRAFANA_PORT),
    meaning: 'with --profile observability: the port of Grafana and its on-sale dashboard',
  },
  {
    name: 'GRAFANA_ADMIN_PASSWORD',
    value: 'admin',
    meaning:
      "with --profile observability: Grafana's admin password, set on its first start (with admin, Grafana asks for a new one at the first login)",
  },
] as const;

/** A value compose takes from the environment (.env) when set there, else `fallback`. */
const fromEnv = (name: string, fallback: string) => `\${${name}:-${fallback}}`;

const IMAGE = fromEnv('SEATRUSH_IMAGE', 'seatrush:latest');
const HOSTS = { postgres: 'postgres', redis: 'redis', kafka: 'kafka' };

/**
 * The functions' settings on the Pi. The database pool is small because the functions share one
 * small Postgres (POSTGRES_MAX_CONNECTIONS).
 */
export function composeValues(): Record<Variable, string> {
  return deploymentValues(HOSTS, { DATABASE_POOL_SIZE: '4' });
}

/** Postgres's connection limit on the Pi: every function's pool, the one-shot steps, and psql. */
export const POSTGRES_MAX_CONNECTIONS = 80;

const GATEWAY_PORT = 8080;

/**
 * The one-node KRaft broker, configured like scripts/kafka.sh's: small internal topics, no
 * auto-creation, no rebalance delay, a small log-cleaner buffer so the 256 MB heap is enough.
 */
const KAFKA_ENVIRONMENT = {
  // Any base64 UUID; it names the storage formatted in the kafka-data volume on the first start.
  CLUSTER_ID: 'rdPUlmfVTou98qAKAo6tsQ',
  KAFKA_NODE_ID: '1',
  KAFKA_PROCESS_ROLES: 'broker,controller',
  KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
  KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${HOSTS.kafka}:9092`,
  KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
  KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
  KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
  KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
  KAFKA_LOG_DIRS: '/var/lib/kafka/data',
  KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
  KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '4',
  KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
  KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
  KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS: '4',
  KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
  KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
  KAFKA_LOG_RETENTION_HOURS: '24',
  KAFKA_LOG_CLEANER_DEDUPE_BUFFER_SIZE: '8388608',
  KAFKA_NUM_NETWORK_THREADS: '2',
  KAFKA_NUM_IO_THREADS: '4',
  // Starts small and grows to 256 MB: 40 MB less resident idle than a fixed heap, as fast (measured).
  KAFKA_HEAP_OPTS: '-Xms32m -Xmx256m',
  KAFKA_JVM_PERFORMANCE_OPTS: '-XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true',
};

/**
 * Kafka's health: an ApiVersions request answered without error (the probe of scripts/kafka.sh).
 * An open port is not enough (the listener binds before the broker serves), and Kafka's own CLI
 * tools start a second JVM inside the broker's memory limit on every check.
 */
const KAFKA_PROBE = [
  'exec 3<>/dev/tcp/127.0.0.1/9092',
  "printf '\\x00\\x00\\x00\\x12\\x00\\x12\\x00\\x00\\x00\\x00\\x00\\x07\\x00\\x08kafka.sh' >&3",
  'timeout 3 head -c 10 <&3 | od -An -tx1 | tr -d " \\n" | cut -c9-20 | grep -qx 000000070000',
].join(' && ');

const memory = (mb: number) => ({ resources: { limits: { memory: `${mb}M` } } });

const httpCheck = (port: number, path = '/healthz') => ({
  test: ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${port}${path}`],
  interval: '15s',
  timeout: '3s',
  retries: 3,
  start_period: '30s',
});

function dependencies(fn: DeployedFunction) {
  const needs = new Set(fn.needs);
  return {
    ...(needs.has('postgres') && {
      postgres: { condition: 'service_healthy' },
      migrate: { condition: 'service_completed_successfully' },
    }),
    ...(needs.has('redis') && { redis: { condition: 'service_healthy' } }),
    ...(needs.has('kafka') && {
      kafka: { condition: 'service_healthy' },
      'kafka-topics': { condition: 'service_completed_successfully' },
    }),
  };
}

export function composeFile(functions: DeployedFunction[]): string {
  const doc = newDocument();
  const values = composeValues();
  const environment = doc.createNode({
    ...Object.fromEntries(
      SHARED_VARIABLES.map((variable) => [variable, fromEnv(variable, values[variable])]),
    ),
    NODE_OPTIONS: FUNCTION_NODE_OPTIONS,
  });
  environment.anchor = 'function-environment';
  const withEnvironment = (extra: Record<string, string>): Node =>
    doc.createNode({ '<<': doc.createAlias(environment), ...extra });

  const oneShot = (entry: BundleEntry, dependsOn: Record<string, { condition: string }>) => ({
    image: IMAGE,
    command: [bundleOf(entry)],
    environment: doc.createAlias(environment),
    depends_on: dependsOn,
    deploy: memory(MEMORY_MB.function),
    // A failed step stops `docker compose up` with its one-line reason instead of looping.
    restart: 'no',
  });

  const services: Record<string, unknown> = {
    postgres: {
      image: 'postgres:17-alpine',
      environment: {
        POSTGRES_USER: 'seatrush',
        POSTGRES_PASSWORD: fromEnv('POSTGRES_PASSWORD', 'seatrush'),
        POSTGRES_DB: 'seatrush',
      },
      command: ['postgres', '-c', 'shared_buffers=32MB', '-c', `max_connections=${POSTGRES_MAX_CONNECTIONS}`],
      volumes: ['postgres-data:/var/lib/postgresql/data'],
      healthcheck: {
        test: ['CMD', 'pg_isready', '-U', 'seatrush', '-d', 'seatrush'],
        interval: '5s',
        timeout: '3s',
        retries: 20,
      },
      restart: 'unless-stopped',
      deploy: memory(MEMORY_MB.postgres),
    },
    redis: {
      image: 'redis:7.4-alpine',
      // Locks and the cache are rebuilt from Postgres, so nothing is persisted; noeviction keeps a
      // full Redis from silently dropping a held seat's lock.
      command: [
        'redis-server',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory',
        `${MEMORY_MB.redis - 16}mb`,
        '--maxmemory-policy',
        'noeviction',
      ],
      healthcheck: { test: ['CMD', 'redis-cli', 'ping'], interval: '5s', timeout: '3s', retries: 20 },
      restart: 'unless-stopped',
      deploy: memory(MEMORY_MB.redis),
    },
    kafka: {
      image: 'apache/kafka:3.9.1',
      environment: KAFKA_ENVIRONMENT,
      volumes: ['kafka-data:/var/lib/kafka/data'],
      healthcheck: {
        test: ['CMD', 'bash', '-c', KAFKA_PROBE],
        interval: '10s',
        timeout: '5s',
        retries: 30,
        start_period: '60s',
      },
      restart: 'unless-stopped',
      // A controlled shutdown moves nothing on one node but flushes the log; give it the time.
      stop_grace_period: '30s',
      deploy: memory(MEMORY_MB.kafka),
    },
    migrate: {
      ...oneShot('migrate', { postgres: { condition: 'service_healthy' } }),
      // The image is built once, here; every other service runs the same tag.
      build: { context: '.', dockerfile: 'deploy/Dockerfile' },
    },
    'kafka-topics': oneShot('create-topics', { kafka: { condition: 'service_healthy' } }),
  };

  for (const fn of functions) {
    services[fn.name] = {
      image: IMAGE,
      environment: withEnvironment({ FUNCTION: fn.name, HOST: '0.0.0.0', PORT: String(CONTAINER_PORT) }),
      depends_on: dependencies(fn),
      healthcheck: httpCheck(CONTAINER_PORT),
      restart: 'unless-stopped',
      // Time for the requests in flight and a Kafka batch to finish and commit (lib/platform/runner.ts).
      stop_grace_period: '30s',
      deploy: memory(MEMORY_MB.function),
    };
  }

  services.gateway = {
    image: 'nginx:1.27-alpine',
    ports: [`${fromEnv('PUBLIC_PORT', '8080')}:${GATEWAY_PORT}`],
    volumes: [`./${NGINX_CONF}:/etc/nginx/nginx.conf:ro`],
    // Started, not healthy: one sick function answers 503 through the gateway instead of keeping
    // the whole public port closed. nginx looks each function up per request.
    depends_on: Object.fromEntries(
      functions.filter(isHttp).map((fn) => [fn.name, { condition: 'service_started' }]),
    ),
    healthcheck: httpCheck(GATEWAY_PORT),
    restart: 'unless-stopped',
    deploy: memory(MEMORY_MB.gateway),
  };

  for (const name of Object.keys(OBSERVABILITY_MEMORY_MB)) {
    if (name in services) throw new Error(`deploy: a function may not be named ${name}: compose runs it`);
  }
  Object.assign(services, observabilityServices());

  doc.contents = doc.createNode(
    {
      name: 'seatrush',
      'x-function-environment': environment,
      services,
      volumes: { 'postgres-data': {}, 'kafka-data': {}, 'prometheus-data': {}, 'grafana-data': {} },
    },
    { aliasDuplicateObjects: false },
  );
  return yamlFile(
    [doc],
    [
      'The Raspberry Pi deployment: `docker compose up -d` (settings in .env, see .env.example).',
      `\`docker compose --profile ${OBSERVABILITY_PROFILE} up -d\` adds Prometheus and Grafana (GRAFANA_PORT).`,
      `One public port (PUBLIC_PORT) reaches every HTTP function through the gateway (${NGINX_CONF}).`,
    ].join('\n'),
  );
}

const folderOf = (path: string) => path.slice(0, path.lastIndexOf('/'));

/**
 * Prometheus and Grafana, only with `--profile observability`. Prometheus is not published: Grafana
 * reaches it inside compose's network, and shows its alerts too (Alerting, data source rules).
 */
function observabilityServices(): Record<string, unknown> {
  return {
    prometheus: {
      image: PROMETHEUS_IMAGE,
      profiles: [OBSERVABILITY_PROFILE],
      command: [
        `--config.file=${MOUNTS.prometheus}/prometheus.yml`,
        '--storage.tsdb.path=/prometheus',
        // A Pi's SD card: a week of on-sales, never more than 512 MB.
        '--storage.tsdb.retention.time=7d',
        '--storage.tsdb.retention.size=512MB',
      ],
      volumes: [`./${folderOf(ALERT_RULES)}:${MOUNTS.prometheus}:ro`, 'prometheus-data:/prometheus'],
      healthcheck: { ...httpCheck(PROMETHEUS_PORT, '/-/ready'), start_period: '10s' },
      restart: 'unless-stopped',
      deploy: memory(OBSERVABILITY_MEMORY_MB.prometheus),
    },
    grafana: {
      image: GRAFANA_IMAGE,
      profiles: [OBSERVABILITY_PROFILE],
      ports: [`${fromEnv('GRAFANA_PORT', String(GRAFANA_PORT))}:${GRAFANA_PORT}`],
      environment: {
        GF_SECURITY_ADMIN_PASSWORD: fromEnv('GRAFANA_ADMIN_PASSWORD', 'admin'),
        GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: `${MOUNTS.grafanaDashboards}/${GRAFANA_DASHBOARD.slice(GRAFANA_DASHBOARD.lastIndexOf('/') + 1)}`,
        // Nothing phones home or fetches plugins: a Pi on a venue's network may have no way out.
        GF_ANALYTICS_REPORTING_ENABLED: 'false',
        GF_ANALYTICS_CHECK_FOR_UPDATES: 'false',
        GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES: 'false',
        GF_PLUGINS_PREINSTALL_DISABLED: 'true',
      },
      volumes: [
        `./${folderOf(folderOf(GRAFANA_DATASOURCE))}:${MOUNTS.grafanaProvisioning}:ro`,
        `./${folderOf(GRAFANA_DASHBOARD)}:${MOUNTS.grafanaDashboards}:ro`,
        'grafana-data:/var/lib/grafana',
      ],
      depends_on: { prometheus: { condition: 'service_started' } },
      // Grafana's image ships curl (Prometheus's, busybox's wget).
      healthcheck: {
        test: ['CMD', 'curl', '-fsS', '-o', '/dev/null', `http://127.0.0.1:${GRAFANA_PORT}/api/health`],
        interval: '15s',
        timeout: '3s',
        retries: 3,
        start_period: '30s',
      },
      restart: 'unless-stopped',
      deploy: memory(OBSERVABILITY_MEMORY_MB.grafana),
    },
  };
}

/** The sum of the memory limits of everything that keeps running (the one-shot steps exit). */
export function stackMemoryMb(functions: DeployedFunction[]): number {
  const { postgres, redis, kafka, gateway } = MEMORY_MB;
  return postgres + redis + kafka + gateway + functions.length * MEMORY_MB.function;
}

const problem = (code: 'NOT_FOUND' | 'SERVICE_UNAVAILABLE', detail: string) =>
  JSON.stringify(problemOf(new ApiError(code, { detail })));

/**
 * The gateway routes by method and path like lib/platform/runner.ts' in-process gateway: the first route
 * (registry order, then route order) whose method and path match names the function; nginx checks
 * a map's regular expressions in the order they are written.
 */
export function nginxConf(functions: DeployedFunction[]): string {
  const routes = functions.flatMap((fn) =>
    fn.routes.map(
      (route) =>
        `    "~^(?:${methodsOf(route).join('|')}) ${pathPattern(route.path).slice(1)}" ${fn.name}; # ${route.method} ${route.path}`,
    ),
  );
  return `# ${generatedNotice()}
# The gateway of docker-compose.yml: one public port, each request to the function declaring its route.
worker_processes 1;

events {
  worker_connections 1024;
}

http {
  # Docker's DNS, asked per request: a function that restarts with a new address is found again.
  resolver 127.0.0.11 valid=10s ipv6=off;
  # Logs go where the official image sends them by default: the container's stdout and stderr.

  map "$request_method $uri" $seatrush_function {
    default "";
${routes.join('\n')}
  }

  server {
    listen ${GATEWAY_PORT};
    default_type application/problem+json;

    location = /healthz {
      default_type application/json;
      return 200 '{"status":"ok","function":"gateway"}';
    }

    location / {
      if ($seatrush_function = "") {
        return 404 '${problem('NOT_FOUND', 'No function answers this method and path.')}';
      }
      proxy_pass http://$seatrush_function:${CONTAINER_PORT};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      # Replaced, not appended to: the functions trust its first address (TRUST_PROXY) for their
      # per-address rate limit, so a client must not be able to choose it.
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      # Server-sent events go out as they are written, and may stay open for long.
      proxy_buffering off;
      proxy_read_timeout 1h;
      # Only nginx's own failures (the function is down or restarting); a function's 503 passes as is.
      error_page 502 504 = @unavailable;
    }

    location @unavailable {
      add_header Retry-After 5 always;
      return 503 '${problem('SERVICE_UNAVAILABLE', 'The function for this route is not running; retry shortly.')}';
    }
  }
}
`;
}

/** .env.example: every setting docker-compose.yml reads, with its value there and its meaning. */
export function envExample(): string {
  const values = composeValues();
  const meanings = variableMeanings();
  const line = (name: string, value: string, meaning: string | undefined) =>
    [`# ${meaning || '(no description in ConfigSchema)'}`, `${name}=${value}`].join('\n');
  const choices = Object.keys(REQUIRED_ONE_OF).join(' or ');
  const requiredOneOf = (name: Variable) =>
    [
      `# ${meanings.get(name) || '(no description in ConfigSchema)'}`,
      `# REQUIRED, ${choices}: ${REQUIRED_ONE_OF[name]}. Without either, every service refuses to start.`,
      `${name}=`,
    ].join('\n');
  return [
    `# ${generatedNotice("the defaults and descriptions of lib/platform/config.ts' ConfigSchema")}`,
    `# Settings of docker-compose.yml: copy to .env and set ${choices} (one is required);`,
    '# change what else you need; unset ones keep these values.',
    '',
    '## The stack',
    ...STACK_VARIABLES.map(({ name, value, meaning }) => line(name, value, meaning)),
    '',
    '## Every function (lib/platform/config.ts)',
    ...SHARED_VARIABLES.map((variable) =>
      isRequiredOneOf(variable)
        ? requiredOneOf(variable)
        : line(variable, values[variable], meanings.get(variable)),
    ),
    '',
    `## Set per service by docker-compose.yml, not here: ${PER_CONTAINER.join(', ')}`,
    '',
  ].join('\n');
}
