import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { FastifyBaseLogger } from 'fastify';
import { failureLogIntervalMs, ReportingExporter } from '../../src/observability/tracing/span-export.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { startOtlpGrpcReceiver, startOtlpHttpReceiver, type OtlpReceiver, type ReceivedSpan } from '../fixtures/otlp-receiver.js';
import { startScriptedUpstream } from '../fixtures/scripted-upstream.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * Tracing end to end: the real gateway in front of a real grpc-js upstream, exporting to a real
 * OTLP receiver on loopback (test/fixtures/otlp-receiver.ts), which decodes what arrives with
 * the OTLP protobuf definitions. Closing the gateway flushes its span batch, so each test reads
 * the spans after closing.
 */

const serverKind = 2;
const clientKind = 3;
const errorStatus = 2;

interface Traced {
  gateway: RunningGateway;
  upstream: EchoUpstream;
  receiver: OtlpReceiver;
}

async function withTracing(tracing: Record<string, unknown>, run: (stack: Traced) => Promise<void>, receiverKind: 'http' | 'grpc' = 'http'): Promise<void> {
  const receiver = receiverKind === 'http' ? await startOtlpHttpReceiver() : await startOtlpGrpcReceiver();
  await withTracingReceiver(receiver, run, tracing);
}

async function withTracingReceiver(receiver: OtlpReceiver, run: (stack: Traced) => Promise<void>, tracing: Record<string, unknown> = { enabled: true }): Promise<void> {
  const upstream = await startEchoUpstream();
  const gateway = await startGateway(stackConfig([echoService(upstream.address)], { tracing: { endpoint: receiver.endpoint, ...tracing } }));
  try {
    await run({ gateway, upstream, receiver });
  } finally {
    await gateway.close();
    await upstream.close();
    await receiver.close();
  }
}

const hexId = (bytes: number): string => randomBytes(bytes).toString('hex');

function traceparentOf(call: { metadata: grpc.Metadata } | undefined): string | undefined {
  return call?.metadata.get('traceparent')[0] as string | undefined;
}

function only(spans: readonly ReceivedSpan[], kind: number): ReceivedSpan {
  const matching = spans.filter((span) => span.kind === kind);
  assert.equal(matching.length, 1, `one span of kind ${kind}: ${JSON.stringify(spans.map((s) => s.name))}`);
  return matching[0]!;
}

/** The policy names of each upstream chain in force, outermost first. */
function chains(gateway: RunningGateway): string[][] {
  return [...gateway.gateway.live.current.clients.values()].map((client) => client.policies.map((policy) => policy.name));
}

function requestLines(gateway: RunningGateway, requestId: string): Record<string, unknown>[] {
  return gateway.logs.filter((line) => line['requestId'] === requestId);
}

