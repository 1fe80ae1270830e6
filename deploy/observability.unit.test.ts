/**
 * The Prometheus and Grafana files of compose's observability profile, and their Kubernetes
 * counterparts: every query names a metric the functions export, Prometheus scrapes every
 * function where compose runs it, Grafana finds its data source and dashboard where compose
 * mounts them, and promtool (where installed) accepts the config, the rules and every query.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { collectProcessMetrics, metricNames } from '../lib/platform/metrics.ts';
import { PLATFORM_PATHS } from '../lib/platform/openapi.ts';
import { composeValues, NGINX_CONF } from './compose.ts';
import { describeFunctions } from './functions.ts';
import { generatedFiles, ROOT } from './generate.ts';
import { BASE_DIR, clusterValues, KEDA_PROMETHEUS_DIR, LAG_PER_REPLICA, MONITORING_DIR } from './k8s.ts';
import {
  ALERT_RULES,
  alertRules,
  DATASOURCE_UID,
  GRAFANA_DASHBOARD,
  GRAFANA_DASHBOARD_PROVIDER,
  GRAFANA_DATASOURCE,
  lagOf,
  METRICS_PATH,
  MOUNTS,
  OBSERVABILITY_PROFILE,
  PROMETHEUS_CONFIG,
  PROMETHEUS_PORT,
  SCRAPE_JOB,
} from './observability.ts';
import { metricNamesIn, type Query, queriesIn, unexportedMetrics } from './promql.ts';
import { CONTAINER_PORT } from './settings.ts';

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML and JSON, checked field by field below
type Json = Record<string, any>;

/** Every metric the functions serve: the registry's own names, the Node process's included. */
collectProcessMetrics();
const EXPORTED_METRICS = await metricNames();

const promtoolInstalled = spawnSync('promtool', ['--version']).status === 0;
const kubectlInstalled = spawnSync('kubectl', ['version', '--client']).status === 0;

const functions = describeFunctions();
const kafkaFunctions = functions.filter((fn) => fn.topic);
const files = await generatedFiles();
const yamlOf = (path: string): Json[] =>
  parseAllDocuments(files[path] ?? '', { merge: true }).map((document) => document.toJS() as Json);
const compose = yamlOf('docker-compose.yml')[0] as Json;
const prometheus = yamlOf(PROMETHEUS_CONFIG)[0] as Json;
const alerts = yamlOf(ALERT_RULES)[0] as Json;
const dashboard = JSON.parse(files[GRAFANA_DASHBOARD] ?? '') as Json;
const queries = queriesIn(files);

/** A compose volume `./host:container[:ro]` as the host folder, from the repository root, and where it goes. */
const mountsOf = (service: Json) =>
  (service.volumes as string[])
    .filter((volume) => volume.startsWith('./'))
    .map((volume) => {
      const [host, container] = volume.slice(2).split(':');
      return { host: host as string, container: container as string };
    });

/** Where a generated file is, inside the container that mounts its folder. */
function containerPath(service: Json, path: string): string | undefined {
  const mount = mountsOf(service).find(({ host }) => path.startsWith(`${host}/`));
  return mount && `${mount.container}/${path.slice(mount.host.length + 1)}`;
}

