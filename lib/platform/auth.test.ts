/**
 * Bearer tokens through a real function (user-bookings, against the test Postgres): HS256 with
 * JWT_SECRET, and RS256/ES256 from an identity provider's key set served over real HTTP
 * (test/jwks.ts). Each case asks for a user's bookings: 200 when the token passes, 403 when it
 * passes for someone else, 401 (a problem document) when it does not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSigner } from 'fast-jwt';
import type { Hono } from 'hono';
import userBookings from '../../functions/user-bookings/index.ts';
import {
  FORGERIES,
  type IdentityProvider,
  type SigningKey,
  signedToken,
  signingKey,
  startIdentityProvider,
} from '../../test/jwks.ts';
import { createTestUsers, testServices } from '../../test/support.ts';
import { closeServices, type Services } from '../services.ts';
import { createFunctionApp } from './app.ts';
import { issueToken } from './auth.ts';
import type { Config } from './config.ts';
import type { AppEnv } from './env.ts';

const ISSUER = 'https://idp.test/realms/seatrush';
const AUDIENCE = 'seatrush-api';

/** The function's app with some settings changed, on the same connections. */
const appWith = (services: Services, settings: Partial<Config>): Hono<AppEnv> =>
  createFunctionApp(userBookings, { ...services, config: { ...services.config, ...settings } });

