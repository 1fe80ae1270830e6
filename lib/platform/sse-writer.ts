import type { SSEStreamingApi } from 'hono/streaming';

/** How long a client waits before reconnecting (the SSE `retry` field). */
const RETRY_MS = 2_000;

export interface SseWriterOptions {
  heartbeatMs: number;
  /** Frames waiting for a client beyond this many: it is too slow, and its stream is closed. */
  maxQueued?: number;
  /** Called once when the stream closes, however it closes (the client left, too slow, done). */
  onClose(reason: 'closed' | 'too-slow'): void;
}

/**
 * The writing side of one Server-Sent Events stream, for the streams that stay open (seat maps,
 * places in line): frames queue in order while the client reads, a comment every `heartbeatMs`
 * keeps proxies from closing a quiet stream, and a client that falls `maxQueued` frames behind is
 * dropped (it reconnects and catches up). What was queued before `close()` is still sent.
 */
export class SseWriter {
  private readonly frames: string[] = [];
  private wake: (() => void) | undefined;
  private stream: SSEStreamingApi | undefined;
  closed = false;

  constructor(private readonly options: SseWriterOptions) {}

  /** Writes until the stream closes; resolves then. */
  async run(stream: SSEStreamingApi): Promise<void> {
    this.stream = stream;
    stream.onAbort(() => this.close());
    const heartbeat = setInterval(() => this.send(`: heartbeat ${Date.now()}\n\n`), this.options.heartbeatMs);
    try {
      await stream.write(`retry: ${RETRY_MS}\n\n`);
      for (;;) {
        const frame = this.frames.shift();
        if (frame !== undefined) {
          await stream.write(frame);
          continue;
        }
        if (this.closed) break;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      clearInterval(heartbeat);
      this.close();
    }
  }

  /** Queues one frame (`event:`/`id:`/`data:` lines and the blank line that ends it). */
  send(frame: string): void {
    if (this.closed) return;
    const { maxQueued } = this.options;
    if (maxQueued !== undefined && this.frames.length >= maxQueued) {
      this.frames.length = 0;
      this.close('too-slow');
      this.stream?.abort();
      return;
    }
    this.frames.push(frame);
    this.wakeUp();
  }

  close(reason: 'closed' | 'too-slow' = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.options.onClose(reason);
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** One frame of an event. */
export function sseFrame(event: string, data: string, id?: string): string {
  return id === undefined
    ? `event: ${event}\ndata: ${data}\n\n`
    : `event: ${event}\nid: ${id}\ndata: ${data}\n\n`;
}
