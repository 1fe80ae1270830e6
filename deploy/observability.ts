/**
 * Seeing an on-sale run: Prometheus's scrape config and alert rules, and Grafana's provisioned data
 * source and dashboard (deploy/prometheus/, deploy/grafana/), which docker-compose.yml runs under
 * the `observability` profile; the Kubernetes files reuse the same rules, dashboard and queries.
 * Every query names the metrics of lib/platform/metrics.ts (deploy/promql.ts and its test hold
 * them to that list).
 */
import { PLATFORM_PATHS } from '../lib/platform/openapi.ts';
import { generatedNotice, yamlFile } from './files.ts';
import { type DeployedFunction, isHttp } from './functions.ts';
import { CONTAINER_PORT, type Variable } from './settings.ts';

/** `docker compose --profile observability up -d` adds Prometheus and Grafana; without it nothing changes. */
export const OBSERVABILITY_PROFILE = 'observability';

/** Prometheus 3.5 is a long-term-support release. */
export const PROMETHEUS_IMAGE = 'prom/prometheus:v3.5.0';
/**
 * The same open-source images as grafana/grafana-oss, which Grafana stopped updating at 12.4.
 * 12.4 rather than 13: Grafana 13 saves dashboards in its new (v2) format, which file provisioning
 * was reported not to load; this dashboard is the classic format Grafana 12 provisions.
 */
export const GRAFANA_IMAGE = 'grafana/grafana:12.4.0';
export const PROMETHEUS_PORT = 9090;
export const GRAFANA_PORT = 3000;

export const PROMETHEUS_CONFIG = 'deploy/prometheus/prometheus.yml';
export const ALERT_RULES = 'deploy/prometheus/alerts.yml';
export const GRAFANA_DATASOURCE = 'deploy/grafana/provisioning/datasources/prometheus.yaml';
export const GRAFANA_DASHBOARD_PROVIDER = 'deploy/grafana/provisioning/dashboards/seatrush.yaml';
export const GRAFANA_DASHBOARD = 'deploy/grafana/dashboards/seatrush-on-sale.json';
/** Where compose mounts the two folders inside the containers. */
export const MOUNTS = {
  prometheus: '/etc/prometheus',
  grafanaProvisioning: '/etc/grafana/provisioning',
  grafanaDashboards: '/etc/grafana/dashboards',
};

/**
 * A flash sale sells out within a minute or two: scraped every 15 s (Prometheus's default) it
 * would be four points on a graph. Every function every 5 s is still little work.
 */
export const SCRAPE_INTERVAL = '5s';
/** The job every function's target belongs to, in compose and (by the PodMonitor) in a cluster. */
export const SCRAPE_JOB = 'seatrush';
export const METRICS_PATH = '/metrics';
export const DATASOURCE_UID = 'seatrush-prometheus';
export const DASHBOARD_UID = 'seatrush-on-sale';

/** The settings the alert thresholds and dashboard colours are derived from. */
export type ObservedSettings = Pick<Record<Variable, string>, 'HOLD_TTL_MS' | 'BOOK_WAIT_MS'>;

/** The function that decides booking requests (it consumes the commands), and the one that takes them. */
function bookingFunctions(functions: readonly DeployedFunction[]) {
  const processor = functions.find((fn) => fn.topic?.key === 'bookingCommands');
  const book = functions.find((fn) => fn.routes.some((route) => route.path === '/bookings/book'));
  if (!processor || !book)
    throw new Error('deploy: no function consumes booking commands or answers /bookings/book');
  return { processor, book };
}

/**
 * The requests people sent: health checks, scrapes and docs are left out, and so are the Kafka
 * and scheduled functions, whose triggers deliver each batch or run to their app as a request.
 */
function trafficOf(functions: readonly DeployedFunction[]): string {
  const internal = functions.filter((fn) => !isHttp(fn)).map((fn) => fn.name);
  const platform = [...PLATFORM_PATHS].map((path) => path.replaceAll('.', '[.]'));
  return `function!~"${internal.join('|')}", route!~"${platform.join('|')}"`;
}

/**
 * A consumer's lag, summed over the partitions. Each replica reports the partitions it consumed
 * last; after a rebalance two may still report one partition, so the larger is taken once.
 */
export const lagOf = (fn: string) =>
  `sum(max by (topic, partition) (seatrush_kafka_consumer_lag{function="${fn}"}))`;

