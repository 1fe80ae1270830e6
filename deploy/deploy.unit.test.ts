/**
 * No Docker engine or cluster runs here, so the deploy files stay true by these checks: they are
 * what the generator writes from the registry, every function has its manifests, every YAML
 * parses, and the ports, paths, topics and variables they name are the ones the code uses.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import { type Context, Hono } from 'hono';
import { parse, parseAllDocuments } from 'yaml';
import { FUNCTIONS } from '../functions/registry.ts';
import { createFunctionApp } from '../lib/platform/app.ts';
import { DEV_JWT_SECRET, parseConfig } from '../lib/platform/config.ts';
import { TOPICS, topicName } from '../lib/platform/kafka/topics.ts';
import { closeServices } from '../lib/services.ts';
import { testServices } from '../test/support.ts';
import { bundleOf } from './build.ts';
import {
  FUNCTION_MEASURED_RSS_MB,
  NGINX_CONF,
  PI_MEMORY_BUDGET_MB,
  PI_MEMORY_MB,
  PI_OBSERVABILITY_BUDGET_MB,
  PI_SYSTEM_RESERVE_MB,
  POSTGRES_MAX_CONNECTIONS,
  STACK_VARIABLES,
} from './compose.ts';
import { describeFunctions, isHttp, methodsOf, samplePath } from './functions.ts';
import { functionManifestPaths, generatedFiles, ROOT } from './generate.ts';
import { BASE_DIR, CONFIG_MAP, SECRET } from './k8s.ts';
import { CONTAINER_PORT, isSecret, REQUIRED_ONE_OF, SHARED_VARIABLES, VARIABLES } from './settings.ts';

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked field by field by the assertions below
type Json = Record<string, any>;

const read = (path: string) => readFile(`${ROOT}${path}`, 'utf8');
const yamlOf = async (path: string): Promise<Json[]> =>
  parseAllDocuments(await read(path), { merge: true }).map((document) => document.toJS() as Json);
/** The variables Node itself reads; every other name must be one of lib/platform/config.ts'. */
const NODE_VARIABLES = ['NODE_OPTIONS'];
const kubectlInstalled = spawnSync('kubectl', ['version', '--client']).status === 0;

/** `${NAME:-default}` and `${NAME:?error}` as compose reads them from .env (empty counts as unset). */
const COMPOSE_VARIABLE = /\$\{(\w+):([-?])([^}]*)\}/g;
const interpolate = (value: string, dotEnv: Record<string, string> = {}) =>
  value.replace(COMPOSE_VARIABLE, (_, name: string, kind: string, rest: string) => {
    if (dotEnv[name]) return dotEnv[name];
    if (kind === '-') return rest;
    throw new Error(`docker compose refuses to start: ${rest}`);
  });
/** What an operator puts in .env, or in an overlay's Secret: a secret of its own... */
const OPERATOR_VALUES = { JWT_SECRET: 'a-secret-of-this-deployment-only-0123456789' };
/** ...or, instead, an identity provider whose tokens the functions check. */
const PROVIDER_VALUES = {
  AUTH_JWKS_URL: 'https://idp.example/realms/seatrush/protocol/openid-connect/certs',
  AUTH_ISSUER: 'https://idp.example/realms/seatrush',
  AUTH_AUDIENCE: 'seatrush-api',
};
/** The one line every function and set-up step stops with when a deployment chose neither. */
const REFUSED = /config: set JWT_SECRET \(32\+ random characters\) or AUTH_JWKS_URL/;
const dotenv = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^\w+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

const functions = await describeFunctions();
const httpFunctions = functions.filter(isHttp);
const kafkaFunctions = functions.filter((fn) => fn.trigger === 'kafka');
const scheduledFunctions = functions.filter((fn) => fn.trigger === 'schedule');

const compose = (await yamlOf('docker-compose.yml'))[0] as Json;
const nginx = await read(NGINX_CONF);
const envExample = dotenv(await read('.env.example'));

const kustomization = (await yamlOf(`${BASE_DIR}/kustomization.yaml`))[0] as Json;
const resources: Json[] = [];
for (const path of kustomization.resources as string[])
  resources.push(...(await yamlOf(`${BASE_DIR}/${path}`)));
