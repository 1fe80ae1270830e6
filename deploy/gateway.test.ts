/**
 * The compose gateway, run for real: nginx with the generated deploy/compose/nginx.conf in front
 * of each HTTP function running alone. Only the addresses change: compose resolves service names
 * with Docker's DNS, here each function listens on a local port of its own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { FUNCTIONS } from '../functions/registry.ts';
import { type RunningFunctions, startFunctions } from '../lib/platform/runner.ts';
import { closeServices } from '../lib/services.ts';
import { bearer, createTestEvent, createTestUsers, testServices } from '../test/support.ts';
import { composeValues, NGINX_CONF } from './compose.ts';
import { ROOT } from './generate.ts';
import { CONTAINER_PORT } from './settings.ts';
import { freePort, type Spawned, spawnProcess } from './spawned.ts';

const PREFIX = `${process.env.KAFKA_PREFIX ?? 'test.'}deploy.`;
const nginxInstalled = spawnSync('nginx', ['-v']).status === 0;

/** The generated config with each function's address in place of its compose service name. */
function localConfig(config: string, listen: number, upstreams: Map<string, string>): string {
  const replace = (from: string, to: string) => {
    assert.equal(config.split(from).length, 2, `nginx.conf has exactly one \`${from}\``);
    config = config.replace(from, to);
  };
  replace('  resolver 127.0.0.11 valid=10s ipv6=off;\n', '');
  replace(`listen ${CONTAINER_PORT};`, `listen 127.0.0.1:${listen};`);
  replace(`proxy_pass http://$seatrush_function:${CONTAINER_PORT};`, 'proxy_pass http://$seatrush_upstream;');
  const map = [...upstreams].map(([name, address]) => `    ${name} ${address};`).join('\n');
  // This nginx's default access log is a file of the host, not the container's stdout.
  replace(
    'http {\n',
    `http {\n  access_log off;\n  map $seatrush_function $seatrush_upstream {\n${map}\n  }\n`,
  );
  return config;
}

/** A per-address limit low enough to reach, with compose's TRUST_PROXY, and no per-user limit. */
const ADDRESS_LIMIT = 2;

describe('the compose gateway (nginx)', { skip: nginxInstalled ? false : 'nginx is not installed' }, () => {
  const services = testServices({
    KAFKA_PREFIX: PREFIX,
    TRUST_PROXY: composeValues().TRUST_PROXY,
    RATE_LIMIT_PER_ADDRESS: String(ADDRESS_LIMIT),
    RATE_LIMIT_PER_USER: '0',
    RATE_LIMIT_WINDOW_S: '60',
  });
  const running = new Map<string, RunningFunctions>();
  let gateway: Spawned;
  let url: string;
  let prefix: string;

  before(async () => {
    const upstreams = new Map<string, string>();
    for (const definition of FUNCTIONS.filter((candidate) => candidate.trigger.kind === 'http')) {
      const fn = await startFunctions([definition], services, { host: '127.0.0.1', port: 0 });
      running.set(definition.name, fn);
      upstreams.set(definition.name, new URL(fn.url).host);
    }
    prefix = await mkdtemp(`${tmpdir()}/seatrush-nginx-`);
    const port = await freePort();
    await writeFile(
      `${prefix}/nginx.conf`,
      localConfig(await readFile(`${ROOT}${NGINX_CONF}`, 'utf8'), port, upstreams),
    );
    gateway = spawnProcess(
      'nginx',
      [
        '-p',
        prefix,
        '-c',
        `${prefix}/nginx.conf`,
        '-g',
        `daemon off; pid ${prefix}/nginx.pid; error_log stderr notice;`,
      ],
      { env: process.env, ready: /start worker process/ },
    );
    await gateway.ready;
    url = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all([...running.values()].map((fn) => fn.stop()));
    await closeServices(services);
    if (prefix) await rm(prefix, { recursive: true, force: true });
  });

  it('reads through the gateway: GET /events reaches the events function', async () => {
    const { eventId } = await createTestEvent(services, 2, 'Through the gateway');
    const response = await fetch(`${url}/events`);
    assert.equal(response.status, 200);
    const events = (await response.json()) as { id: number }[];
    assert.ok(events.some((event) => event.id === eventId));
  });

  it('answers a route no function declares with a 404 problem', async () => {
    const response = await fetch(`${url}/no/such/route`);
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    assert.equal(((await response.json()) as { status: number }).status, 404);
  });

  it('gives the functions the client address: a forged X-Forwarded-For does not escape the per-address limit', async () => {
    const book = FUNCTIONS.find((definition) => definition.name === 'book');
    if (!book) return;
    // Earlier runs' counts for this address (127.0.0.1) are still inside their window.
    const stale = await services.redis.keys('ratelimit:book:address:*');
    if (stale.length > 0) await services.redis.del(...stale);
    const [userId = 0] = await createTestUsers(services, 1);
    const statuses = [];
    for (let i = 0; i <= ADDRESS_LIMIT; i++) {
      const response = await fetch(`${url}/bookings/book`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-forwarded-for': `203.0.113.${i + 1}`,
          ...(await bearer(userId)),
        },
        body: '{}',
      });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    // Counted (then refused as an invalid body) until the limit, whatever address each one claims.
    assert.deepEqual(statuses, [...Array(ADDRESS_LIMIT).fill(400), 429]);
  });

  it('answers 503 with Retry-After, as a problem, while a function is down', async () => {
    const events = running.get('events');
    await events?.stop();
    running.delete('events');
    const response = await fetch(`${url}/events`);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '5');
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    assert.equal(((await response.json()) as { status: number }).status, 503);
  });
});
