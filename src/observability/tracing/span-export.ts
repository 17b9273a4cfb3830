import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { FastifyBaseLogger } from 'fastify';
import type { TracingConfig } from '../../config/schema.js';

/** How often, at most, a failing collector is reported in the log. */
export const failureLogIntervalMs = 60_000;

/**
 * The OTLP exporter of `tracing.exporter`. `endpoint` is a base URL, as
 * OTEL_EXPORTER_OTLP_ENDPOINT is: otlp-http posts to <endpoint>/v1/traces, otlp-grpc calls the
 * TraceService there. Without it the exporter reads its OTEL_EXPORTER_OTLP_* variables.
 */
export function otlpExporter(config: TracingConfig): SpanExporter {
  const base = config.endpoint?.replace(/\/+$/, '');
  if (config.exporter === 'otlp-grpc') return new GrpcTraceExporter(base === undefined ? {} : { url: base });
  return new ProtoTraceExporter(base === undefined ? {} : { url: `${base}/v1/traces` });
}

/**
 * An exporter that reports its failures to the gateway's log: the first at once, then one
 * line a minute at most with the count since the last line, so an unreachable collector costs
 * a log line a minute, never one per batch or per request. Spans of a failed batch are
 * dropped (the OTLP exporter has already retried what can be retried).
 */
export class ReportingExporter implements SpanExporter {
  #lastReport = -Infinity;
  #failedSinceReport = 0;
  #droppedSinceReport = 0;

  constructor(
    private readonly inner: SpanExporter,
    private readonly log: FastifyBaseLogger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.#failed(spans.length, result.error);
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  #failed(spans: number, err: Error | undefined): void {
    this.#failedSinceReport++;
    this.#droppedSinceReport += spans;
    const now = this.now();
    if (now - this.#lastReport < failureLogIntervalMs) return;
    this.log.warn(
      { err: err && { type: err.name, message: err.message }, failedExports: this.#failedSinceReport, droppedSpans: this.#droppedSinceReport },
      'span export to the tracing collector failed; the spans are dropped (logged at most once a minute)',
    );
    this.#lastReport = now;
    this.#failedSinceReport = 0;
    this.#droppedSinceReport = 0;
  }
}
