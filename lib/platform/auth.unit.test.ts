import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEV_JWT_SECRET, parseConfig } from './config.ts';

const SECRET = 'a-secret-of-this-deployment-only-0123456789';
const PROVIDER = {
  AUTH_JWKS_URL: 'https://idp.example/realms/seatrush/protocol/openid-connect/certs',
  AUTH_ISSUER: 'https://idp.example/realms/seatrush',
  AUTH_AUDIENCE: 'seatrush-api',
};
/** Refused start-up: one line, naming both ways out. */
const REFUSED = /^config: set JWT_SECRET \(32\+ random characters\) or AUTH_JWKS_URL: [^\n]*$/;

describe('token settings (parseConfig)', () => {
  it('accept the public development secret only where NODE_ENV says development or test', () => {
    for (const NODE_ENV of ['development', 'test']) {
      assert.equal(parseConfig({ NODE_ENV }).JWT_SECRET, DEV_JWT_SECRET);
    }
    // Unset is production: a workerd or container deploy that forgot NODE_ENV does not start.
    assert.equal(parseConfig({ JWT_SECRET: SECRET }).NODE_ENV, 'production');
    for (const env of [{}, { NODE_ENV: 'production' }, { JWT_SECRET: '' }, { JWT_SECRET: DEV_JWT_SECRET }]) {
      assert.throws(
        () => parseConfig(env),
        (error: unknown) => error instanceof ConfigError && REFUSED.test(error.message),
        JSON.stringify(env),
      );
    }
  });

  it('start in production with a secret of their own, or with an identity provider instead', () => {
    assert.equal(parseConfig({ JWT_SECRET: SECRET }).JWT_SECRET, SECRET);
    // The deploy files pass every setting; an empty JWT_SECRET beside a provider is no secret at all.
    assert.equal(parseConfig({ ...PROVIDER, JWT_SECRET: '' }).AUTH_JWKS_URL, PROVIDER.AUTH_JWKS_URL);
    assert.throws(() => parseConfig({ JWT_SECRET: 'short' }), /config: JWT_SECRET="short" is invalid/);
  });

  it('refuse a key set without the issuer and audience its tokens must carry, and those without a key set', () => {
    for (const missing of ['AUTH_ISSUER', 'AUTH_AUDIENCE']) {
      assert.throws(
        () => parseConfig({ ...PROVIDER, [missing]: '' }),
        /config: AUTH_JWKS_URL needs AUTH_ISSUER and AUTH_AUDIENCE/,
        missing,
      );
    }
    assert.throws(
      () => parseConfig({ NODE_ENV: 'development', AUTH_ISSUER: PROVIDER.AUTH_ISSUER }),
      /config: AUTH_ISSUER and AUTH_AUDIENCE apply to the tokens of AUTH_JWKS_URL/,
    );
  });

  it('fetch keys over https only (http on this machine, for tests and a local provider)', () => {
    assert.throws(
      () => parseConfig({ ...PROVIDER, AUTH_JWKS_URL: 'http://idp.example/certs' }),
      /config: AUTH_JWKS_URL="http:\/\/idp.example\/certs" is invalid: must be an https:\/\/ URL/,
    );
    parseConfig({ ...PROVIDER, AUTH_JWKS_URL: 'http://127.0.0.1:8080/certs' });
  });

  it('bound lifetimes and clock skew with non-negative whole seconds, 24 h and 30 s by default', () => {
    const config = parseConfig({ NODE_ENV: 'test' });
    assert.equal(config.AUTH_MAX_TOKEN_LIFETIME_S, 86_400);
    assert.equal(config.AUTH_CLOCK_SKEW_S, 30);
    assert.equal(config.AUTH_ROLE_CLAIM, 'role');
    assert.equal(config.AUTH_USER_ID_CLAIM, 'sub');
    assert.throws(
      () => parseConfig({ NODE_ENV: 'test', AUTH_MAX_TOKEN_LIFETIME_S: '0' }),
      /config: AUTH_MAX_TOKEN_LIFETIME_S="0" is invalid/,
    );
    assert.throws(
      () => parseConfig({ NODE_ENV: 'test', AUTH_CLOCK_SKEW_S: '-1' }),
      /config: AUTH_CLOCK_SKEW_S="-1" is invalid/,
    );
  });
});