/** Every consumer's lag per partition, each partition counted once (as in lagOf). */
const PARTITION_LAG = 'max by (function, topic, partition) (seatrush_kafka_consumer_lag)';

const p99Of = (selector: string, by: string, window: string) =>
  `histogram_quantile(0.99, sum by (${['le', by].filter(Boolean).join(', ')}) (rate(seatrush_http_request_duration_seconds_bucket{${selector}}[${window}])))`;

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: 'critical' | 'warning' | 'info' };
  annotations: { summary: string; description: string };
}

/**
 * What to alert on during an on-sale. Thresholds come from the deployment's settings where one
 * fits (the hold TTL, the lag one replica is meant to carry).
 */
export function alertRules(
  functions: readonly DeployedFunction[],
  settings: ObservedSettings,
  lagPerReplica: number,
): { name: string; rules: AlertRule[] }[] {
  const { processor, book } = bookingFunctions(functions);
  const holdTtlSeconds = Number(settings.HOLD_TTL_MS) / 1000;
  const decisions =
    'sum(rate(seatrush_bookings_confirmed_total[5m])) + sum(rate(seatrush_bookings_rejected_total[5m]))';
  return [
    {
      name: 'seatrush.on-sale',
      rules: [
        {
          alert: 'SeatrushProcessorBehindHoldTtl',
          // How long the oldest command of the last batch waited: what a held seat waits for its decision.
          expr: `max(seatrush_kafka_consumer_delay_seconds{function="${processor.name}"}) > ${holdTtlSeconds / 2}`,
          for: '1m',
          labels: { severity: 'critical' },
          annotations: {
            summary: `${processor.name} decides commands {{ $value | humanizeDuration }} after they were sent; holds last ${holdTtlSeconds} s`,
            description: `The commands ${processor.name} takes waited in Kafka (seatrush_kafka_consumer_delay_seconds) over half of HOLD_TTL_MS: held seats are about to lapse before their requests are decided, so a buyer may lose a seat ${book.name} held for them. Scale ${processor.name} (up to one replica per partition), or raise HOLD_TTL_MS.`,
          },
        },
        {
          alert: 'SeatrushProcessorStalled',
          // Requests in the last minute, no batch in the last two: a healthy processor takes each
          // command within a second of its request, so the longer window never misses it after
          // a sale ends; a stalled one is caught while buyers keep coming.
          expr: `sum(rate(seatrush_bookings_requested_total[1m])) > 0 unless on () sum(increase(seatrush_kafka_batch_messages_count{function="${processor.name}"}[2m])) > 0`,
          for: '1m',
          labels: { severity: 'critical' },
          annotations: {
            summary: `Booking requests arrive but ${processor.name} processes no batches`,
            description: `${book.name} takes requests (seatrush_bookings_requested_total) while ${processor.name} has processed no batch for 2 minutes: it is down, stuck, or Kafka is. Its lag gauge stops moving when it stops, so this catches what the lag alerts cannot.`,
          },
        },
        {
          alert: 'SeatrushConsumerLagHigh',
          // The mean over the partitions, which is what KEDA scales on.
          expr: `avg by (function, topic) (${PARTITION_LAG}) > ${lagPerReplica}`,
          for: '2m',
          labels: { severity: 'warning' },
          annotations: {
            summary:
              '{{ $labels.function }} is {{ $value | humanize }} messages per partition behind on {{ $labels.topic }}',
            description: `More than ${lagPerReplica} messages per partition (what one replica is scaled to carry) for 2 minutes: the consumer is at its most replicas (one per partition) and still falls behind, or is not scaled. For ${processor.name} held seats wait; for the others, what buyers see is late.`,
          },
        },
        {
          alert: 'SeatrushHoldsExpired',
          expr: 'sum(increase(seatrush_holds_expired_total[5m])) > 0',
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary:
              '{{ $value | humanize }} seats were confirmed after their hold had lapsed (last 5 minutes)',
            description: `Decisions come later than HOLD_TTL_MS (${holdTtlSeconds} s) after the hold: the processor is behind (see its lag) or commands waited in Kafka. Meanwhile another buyer could see those seats free.`,
          },
        },
        {
          alert: 'SeatrushBookingsRejectedUnexpectedly',
          expr: `sum by (reason) (rate(seatrush_bookings_rejected_total{reason!="SEATS_TAKEN"}[5m])) / on () group_left () (${decisions}) > 0.05`,
          for: '5m',
          labels: { severity: 'warning' },
          annotations: {
            summary:
              '{{ $value | humanizePercentage }} of booking decisions are rejections for {{ $labels.reason }}',
            description: `Rejections other than SEATS_TAKEN (lost races, expected during an on-sale): WITHDRAWN means ${book.name} could not hand commands to Kafka within KAFKA_SEND_TIMEOUT_MS; UNKNOWN_* means clients ask for events, seats or users that do not exist (a stale seat map, or a broken client).`,
          },
        },
        {
          alert: 'SeatrushMostBookingsRejected',
          expr: `sum(rate(seatrush_bookings_rejected_total[5m])) / (${decisions}) > 0.9`,
          for: '5m',
          labels: { severity: 'info' },
          annotations: {
            summary: '{{ $value | humanizePercentage }} of booking requests are rejected',
            description:
              'Expected near a sell-out, when most buyers race for the last seats. If the seat map still shows many seats free, the Redis cache is stale: look at reconciler repairs.',
          },
        },
        {
          alert: 'SeatrushServerErrors',
          expr: `sum by (function) (rate(seatrush_http_requests_total{status=~"5.."}[2m])) / sum by (function) (rate(seatrush_http_requests_total[2m])) > 0.02`,
          for: '2m',
          labels: { severity: 'critical' },
          annotations: {
            summary: '{{ $labels.function }} answers {{ $value | humanizePercentage }} of requests with 5xx',
            description:
              'More than 2 % for 2 minutes. 503s come from a dependency that is down (Redis, Postgres, Kafka: see seatrush_redis_errors_total, seatrush_postgres_errors_total) or from REQUEST_TIMEOUT_MS; 500s are bugs: read the function log.',
          },
        },
        {
          alert: 'SeatrushReconcilerRepairs',
          expr: 'sum(increase(seatrush_reconciler_repairs_total[10m])) > 0',
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary:
              'The reconciler repaired about {{ $value | printf "%.0f" }} seats in Redis (last 10 minutes)',
            description:
              "Redis's seat cache had drifted from Postgres (a restarted Redis, a lost event, a bug): buyers saw those seats wrongly for up to RECONCILE_INTERVAL_MS. A few after a Redis restart are expected; a steady stream is a bug.",
          },
        },
        {
          alert: 'SeatrushDeadLetters',
          expr: 'sum by (function, topic) (increase(seatrush_kafka_dead_letters_total[10m])) > 0',
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary:
              '{{ $labels.function }} dead-lettered {{ $value | humanize }} messages from {{ $labels.topic }}',
            description:
              'Messages it could not process after every retry went to the dead-letters topic: read the function log for the reason, fix, then replay them.',
          },
        },
        {
          alert: 'SeatrushFunctionDown',
          expr: `up{job="${SCRAPE_JOB}"} == 0`,
          for: '1m',
          labels: { severity: 'critical' },
          annotations: {
            summary: '{{ $labels.instance }} does not answer /metrics',
            description: 'The function is down or restarting; the gateway answers its routes with 503.',
          },
        },
      ],
    },
  ];
}

