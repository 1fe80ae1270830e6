import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { FUNCTIONS } from '../../functions/registry.ts';
import { testServices } from '../../test/support.ts';
import { closeServices } from '../services.ts';
import { startFunctions } from './runner.ts';

const RUN = new URL('../../bin/run.ts', import.meta.url).pathname;

/** Runs bin/run.ts as a real process; resolves with its URL once it listens, or its exit. */
function runFunctions(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', RUN], {
    env: { ...process.env, LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr }));
  const listening = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', () => {
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (url) resolve(url);
    });
    exited.then(() => reject(new Error(`exited: ${stderr}`)));
  });
  listening.catch(() => {}); // a test that expects the exit awaits `exited` instead
  return { child, listening, exited };
}

describe('runner', () => {
  const services = testServices();
  after(() => closeServices(services));

  it('serves every HTTP function through one port, with health and a 404 problem', async () => {
    const running = await startFunctions(FUNCTIONS, services, { host: '127.0.0.1', port: 0 });
    try {
      const list = await fetch(`${running.url}/events`);
      assert.equal(list.status, 200);
      assert.ok(Array.isArray(await list.json()));
      assert.equal((await fetch(`${running.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${running.url}/readyz`)).status, 200);
      const missing = await fetch(`${running.url}/no/such/route`);
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('content-type'), 'application/problem+json');
    } finally {
      await running.stop();
    }
  });

  it('starts a single function with FUNCTION= and stops cleanly on SIGTERM', async () => {
    const { child, listening, exited } = runFunctions({ FUNCTION: 'events' });
    const url = await listening;
    assert.equal((await fetch(`${url}/events`)).status, 200);
    assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok', function: 'events' });
    child.kill('SIGTERM');
    assert.equal((await exited).code, 0);
  });

  for (const [what, env, line] of [
    ['an unknown FUNCTION', { FUNCTION: 'nope' }, /^config: FUNCTION=nope names no function; known: /],
    [
      'a malformed DATABASE_URL',
      { DATABASE_URL: 'not a url' },
      /^config: DATABASE_URL="not a url" is invalid/,
    ],
    [
      'a Postgres that does not answer',
      { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/seatrush' },
      /^postgres: cannot reach DATABASE_URL .* start it with: pg_ctlcluster/,
    ],
  ] as const) {
    it(`stops start-up with one line for ${what}`, async () => {
      const { exited } = runFunctions(env);
      const { code, stderr } = await exited;
      assert.equal(code, 1);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.match(stderr.trim(), line);
    });
  }
});
