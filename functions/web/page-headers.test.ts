/**
 * The pages' security headers as a browser receives them (web.test.ts checks in Chromium that
 * the pages work under them and that an injected inline script is refused).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createFunctionApp } from '../../lib/platform/app.ts';
import { closeServices } from '../../lib/services.ts';
import { createTestEvent, testServices } from '../../test/support.ts';
import web from './index.ts';

/** The Content-Security-Policy's directives, by name. */
const directives = (policy: string | null) =>
  Object.fromEntries(
    (policy ?? '').split(';').map((directive) => {
      const [name = '', ...sources] = directive.trim().split(/\s+/);
      return [name, sources.join(' ')];
    }),
  );

describe("web: the pages' security headers", () => {
  const services = testServices();
  const withProvider = testServices({
    AUTH_OIDC_ISSUER: 'https://id.example/realms/seatrush',
    AUTH_OIDC_CLIENT_ID: 'seatrush',
  });
  after(() => Promise.all([services, withProvider].map(closeServices)));

  it("runs only the pages' own files, in no other site's frame, sniffs nothing, tells no referrer", async () => {
    const event = await createTestEvent(services, 2, 'Headers');
    const app = createFunctionApp(web, services);
    for (const path of ['/', `/map/${event.eventId}`, '/map/2000000000']) {
      const response = await app.request(path);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/, path);
      const policy = response.headers.get('content-security-policy');
      assert.doesNotMatch(policy ?? '', /unsafe-inline|unsafe-eval|\*/, path);
      assert.deepEqual(
        directives(policy),
        {
          'default-src': "'none'",
          'script-src': "'self'",
          'style-src': "'self'",
          'img-src': "'self' data:",
          'connect-src': "'self'",
          'base-uri': "'none'",
          'form-action': "'self'",
          'frame-ancestors': "'none'",
        },
        path,
      );
      assert.equal(response.headers.get('x-frame-options'), 'DENY', path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(response.headers.get('referrer-policy'), 'same-origin', path);
      assert.equal(response.headers.get('cross-origin-opener-policy'), 'same-origin', path);
      assert.equal(response.headers.get('strict-transport-security'), null, path);
    }
  });

  it("lets the page's script reach the OpenID Connect provider when sign-in goes through one", async () => {
    const event = await createTestEvent(withProvider, 1, 'Headers with a provider');
    const response = await createFunctionApp(web, withProvider).request(`/map/${event.eventId}`);
    assert.equal(
      directives(response.headers.get('content-security-policy'))['connect-src'],
      "'self' https://id.example",
    );
  });

  it('serves the script and the stylesheet as what they are', async () => {
    const app = createFunctionApp(web, services);
    const types = {
      '/assets/seat-map.js': 'text/javascript; charset=utf-8',
      '/assets/seat-map.css': 'text/css; charset=utf-8',
    };
    for (const [path, type] of Object.entries(types)) {
      const response = await app.request(path);
      assert.equal(response.headers.get('content-type'), type);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    }
  });
});
