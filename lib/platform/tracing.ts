/**
 * Traces (OpenTelemetry): a booking's trace runs from its HTTP request into the Kafka command's
 * headers (W3C `traceparent`), through the processor's decision, the outcome's headers and the
 * projector, and back to the waiting `book` request as an event on its span. Off unless
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (or a test installs an exporter): then nothing records,
 * and the hot path only asks `tracing.on`.
 */
import {
  type Attributes,
  type Context,
  context,
  type Link,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

const tracer = trace.getTracer('seatrush');

/** Whether spans are recorded in this process; read on every request, so a plain field. */
export const tracing = { on: false };

let provider: { shutdown(): Promise<void> } | undefined;

/**
 * Starts recording, exporting to `exporter` (a test's in-memory one, at once), or over OTLP/HTTP to
 * OTEL_EXPORTER_OTLP_ENDPOINT in batches. Once per process. The SDK is loaded only then: a
 * process that does not trace never loads it.
 */
export async function startTracing(serviceName: string, exporter?: SpanExporter): Promise<void> {
  if (provider) return;
  const { registerTracerProvider } = await import('./tracing-sdk.ts');
  provider = registerTracerProvider(serviceName, exporter);
  tracing.on = true;
}

/** Sends what is recorded and stops (on shutdown). */
export async function stopTracing(): Promise<void> {
  await provider?.shutdown();
  provider = undefined;
  tracing.on = false;
}

/** Headers as Kafka gives them: values may be buffers. */
type Carrier = Record<string, string | Buffer | (string | Buffer)[] | undefined>;

const carrierGetter = {
  keys: (carrier: Carrier) => Object.keys(carrier),
  get: (carrier: Carrier, key: string) => {
    const value = carrier[key];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : String(first);
  },
};

/** The trace context `headers` carry (an HTTP request's or a Kafka message's); none: the root. */
export function contextFrom(headers: Carrier): Context {
  return propagation.extract(context.active(), headers, carrierGetter);
}

/** The active trace context as headers to send along (`traceparent`); none while tracing is off. */
export function traceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  if (tracing.on) propagation.inject(context.active(), headers);
  return headers;
}

/** A span's links to the contexts of the messages a batch carries (one per message that has one). */
export function linksTo(contexts: readonly Context[]): Link[] {
  return contexts.flatMap((each) => {
    const spanContext = trace.getSpanContext(each);
    return spanContext ? [{ context: spanContext }] : [];
  });
}

/**
 * Runs `work` in a new span (a child of `parent`, else of the active context), ended when it
 * settles; an error marks the span and is rethrown.
 */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; links?: Link[]; parent?: Context },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, links: options.links },
    options.parent ?? context.active(),
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** A message's own span in a batch: the headers that carry it on to the next message, and its end. */
export interface MessageSpan {
  /** To send with the message this one leads to (`traceparent`), so its trace goes on. */
  headers: Record<string, string>;
  end(attributes?: Attributes): void;
}

const UNTRACED: MessageSpan = { headers: {}, end: () => {} };

/**
 * A span for one message of a batch being handled: a child of the context the message's headers
 * carry (the trace of the request that sent it), linked with the batch's span (the active one),
 * which gets a link to it in turn: one trace per booking, across the batches it passed through.
 */
export function messageSpan(name: string, messageHeaders: Carrier, attributes?: Attributes): MessageSpan {
  if (!tracing.on) return UNTRACED;
  const batch = trace.getActiveSpan();
  const parent = contextFrom(messageHeaders);
  const span = tracer.startSpan(
    name,
    { kind: SpanKind.CONSUMER, attributes, links: batch ? [{ context: batch.spanContext() }] : [] },
    parent,
  );
  const sent = trace.getSpanContext(parent);
  if (batch && sent) batch.addLink({ context: sent });
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), headers);
  return {
    headers,
    end: (endAttributes) => {
      if (endAttributes) span.setAttributes(endAttributes);
      span.end();
    },
  };
}

/** The active span's ids, for a log line. */
export function activeTraceIds(): { traceId: string; spanId: string } | undefined {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && { traceId: spanContext.traceId, spanId: spanContext.spanId };
}

export { SpanKind, trace };
