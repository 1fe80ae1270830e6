/**
 * The cluster deployment, deploy/k8s/base/: a Kustomize base with a Deployment per function (its
 * pods annotated for Prometheus), a Service, HorizontalPodAutoscaler and Ingress paths for the
 * HTTP ones, a KEDA ScaledObject on consumer lag for the Kafka ones, one replica for the scheduled
 * ones, the config, and the set-up Job (migrations, then topics). Two components an overlay may
 * add: monitoring (for the Prometheus Operator) and keda-prometheus (scaling on the lag metric).
 */
import { type BundleEntry, bundleOf } from './build.ts';
import { newDocument, yamlFile } from './files.ts';
import { type DeployedFunction, isHttp, pathPattern } from './functions.ts';
import {
  alertRules,
  dashboardFile,
  GRAFANA_DASHBOARD,
  lagOf,
  METRICS_PATH,
  PROMETHEUS_PORT,
  SCRAPE_INTERVAL,
  SCRAPE_JOB,
} from './observability.ts';
import {
  CONTAINER_PORT,
  deploymentValues,
  isSecret,
  REQUIRED_ONE_OF,
  SHARED_VARIABLES,
  type Variable,
} from './settings.ts';

export const BASE_DIR = 'deploy/k8s/base';
/** Kustomize components an overlay may add to the base (`components:` in its kustomization). */
export const MONITORING_DIR = 'deploy/k8s/components/monitoring';
export const KEDA_PROMETHEUS_DIR = 'deploy/k8s/components/keda-prometheus';
/**
 * Where KEDA asks Prometheus: the Prometheus Operator's service in `monitoring` (kube-prometheus-stack's
 * is named after the Helm release instead); an overlay patches it to its own.
 */
export const KEDA_PROMETHEUS_URL = `http://prometheus-operated.monitoring.svc:${PROMETHEUS_PORT}`;
export const CONFIG_MAP = 'seatrush-config';
export const SECRET = 'seatrush-secrets';
/** The image name manifests use; an overlay points it at a registry (`kustomize edit set image`). */
export const IMAGE = 'seatrush';

/** In-cluster service names of the data stores the cluster provides (not part of this base). */
const HOSTS = { postgres: 'postgres', redis: 'redis', kafka: 'kafka' };

export const HPA_MAX_REPLICAS = 4;
/** Messages behind per consumer before KEDA adds one; a batch of this size is one transaction. */
export const LAG_PER_REPLICA = 100;

const FUNCTION_RESOURCES = {
  requests: { cpu: '100m', memory: '96Mi' },
  limits: { cpu: '1', memory: '160Mi' },
};
/** V8's heap inside the 160 Mi limit: compose's Pi settings (deploy/compose.ts), `book` peaks at 125 MiB. */
const NODE_OPTIONS = '--max-semi-space-size=16 --max-old-space-size=64';

/** The pod's share of the ConfigMap and Secret, so every variable of ConfigSchema reaches it. */
const ENV_FROM = [{ configMapRef: { name: CONFIG_MAP } }, { secretRef: { name: SECRET } }];

/**
 * Prometheus's annotation convention, read by the common `kubernetes-pods` scrape config (the
 * Prometheus Helm chart's among them); the Prometheus Operator ignores them and uses the
 * monitoring component's PodMonitor instead.
 */
const SCRAPE_ANNOTATIONS = {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': String(CONTAINER_PORT),
  'prometheus.io/path': METRICS_PATH,
};

const labelsOf = (name: string, component: string) => ({
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/component': component,
});

const SECURITY = {
  pod: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
  container: {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  },
};

export function clusterValues(): Record<Variable, string> {
  return deploymentValues(HOSTS);
}