export function alertRulesFile(groups: ReturnType<typeof alertRules>): string {
  return yamlFile(
    [{ groups }],
    `Prometheus alert rules (loaded by ${PROMETHEUS_CONFIG}); deploy/README.md, Observability, says what each means.`,
  );
}

/** compose: every function is its own service, on its own port 8080, named as the function. */
export function prometheusConfig(functions: readonly DeployedFunction[]): string {
  return yamlFile(
    [
      {
        global: { scrape_interval: SCRAPE_INTERVAL, scrape_timeout: '4s', evaluation_interval: '15s' },
        // Relative to this file, so `promtool check config` reads the same rules as the container.
        rule_files: [ALERT_RULES.slice(ALERT_RULES.lastIndexOf('/') + 1)],
        scrape_configs: [
          {
            job_name: SCRAPE_JOB,
            metrics_path: METRICS_PATH,
            // Each series carries the `function` label already; the target adds only its address.
            static_configs: [{ targets: functions.map((fn) => `${fn.name}:${CONTAINER_PORT}`) }],
          },
        ],
      },
    ],
    "Prometheus for docker-compose.yml's observability profile: every function's /metrics, and the alert rules.",
  );
}

export function grafanaDatasource(): string {
  return yamlFile(
    [
      {
        apiVersion: 1,
        datasources: [
          {
            name: 'Prometheus',
            uid: DATASOURCE_UID,
            type: 'prometheus',
            access: 'proxy',
            url: `http://prometheus:${PROMETHEUS_PORT}`,
            isDefault: true,
            editable: false,
            // Grafana's $__rate_interval is four scrape intervals: it must know ours.
            jsonData: { timeInterval: SCRAPE_INTERVAL },
          },
        ],
      },
    ],
    "Grafana's data source: compose's Prometheus.",
  );
}