const find = (kind: string, name: string) =>
  resources.find((resource) => resource.kind === kind && resource.metadata.name === name);
const configMap = find('ConfigMap', CONFIG_MAP) as Json;
const secret = find('Secret', SECRET) as Json;
const clusterConfig = parseConfig({ ...configMap.data, ...secret.stringData, ...OPERATOR_VALUES });

async function yamlFiles(): Promise<string[]> {
  const found = await Promise.all(
    ['deploy/k8s', 'deploy/prometheus', 'deploy/grafana'].map(async (folder) =>
      (await readdir(`${ROOT}${folder}`, { recursive: true }))
        .filter((path) => /\.ya?ml$/.test(path))
        .map((path) => `${folder}/${path}`),
    ),
  );
  return ['docker-compose.yml', '.github/workflows/ci.yml', ...found.flat()];
}

describe('deploy files', () => {
  const services = testServices();
  after(() => closeServices(services));

  it('are what `npm run deploy:gen` writes from the registry (run it after changing functions or lib/platform/config.ts)', async () => {
    const files = await generatedFiles();
    const stale = [];
    for (const [path, content] of Object.entries(files)) {
      if ((await read(path).catch(() => undefined)) !== content) stale.push(path);
    }
    assert.deepEqual(stale, [], 'out of date; run `npm run deploy:gen`');
    const orphans = (await functionManifestPaths()).filter((path) => !(path in files));
    assert.deepEqual(orphans, [], 'manifests of functions no longer registered; run `npm run deploy:gen`');
  });

  it('never carry the public development JWT_SECRET', async () => {
    for (const [path, content] of Object.entries(await generatedFiles())) {
      assert.ok(!content.includes(DEV_JWT_SECRET), path);
    }
  });

  it('are YAML that reads the same as 1.1 and 1.2 (Compose and kubectl read yes/no/on/off as booleans)', async () => {
    for (const path of await yamlFiles()) {
      const text = await read(path);
      const [asV12, asV11] = (['1.2', '1.1'] as const).map((version) =>
        parseAllDocuments(text, { version, merge: true }).map((document) => {
          assert.deepEqual(document.errors, [], path);
          return document.toJS();
        }),
      );
      // GitHub reads workflows as YAML 1.2, where `on:` is a key, not `true`.
      if (!path.startsWith('.github/'))
        assert.deepEqual(asV11, asV12, `${path} is read differently by a 1.1 parser`);
    }
  });

  describe('docker-compose.yml', () => {
    it('runs every function as its own service of the one image, with health, restart and limits', () => {
      const image = compose.services.migrate.image;
      for (const fn of functions) {
        const service = compose.services[fn.name];
        assert.ok(service, `${fn.name} has a service`);
        assert.equal(service.image, image);
        assert.equal(service.environment.FUNCTION, fn.name);
        assert.equal(service.restart, 'unless-stopped');
        assert.ok(service.deploy.resources.limits.memory, `${fn.name} has a memory limit`);
        const port = Number(service.environment.PORT);
        assert.equal(port, CONTAINER_PORT);
        assert.deepEqual(service.healthcheck.test.at(-1), `http://127.0.0.1:${port}/healthz`);
        for (const dependency of fn.needs) {
          assert.equal(
            service.depends_on[dependency]?.condition,
            'service_healthy',
            `${fn.name} waits for ${dependency}`,
          );
        }
        if (fn.needs.includes('postgres')) {
          assert.equal(service.depends_on.migrate.condition, 'service_completed_successfully');
        }
        if (fn.needs.includes('kafka')) {
          assert.equal(service.depends_on['kafka-topics'].condition, 'service_completed_successfully');
        }
      }
    });

    it('passes every variable of lib/platform/config.ts, with values it accepts', () => {
      for (const fn of functions) {
        const environment = compose.services[fn.name].environment as Record<string, string>;
        assert.deepEqual(Object.keys(environment).sort(), [...VARIABLES, ...NODE_VARIABLES].sort());
        const config = parseConfig(
          Object.fromEntries(
            Object.entries(environment).map(([k, v]) => [k, interpolate(v, OPERATOR_VALUES)]),
          ),
        );
        assert.equal(config.HOST, '0.0.0.0', 'reachable from the gateway');
        assert.equal(config.KAFKA_BROKERS.join(), 'kafka:9092');
      }
    });

    it('documents in .env.example every variable it reads, with the same defaults', async () => {
      const text = await read('docker-compose.yml');
      const referenced = new Map(
        [...text.matchAll(COMPOSE_VARIABLE)].map(([, name = '', kind, value]) => [
          name,
          kind === '?' ? '' : value,
        ]),
      );
      assert.deepEqual([...referenced.keys()].sort(), Object.keys(envExample).sort());
      for (const [name, value] of referenced) assert.equal(envExample[name], value, name);
      assert.deepEqual(
        Object.keys(envExample).sort(),
        [...STACK_VARIABLES.map(({ name }) => name), ...SHARED_VARIABLES].sort(),
      );
      parseConfig({ ...envExample, ...OPERATOR_VALUES });
    });

    it('will not start in production without a secret of its own or an identity provider: .env must set one', async () => {
      const text = await read('.env.example');
      for (const name of Object.keys(REQUIRED_ONE_OF)) {
        // Documented as required, with no value that would work if .env.example were copied as is.
        assert.equal(envExample[name], '', `.env.example gives ${name} no value`);
        assert.match(text, new RegExp(`^# REQUIRED.*\\n${name}=$`, 'm'));
      }
      for (const [serviceName, service] of Object.entries(compose.services as Record<string, Json>)) {
        const environment = service.environment as Record<string, string> | undefined;
        if (!environment || !('NODE_ENV' in environment)) continue;
        const configWith = (dotEnv: Record<string, string>) =>
          parseConfig(
            Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, interpolate(v, dotEnv)])),
          );
        assert.throws(() => configWith({}), REFUSED, `${serviceName}: nothing in .env, no start`);
        assert.throws(() => configWith({ JWT_SECRET: DEV_JWT_SECRET }), REFUSED, 'the public secret is none');
        assert.equal(configWith(OPERATOR_VALUES).NODE_ENV, 'production', serviceName);
        assert.equal(configWith(PROVIDER_VALUES).AUTH_JWKS_URL, PROVIDER_VALUES.AUTH_JWKS_URL);
      }
    });

    it('runs Kafka 3.9 in KRaft without auto-creation, and creates the topics before any consumer starts', () => {
      const { kafka } = compose.services;
      assert.match(kafka.image, /^apache\/kafka:3\.9\.\d+$/);
      assert.equal(kafka.environment.KAFKA_PROCESS_ROLES, 'broker,controller');
      assert.equal(kafka.environment.KAFKA_AUTO_CREATE_TOPICS_ENABLE, 'false');
      assert.equal(
        kafka.environment.KAFKA_ADVERTISED_LISTENERS,
        `PLAINTEXT://${interpolate(compose.services.events.environment.KAFKA_BROKERS)}`,
      );
      assert.deepEqual(compose.services['kafka-topics'].command, [bundleOf('create-topics')]);
      assert.deepEqual(compose.services.migrate.command, [bundleOf('migrate')]);
    });

    it('fits a 4 GB Raspberry Pi 5: limits within the budget, none below what a function was measured to use', () => {
      const limitOf = (service: Json) => Number.parseInt(service.deploy.resources.limits.memory, 10);
      const running = Object.values(compose.services as Record<string, Json>).filter(
        (service) => service.restart !== 'no',
      );
      // `docker compose up` starts no service of a profile; `--profile observability` adds its own.
      const total = running
        .filter((service) => !service.profiles)
        .reduce((sum, service) => sum + limitOf(service), 0);
      assert.ok(total <= PI_MEMORY_BUDGET_MB, `${total} MB of limits > ${PI_MEMORY_BUDGET_MB} MB`);
      const observed = running
        .filter((service) => !service.profiles || service.profiles.includes('observability'))
        .reduce((sum, service) => sum + limitOf(service), 0);
      assert.ok(
        observed <= PI_OBSERVABILITY_BUDGET_MB,
        `${observed} MB of limits with the observability profile > ${PI_OBSERVABILITY_BUDGET_MB} MB`,
      );
      assert.ok(
        PI_OBSERVABILITY_BUDGET_MB + PI_SYSTEM_RESERVE_MB <= PI_MEMORY_MB,
        `a ${PI_OBSERVABILITY_BUDGET_MB} MB budget leaves a ${PI_MEMORY_MB} MB Pi less than ${PI_SYSTEM_RESERVE_MB} MB`,
      );
      assert.ok(PI_MEMORY_BUDGET_MB < PI_OBSERVABILITY_BUDGET_MB);
      // The budget is met by counting, not by limits cut below what a bundle really uses.
      for (const fn of functions) {
        const service = compose.services[fn.name] as Json;
        assert.ok(
          limitOf(service) >= FUNCTION_MEASURED_RSS_MB * 1.1,
          `${fn.name}: ${limitOf(service)} MB is not 10 % above the ${FUNCTION_MEASURED_RSS_MB} MB measured`,
        );
        const heap = Number(/--max-old-space-size=(\d+)/.exec(service.environment.NODE_OPTIONS)?.[1]);
        assert.ok(heap > 0 && heap <= limitOf(service) / 2, `${fn.name}: V8's heap well inside its limit`);
      }
    });

    it("keeps every function's database pool within Postgres's connection limit", () => {
      const pools = functions
        .filter((fn) => fn.needs.includes('postgres'))
        .map((fn) => Number(interpolate(compose.services[fn.name].environment.DATABASE_POOL_SIZE)));
      const oneShots = 2 * Number(interpolate(compose.services.migrate.environment.DATABASE_POOL_SIZE));
      // Postgres keeps 3 connections for superusers; leave a few more for psql and a restart's overlap.
      const used = pools.reduce((sum, pool) => sum + pool, oneShots) + 3 + 5;
      assert.ok(used <= POSTGRES_MAX_CONNECTIONS, `${used} connections > ${POSTGRES_MAX_CONNECTIONS}`);
      assert.ok(compose.services.postgres.command.includes(`max_connections=${POSTGRES_MAX_CONNECTIONS}`));
    });

    it('has one public port, whose gateway routes each method and path to its function as the runner does', async () => {
      const published = Object.entries(compose.services as Record<string, Json>).filter(
        ([, service]) => service.ports,
      );
      // Grafana's port too, but only with the observability profile.
      assert.deepEqual(
        published.filter(([, service]) => !service.profiles).map(([name]) => name),
        ['gateway'],
      );
      assert.deepEqual(
        published.filter(([, service]) => service.profiles).map(([name]) => name),
        ['grafana'],
      );
      const listen = Number(/listen (\d+);/.exec(nginx)?.[1]);
      assert.equal(interpolate(compose.services.gateway.ports[0]), `${envExample.PUBLIC_PORT}:${listen}`);
      assert.match(nginx, new RegExp(`proxy_pass http://\\$seatrush_function:${CONTAINER_PORT};`));

      const map = [...nginx.matchAll(/^\s+"~(.+)" ([\w-]+);/gm)].map(([, pattern, name]) => ({
        pattern: new RegExp(pattern as string),
        name,
      }));
      const viaGateway = (method: string, path: string) =>
        map.find(({ pattern }) => pattern.test(`${method} ${path}`))?.name;
      const viaRunner = runnerGateway();
      for (const fn of httpFunctions) {
        for (const route of fn.routes) {
          for (const method of methodsOf(route)) {
            assert.equal(await viaRunner(method, samplePath(route.path)), fn.name, `${method} ${route.path}`);
          }
        }
      }
      for (const { method, path } of probes()) {
        assert.equal(viaGateway(method, path), await viaRunner(method, path), `${method} ${path}`);
      }
    });
  });

  describe('deploy/k8s', () => {
    it('lists every function in the kustomization, each with a Deployment of the one image and probes the app answers', async () => {
      for (const fn of functions) {
        assert.ok(kustomization.resources.includes(`functions/${fn.name}.yaml`), fn.name);
        const deployment = find('Deployment', fn.name);
        assert.ok(deployment, `${fn.name} has a Deployment`);
        const [container] = deployment.spec.template.spec.containers;
        const env = Object.fromEntries(container.env.map(({ name, value }: Json) => [name, value]));
        assert.equal(env.FUNCTION, fn.name);
        assert.deepEqual(container.ports, [{ name: 'http', containerPort: Number(env.PORT) }]);
        assert.equal(Number(env.PORT), CONTAINER_PORT);
        assert.equal(container.livenessProbe.httpGet.path, '/healthz');
        assert.equal(container.readinessProbe.httpGet.path, '/readyz');
        assert.ok(container.resources.requests.memory && container.resources.limits.memory);
        const definition = FUNCTIONS.find((candidate) => candidate.name === fn.name);
        const app = createFunctionApp(definition as (typeof FUNCTIONS)[number], services);
        assert.deepEqual(await (await app.request('/healthz')).json(), { status: 'ok', function: fn.name });
        assert.ok(app.routes.some((route) => route.method === 'GET' && route.path === '/readyz'));
      }
    });

    it('passes every variable of lib/platform/config.ts (credentials from the Secret), with values it accepts', () => {
      const names = new Set<string>();
      for (const fn of functions) {
        const [container] = (find('Deployment', fn.name) as Json).spec.template.spec.containers;
        assert.deepEqual(container.envFrom, [
          { configMapRef: { name: CONFIG_MAP } },
          { secretRef: { name: SECRET } },
        ]);
        for (const { name } of container.env) names.add(name);
      }
      for (const name of [...Object.keys(configMap.data), ...Object.keys(secret.stringData)]) names.add(name);
      assert.deepEqual([...names].sort(), [...VARIABLES, ...NODE_VARIABLES].sort());
      for (const name of Object.keys(secret.stringData)) assert.ok(isSecret(name), name);
      for (const name of Object.keys(configMap.data)) assert.ok(!isSecret(name), name);
    });

    it('will not start in production without a secret of its own or an identity provider: the overlay must set one', () => {
      assert.equal(configMap.data.NODE_ENV, 'production');
      for (const name of Object.keys(REQUIRED_ONE_OF)) {
        assert.equal(secret.stringData[name], '', `the base Secret gives ${name} no value`);
        assert.ok(!(name in configMap.data), `${name} comes from the Secret only`);
      }
      const base = { ...configMap.data, ...secret.stringData };
      assert.throws(() => parseConfig(base), REFUSED, 'the base alone does not start');
      assert.equal(clusterConfig.JWT_SECRET, OPERATOR_VALUES.JWT_SECRET);
      assert.equal(parseConfig({ ...base, ...PROVIDER_VALUES }).AUTH_JWKS_URL, PROVIDER_VALUES.AUTH_JWKS_URL);
    });

    it('gives HTTP functions a Service, an autoscaler and Ingress paths that reach only the declaring function', async () => {
      const ingress = find('Ingress', 'seatrush') as Json;
      const paths = ingress.spec.rules[0].http.paths as Json[];
      for (const fn of httpFunctions) {
        const service = find('Service', fn.name) as Json;
        assert.equal(service.spec.ports[0].targetPort, 'http');
        assert.equal(find('HorizontalPodAutoscaler', fn.name)?.spec.scaleTargetRef.name, fn.name);
      }
      // ingress-nginx anchors each path at the start and matches without regard to case.
      const owners = (path: string) =>
        new Set(
          paths
            .filter((entry) => new RegExp(`^${entry.path}`, 'i').test(path))
            .map((entry) => entry.backend.service.name),
        );
      const viaRunner = runnerGateway();
      for (const { method, path } of probes()) {
        const owner = await viaRunner(method, path);
        if (owner) assert.deepEqual([...owners(path)], [owner], `${method} ${path}`);
      }
    });

    it('scales each Kafka function on its group lag, never past the partitions, with the runner topic and group', () => {
      for (const fn of kafkaFunctions) {
        const scaled = find('ScaledObject', fn.name) as Json;
        const [trigger] = scaled.spec.triggers;
        const key = fn.topic?.key as keyof typeof TOPICS;
        assert.equal(trigger.type, 'kafka');
        assert.equal(trigger.metadata.topic, topicName(key, clusterConfig.KAFKA_PREFIX));
        assert.equal(trigger.metadata.consumerGroup, `${clusterConfig.KAFKA_PREFIX}${fn.name}`);
        assert.ok(scaled.spec.maxReplicaCount <= TOPICS[key].partitions);
        assert.ok(trigger.metadata.bootstrapServersFromEnv in configMap.data);
        assert.equal(find('Service', fn.name), undefined, 'a Kafka function takes no traffic');
      }
    });

    it('runs each scheduled function as one replica that takes no traffic and is never scaled', () => {
      for (const fn of scheduledFunctions) {
        assert.equal(find('Deployment', fn.name)?.spec.replicas, 1, fn.name);
        for (const kind of ['Service', 'HorizontalPodAutoscaler', 'ScaledObject']) {
          assert.equal(find(kind, fn.name), undefined, `${fn.name} has no ${kind}`);
        }
        assert.doesNotMatch(nginx, new RegExp(`" ${fn.name};`), `no gateway route reaches ${fn.name}`);
      }
      for (const fn of [...httpFunctions, ...kafkaFunctions]) {
        assert.equal(
          find('Deployment', fn.name)?.spec.replicas,
          undefined,
          `${fn.name}: its autoscaler owns the count`,
        );
      }
    });

    it('builds with Kustomize (kubectl kustomize)', {
      skip: kubectlInstalled ? false : 'kubectl is not installed',
    }, () => {
      const built = spawnSync('kubectl', ['kustomize', `${ROOT}${BASE_DIR}`], { encoding: 'utf8' });
      assert.equal(built.status, 0, built.stderr);
      const documents = parseAllDocuments(built.stdout).map((document) => document.toJS() as Json);
      assert.deepEqual(
        documents.map((document) => `${document.kind}/${document.metadata.name}`).sort(),
        resources.map((resource) => `${resource.kind}/${resource.metadata.name}`).sort(),
      );
      for (const document of documents) {
        assert.equal(document.metadata.labels['app.kubernetes.io/part-of'], 'seatrush');
      }
    });

    it('migrates, then creates the topics, in a Job of the same image', () => {
      const job = find('Job', 'seatrush-setup') as Json;
      const { initContainers, containers } = job.spec.template.spec;
      assert.deepEqual(initContainers[0].args, [bundleOf('migrate')]);
      assert.deepEqual(containers[0].args, [bundleOf('create-topics')]);
      assert.equal(
        containers[0].image,
        find('Deployment', functions[0]?.name ?? '')?.spec.template.spec.containers[0].image,
      );
    });
  });

  it('deploy/Dockerfile: multi-stage, a bundle, non-root, health on /healthz, entry points that exist', async () => {
    const dockerfile = await read('deploy/Dockerfile');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    assert.ok(stages.length >= 2, 'multi-stage');
    // `npm ci --ignore-scripts` skips the postinstall that applies patches/: the build does it.
    const build = stages[0] as string;
    assert.match(build, /^COPY patches \.\/patches$/m);
    assert.match(build, /^RUN npm ci --ignore-scripts .*&& npx patch-package$/m);
    const final = stages.at(-1) as string;
    assert.match(final, /^node:\$\{NODE_VERSION\}-alpine/);
    // Nothing runs in the final stage, so a cross-architecture build needs no emulation.
    assert.doesNotMatch(final, /^RUN /m);
    assert.match(final, /^USER 1000:1000$/m);
    assert.match(final, /^HEALTHCHECK .*\n?.*\/healthz/m);
    const instruction = /^ENV ((?:.*\\\n)*.*)$/m.exec(final)?.[1] ?? '';
    const env = Object.fromEntries(
      instruction
        .split(/[\s\\]+/)
        .filter(Boolean)
        .map((pair) => pair.split('=') as [string, string]),
    );
    for (const name of Object.keys(env)) {
      assert.ok(VARIABLES.includes(name as never), `${name} is read by lib/platform/config.ts`);
    }
    assert.equal(Number(env.PORT), CONTAINER_PORT);
    assert.match(final, new RegExp(`^EXPOSE ${CONTAINER_PORT}$`, 'm'));
    assert.match(final, new RegExp(`^CMD \\["${bundleOf('run')}"\\]$`, 'm'));
    // lib/booking/db/migrate.ts looks for drizzle/ upward from the bundle.
    assert.match(final, /^COPY drizzle \.\/drizzle$/m);
  });

  it('wrangler.toml runs its Workers in production, which will not start without a secret or an identity provider', async () => {
    // Its [vars] are flat `NAME = "value"` lines; secrets are put with `wrangler secret put`.
    const vars = Object.fromEntries(
      [
        ...((await read('wrangler.toml')).split(/^\[vars\]$/m)[1]?.matchAll(/^(\w+) = "([^"]*)"$/gm) ?? []),
      ].map(([, name, value]) => [name, value]),
    );
    assert.equal(vars.NODE_ENV, 'production');
    assert.ok(!('JWT_SECRET' in vars), 'a secret is never a var of the committed file');
    assert.throws(() => parseConfig(vars), REFUSED);
    parseConfig({ ...vars, ...OPERATOR_VALUES });
    parseConfig({ ...vars, ...PROVIDER_VALUES });
  });

  it('.github/workflows/ci.yml runs .ci/run with Postgres, Redis and the project Kafka, and builds both architectures', async () => {
    const workflow = parse(await read('.github/workflows/ci.yml')) as Json;
    const runs = (job: Json) =>
      (job.steps as Json[])
        .map((step) => step.run)
        .filter(Boolean)
        .join('\n');
    assert.match(runs(workflow.jobs.test), /^bash \.ci\/run$/m);
    assert.match(runs(workflow.jobs.test), /^bash scripts\/kafka\.sh start$/m);
    const testScript = await read('scripts/test.sh');
    for (const [service, port] of [
      ['postgres', 5432],
      ['redis', 6379],
    ] as const) {
      assert.deepEqual(workflow.jobs.test.services[service].ports, [`${port}:${port}`]);
      assert.match(testScript, new RegExp(`127\\.0\\.0\\.1:${port}`), `tests reach ${service} on ${port}`);
    }
    const build = (workflow.jobs.image.steps as Json[]).find((step) =>
      String(step.uses).startsWith('docker/build-push-action'),
    );
    assert.equal(build?.with.file, 'deploy/Dockerfile');
    assert.deepEqual(String(build?.with.platforms).split(',').sort(), ['linux/amd64', 'linux/arm64']);
  });
});

