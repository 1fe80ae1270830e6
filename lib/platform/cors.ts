import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { AppEnv } from './env.ts';

/** What a page on another site may send and read: the API's methods and the headers it uses. */
const POLICY = {
  allowMethods: ['GET', 'HEAD', 'POST', 'DELETE'],
  allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'prefer', 'last-event-id'],
  exposeHeaders: [
    'location',
    'link',
    'retry-after',
    'ratelimit-limit',
    'ratelimit-remaining',
    'ratelimit-reset',
    'idempotent-replayed',
    'x-data-source',
    'x-request-id',
  ],
  // Browsers keep a preflight's answer this long (capped at 2 hours by Chromium, 24 by Firefox):
  // 10 minutes lets a changed CORS_ORIGINS reach them soon.
  maxAge: 600,
  // No Access-Control-Allow-Credentials, ever: callers authenticate with a bearer token they send
  // themselves, so a page on another site gets nothing a browser would attach on its own.
};

/** One hono/cors per list of origins (workerd parses the settings again for each request). */
const policies = new Map<string, MiddlewareHandler<AppEnv>>();

/**
 * The CORS policy of the HTTP functions (CORS_ORIGINS): pages from the listed origins (or any,
 * with `*`) may call the API; others get no Access-Control-Allow-Origin, so their browser keeps
 * the answer from them. A preflight (OPTIONS) is answered here, 204, before routing could call it
 * a wrong method. With no origins listed (the default) only preflights reach hono/cors; every
 * other request passes untouched, at no cost to the booking hot path.
 */
export function corsPolicy(): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    const origins = c.get('services').config.CORS_ORIGINS;
    if (origins.length === 0 && c.req.method !== 'OPTIONS') return next();
    const key = origins.join(',');
    let policy = policies.get(key);
    if (!policy) {
      policy = cors({ ...POLICY, origin: origins[0] === '*' ? '*' : origins });
      policies.set(key, policy);
    }
    return policy(c, next);
  };
}
