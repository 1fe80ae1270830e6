/**
 * The OpenTelemetry SDK, loaded by `startTracing` only when a process traces (lib/platform/tracing.ts):
 * spans in batches over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, or at once to a test's exporter,
 * with W3C trace context propagation.
 */
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export function registerTracerProvider(serviceName: string, exporter?: SpanExporter): NodeTracerProvider {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [
      exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new OTLPTraceExporter()),
    ],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return provider;
}
