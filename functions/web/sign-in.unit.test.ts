import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEV_JWT_SECRET, parseConfig } from '../../lib/platform/config.ts';
import { demoSignInEnabled } from './sign-in.ts';

const SECRET = 'a-real-secret-of-at-least-32-characters';

describe('sign-in settings', () => {
  it('offers demo users only in development or tests, with the public development secret', () => {
    const dev = { NODE_ENV: 'development', JWT_SECRET: DEV_JWT_SECRET, AUTH_JWKS_URL: '' } as const;
    assert.equal(demoSignInEnabled(dev), true);
    assert.equal(demoSignInEnabled({ ...dev, NODE_ENV: 'test' }), true);
    assert.equal(demoSignInEnabled({ ...dev, NODE_ENV: 'production', JWT_SECRET: SECRET }), false);
    // A real secret, even in development: no tokens signed with it for anyone who asks.
    assert.equal(demoSignInEnabled({ ...dev, JWT_SECRET: SECRET }), false);
    // Tokens from a provider only: the API would refuse the demo's HS256 tokens.
    assert.equal(demoSignInEnabled({ ...dev, AUTH_JWKS_URL: 'https://id.example.com/jwks' }), false);
  });

  it('takes an OIDC issuer with its client id, https (or http on this machine) only', () => {
    const oidc = (issuer: string, clientId = 'seat-map') =>
      parseConfig({ NODE_ENV: 'test', AUTH_OIDC_ISSUER: issuer, AUTH_OIDC_CLIENT_ID: clientId });
    assert.equal(
      oidc('https://id.example.com/realms/seatrush').AUTH_OIDC_ISSUER,
      'https://id.example.com/realms/seatrush',
    );
    assert.equal(oidc('http://127.0.0.1:8080/oidc').AUTH_OIDC_SCOPE, 'openid');
    assert.equal(oidc('', '').AUTH_OIDC_ISSUER, '', "'' leaves it unset, as the deploy files write it");
    assert.throws(
      () => oidc('http://id.example.com'),
      /AUTH_OIDC_ISSUER="http:\/\/id.example.com" is invalid: must be an https/,
    );
    assert.throws(() => oidc('http://localhost.example.com'), ConfigError);
    assert.throws(() => oidc('not a url'), ConfigError);
    assert.throws(
      () => oidc('https://id.example.com', ''),
      /AUTH_OIDC_ISSUER and AUTH_OIDC_CLIENT_ID are set together/,
    );
    assert.throws(
      () => parseConfig({ NODE_ENV: 'test', AUTH_OIDC_CLIENT_ID: 'seat-map' }),
      /set together or not at all/,
    );
  });
});
