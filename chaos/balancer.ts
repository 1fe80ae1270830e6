/**
 * A small round-robin HTTP load balancer in front of the `book` instances. An instance that
 * refuses the connection is skipped and the next one tried (nginx's proxy_next_upstream error:
 * nothing was sent, so trying elsewhere is safe); a failure once the request went out is a 502,
 * which the client must treat as "outcome unknown".
 */
import { once } from 'node:events';
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']);

export interface BalancerStats {
  proxied: number;
  /** Connections refused by an upstream and retried on the next. */
  skipped: number;
  /** Answered 502: the upstream failed mid-request, or every upstream refused. */
  badGateway: number;
}

export class Balancer {
  readonly stats: BalancerStats = { proxied: 0, skipped: 0, badGateway: 0 };
  private server: Server | undefined;
  private next = 0;
  /** Requests sent to each upstream and not answered yet. */
  private readonly pending = new Map<string, number>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 128 });

  /** `upstreams()` is read per request, so a restarted instance's new address is used at once. */
  constructor(private readonly upstreams: () => string[]) {}

  async listen(): Promise<string> {
    this.server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => void this.forward(incoming, outgoing, Buffer.concat(chunks)));
    });
    this.server.keepAliveTimeout = 120_000;
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const address = this.server.address();
    if (typeof address !== 'object' || address === null) throw new Error('balancer: no address');
    return `http://127.0.0.1:${address.port}`;
  }

  private async forward(incoming: IncomingMessage, outgoing: ServerResponse, body: Buffer): Promise<void> {
    const targets = this.upstreams();
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers['x-forwarded-for'] = incoming.socket.remoteAddress ?? '127.0.0.1';
    for (let tried = 0; tried < targets.length; tried++) {
      const target = targets[this.next++ % targets.length] as string;
      this.pending.set(target, (this.pending.get(target) ?? 0) + 1);
      const result = await this.attempt(target, incoming, outgoing, headers, body);
      this.pending.set(target, (this.pending.get(target) ?? 1) - 1);
      if (result === 'done') {
        this.stats.proxied++;
        return;
      }
      if (result === 'failed') break;
      this.stats.skipped++;
    }
    this.stats.badGateway++;
    if (!outgoing.headersSent) {
      outgoing.writeHead(502, { 'content-type': 'application/problem+json' });
      outgoing.end(
        JSON.stringify({ type: 'about:blank', title: 'Bad Gateway', status: 502, detail: 'upstream failed' }),
      );
    } else {
      outgoing.destroy();
    }
  }

  /** Requests in flight at `upstream`: a kill then lands mid-request. */
  inFlight(upstream: string): number {
    return this.pending.get(upstream) ?? 0;
  }

  /** 'refused': nothing reached the upstream; 'failed': it broke after the request went out. */
  private attempt(
    target: string,
    incoming: IncomingMessage,
    outgoing: ServerResponse,
    headers: Record<string, string | string[]>,
    body: Buffer,
  ): Promise<'done' | 'refused' | 'failed'> {
    return new Promise((resolve) => {
      const upstream = request(
        `${target}${incoming.url ?? '/'}`,
        { method: incoming.method, headers, agent: this.agent },
        (answer) => {
          const answered: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(answer.headers)) {
            if (value !== undefined && !HOP_BY_HOP.has(name)) answered[name] = value;
          }
          outgoing.writeHead(answer.statusCode ?? 502, answered);
          answer.pipe(outgoing);
          answer.on('end', () => resolve('done'));
          answer.on('error', () => resolve('failed'));
        },
      );
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        // Only a refused connect is certain to have sent nothing; like nginx, a POST that may
        // have reached the instance is not sent again elsewhere.
        resolve(error.code === 'ECONNREFUSED' && !outgoing.headersSent ? 'refused' : 'failed');
      });
      upstream.end(body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
    if (!this.server) return;
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}