function deployment(fn: DeployedFunction) {
  const labels = labelsOf(fn.name, 'function');
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: fn.name, labels },
    spec: {
      // An HTTP or Kafka function's count is its HorizontalPodAutoscaler's or ScaledObject's. A
      // scheduled one's work is the same whoever does it, so one replica: a second would only
      // repeat each run (harmlessly, as during a rolling update).
      ...(fn.trigger === 'schedule' && { replicas: 1 }),
      selector: { matchLabels: { 'app.kubernetes.io/name': fn.name } },
      template: {
        metadata: { labels, annotations: SCRAPE_ANNOTATIONS },
        spec: {
          // preStop's pause + the runner finishing requests in flight and its Kafka batch.
          terminationGracePeriodSeconds: 40,
          securityContext: SECURITY.pod,
          containers: [
            {
              name: 'function',
              image: IMAGE,
              env: [
                { name: 'FUNCTION', value: fn.name },
                { name: 'HOST', value: '0.0.0.0' },
                { name: 'PORT', value: String(CONTAINER_PORT) },
                { name: 'NODE_OPTIONS', value: NODE_OPTIONS },
              ],
              envFrom: ENV_FROM,
              ports: [{ name: 'http', containerPort: CONTAINER_PORT }],
              startupProbe: {
                httpGet: { path: '/healthz', port: 'http' },
                periodSeconds: 2,
                failureThreshold: 30,
              },
              livenessProbe: {
                httpGet: { path: '/healthz', port: 'http' },
                periodSeconds: 10,
                failureThreshold: 3,
              },
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'http' },
                periodSeconds: 5,
                failureThreshold: 2,
              },
              // Endpoints and the Ingress learn of a terminating pod a little late; new requests keep
              // arriving for a few seconds, so the server stays open for them before SIGTERM.
              lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
              resources: FUNCTION_RESOURCES,
              securityContext: SECURITY.container,
            },
          ],
        },
      },
    },
  };
}

function service(fn: DeployedFunction) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: fn.name, labels: labelsOf(fn.name, 'function') },
    spec: {
      selector: { 'app.kubernetes.io/name': fn.name },
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    },
  };
}

function horizontalPodAutoscaler(fn: DeployedFunction) {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: fn.name, labels: labelsOf(fn.name, 'function') },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: fn.name },
      minReplicas: 1,
      maxReplicas: HPA_MAX_REPLICAS,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
        },
      ],
    },
  };
}

/**
 * Scales a consumer on its group's lag. More consumers than partitions would sit idle, so the
 * maximum is the topic's partition count. The group and topic carry KAFKA_PREFIX as the runner
 * does (lib/platform/kafka/client.ts); the base's prefix is the ConfigMap's.
 */
function scaledObject(fn: DeployedFunction & { topic: NonNullable<DeployedFunction['topic']> }) {
  const prefix = clusterValues().KAFKA_PREFIX;
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: fn.name, labels: labelsOf(fn.name, 'function') },
    spec: {
      scaleTargetRef: { name: fn.name },
      // One consumer always runs, so a booking's outcome never waits for a pod to start.
      minReplicaCount: 1,
      maxReplicaCount: fn.topic.partitions,
      triggers: [
        {
          type: 'kafka',
          metadata: {
            bootstrapServersFromEnv: 'KAFKA_BROKERS',
            consumerGroup: `${prefix}${fn.name}`,
            topic: `${prefix}${fn.topic.name}`,
            lagThreshold: String(LAG_PER_REPLICA),
            // The runner subscribes from the beginning, so a new group's lag is the whole topic.
            offsetResetPolicy: 'earliest',
            allowIdleConsumers: 'false',
          },
        },
      ],
    },
  };
}

export function functionManifests(fn: DeployedFunction): string {
  const { topic } = fn;
  if (topic) {
    return yamlFile(
      [deployment(fn), scaledObject({ ...fn, topic })],
      `Function ${fn.name}: consumes ${topic.name} (group ${fn.name}), scaled by KEDA on lag.`,
    );
  }
  if (fn.trigger === 'schedule') {
    return yamlFile(
      [deployment(fn)],
      `Function ${fn.name}: runs on a schedule inside its pod, one replica; it takes no traffic.`,
    );
  }
  return yamlFile(
    [deployment(fn), service(fn), horizontalPodAutoscaler(fn)],
    `Function ${fn.name}: answers ${fn.routes.map((route) => `${route.method} ${route.path}`).join(', ')}.`,
  );
}

/** Every shared variable: the credential-bearing ones in the Secret, the rest in the ConfigMap. */
export function configManifests(): string {
  const values = clusterValues();
  const pick = (secret: boolean) =>
    Object.fromEntries(
      SHARED_VARIABLES.filter((variable) => isSecret(variable) === secret).map((variable) => [
        variable,
        values[variable],
      ]),
    );
  return yamlFile(
    [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CONFIG_MAP }, data: pick(false) },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: SECRET },
        type: 'Opaque',
        stringData: pick(true),
      },
    ],
    [
      'Settings of every function (lib/platform/config.ts). The Secret holds placeholders for in-cluster',
      'services named postgres, redis and kafka: replace it in an overlay (secretGenerator with',
      'behavior: replace, or your secret manager) before use.',
      `${Object.keys(REQUIRED_ONE_OF).join(' and ')} are empty here: every function refuses to start until the`,
      'overlay sets one (NODE_ENV is production, where lib/platform/config.ts refuses the public default;',
      'a provider also needs AUTH_ISSUER and AUTH_AUDIENCE in the ConfigMap).',
    ].join('\n'),
  );
}

