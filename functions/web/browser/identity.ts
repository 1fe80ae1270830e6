/// <reference lib="dom" />
/**
 * Who the seat-map page books as, and how it learns it: as a demo user (POST /auth/demo, in
 * development), with a token from the OIDC provider, or with one pasted in (both checked with
 * GET /auth/me, which also says whose it is). Kept in sessionStorage: for this tab, until it closes.
 */
import type { DemoSignIn, SignedInAs } from '../sign-in.ts';

export interface Identity {
  token: string;
  userId: number;
  /** How the page names the person: "Alice Johnson (user 1)", "user 7". */
  label: string;
  /** Epoch ms after which the token is refused, when known. */
  expiresAt?: number;
}

/** A sign-in that did not work, with what to tell the person. */
export class SignInError extends Error {
  override name = 'SignInError';
}

const IDENTITY_KEY = 'seatrush.identity';

/** The identity kept for this tab, unless its token has expired meanwhile (storage may be refused: then none). */
export function keptIdentity(): Identity | undefined {
  try {
    const identity = JSON.parse(sessionStorage.getItem(IDENTITY_KEY) ?? 'null') as Identity | null;
    if (identity && (identity.expiresAt === undefined || identity.expiresAt > Date.now())) return identity;
    sessionStorage.removeItem(IDENTITY_KEY);
  } catch {}
  return undefined;
}

/** Keeps the identity for this tab, or forgets it (undefined). */
export function keepIdentity(identity: Identity | undefined): void {
  try {
    if (identity) sessionStorage.setItem(IDENTITY_KEY, JSON.stringify(identity));
    else sessionStorage.removeItem(IDENTITY_KEY);
  } catch {}
}

async function problemDetail(response: Response): Promise<string> {
  const problem = (await response.json().catch(() => ({}))) as { detail?: string; title?: string };
  return String(problem.detail || problem.title || `HTTP ${response.status}`).replace(/\.$/, '');
}

export async function demoSignIn(userId: number): Promise<Identity> {
  const response = await fetch('/auth/demo', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ user_id: userId }),
  });
  if (!response.ok)
    throw new SignInError(`Could not sign in as user ${userId}: ${await problemDetail(response)}.`);
  const signedIn = (await response.json()) as DemoSignIn;
  return {
    token: signedIn.token,
    userId: signedIn.user_id,
    label: `${signedIn.name} (user ${signedIn.user_id})`,
    expiresAt: Date.parse(signedIn.expires_at),
  };
}

/** A token from elsewhere (the provider, or pasted in), once the API has said whose it is. */
export async function tokenSignIn(
  token: string,
  details: { name?: string; expiresAt?: number } = {},
): Promise<Identity> {
  const response = await fetch('/auth/me', {
    headers: { accept: 'application/json', authorization: `Bearer ${token}` },
  });
  if (response.status === 401) {
    throw new SignInError(`This access token is not accepted: ${await problemDetail(response)}.`);
  }
  if (!response.ok) throw new SignInError(`Could not sign in: ${await problemDetail(response)}.`);
  const { user_id: userId } = (await response.json()) as SignedInAs;
  const label = details.name ? `${details.name} (user ${userId})` : `user ${userId}`;
  return { token, userId, label, ...(details.expiresAt ? { expiresAt: details.expiresAt } : {}) };
}