/** GET /bookings/user/:userId with the token: its status, and that an error is a problem document. */
async function statusFor(app: Hono<AppEnv>, token: string, userId: number): Promise<number> {
  const response = await app.request(`/bookings/user/${userId}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (response.status !== 200) {
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
  }
  return response.status;
}

describe('HS256 bearer tokens (JWT_SECRET)', () => {
  const services = testServices();
  const { JWT_SECRET: secret } = services.config;
  let user: number;
  let app: Hono<AppEnv>;
  const now = () => Math.floor(Date.now() / 1000);
  const sign = createSigner({ key: secret, algorithm: 'HS256' });
  const tokenFor = (claims: Record<string, unknown>) =>
    sign({ sub: String(user), role: 'user', iat: now(), exp: now() + 3_600, ...claims });

  before(async () => {
    [user] = (await createTestUsers(services, 1)) as [number];
    app = createFunctionApp(userBookings, services);
  });
  after(() => closeServices(services));

  it('pass with an exp within AUTH_MAX_TOKEN_LIFETIME_S (24 h by default), as npm run token signs them', async () => {
    assert.equal(await statusFor(app, issueToken(services.config, { id: user, role: 'user' }), user), 200);
    assert.equal(await statusFor(app, tokenFor({ exp: now() + 86_400 }), user), 200);
  });

  it('are refused without exp, expired, unsigned or under another algorithm', async () => {
    for (const [forgery, forge] of Object.entries(FORGERIES)) {
      assert.equal(
        await statusFor(app, await forge(secret, { id: user, role: 'admin' }), user),
        401,
        forgery,
      );
    }
  });

  it('are refused when they live longer than the cap: exp - iat, or exp - now without iat', async () => {
    assert.equal(await statusFor(app, tokenFor({ exp: now() + 86_400 + 120 }), user), 401);
    assert.equal(await statusFor(app, tokenFor({ iat: undefined, exp: now() + 86_400 + 120 }), user), 401);
    // The cap is the setting's: an hour's token is too long where tokens may live ten minutes.
    const strict = appWith(services, { AUTH_MAX_TOKEN_LIFETIME_S: 600 });
    assert.equal(
      await statusFor(strict, issueToken(services.config, { id: user, role: 'user' }, 3_600), user),
      401,
    );
    assert.equal(
      await statusFor(strict, issueToken(services.config, { id: user, role: 'user' }, 600), user),
      200,
    );
  });

  it('allow AUTH_CLOCK_SKEW_S (30 s) of clock difference on exp, nbf and iat, and no more', async () => {
    const skewed = { exp: now() - 10, nbf: now() + 10, iat: now() + 10 };
    for (const [claim, value] of Object.entries(skewed)) {
      assert.equal(await statusFor(app, tokenFor({ [claim]: value }), user), 200, `${claim} 10 s off`);
      const noSkew = appWith(services, { AUTH_CLOCK_SKEW_S: 0 });
      assert.equal(await statusFor(noSkew, tokenFor({ [claim]: value }), user), 401, `${claim}, no skew`);
    }
    const beyond = { exp: now() - 60, nbf: now() + 60, iat: now() + 60 };
    for (const [claim, value] of Object.entries(beyond)) {
      assert.equal(await statusFor(app, tokenFor({ [claim]: value }), user), 401, `${claim} 60 s off`);
    }
  });

  it('carry the user id and role in the claims the settings name', async () => {
    const [other] = (await createTestUsers(services, 1)) as [number];
    assert.equal(await statusFor(app, tokenFor({ role: undefined }), other), 403, 'no role: a user');
    assert.equal(await statusFor(app, tokenFor({ role: 'admin' }), other), 200);
    assert.equal(await statusFor(app, tokenFor({ sub: 'not-an-id' }), user), 401);
    const custom = appWith(services, { AUTH_USER_ID_CLAIM: 'app.user_id', AUTH_ROLE_CLAIM: 'app.roles' });
    const token = tokenFor({ sub: 'f1e4c3a2-uuid', app: { user_id: other, roles: ['admin'] } });
    assert.equal(await statusFor(custom, token, user), 200, 'an admin by a role in a list');
  });
});

describe('bearer tokens of an identity provider (AUTH_JWKS_URL)', () => {
  const services = testServices();
  let user: number;
  let other: number;
  let rsa: SigningKey;
  let ec: SigningKey;
  let provider: IdentityProvider;
  let app: Hono<AppEnv>;
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: String(user),
    realm_access: { roles: ['offline_access'] },
    ...extra,
  });
  /** A provider of its own, so its key set client (shared per URL) starts cold. */
  const withProvider = async (keys: SigningKey[], settings: Partial<Config> = {}) => {
    const own = await startIdentityProvider(keys);
    const ownApp = appWith(services, {
      AUTH_JWKS_URL: own.jwksUrl,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_ROLE_CLAIM: 'realm_access.roles',
      ...settings,
    });
    return { provider: own, app: ownApp };
  };

  before(async () => {
    [user, other] = (await createTestUsers(services, 2)) as [number, number];
    [rsa, ec] = await Promise.all([signingKey('RS256'), signingKey('ES256')]);
    ({ provider, app } = await withProvider([rsa, ec]));
  });
  after(async () => {
    await provider.close();
    await closeServices(services);
  });

  it('accepts RS256 and ES256 tokens it signed, fetching its key set once for both', async () => {
    for (const key of [rsa, ec, rsa, ec]) {
      assert.equal(await statusFor(app, await signedToken(key, claims()), user), 200, key.alg);
    }
    assert.equal(provider.fetches(), 1);
  });

  it('reads the role from a dotted path: admin in realm_access.roles acts for anyone', async () => {
    assert.equal(await statusFor(app, await signedToken(rsa, claims()), other), 403);
    const admin = claims({ realm_access: { roles: ['offline_access', 'admin'] } });
    assert.equal(await statusFor(app, await signedToken(rsa, admin), other), 200);
  });

  it('refuses another issuer or audience, an expired token, one without exp or over the lifetime cap', async () => {
    const now = Math.floor(Date.now() / 1000);
    const refused = {
      'wrong issuer': claims({ iss: 'https://evil.example/' }),
      'wrong audience': claims({ aud: 'another-api' }),
      expired: claims({ iat: now - 7_200, exp: now - 3_600 }),
      'no exp': claims({ exp: undefined }),
      'over the cap': claims({ exp: now + 2 * 86_400 }),
    };
    for (const [name, payload] of Object.entries(refused)) {
      assert.equal(await statusFor(app, await signedToken(rsa, payload), user), 401, name);
    }
  });

  it('refuses tokens it did not sign: HS256 with JWT_SECRET, alg none, another key under its kid', async () => {
    const secret = services.config.JWT_SECRET;
    assert.equal(await statusFor(app, issueToken(services.config, { id: user, role: 'admin' }), user), 401);
    for (const forgery of ['alg none', 'wrong algorithm'] as const) {
      assert.equal(
        await statusFor(app, await FORGERIES[forgery](secret, { id: user, role: 'admin' }), user),
        401,
      );
    }
    const impostor = { ...(await signingKey('RS256')), kid: rsa.kid };
    assert.equal(await statusFor(app, await signedToken(impostor, claims()), user), 401);
  });

  it('refetches its key set for an unknown kid at most once per AUTH_JWKS_COOLDOWN_S', async () => {
    const stranger = await signingKey('ES256');
    const before = provider.fetches();
    for (let i = 0; i < 5; i++) {
      assert.equal(await statusFor(app, await signedToken(stranger, claims()), user), 401);
    }
    // The set was fetched moments ago: within the cooldown (30 s) a forged kid fetches nothing.
    assert.equal(provider.fetches(), before);
  });

  it('follows a key rotation: the new kid is accepted after one refetch, the removed key is refused', async () => {
    const rotating = await withProvider([rsa], { AUTH_JWKS_COOLDOWN_S: 0 });
    try {
      const oldToken = await signedToken(rsa, claims());
      assert.equal(await statusFor(rotating.app, oldToken, user), 200);
      const next = await signingKey('ES256');
      rotating.provider.publish([next]);
      assert.equal(await statusFor(rotating.app, await signedToken(next, claims()), user), 200);
      assert.equal(rotating.provider.fetches(), 2, 'one refetch for the new kid');
      assert.equal(await statusFor(rotating.app, oldToken, user), 401, 'the removed key signs nothing now');
    } finally {
      await rotating.provider.close();
    }
  });

  it('answers 503 with Retry-After when its key set cannot be fetched', async () => {
    const down = await withProvider([rsa]);
    await down.provider.close();
    const response = await down.app.request(`/bookings/user/${user}`, {
      headers: { authorization: `Bearer ${await signedToken(rsa, claims())}` },
    });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    assert.ok(response.headers.get('retry-after'));
  });
});