/** Each route's sample path, and paths near it (one segment more, one less), for every method used. */
function probes(): { method: string; path: string }[] {
  const methods = [...new Set(functions.flatMap((fn) => fn.routes.flatMap(methodsOf)))];
  const paths = new Set(
    functions.flatMap((fn) =>
      fn.routes.flatMap((route) => {
        const sample = samplePath(route.path);
        return [sample, `${sample}/extra`, sample.slice(0, sample.lastIndexOf('/')) || '/'];
      }),
    ),
  );
  return [...paths].flatMap((path) => methods.map((method) => ({ method, path })));
}

/** Which function lib/platform/runner.ts' gateway gives a request: the first declared route that matches. */
function runnerGateway(): (method: string, path: string) => Promise<string | undefined> {
  const root = new Hono();
  const answeredBy = (name: string) => (c: Context) => c.body(null, 204, { 'x-function': name });
  const owners = new Map<string, string>();
  for (const fn of httpFunctions) {
    for (const route of fn.routes) {
      root.on(route.method, route.path, answeredBy(fn.name));
      if (!owners.has(route.path)) owners.set(route.path, fn.name);
    }
  }
  // A CORS preflight goes to the function that owns the path (lib/platform/gateway.ts).
  for (const [path, name] of owners) root.options(path, answeredBy(name));
  return async (method, path) =>
    (await root.request(path, { method })).headers.get('x-function') ?? undefined;
}
