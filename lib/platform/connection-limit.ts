import type { Services } from '../services.ts';
import { ApiError } from './errors.ts';
import { metrics } from './metrics.ts';

/** What a client told "too many" waits before trying again; streams close as their clients leave. */
const RETRY_AFTER_S = 5;

/**
 * Caps on connections that stay open (the seat and queue streams), counted in this process's memory: at
 * most `perAddress` from one client address and `perProcess` in all, 0 meaning no cap. Counting in
 * memory costs no round trip and cannot leak a slot when a process dies (its connections die with
 * it); the price is that several processes each allow `perAddress`.
 */
export class ConnectionLimiter {
  private openInAll = 0;
  private readonly openByAddress = new Map<string, number>();

  constructor(private readonly caps: { perProcess: number; perAddress: number }) {}

  /** Connections open now. */
  get open(): number {
    return this.openInAll;
  }

  /**
   * Takes a slot for a connection from `address`, or throws a 429 problem with Retry-After when a
   * cap is reached (nothing taken). The slot is given back by the returned function, once however
   * often it is called.
   */
  acquire(address: string): () => void {
    const { perProcess, perAddress } = this.caps;
    const fromAddress = this.openByAddress.get(address) ?? 0;
    if (perAddress > 0 && fromAddress >= perAddress) {
      throw tooMany(`At most ${perAddress} live streams may be open from one address; close one first.`);
    }
    if (perProcess > 0 && this.openInAll >= perProcess) {
      throw tooMany(`This server has its most live streams open (${perProcess}); retry shortly.`);
    }
    this.openInAll += 1;
    this.openByAddress.set(address, fromAddress + 1);
    metrics.streamsOpen.inc();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.openInAll -= 1;
      metrics.streamsOpen.dec();
      const left = (this.openByAddress.get(address) ?? 1) - 1;
      if (left > 0) this.openByAddress.set(address, left);
      else this.openByAddress.delete(address);
    };
  }
}

function tooMany(detail: string): ApiError {
  metrics.rateLimitRefusals.inc({ limiter: 'streams' });
  return new ApiError('RATE_LIMITED', { detail, headers: { 'retry-after': String(RETRY_AFTER_S) } });
}

const streamLimiters = new WeakMap<Services, ConnectionLimiter>();

/**
 * The process's open Server-Sent Event streams, of every kind, capped by SSE_MAX_PER_PROCESS and
 * SSE_MAX_PER_ADDRESS (one limiter per Services).
 */
export function openStreams(services: Services): ConnectionLimiter {
  let limiter = streamLimiters.get(services);
  if (!limiter) {
    const { SSE_MAX_PER_PROCESS, SSE_MAX_PER_ADDRESS } = services.config;
    limiter = new ConnectionLimiter({ perProcess: SSE_MAX_PER_PROCESS, perAddress: SSE_MAX_PER_ADDRESS });
    streamLimiters.set(services, limiter);
  }
  return limiter;
}