/** Migrations, then topics: what must exist before the functions serve. Re-run by re-applying. */
export function setupJob(): string {
  const step = (name: string, entry: BundleEntry) => ({
    name,
    image: IMAGE,
    args: [bundleOf(entry)],
    envFrom: ENV_FROM,
    resources: FUNCTION_RESOURCES,
    securityContext: SECURITY.container,
  });
  return yamlFile(
    [
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'seatrush-setup', labels: labelsOf('seatrush-setup', 'setup') },
        spec: {
          backoffLimit: 6,
          // A finished Job is removed, so the next `kubectl apply -k` runs it again (both steps are
          // idempotent) instead of failing on the Job's immutable template.
          ttlSecondsAfterFinished: 600,
          template: {
            metadata: { labels: labelsOf('seatrush-setup', 'setup') },
            spec: {
              restartPolicy: 'OnFailure',
              securityContext: SECURITY.pod,
              initContainers: [step('migrate', 'migrate')],
              containers: [step('create-topics', 'create-topics')],
            },
          },
        },
      },
    ],
    'Set-up Job: database migrations (drizzle/), then the Kafka topics (lib/platform/kafka/topics.ts).',
  );
}

/**
 * The Ingress sends each path to the function that declares it. Paths with parameters need
 * regular expressions, which the Ingress API leaves to the controller: these are ingress-nginx's
 * (use-regex). An Ingress cannot route by method, so one path must belong to one function.
 */
export function ingress(functions: DeployedFunction[]): string {
  const owners = new Map<string, string>();
  for (const fn of functions.filter(isHttp)) {
    for (const route of fn.routes) {
      const pattern = pathPattern(route.path).slice(1);
      const owner = owners.get(pattern);
      if (owner && owner !== fn.name) {
        throw new Error(
          `deploy: ${route.path} is declared by ${owner} and ${fn.name}; an Ingress routes by path only`,
        );
      }
      owners.set(pattern, fn.name);
    }
  }
  return yamlFile(
    [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: {
          name: 'seatrush',
          annotations: {
            'nginx.ingress.kubernetes.io/use-regex': 'true',
            // Server-sent events go out as they are written, and may stay open for long.
            'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
            'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
          },
        },
        spec: {
          ingressClassName: 'nginx',
          rules: [
            {
              http: {
                paths: [...owners].map(([path, name]) => ({
                  path,
                  pathType: 'ImplementationSpecific',
                  backend: { service: { name, port: { name: 'http' } } },
                })),
              },
            },
          ],
        },
      },
    ],
    'One host, each path to its function (ingress-nginx: paths are anchored regular expressions).',
  );
}

export function kustomization(functions: DeployedFunction[]): string {
  return yamlFile([
    {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      labels: [{ pairs: { 'app.kubernetes.io/part-of': 'seatrush' } }],
      resources: [
        'config.yaml',
        'setup-job.yaml',
        'ingress.yaml',
        ...functions.map((fn) => `functions/${fn.name}.yaml`),
      ],
    },
  ]);
}