export function grafanaDashboardProvider(): string {
  return yamlFile(
    [
      {
        apiVersion: 1,
        providers: [
          {
            name: 'seatrush',
            folder: 'Seatrush',
            type: 'file',
            disableDeletion: true,
            // The dashboard is generated: changes made in Grafana would be lost on the next start.
            allowUiUpdates: false,
            options: { path: MOUNTS.grafanaDashboards },
          },
        ],
      },
    ],
    `Grafana loads the dashboards of ${GRAFANA_DASHBOARD.slice(0, GRAFANA_DASHBOARD.lastIndexOf('/'))}.`,
  );
}

interface Panel {
  title: string;
  description: string;
  kind: 'stat' | 'timeseries';
  unit: string;
  targets: { expr: string; legend?: string }[];
  width: number;
  /** Stat colours: the value from which each colour applies, green below the first. */
  thresholds?: [number, 'orange' | 'red'][];
}

/** The on-sale at a glance: arrivals, answers, bookings, lag, holds, latency; then the machinery. */
function panels(functions: readonly DeployedFunction[], settings: ObservedSettings): Panel[] {
  const { processor, book } = bookingFunctions(functions);
  const rate = (metric: string, selector = '') =>
    `rate(${metric}${selector ? `{${selector}}` : ''}[$__rate_interval])`;
  const bookSelector = `function="${book.name}", method="POST"`;
  const traffic = trafficOf(functions);
  const bookWaitSeconds = Number(settings.BOOK_WAIT_MS) / 1000;
  return [
    {
      title: 'Arrivals',
      description:
        "HTTP requests per second to the HTTP functions (health checks, scrapes, docs and the Kafka and scheduled functions' trigger deliveries left out).",
      kind: 'stat',
      unit: 'reqps',
      width: 4,
      targets: [{ expr: `sum(${rate('seatrush_http_requests_total', traffic)})` }],
    },
    {
      title: 'Confirmed',
      description: `Bookings confirmed per second by ${processor.name}.`,
      kind: 'stat',
      unit: 'ops',
      width: 4,
      targets: [{ expr: `sum(${rate('seatrush_bookings_confirmed_total')})` }],
    },
    {
      title: 'Rejected',
      description: 'Booking requests rejected per second, at once by book or later by the processor.',
      kind: 'stat',
      unit: 'ops',
      width: 4,
      targets: [{ expr: `sum(${rate('seatrush_bookings_rejected_total')})` }],
    },
    {
      title: `${processor.name} lag`,
      description: `Booking commands waiting in Kafka for ${processor.name}, as of its last batches.`,
      kind: 'stat',
      unit: 'short',
      width: 4,
      targets: [{ expr: lagOf(processor.name) }],
    },
    {
      title: `p99 ${book.name}`,
      description: `99th percentile of POST ${book.routes[0]?.path}: red at BOOK_WAIT_MS (${bookWaitSeconds} s), when book stops waiting and answers 202.`,
      kind: 'stat',
      unit: 's',
      width: 4,
      thresholds: [
        [bookWaitSeconds / 4, 'orange'],
        [bookWaitSeconds, 'red'],
      ],
      targets: [{ expr: p99Of(bookSelector, '', '$__rate_interval') }],
    },
    {
      title: 'Holds expired',
      description: 'Seats confirmed after their hold had lapsed, over the time shown: should be 0.',
      kind: 'stat',
      unit: 'short',
      width: 4,
      thresholds: [[1, 'red']],
      targets: [{ expr: 'sum(increase(seatrush_holds_expired_total[$__range]))' }],
    },
    {
      title: 'Arrivals by function',
      description: 'Requests per second each function answers.',
      kind: 'timeseries',
      unit: 'reqps',
      width: 12,
      targets: [
        {
          expr: `sum by (function) (${rate('seatrush_http_requests_total', traffic)})`,
          legend: '{{function}}',
        },
      ],
    },
    {
      title: 'Answers by status',
      description: '201 booked, 202 still deciding, 409 seats taken, 429 rate-limited, 5xx failures.',
      kind: 'timeseries',
      unit: 'reqps',
      width: 12,
      targets: [
        {
          expr: `sum by (status) (${rate('seatrush_http_requests_total', traffic)})`,
          legend: '{{status}}',
        },
      ],
    },
    {
      title: 'Bookings',
      description: 'Requests that reached the seats, confirmations, and rejections by reason, per second.',
      kind: 'timeseries',
      unit: 'ops',
      width: 12,
      targets: [
        { expr: `sum(${rate('seatrush_bookings_requested_total')})`, legend: 'requested' },
        { expr: `sum(${rate('seatrush_bookings_confirmed_total')})`, legend: 'confirmed' },
        {
          expr: `sum by (reason) (${rate('seatrush_bookings_rejected_total')})`,
          legend: 'rejected {{reason}}',
        },
      ],
    },
    {
      title: 'Kafka consumer lag',
      description: 'Messages behind the end of each topic, per consumer, as of its last batches.',
      kind: 'timeseries',
      unit: 'short',
      width: 12,
      targets: [
        {
          expr: `sum by (function, topic) (${PARTITION_LAG})`,
          legend: '{{function}} {{topic}}',
        },
      ],
    },
    {
      title: 'Holds',
      description: `Seats held in Redis per second, released without a booking, and expired (confirmed after HOLD_TTL_MS, ${Number(settings.HOLD_TTL_MS) / 1000} s).`,
      kind: 'timeseries',
      unit: 'ops',
      width: 12,
      targets: [
        { expr: `sum(${rate('seatrush_holds_taken_total')})`, legend: 'taken' },
        { expr: `sum(${rate('seatrush_holds_released_total')})`, legend: 'released' },
        { expr: `sum(${rate('seatrush_holds_expired_total')})`, legend: 'expired' },
      ],
    },
    {
      title: 'Latency p99',
      description: `99th percentile per function; ${book.name} waits up to BOOK_WAIT_MS for its outcome.`,
      kind: 'timeseries',
      unit: 's',
      width: 12,
      targets: [{ expr: p99Of(traffic, 'function', '$__rate_interval'), legend: '{{function}}' }],
    },
    {
      title: 'Kafka batches',
      description: 'Messages per batch (median) and time per batch (p99), per consumer.',
      kind: 'timeseries',
      unit: 'short',
      width: 12,
      targets: [
        {
          expr: `histogram_quantile(0.5, sum by (le, function) (${rate('seatrush_kafka_batch_messages_bucket')}))`,
          legend: '{{function}} messages',
        },
        {
          expr: `histogram_quantile(0.99, sum by (le, function) (${rate('seatrush_kafka_batch_duration_seconds_bucket')}))`,
          legend: '{{function}} seconds',
        },
      ],
    },
    {
      title: 'Waiting room and streams',
      description: 'Buyers let in from waiting rooms per second; Server-Sent Event streams open.',
      kind: 'timeseries',
      unit: 'short',
      width: 12,
      targets: [
        { expr: `sum(${rate('seatrush_queue_admitted_total')})`, legend: 'admitted /s' },
        { expr: 'sum by (instance) (seatrush_sse_streams_open)', legend: '{{instance}} streams' },
      ],
    },
    {
      title: 'Memory',
      description:
        'Resident memory per function, against its memory limit on the Pi (deploy/README.md, Memory).',
      kind: 'timeseries',
      unit: 'bytes',
      width: 12,
      targets: [
        { expr: 'max by (instance) (seatrush_process_resident_memory_bytes)', legend: '{{instance}}' },
      ],
    },
    {
      title: 'Postgres pools',
      description: 'Connections open and idle, and queries waiting for a connection, all functions together.',
      kind: 'timeseries',
      unit: 'short',
      width: 12,
      targets: [{ expr: 'sum by (state) (seatrush_postgres_pool_connections)', legend: '{{state}}' }],
    },
    {
      title: 'Failures and retries',
      description:
        'Per second: Redis and Postgres errors, Kafka batch retries and dead-lettered messages, 429s.',
      kind: 'timeseries',
      unit: 'ops',
      width: 24,
      targets: [
        { expr: `sum(${rate('seatrush_redis_errors_total')})`, legend: 'Redis errors' },
        { expr: `sum(${rate('seatrush_postgres_errors_total')})`, legend: 'Postgres errors' },
        {
          expr: `sum by (function) (${rate('seatrush_kafka_retries_total')})`,
          legend: '{{function}} retries',
        },
        {
          expr: `sum by (function) (${rate('seatrush_kafka_dead_letters_total')})`,
          legend: '{{function}} dead letters',
        },
        {
          expr: `sum by (limiter) (${rate('seatrush_rate_limit_refusals_total')})`,
          legend: '429 {{limiter}}',
        },
      ],
    },
  ];
}