describe('observability', () => {
  describe('PromQL queries', () => {
    it('reads metric names, not functions, labels, ranges or keywords', () => {
      assert.deepEqual(
        metricNamesIn(
          'histogram_quantile(0.99, sum by (le, function) (rate(a_bucket{route!~"/x|y(z)", b="c"}[$__rate_interval])))',
        ),
        ['a_bucket'],
      );
      assert.deepEqual(
        metricNamesIn(
          'sum(rate(a_total[5m] offset 1h)) / on () group_left () sum(b) > 0.5 unless c == bool 1e3',
        ),
        ['a_total', 'b', 'c'],
      );
      assert.deepEqual(metricNamesIn('max without (instance) (up{job="x"}) and ignoring (a, b) d:recorded'), [
        'up',
        'd:recorded',
      ]);
    });

    it('names only metrics the functions export (or Prometheus makes), in every generated file', () => {
      const unknown = unexportedMetrics(queries, EXPORTED_METRICS);
      assert.deepEqual(
        unknown.map(({ file, where, metric }) => `${file}: ${where}: ${metric}`),
        [],
      );
      // The checker itself: a name not in the list is caught, a histogram's series are not.
      const probe: Query = { file: 'x', where: 'y', expr: 'rate(h_bucket[1m]) + rate(h_sum[1m]) + missing' };
      assert.deepEqual(
        unexportedMetrics([probe], ['h']).map(({ metric }) => metric),
        ['missing'],
      );
    });

    it('are found in every dashboard panel, alert rule and Prometheus trigger (none is skipped)', () => {
      const count = (file: string) => queries.filter((query) => query.file === file).length;
      const targets = (dashboard.panels as Json[]).flatMap((panel) => panel.targets);
      assert.equal(count(GRAFANA_DASHBOARD), targets.length);
      assert.equal(count(ALERT_RULES), (alerts.groups as Json[]).flatMap((group) => group.rules).length);
      assert.equal(count(`${MONITORING_DIR}/prometheus-rule.yaml`), count(ALERT_RULES));
      assert.equal(count(`${MONITORING_DIR}/grafana-dashboard.yaml`), targets.length);
      assert.equal(count(`${KEDA_PROMETHEUS_DIR}/kustomization.yaml`), kafkaFunctions.length);
    });

    it('are PromQL that promtool parses: dashboards and KEDA triggers as recording rules', {
      skip: promtoolInstalled ? false : 'promtool is not installed (apt-get install prometheus)',
    }, async () => {
      // Grafana fills in its variables before Prometheus sees a query.
      const asPrometheus = (expr: string) =>
        expr
          .replaceAll('$__rate_interval', '20s')
          .replaceAll('$__range', '15m')
          .replaceAll('$__interval', '5s');
      const rules = queries
        .filter((query) => query.file !== ALERT_RULES)
        .map((query, index) => ({ record: `seatrush:query_${index}`, expr: asPrometheus(query.expr) }));
      const exitOf = await withTemporaryFiles(
        { 'queries.yml': JSON.stringify({ groups: [{ name: 'q', rules }] }) },
        (dir) => spawnSync('promtool', ['check', 'rules', join(dir, 'queries.yml')], { encoding: 'utf8' }),
      );
      assert.equal(exitOf.status, 0, exitOf.stdout + exitOf.stderr);
    });
  });

  describe('Prometheus (deploy/prometheus/)', () => {
    it("scrapes every function's /metrics where compose runs it, and nothing else", () => {
      const [job, ...others] = prometheus.scrape_configs as [Json, ...Json[]];
      assert.deepEqual(others, []);
      assert.equal(job.job_name, SCRAPE_JOB);
      assert.equal(job.metrics_path ?? '/metrics', METRICS_PATH);
      const targets = (job.static_configs as Json[]).flatMap((config) => config.targets as string[]);
      assert.deepEqual(
        targets,
        functions.map((fn) => `${fn.name}:${CONTAINER_PORT}`),
      );
      for (const target of targets) {
        const [service, port] = target.split(':');
        assert.equal(compose.services[service as string]?.environment.PORT, port, target);
      }
      // A target label `function` would clash with the one every series carries.
      assert.ok((job.static_configs as Json[]).every((config) => !config.labels?.function));
    });

    it('loads the alert rules, from the folder compose mounts with the config', () => {
      const service = compose.services.prometheus as Json;
      const config = service.command.find((flag: string) => flag.startsWith('--config.file='))?.split('=')[1];
      assert.equal(config, containerPath(service, PROMETHEUS_CONFIG));
      const rulesPath = `${PROMETHEUS_CONFIG.slice(0, PROMETHEUS_CONFIG.lastIndexOf('/'))}/${prometheus.rule_files[0]}`;
      assert.deepEqual(prometheus.rule_files, [ALERT_RULES.slice(ALERT_RULES.lastIndexOf('/') + 1)]);
      assert.equal(rulesPath, ALERT_RULES);
    });

    it('alerts on what an on-sale can go wrong with, each with a severity, a summary and a meaning', () => {
      const rules = (alerts.groups as Json[]).flatMap((group) => group.rules as Json[]);
      const names = rules.map((rule) => rule.alert);
      for (const name of [
        'SeatrushProcessorBehindHoldTtl',
        'SeatrushConsumerLagHigh',
        'SeatrushHoldsExpired',
        'SeatrushBookingsRejectedUnexpectedly',
        'SeatrushMostBookingsRejected',
        'SeatrushServerErrors',
        'SeatrushReconcilerRepairs',
      ]) {
        assert.ok(names.includes(name), name);
      }
      assert.equal(new Set(names).size, names.length, 'one rule per alert name');
      for (const rule of rules) {
        assert.match(rule.labels.severity, /^(critical|warning|info)$/, rule.alert);
        assert.ok(rule.annotations.summary && rule.annotations.description, rule.alert);
        assert.match(rule.for, /^\d+[smh]$/, rule.alert);
      }
      // The hold TTL alert follows the deployment's setting, not a number of its own.
      const ttl = rules.find((rule) => rule.alert === 'SeatrushProcessorBehindHoldTtl') as Json;
      assert.match(ttl.expr, new RegExp(`> ${Number(composeValues().HOLD_TTL_MS) / 2000}$`));
    });

    it('passes `promtool check config` and `promtool check rules`', {
      skip: promtoolInstalled ? false : 'promtool is not installed (apt-get install prometheus)',
    }, async () => {
      const checked = await withTemporaryFiles(
        { 'prometheus.yml': files[PROMETHEUS_CONFIG] ?? '', 'alerts.yml': files[ALERT_RULES] ?? '' },
        (dir) => [
          spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' }),
          spawnSync('promtool', ['check', 'rules', join(dir, 'alerts.yml')], { encoding: 'utf8' }),
        ],
      );
      for (const run of checked) assert.equal(run.status, 0, run.stdout + run.stderr);
    });
  });

  describe('Grafana (deploy/grafana/)', () => {
    it("provisions compose's Prometheus as the default data source, and the dashboards' folder", () => {
      const service = compose.services.grafana as Json;
      const [datasource] = (yamlOf(GRAFANA_DATASOURCE)[0] as Json).datasources as [Json];
      assert.equal(datasource.uid, DATASOURCE_UID);
      assert.equal(datasource.url, `http://prometheus:${PROMETHEUS_PORT}`);
      assert.ok(datasource.isDefault);
      assert.equal(datasource.jsonData.timeInterval, prometheus.global.scrape_interval);
      assert.equal(
        containerPath(service, GRAFANA_DATASOURCE),
        `${MOUNTS.grafanaProvisioning}/datasources/prometheus.yaml`,
      );
      assert.equal(
        containerPath(service, GRAFANA_DASHBOARD_PROVIDER),
        `${MOUNTS.grafanaProvisioning}/dashboards/seatrush.yaml`,
      );
      const [provider] = (yamlOf(GRAFANA_DASHBOARD_PROVIDER)[0] as Json).providers as [Json];
      const dashboardPath = containerPath(service, GRAFANA_DASHBOARD) as string;
      assert.equal(provider.options.path, dashboardPath.slice(0, dashboardPath.lastIndexOf('/')));
      assert.equal(service.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, dashboardPath);
    });

    it('shows the on-sale at a glance: arrivals, answers by status, confirmed/s, lag, holds, p99 of book', () => {
      const panels = dashboard.panels as Json[];
      const reads = (metric: string, predicate: (panel: Json) => boolean = () => true) =>
        panels.some(
          (panel) =>
            predicate(panel) &&
            (panel.targets as Json[]).some((target) => metricNamesIn(target.expr).includes(metric)),
        );
      assert.ok(reads('seatrush_http_requests_total', (panel) => /arrivals/i.test(panel.title)));
      assert.ok(
        reads('seatrush_http_requests_total', (panel) =>
          panel.targets.some((target: Json) => /by \(status\)/.test(target.expr)),
        ),
      );
      assert.ok(
        reads('seatrush_bookings_confirmed_total', (panel) => panel.fieldConfig.defaults.unit === 'ops'),
      );
      assert.ok(reads('seatrush_kafka_consumer_lag'));
      assert.ok(reads('seatrush_holds_taken_total') && reads('seatrush_holds_expired_total'));
      assert.ok(
        panels.some((panel) =>
          panel.targets.some(
            (target: Json) =>
              /^histogram_quantile\(0\.99,/.test(target.expr) && /function="book"/.test(target.expr),
          ),
        ),
      );
    });

    it('lays its panels out without overlaps, each on the chosen Prometheus, with unique ids', () => {
      const panels = dashboard.panels as Json[];
      assert.equal(new Set(panels.map((panel) => panel.id)).size, panels.length);
      const cells = new Set<string>();
      for (const { gridPos, datasource, targets, title } of panels) {
        assert.ok(gridPos.x >= 0 && gridPos.x + gridPos.w <= 24, title);
        for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
          for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
            assert.ok(!cells.has(`${x},${y}`), `${title} overlaps another panel`);
            cells.add(`${x},${y}`);
          }
        }
        const variable = `\${${dashboard.templating.list[0].name}}`;
        assert.equal(datasource.uid, variable, title);
        for (const target of targets) assert.equal(target.datasource.uid, variable, title);
      }
      assert.equal(dashboard.templating.list[0].query, 'prometheus');
    });
  });

  describe('docker-compose.yml', () => {
    it(`adds Prometheus and Grafana under the ${OBSERVABILITY_PROFILE} profile only, pinned and memory-limited`, () => {
      const services = compose.services as Record<string, Json>;
      const profiled = Object.entries(services).filter(([, service]) => service.profiles);
      assert.deepEqual(
        profiled.map(([name]) => name),
        ['prometheus', 'grafana'],
      );
      for (const [name, service] of profiled) {
        assert.deepEqual(service.profiles, [OBSERVABILITY_PROFILE], name);
        assert.match(service.image, /^(prom\/prometheus:v|grafana\/grafana:)\d+\.\d+\.\d+$/, name);
        assert.ok(service.deploy.resources.limits.memory, name);
        assert.equal(service.restart, 'unless-stopped', name);
      }
      // A service of the default set never waits for one that only a profile starts.
      for (const [name, service] of Object.entries(services)) {
        if (service.profiles) continue;
        for (const dependency of Object.keys(service.depends_on ?? {})) {
          assert.ok(!services[dependency]?.profiles, `${name} depends on ${dependency}`);
        }
      }
    });

    it('never routes /metrics (or another platform path) to the public gateway or the Ingress', () => {
      const nginx = files[NGINX_CONF] ?? '';
      const ingress = yamlOf(`${BASE_DIR}/ingress.yaml`)[0] as Json;
      const paths = (ingress.spec.rules[0].http.paths as Json[]).map((path) => new RegExp(`^${path.path}`));
      const routes = [...nginx.matchAll(/^\s+"~\^\(\?:[A-Z|]+\) (.+)" [\w-]+;/gm)].map(
        ([, pattern]) => new RegExp(`^${pattern}`),
      );
      assert.ok(routes.length > 0 && paths.length > 0, 'the routes were read');
      for (const path of PLATFORM_PATHS) {
        assert.ok(!routes.some((route) => route.test(path)), `the gateway routes ${path}`);
        assert.ok(!paths.some((route) => route.test(path)), `the Ingress routes ${path}`);
      }
    });
  });

  describe('Kubernetes', () => {
    const base = Object.keys(files)
      .filter((path) => path.startsWith(`${BASE_DIR}/functions/`))
      .flatMap((path) => yamlOf(path));
    const monitoring = Object.keys(files)
      .filter((path) => path.startsWith(`${MONITORING_DIR}/`) && !path.endsWith('kustomization.yaml'))
      .flatMap((path) => yamlOf(path));

    it("annotates every function's pods for annotation-based scraping", () => {
      for (const fn of functions) {
        const deployment = base.find(
          (resource) => resource.kind === 'Deployment' && resource.metadata.name === fn.name,
        );
        const { annotations } = deployment?.spec.template.metadata ?? {};
        assert.deepEqual(annotations, {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(CONTAINER_PORT),
          'prometheus.io/path': METRICS_PATH,
        });
      }
    });

    it("has a PodMonitor for every function's pods and their named port, and the rules of compose's Prometheus", () => {
      const podMonitor = monitoring.find((resource) => resource.kind === 'PodMonitor') as Json;
      const selector = podMonitor.spec.selector.matchLabels as Record<string, string>;
      const [endpoint] = podMonitor.spec.podMetricsEndpoints;
      for (const fn of functions) {
        const pod = base.find(
          (resource) => resource.kind === 'Deployment' && resource.metadata.name === fn.name,
        )?.spec.template as Json;
        for (const [label, value] of Object.entries(selector))
          assert.equal(pod.metadata.labels[label], value);
        assert.ok(pod.spec.containers[0].ports.some((port: Json) => port.name === endpoint.port));
      }
      assert.equal(endpoint.path, METRICS_PATH);
      assert.deepEqual(endpoint.relabelings, [{ targetLabel: 'job', replacement: SCRAPE_JOB }]);
      const rule = monitoring.find((resource) => resource.kind === 'PrometheusRule') as Json;
      assert.deepEqual(rule.spec.groups, alertRules(functions, clusterValues(), LAG_PER_REPLICA));
      assert.deepEqual(rule.spec.groups, alerts.groups, "the base's settings are compose's");
      const configMap = monitoring.find((resource) => resource.kind === 'ConfigMap') as Json;
      assert.equal(configMap.metadata.labels.grafana_dashboard, '1');
      assert.deepEqual(parse(Object.values(configMap.data)[0] as string), dashboard);
    });

    it("offers KEDA's Prometheus scaler on each Kafka function's lag, with the Kafka trigger's threshold", () => {
      const kustomization = yamlOf(`${KEDA_PROMETHEUS_DIR}/kustomization.yaml`)[0] as Json;
      assert.deepEqual(
        (kustomization.patches as Json[]).map((patch) => patch.target.name),
        kafkaFunctions.map((fn) => fn.name),
      );
      for (const patch of kustomization.patches as Json[]) {
        const [operation] = parse(patch.patch) as [Json];
        const [trigger] = operation.value as [Json];
        assert.equal(operation.path, '/spec/triggers');
        assert.equal(trigger.type, 'prometheus');
        assert.equal(trigger.metadata.query, lagOf(patch.target.name));
        assert.equal(trigger.metadata.threshold, String(LAG_PER_REPLICA));
        assert.match(
          trigger.metadata.query,
          new RegExp(`seatrush_kafka_consumer_lag\\{function="${patch.target.name}"\\}`),
        );
      }
    });

    it('builds the base with both components (kubectl kustomize)', {
      skip: kubectlInstalled ? false : 'kubectl is not installed',
    }, async () => {
      const built = await withTemporaryFiles({}, async (dir) => {
        const from = (path: string) => relative(dir, `${ROOT}${path}`);
        await writeFile(
          join(dir, 'kustomization.yaml'),
          JSON.stringify({
            resources: [from(BASE_DIR)],
            components: [from(MONITORING_DIR), from(KEDA_PROMETHEUS_DIR)],
          }),
        );
        return spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
      });
      assert.equal(built.status, 0, built.stderr);
      const resources = parseAllDocuments(built.stdout).map((document) => document.toJS() as Json);
      const kinds = new Set(resources.map((resource) => resource.kind));
      for (const kind of ['PodMonitor', 'PrometheusRule', 'Deployment', 'ScaledObject'])
        assert.ok(kinds.has(kind), kind);
      for (const fn of kafkaFunctions) {
        const scaled = resources.find(
          (resource) => resource.kind === 'ScaledObject' && resource.metadata.name === fn.name,
        );
        assert.deepEqual(
          scaled?.spec.triggers.map((trigger: Json) => trigger.type),
          ['prometheus'],
          `${fn.name}: the Kafka trigger is replaced, not joined`,
        );
      }
    });
  });
});

/** Runs `use` with a fresh folder holding `contents` (name → text), removed afterwards. */
async function withTemporaryFiles<T>(
  contents: Record<string, string>,
  use: (dir: string) => T | Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'seatrush-observability-'));
  try {
    for (const [name, text] of Object.entries(contents)) await writeFile(join(dir, name), text);
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
