/**
 * The HTTP floor: a Hono endpoint on Node that does nothing but what every booking endpoint must
 * (read and parse the JSON body, answer JSON). No endpoint on this machine can answer faster.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
app.post('/bookings/book', async (c) => {
  const body = (await c.req.json()) as { user_id?: number };
  return c.json({ status: 'NOOP', user_id: body.user_id }, 201);
});
const host = process.env.HOST ?? '127.0.0.1';
const server = serve({ fetch: app.fetch, hostname: host, port: Number(process.env.PORT ?? 0) });
server.once('listening', () => {
  console.error(`noop listening on http://${host}:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
