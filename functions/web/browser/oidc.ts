/// <reference lib="dom" />
/**
 * Signing in with the OpenID Connect provider of AUTH_OIDC_ISSUER, in the browser: the
 * authorization code flow with PKCE for a public client (no secret), through oauth4webapi, which
 * does the protocol's checks (discovery, state, the token response, the ID token's claims). The
 * page redirects to the provider and the provider back to the page with a code, which is
 * exchanged for the access token the API verifies.
 */
import * as oauth from 'oauth4webapi';

/** The provider and client, as the server's settings give them (the sign-in section's data attributes). */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  scope: string;
  /** Sent as `audience` when not empty (Auth0 issues an API's access token only when asked). */
  audience: string;
}

export interface OidcSignIn {
  accessToken: string;
  /** Epoch ms, when the provider said how long the token lasts. */
  expiresAt: number | undefined;
  /** The ID token's name for the person, when it has one. */
  name: string | undefined;
}

/** What the redirect's return must match: kept in this tab across the provider's pages. */
const PENDING_KEY = 'seatrush.oidc.pending';

interface Pending {
  codeVerifier: string;
  state: string;
}

/** Plain http is allowed only for a provider on this machine (AUTH_OIDC_ISSUER's check says the same). */
function requestOptions(issuer: URL): { [oauth.allowInsecureRequests]?: boolean } {
  return issuer.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {};
}

async function discover(settings: OidcSettings): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(settings.issuer);
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...requestOptions(issuer) });
  return oauth.processDiscoveryResponse(issuer, response);
}

/** The page itself, without the provider's answer in its query: where the provider sends the person back. */
const redirectUri = (page: URL) => `${page.origin}${page.pathname}`;

/** Sends the person to the provider's sign-in page; they come back to `page`. */
export async function startOidcSignIn(settings: OidcSettings, page: URL): Promise<void> {
  const server = await discover(settings);
  if (!server.authorization_endpoint) throw new Error('the provider names no authorization endpoint');
  const pending: Pending = {
    codeVerifier: oauth.generateRandomCodeVerifier(),
    state: oauth.generateRandomState(),
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const authorize = new URL(server.authorization_endpoint);
  const parameters: Record<string, string> = {
    client_id: settings.clientId,
    redirect_uri: redirectUri(page),
    response_type: 'code',
    scope: settings.scope,
    code_challenge: await oauth.calculatePKCECodeChallenge(pending.codeVerifier),
    code_challenge_method: 'S256',
    state: pending.state,
  };
  if (settings.audience) parameters.audience = settings.audience;
  for (const [name, value] of Object.entries(parameters)) authorize.searchParams.set(name, value);
  location.assign(authorize.href);
}

/**
 * On the way back from the provider (`?code=…&state=…`, or `?error=…`): exchanges the code for
 * the tokens. Undefined when the page was not opened by the provider's redirect. Throws with the
 * provider's reason when the sign-in failed.
 */
export async function finishOidcSignIn(settings: OidcSettings, page: URL): Promise<OidcSignIn | undefined> {
  const stored = sessionStorage.getItem(PENDING_KEY);
  if (!stored || !(page.searchParams.has('code') || page.searchParams.has('error'))) return undefined;
  sessionStorage.removeItem(PENDING_KEY);
  const pending = JSON.parse(stored) as Pending;
  const server = await discover(settings);
  const client: oauth.Client = { client_id: settings.clientId };
  const callback = oauth.validateAuthResponse(server, client, page, pending.state);
  const response = await oauth.authorizationCodeGrantRequest(
    server,
    client,
    oauth.None(),
    callback,
    redirectUri(page),
    pending.codeVerifier,
    requestOptions(new URL(settings.issuer)),
  );
  const tokens = await oauth.processAuthorizationCodeResponse(server, client, response);
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  const name = claims?.name ?? claims?.preferred_username ?? claims?.email;
  return {
    accessToken: tokens.access_token,
    expiresAt: tokens.expires_in === undefined ? undefined : Date.now() + tokens.expires_in * 1000,
    name: typeof name === 'string' ? name : undefined,
  };
}
