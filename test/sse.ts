/** A small Server-Sent Events client for tests: every frame, comments included, with its time. */

export interface SseFrame {
  event?: string;
  id?: string;
  data?: string;
  retry?: number;
  /** A comment line (`: ...`), e.g. a heartbeat. */
  comment?: string;
  /** performance.now() when the frame arrived. */
  at: number;
}

export class SseClient {
  private buffer = '';
  private readonly frames: SseFrame[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    void this.pump();
  }

  /** Opens the stream; rejects unless it answers 200 text/event-stream. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: abort.signal,
    });
    if (response.status !== 200 || !response.headers.get('content-type')?.startsWith('text/event-stream')) {
      const body = await response.text();
      throw new Error(`${url}: ${response.status} ${body}`);
    }
    return new SseClient(response, abort);
  }

  /** The next frame matching `accept` (others are skipped), or a rejection after `timeoutMs`. */
  async next(accept: (frame: SseFrame) => boolean = (f) => f.event !== undefined, timeoutMs = 5_000) {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.frames.length > 0) {
        const frame = this.frames.shift() as SseFrame;
        if (accept(frame)) return frame;
      }
      if (this.ended) throw new Error('the stream ended');
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The next named event (`snapshot`, `change`), data parsed. */
  async nextEvent(timeoutMs = 5_000) {
    const frame = await this.next((f) => f.event !== undefined, timeoutMs);
    return { ...frame, json: JSON.parse(frame.data ?? 'null') as Record<string, unknown> };
  }

  /** Resolves if nothing named arrives within `ms` (the stream stays quiet). */
  async quiet(ms: number): Promise<SseFrame | undefined> {
    try {
      return await this.next((f) => f.event !== undefined, ms);
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.abort.abort();
  }

  private async pump(): Promise<void> {
    const reader = this.response.body?.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = (await reader?.read()) ?? { done: true, value: undefined };
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        let end = this.buffer.indexOf('\n\n');
        while (end >= 0) {
          this.frames.push(parseFrame(this.buffer.slice(0, end)));
          this.buffer = this.buffer.slice(end + 2);
          end = this.buffer.indexOf('\n\n');
        }
        this.wake();
      }
    } catch {
      // aborted by close()
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}

function parseFrame(block: string): SseFrame {
  const frame: SseFrame = { at: performance.now() };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) frame.comment = line.slice(1).trim();
    const [, field, value = ''] = /^(\w+): ?(.*)$/.exec(line) ?? [];
    if (field === 'event') frame.event = value;
    else if (field === 'id') frame.id = value;
    else if (field === 'data') data.push(value);
    else if (field === 'retry') frame.retry = Number(value);
  }
  if (data.length > 0) frame.data = data.join('\n');
  return frame;
}
