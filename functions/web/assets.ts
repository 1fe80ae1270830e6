import { Hono } from 'hono';
import type { AppEnv } from '../../lib/platform/env.ts';
import { SEAT_MAP_JS } from './generated/seat-map.js.ts';
import { SEAT_MAP_CSS } from './seat-map-style.ts';

// Short caching: a new version reaches browsers within a minute, with no hashes in the file names.
// (X-Content-Type-Options: nosniff comes with every answer of an HTTP function: lib/platform/app.ts.)
const CACHE = { 'cache-control': 'public, max-age=60' };

/** GET /assets/seat-map.js and /assets/seat-map.css: the pages' script and styles. */
export const assets = new Hono<AppEnv>()
  .get('/assets/seat-map.js', (c) =>
    c.body(SEAT_MAP_JS, 200, { ...CACHE, 'content-type': 'text/javascript; charset=utf-8' }),
  )
  .get('/assets/seat-map.css', (c) =>
    c.body(SEAT_MAP_CSS, 200, { ...CACHE, 'content-type': 'text/css; charset=utf-8' }),
  );