/** Grafana's dashboard model, laid out left to right in rows 24 columns wide. */
export function dashboard(
  functions: readonly DeployedFunction[],
  settings: ObservedSettings,
): Record<string, unknown> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax, for Grafana to fill in
  const datasource = { type: 'prometheus', uid: '${datasource}' };
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  const laidOut = panels(functions, settings).map((panel, index) => {
    const height = panel.kind === 'stat' ? 4 : 8;
    if (x + panel.width > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { x, y, w: panel.width, h: height };
    x += panel.width;
    rowHeight = Math.max(rowHeight, height);
    const steps = [
      { color: 'green', value: null },
      ...(panel.thresholds ?? []).map(([value, color]) => ({ color, value })),
    ];
    return {
      id: index + 1,
      type: panel.kind,
      title: panel.title,
      description: panel.description,
      datasource,
      gridPos,
      targets: panel.targets.map((target, targetIndex) => ({
        refId: String.fromCharCode(65 + targetIndex),
        datasource,
        expr: target.expr,
        legendFormat: target.legend ?? '__auto',
        range: true,
      })),
      fieldConfig: {
        defaults: {
          unit: panel.unit,
          min: 0,
          thresholds: { mode: 'absolute', steps },
          color: { mode: panel.kind === 'stat' ? 'thresholds' : 'palette-classic' },
          ...(panel.kind === 'timeseries' && {
            custom: {
              drawStyle: 'line',
              lineWidth: 1,
              fillOpacity: 10,
              showPoints: 'never',
              spanNulls: true,
            },
          }),
        },
        overrides: [],
      },
      options:
        panel.kind === 'stat'
          ? {
              reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
              colorMode: 'value',
              graphMode: 'area',
              justifyMode: 'auto',
              textMode: 'auto',
            }
          : {
              legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
              tooltip: { mode: 'multi', sort: 'desc' },
            },
    };
  });
  return {
    uid: DASHBOARD_UID,
    title: 'Seatrush: the on-sale at a glance',
    description: generatedNotice('deploy/observability.ts'),
    tags: ['seatrush'],
    editable: false,
    graphTooltip: 1,
    refresh: '5s',
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-15m', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    annotations: { list: [] },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          hide: 0,
          refresh: 1,
        },
      ],
    },
    panels: laidOut,
  };
}

