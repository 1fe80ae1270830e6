/** A load generator's own warm-up, shared by bench/load.ts and bench/read-storm.ts. */
import { Pool } from 'undici';

/**
 * Runs the client's own code hot before the measured burst, as the warm-up flash sale does for
 * the functions: a fresh generator process otherwise spends the first thousands of requests in
 * V8's interpreter and baseline tiers, and that CPU is taken from the target sharing the machine.
 * `GET /healthz` goes through the same undici request and body paths and changes nothing.
 */
export async function warmUpClient(origin: string, requests = 4_000, connections = 16): Promise<void> {
  const pool = new Pool(origin, { connections, pipelining: 1 });
  let sent = 0;
  const worker = async () => {
    while (sent++ < requests) {
      const response = await pool.request({ path: '/healthz', method: 'GET' });
      JSON.parse(await response.body.text());
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await pool.close();
}