const KUSTOMIZE_COMPONENT = { apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component' };

/**
 * For a cluster run by the Prometheus Operator (kube-prometheus-stack): a PodMonitor scraping every
 * function, the alert rules of compose's Prometheus as a PrometheusRule, and the dashboard as a
 * ConfigMap that Grafana's dashboard sidecar loads (label grafana_dashboard).
 */
export function monitoringComponent(functions: DeployedFunction[]): Record<string, string> {
  const dashboardName = GRAFANA_DASHBOARD.slice(GRAFANA_DASHBOARD.lastIndexOf('/') + 1);
  const labels = labelsOf('seatrush', 'monitoring');
  return {
    [`${MONITORING_DIR}/kustomization.yaml`]: yamlFile([
      {
        ...KUSTOMIZE_COMPONENT,
        resources: ['pod-monitor.yaml', 'prometheus-rule.yaml', 'grafana-dashboard.yaml'],
      },
    ]),
    [`${MONITORING_DIR}/pod-monitor.yaml`]: yamlFile(
      [
        {
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'PodMonitor',
          metadata: { name: 'seatrush-functions', labels },
          spec: {
            selector: { matchLabels: { 'app.kubernetes.io/component': 'function' } },
            podMetricsEndpoints: [
              {
                port: 'http',
                path: METRICS_PATH,
                interval: SCRAPE_INTERVAL,
                // The job compose's Prometheus uses, so the alert rules read the same in both.
                relabelings: [{ targetLabel: 'job', replacement: SCRAPE_JOB }],
              },
            ],
          },
        },
      ],
      [
        "Every function's /metrics. Your Prometheus selects PodMonitors by label: add it in the overlay",
        '(kube-prometheus-stack: `release: <its release>`, unless podMonitorSelectorNilUsesHelmValues is false).',
      ].join('\n'),
    ),
    [`${MONITORING_DIR}/prometheus-rule.yaml`]: yamlFile(
      [
        {
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'PrometheusRule',
          metadata: { name: 'seatrush', labels },
          spec: { groups: alertRules(functions, clusterValues(), LAG_PER_REPLICA) },
        },
      ],
      "The alert rules of deploy/prometheus/alerts.yml, with the base's settings (HOLD_TTL_MS).",
    ),
    [`${MONITORING_DIR}/grafana-dashboard.yaml`]: yamlFile(
      [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'seatrush-grafana-dashboard', labels: { ...labels, grafana_dashboard: '1' } },
          data: { [dashboardName]: dashboardFile(functions, clusterValues()) },
        },
      ],
      `The dashboard of ${GRAFANA_DASHBOARD}; it asks for a Prometheus data source when opened.`,
    ),
  };
}

/**
 * Scales the Kafka functions on the lag they report to Prometheus instead of KEDA asking Kafka.
 * The base's Kafka trigger stays the default: it reads the lag from the broker, so it sees a
 * backlog even when no consumer runs to report one (the gauge is as of a consumer's last batch),
 * and needs no Prometheus. This suits a cluster where KEDA cannot reach Kafka, or where the
 * scaler should read the numbers the dashboard shows.
 */
export function kedaPrometheusComponent(functions: DeployedFunction[]): Record<string, string> {
  const patches = functions
    .filter((fn) => fn.topic)
    .map((fn) => ({
      target: { group: 'keda.sh', version: 'v1alpha1', kind: 'ScaledObject', name: fn.name },
      // A JSON patch: a custom resource's list is replaced whole, whatever the merge strategy.
      patch: newDocument([
        {
          op: 'replace',
          path: '/spec/triggers',
          value: [
            {
              type: 'prometheus',
              metadata: {
                serverAddress: KEDA_PROMETHEUS_URL,
                query: lagOf(fn.name),
                threshold: String(LAG_PER_REPLICA),
              },
            },
          ],
        },
      ]).toString({ lineWidth: 0 }),
    }));
  return {
    [`${KEDA_PROMETHEUS_DIR}/kustomization.yaml`]: yamlFile(
      [{ ...KUSTOMIZE_COMPONENT, patches }],
      [
        "The Kafka functions' ScaledObjects on seatrush_kafka_consumer_lag from Prometheus instead of",
        `KEDA's Kafka scaler; the same ${LAG_PER_REPLICA} messages per replica. Prometheus at ${KEDA_PROMETHEUS_URL}:`,
        'patch serverAddress in the overlay if yours is elsewhere.',
      ].join('\n'),
    ),
  };
}

/** Every file of the base and its components, by path from the repository root. */
export function k8sFiles(functions: DeployedFunction[]): Record<string, string> {
  return {
    ...monitoringComponent(functions),
    ...kedaPrometheusComponent(functions),
    [`${BASE_DIR}/kustomization.yaml`]: kustomization(functions),
    [`${BASE_DIR}/config.yaml`]: configManifests(),
    [`${BASE_DIR}/setup-job.yaml`]: setupJob(),
    [`${BASE_DIR}/ingress.yaml`]: ingress(functions),
    ...Object.fromEntries(
      functions.map((fn) => [`${BASE_DIR}/functions/${fn.name}.yaml`, functionManifests(fn)]),
    ),
  };
}
