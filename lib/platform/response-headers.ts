import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';

/**
 * Sets a header of the answer that the handler's own response does not carry (request id,
 * nosniff, rate-limit state). On Node, @hono/node-server hands the ServerResponse in `c.env`: the
 * header goes straight to it, and Node merges it into the head the adapter writes. Hono's
 * `c.header()` instead makes the response a Web `Headers` object, which the adapter then copies
 * entry by entry, about 10 µs a request that the refusal path, most of an on-sale's requests,
 * does not need to pay (bench: the refused request against the no-op floor). Elsewhere (workerd,
 * `app.request` in tests) it is `c.header()`.
 */
export function setResponseHeader(c: Context, name: string, value: string): void {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (outgoing?.setHeader && !outgoing.headersSent) outgoing.setHeader(name, value);
  else c.header(name, value);
}
