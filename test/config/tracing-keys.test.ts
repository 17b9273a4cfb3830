import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configProblems, normaliseRaw } from '../support/config.js';

/* The tracing keys: defaults and what validation refuses. */

const load = normaliseRaw;
const problemsOf = configProblems;

describe('tracing keys', () => {
  test('default to off, OTLP/HTTP, every new trace sampled, service name portico and no endpoint (the exporter then reads OTEL_EXPORTER_OTLP_*)', () => {
    assert.deepEqual(load({}).tracing, { enabled: false, exporter: 'otlp-http', sampleRatio: 1, serviceName: 'portico' });
  });

  test('take an otlp-grpc exporter, a base URL and a ratio', () => {
    const tracing = { enabled: true, exporter: 'otlp-grpc', endpoint: 'http://otel-collector:4317', sampleRatio: 0.05, serviceName: 'edge' };
    assert.deepEqual(load({ tracing }).tracing, tracing);
  });

  test('refuse an unknown exporter, a ratio outside 0-1, an endpoint that is not an http(s) URL and unknown keys', () => {
    const problems = problemsOf({ tracing: { exporter: 'zipkin', sampleRatio: 1.5, endpoint: 'otel-collector:4318', sampler: 'always_on' } }).join('\n');
    for (const key of ['tracing.exporter', 'tracing.sampleRatio', 'tracing.endpoint', 'sampler']) assert.match(problems, new RegExp(key.replace('.', '\\.')), problems);
  });
});
