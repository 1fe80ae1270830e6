/** The obvious design as its own process: DATABASE_URL, BASELINE_POOL_SIZE, JWT_SECRET, HOST, PORT (0: any). */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import pg from 'pg';
import { baselineApp } from './app.ts';

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/seatrush_bench',
  max: Number(process.env.BASELINE_POOL_SIZE ?? 10),
});
pool.on('error', () => {});
const host = process.env.HOST ?? '127.0.0.1';
const jwtSecret = process.env.JWT_SECRET;
if (!jwtSecret) throw new Error('baseline: JWT_SECRET is required (the same as the functions use)');
const server = serve({
  fetch: baselineApp(pool, { jwtSecret }).fetch,
  hostname: host,
  port: Number(process.env.PORT ?? 0),
});
server.once('listening', () => {
  console.error(`baseline listening on http://${host}:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => {
  server.close(() => void pool.end().then(() => process.exit(0)));
});