export function dashboardFile(functions: readonly DeployedFunction[], settings: ObservedSettings): string {
  return `${formatJson(dashboard(functions, settings))}\n`;
}

/** biome.json's line width, which `npm run lint` holds the committed JSON to. */
const JSON_LINE_WIDTH = 110;

/**
 * JSON as Biome formats it, so the generated file passes `npm run lint`: objects one key a line,
 * an array of plain values on one line where it fits.
 */
function formatJson(value: unknown, indent = '', key = ''): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((item) => item === null || typeof item !== 'object')) {
      const line = `[${value.map((item) => JSON.stringify(item)).join(', ')}]`;
      // The line as written: indentation, `"key": `, the array, and a comma after it.
      if (indent.length + key.length + line.length + 1 <= JSON_LINE_WIDTH) return line;
    }
    return `[\n${value.map((item) => `${inner}${formatJson(item, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const lines = entries.map(([name, item]) => {
      const written = `${JSON.stringify(name)}: `;
      return `${inner}${written}${formatJson(item, inner, written)}`;
    });
    return `{\n${lines.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** Every file under deploy/prometheus/ and deploy/grafana/, by path from the repository root. */
export function observabilityFiles(
  functions: readonly DeployedFunction[],
  settings: ObservedSettings,
  lagPerReplica: number,
): Record<string, string> {
  return {
    [PROMETHEUS_CONFIG]: prometheusConfig(functions),
    [ALERT_RULES]: alertRulesFile(alertRules(functions, settings, lagPerReplica)),
    [GRAFANA_DATASOURCE]: grafanaDatasource(),
    [GRAFANA_DASHBOARD_PROVIDER]: grafanaDashboardProvider(),
    [GRAFANA_DASHBOARD]: dashboardFile(functions, settings),
  };
}
