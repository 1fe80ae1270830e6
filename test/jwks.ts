/**
 * Tokens for tests, signed with jose: a stand-in identity provider (signing keys generated here,
 * their public halves served as a JSON Web Key Set over real HTTP, node:http on a free port,
 * tokens signed as Keycloak, Auth0 or Supabase Auth would sign them), and the tokens an attacker
 * tries first on a deployment of HS256 tokens.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
  UnsecuredJWT,
} from 'jose';
import type { Caller } from '../lib/platform/env.ts';

export type SigningAlgorithm = 'RS256' | 'ES256';

export interface SigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
  /** The public half as the key set publishes it. */
  jwk: JWK;
}

let keyCount = 0;

export async function signingKey(alg: SigningAlgorithm): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const kid = `${alg.toLowerCase()}-${++keyCount}`;
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export interface IdentityProvider {
  /** The key set's URL, for AUTH_JWKS_URL. */
  jwksUrl: string;
  /** How many times the key set was fetched. */
  fetches(): number;
  /** The keys the set publishes from now on (a rotation). */
  publish(keys: SigningKey[]): void;
  close(): Promise<void>;
}

export async function startIdentityProvider(keys: SigningKey[]): Promise<IdentityProvider> {
  let published = keys;
  let fetches = 0;
  const server = createServer((request, response) => {
    if (request.url !== '/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    fetches += 1;
    response
      .writeHead(200, { 'content-type': 'application/jwk-set+json' })
      .end(JSON.stringify({ keys: published.map((key) => key.jwk) }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    fetches: () => fetches,
    publish: (next) => {
      published = next;
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * A token signed with `key` (its `kid` in the header): issued now and expiring in an hour unless
 * `claims` says otherwise (`exp: undefined` leaves it out).
 */
export async function signedToken(
  key: SigningKey,
  claims: JWTPayload & Record<string, unknown>,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + 3_600, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .sign(key.privateKey);
}

/**
 * Tokens that must never pass where tokens are HS256 with `secret`, each for `caller`: past its
 * `exp` (and the clock skew), without `exp`, unsigned (`alg: none`), or signed with the right
 * secret under another algorithm (HS512), which a verifier that trusts the header would accept.
 */
export const FORGERIES = {
  expired: (secret: string, caller: Caller) => hmacToken(secret, 'HS256', claimsOf(caller, -7_200, -3_600)),
  'no exp': (secret: string, caller: Caller) =>
    hmacToken(secret, 'HS256', { ...claimsOf(caller, 0, 3_600), exp: undefined }),
  'alg none': async (_secret: string, caller: Caller) =>
    new UnsecuredJWT(claimsOf(caller, 0, 3_600)).encode(),
  'wrong algorithm': (secret: string, caller: Caller) =>
    hmacToken(secret, 'HS512', claimsOf(caller, 0, 3_600)),
} satisfies Record<string, (secret: string, caller: Caller) => Promise<string>>;
export type Forgery = keyof typeof FORGERIES;

/** The claims `issueToken` signs, issued and expiring at these offsets from now (seconds). */
function claimsOf(caller: Caller, issuedIn: number, expiresIn: number): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { sub: String(caller.id), role: caller.role, iat: now + issuedIn, exp: now + expiresIn };
}

function hmacToken(secret: string, alg: 'HS256' | 'HS512', claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
}