describe('tracing', () => {
  it('makes a server span named by route template and a client span as its direct child, and the upstream receives the client span as traceparent', async () => {
    let requestId = '';
    let upstreamTraceparent: string | undefined;
    let gatewayPort = 0;
    let upstreamPort = 0;
    await withTracing({ enabled: true, serviceName: 'portico-test' }, async ({ gateway, upstream, receiver }) => {
      gatewayPort = gateway.port;
      upstreamPort = Number(upstream.address.split(':')[1]);
      assert.ok(chains(gateway).every((chain) => chain.at(-1) === 'client-spans'), 'the client spans are the last link before the channel');
      const response = await fetch(`${gateway.url}/v1/items/7`, { headers: { 'user-agent': 'tracing-test' } });
      assert.equal(response.status, 200);
      requestId = response.headers.get('x-request-id')!;
      upstreamTraceparent = traceparentOf(upstream.calls.find((call) => call.method === 'GetItem'));
      await gateway.close();
      await receiver.waitForSpans(2);

      const server = only(receiver.spans, serverKind);
      const client = only(receiver.spans, clientKind);
      assert.equal(server.name, 'GET /v1/items/{id}');
      assert.equal(server.parentSpanId, '', 'a request without traceparent starts a trace');
      assert.deepEqual(
        {
          method: server.attributes['http.request.method'],
          route: server.attributes['http.route'],
          status: server.attributes['http.response.status_code'],
          path: server.attributes['url.path'],
          scheme: server.attributes['url.scheme'],
          port: server.attributes['server.port'],
          userAgent: server.attributes['user_agent.original'],
          client: server.attributes['client.address'],
        },
        { method: 'GET', route: '/v1/items/{id}', status: 200, path: '/v1/items/7', scheme: 'http', port: gatewayPort, userAgent: 'tracing-test', client: '127.0.0.1' },
      );
      assert.equal(server.status.code, 0, 'a 200 leaves the status unset');

      assert.equal(client.name, 'acceptance.v1.EchoService/GetItem');
      assert.equal(client.traceId, server.traceId);
      assert.equal(client.parentSpanId, server.spanId, 'the client span is a direct child of the server span');
      assert.deepEqual(
        {
          system: client.attributes['rpc.system'],
          service: client.attributes['rpc.service'],
          method: client.attributes['rpc.method'],
          code: client.attributes['rpc.grpc.status_code'],
          address: client.attributes['server.address'],
          port: client.attributes['server.port'],
        },
        { system: 'grpc', service: 'acceptance.v1.EchoService', method: 'GetItem', code: 0, address: '127.0.0.1', port: upstreamPort },
      );
      assert.equal(upstreamTraceparent, `00-${server.traceId}-${client.spanId}-01`);
      assert.equal(server.resource['service.name'], 'portico-test');
      assert.equal(server.scope, 'portico');

      const lines = requestLines(gateway, requestId);
      assert.ok(lines.some((line) => line['msg'] === 'request completed'));
      for (const line of lines) assert.equal(line['traceId'], server.traceId, `every line of the request has the trace id: ${JSON.stringify(line)}`);
    });
  });

  it("continues a client's trace: same trace id, its span as the parent, its tracestate passed on", async () => {
    const traceId = hexId(16);
    const parentId = hexId(8);
    await withTracing({ enabled: true }, async ({ gateway, upstream, receiver }) => {
      const response = await fetch(`${gateway.url}/v1/items/1`, { headers: { traceparent: `00-${traceId}-${parentId}-01`, tracestate: 'vendor=opaque' } });
      assert.equal(response.status, 200);
      const call = upstream.calls.find((c) => c.method === 'GetItem');
      await gateway.close();
      await receiver.waitForSpans(2);
      const server = only(receiver.spans, serverKind);
      const client = only(receiver.spans, clientKind);
      assert.equal(server.traceId, traceId);
      assert.equal(server.parentSpanId, parentId);
      assert.equal(traceparentOf(call), `00-${traceId}-${client.spanId}-01`);
      assert.deepEqual(call?.metadata.get('tracestate'), ['vendor=opaque']);
    });
  });

  it("respects a client's sampled-out traceparent: no span is exported, and the upstream gets the trace with the gateway's span and flag 00", async () => {
    const traceId = hexId(16);
    const parentId = hexId(8);
    await withTracing({ enabled: true, sampleRatio: 1 }, async ({ gateway, upstream, receiver }) => {
      const response = await fetch(`${gateway.url}/v1/items/1`, { headers: { traceparent: `00-${traceId}-${parentId}-00` } });
      assert.equal(response.status, 200);
      const requestId = response.headers.get('x-request-id')!;
      const forwarded = traceparentOf(upstream.calls.find((c) => c.method === 'GetItem'));
      await gateway.close();
      const [version, forwardedTrace, forwardedSpan, flags] = forwarded!.split('-');
      assert.deepEqual([version, forwardedTrace, flags], ['00', traceId, '00']);
      assert.notEqual(forwardedSpan, parentId, "the gateway's own (unrecorded) span is the parent");
      assert.equal(receiver.spans.length, 0);
      assert.ok(requestLines(gateway, requestId).every((line) => line['traceId'] === traceId));
    });
  });

  it('samples new traces at sampleRatio: at 0 none is exported, yet each request still has a trace id and sends a traceparent', async () => {
    await withTracing({ enabled: true, sampleRatio: 0 }, async ({ gateway, upstream, receiver }) => {
      const response = await fetch(`${gateway.url}/v1/fail/5`);
      assert.equal(response.status, 404);
      const traceId = envelopeOf(await response.json()).traceId;
      await gateway.close();
      assert.match(String(traceId), /^[0-9a-f]{32}$/);
      assert.match(traceparentOf(upstream.calls.find((c) => c.method === 'Fail')) ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
      assert.equal(receiver.spans.length, 0);
    });
  });

  it("marks a 5xx answer's server span and a failed call's client span ERROR; the envelope and the error log line carry the trace id", async () => {
    await withTracing({ enabled: true }, async ({ gateway, receiver }) => {
      const response = await fetch(`${gateway.url}/v1/fail/13?message=disk%20on%20fire`);
      assert.equal(response.status, 500);
      const requestId = response.headers.get('x-request-id')!;
      const envelope = envelopeOf(await response.json());
      await gateway.close();
      await receiver.waitForSpans(2);
      const server = only(receiver.spans, serverKind);
      const client = only(receiver.spans, clientKind);
      assert.equal(server.name, 'GET /v1/fail/{code}');
      assert.equal(server.status.code, errorStatus);
      assert.equal(server.attributes['http.response.status_code'], 500);
      assert.equal(server.attributes['error.type'], '500');
      assert.equal(client.status.code, errorStatus);
      assert.equal(client.attributes['rpc.grpc.status_code'], grpc.status.INTERNAL);
      assert.equal(envelope.traceId, server.traceId);
      const warn = requestLines(gateway, requestId).find((line) => line['level'] === 40);
      assert.equal(warn?.['traceId'], server.traceId, 'the upstream failure line has the trace id');
    });
  });

  it('leaves the server span of a 4xx unset and names a request no route matched by its method alone', async () => {
    await withTracing({ enabled: true }, async ({ gateway, receiver }) => {
      const notFound = await fetch(`${gateway.url}/v1/fail/5`);
      assert.equal(notFound.status, 404, 'NOT_FOUND from the upstream');
      const unrouted = await fetch(`${gateway.url}/nowhere/at/all`);
      assert.equal(unrouted.status, 404);
      const unroutedEnvelope = envelopeOf(await unrouted.json());
      await gateway.close();
      await receiver.waitForSpans(3);
      const servers = receiver.spans.filter((span) => span.kind === serverKind);
      const byName = new Map(servers.map((span) => [span.name, span]));
      assert.deepEqual([...byName.keys()].sort(), ['GET', 'GET /v1/fail/{code}']);
      assert.equal(byName.get('GET /v1/fail/{code}')!.status.code, 0);
      assert.equal(byName.get('GET')!.attributes['http.route'], undefined);
      assert.equal(byName.get('GET')!.attributes['http.response.status_code'], 404);
      assert.equal(unroutedEnvelope.traceId, byName.get('GET')!.traceId);
      const client = only(receiver.spans, clientKind);
      assert.equal(client.status.code, errorStatus, 'NOT_FOUND is still a non-OK gRPC status');
    });
  });

  it('leaves probes and scrapes untraced: /healthz, /readyz and /metrics make no span', async () => {
    await withTracing({ enabled: true }, async ({ gateway, receiver }) => {
      for (const path of ['/healthz', '/readyz', '/metrics', '/healthz?verbose=1']) assert.equal((await fetch(`${gateway.url}${path}`)).status, 200, path);
      assert.equal((await fetch(`${gateway.url}/v1/items/7`)).status, 200);
      await gateway.close();
      await receiver.waitForSpans(2);
      assert.deepEqual(
        receiver.spans.filter((span) => span.kind === serverKind).map((span) => span.name),
        ['GET /v1/items/{id}'],
      );
    });
  });

  it('makes one client span per attempt when a retry calls again, each a child of the server span and each sent as the traceparent of its own call', async () => {
    const receiver = await startOtlpHttpReceiver();
    const upstream = await startScriptedUpstream((method, n) => (method === 'GetItem' && n === 1 ? { fail: grpc.status.UNAVAILABLE } : undefined));
    const gateway = await startGateway(
      stackConfig([{ ...echoService(upstream.address), retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 } }], { tracing: { enabled: true, endpoint: receiver.endpoint } }),
    );
    try {
      assert.equal((await fetch(`${gateway.url}/v1/items/3`)).status, 200);
      await gateway.close();
      await receiver.waitForSpans(3);
      const server = only(receiver.spans, serverKind);
      const attempts = receiver.spans.filter((span) => span.kind === clientKind);
      assert.equal(attempts.length, 2);
      assert.ok(attempts.every((span) => span.parentSpanId === server.spanId && span.name === 'acceptance.v1.EchoService/GetItem'));
      assert.deepEqual(attempts.map((span) => span.attributes['rpc.grpc.status_code']).sort(), [grpc.status.OK, grpc.status.UNAVAILABLE]);
      const sent = upstream.calls.map((call) => traceparentOf(call)?.split('-')[2]);
      assert.deepEqual(sent.sort(), attempts.map((span) => span.spanId).sort());
    } finally {
      await gateway.close();
      await upstream.close();
      await receiver.close();
    }
  });

  it('makes a client span for a server stream that ends with the stream', async () => {
    await withTracing({ enabled: true }, async ({ gateway, upstream, receiver }) => {
      const response = await fetch(`${gateway.url}/v1/stream?count=2`);
      assert.equal(response.status, 200);
      assert.equal((await response.text()).trim().split('\n').length, 2);
      const call = upstream.calls.find((c) => c.method === 'StreamItems');
      await gateway.close();
      await receiver.waitForSpans(2);
      const server = only(receiver.spans, serverKind);
      const client = only(receiver.spans, clientKind);
      assert.equal(server.name, 'GET /v1/stream');
      assert.equal(client.name, 'acceptance.v1.EchoService/StreamItems');
      assert.equal(client.parentSpanId, server.spanId);
      assert.equal(client.attributes['rpc.grpc.status_code'], grpc.status.OK);
      assert.equal(traceparentOf(call), `00-${server.traceId}-${client.spanId}-01`);
    });
  });

  it('exports over OTLP/gRPC too', async () => {
    await withTracing(
      { enabled: true, exporter: 'otlp-grpc' },
      async ({ gateway, receiver }) => {
        assert.equal((await fetch(`${gateway.url}/v1/items/1`)).status, 200);
        await gateway.close();
        await receiver.waitForSpans(2);
        assert.deepEqual(receiver.spans.map((span) => span.name).sort(), ['GET /v1/items/{id}', 'acceptance.v1.EchoService/GetItem']);
      },
      'grpc',
    );
  });

  it("off (the default): a client's traceparent reaches the upstream unchanged, nothing is exported and no trace id is added anywhere", async () => {
    const traceparent = `00-${hexId(16)}-${hexId(8)}-01`;
    await withTracing({}, async ({ gateway, upstream, receiver }) => {
      assert.ok(chains(gateway).every((chain) => !chain.includes('client-spans')), 'no tracing policy in the chain');
      const ok = await fetch(`${gateway.url}/v1/items/1`, { headers: { traceparent, tracestate: 'vendor=opaque' } });
      assert.equal(ok.status, 200);
      const call = upstream.calls.find((c) => c.method === 'GetItem');
      assert.equal(traceparentOf(call), traceparent);
      assert.deepEqual(call?.metadata.get('tracestate'), ['vendor=opaque']);
      const failed = await fetch(`${gateway.url}/v1/fail/13`);
      assert.equal(envelopeOf(await failed.json()).traceId, undefined);
      await gateway.close();
      assert.equal(receiver.requests, 0);
      assert.ok(gateway.logs.every((line) => !('traceId' in line)));
    });
  });

  it('serves requests while the collector is unreachable, and shuts down all the same', async () => {
    const unreachable = await startOtlpHttpReceiver();
    await unreachable.close();
    const upstream = await startEchoUpstream();
    const gateway = await startGateway(stackConfig([echoService(upstream.address)], { tracing: { enabled: true, endpoint: unreachable.endpoint } }));
    try {
      for (let i = 0; i < 5; i++) assert.equal((await fetch(`${gateway.url}/v1/items/${i}`)).status, 200);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });

  it('logs a collector refusing the spans, without failing a request', async () => {
    await withTracingReceiver(await startOtlpHttpReceiver({ rejectWith: 400 }), async ({ gateway, receiver }) => {
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${gateway.url}/v1/items/${i}`)).status, 200);
      await gateway.close();
      assert.equal(receiver.requests, 1, 'the spans of the three requests left in one batch');
      const failures = gateway.logs.filter((line) => String(line['msg']).startsWith('span export to the tracing collector failed'));
      assert.equal(failures.length, 1);
      assert.equal(failures[0]!['droppedSpans'], 6);
    });
  });
});

describe('span export failures', () => {
  /** A collector that always fails, and a clock the test moves. */
  function failingExport(): { exporter: ReportingExporter; lines: Record<string, unknown>[]; clock: { now: number } } {
    const lines: Record<string, unknown>[] = [];
    const log = { warn: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as FastifyBaseLogger;
    const failing: SpanExporter = {
      export: (_spans, done) => done({ code: ExportResultCode.FAILED, error: new Error('connect ECONNREFUSED') }),
      shutdown: async () => {},
    };
    const clock = { now: 0 };
    return { exporter: new ReportingExporter(failing, log, () => clock.now), lines, clock };
  }

  it('logs the first failure at once, then at most one line a minute with what failed since', () => {
    const { exporter, lines, clock } = failingExport();
    const results: number[] = [];
    const exportSpans = (count: number): void => exporter.export(new Array(count).fill({}) as ReadableSpan[], (result) => results.push(result.code));
    exportSpans(2);
    assert.equal(lines.length, 1);
    for (let second = 1; second < 60; second++) {
      clock.now = second * 1000;
      exportSpans(3);
    }
    assert.equal(lines.length, 1, 'a minute of failures after the first costs no line');
    clock.now = failureLogIntervalMs;
    exportSpans(1);
    assert.equal(lines.length, 2);
    assert.deepEqual({ failed: lines[1]!['failedExports'], dropped: lines[1]!['droppedSpans'] }, { failed: 60, dropped: 59 * 3 + 1 });
    assert.ok(results.every((code) => code === ExportResultCode.FAILED), 'the batch processor still hears of each failure');
  });
});
