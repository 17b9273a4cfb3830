import { defaultTextMapGetter, ROOT_CONTEXT, trace, type Context, type Span, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Metadata } from '@grpc/grpc-js';
import type { FastifyBaseLogger } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { TracingConfig } from '../../config/schema.js';
import { otlpExporter, ReportingExporter } from './span-export.js';

const metadataSetter: TextMapSetter<Metadata> = {
  set: (metadata, key, value) => metadata.set(key, value),
};

/**
 * The gateway's OpenTelemetry SDK, built once at start when `tracing.enabled`: a tracer
 * provider of its own (never registered as the global one, and with no context manager: the
 * two seams pass their contexts by hand), sampling new traces at `sampleRatio` and following a
 * caller's sampled flag (ParentBased(TraceIdRatioBased)). Spans are batched and exported in
 * the background; a full queue drops spans rather than holding a request.
 */
export class Tracing {
  readonly #provider: BasicTracerProvider;
  readonly #tracer: Tracer;
  readonly #propagator = new W3CTraceContextPropagator();

  constructor(config: TracingConfig, log: FastifyBaseLogger, exporter: SpanExporter = otlpExporter(config)) {
    // OTEL_RESOURCE_ATTRIBUTES (deployment.environment, k8s.pod.name …) join the resource; the configured name wins.
    const resource = defaultResource()
      .merge(detectResources({ detectors: [envDetector] }))
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }));
    this.#provider = new BasicTracerProvider({
      resource,
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
      spanProcessors: [new BatchSpanProcessor(new ReportingExporter(exporter, log))],
    });
    this.#tracer = this.#provider.getTracer('portico');
  }

  get tracer(): Tracer {
    return this.#tracer;
  }

  /** The caller's context from W3C traceparent/tracestate headers; ROOT_CONTEXT when absent or invalid. */
  extract(headers: IncomingHttpHeaders): Context {
    return this.#propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
  }

  /**
   * Makes `span` the upstream's parent: traceparent (and the tracestate it carries) replace
   * whatever a client sent, which metadata.forwardHeaders may have copied.
   */
  inject(span: Span, metadata: Metadata): void {
    metadata.remove('traceparent');
    metadata.remove('tracestate');
    this.#propagator.inject(trace.setSpan(ROOT_CONTEXT, span), metadata, metadataSetter);
  }

  /**
   * Exports what is buffered, then stops; waits `timeoutMs` at most, so that an unreachable
   * collector cannot hold up shutdown. A failed last export is already in the log.
   */
  async close(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([this.#provider.shutdown().catch(() => undefined), timeout]);
    clearTimeout(timer);
  }
}
