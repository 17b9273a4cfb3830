import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineAclRoute, type BoundedContext } from '../../src/contexts/acl-route.js';
import { signToken, startGateway, testConfig, testJwtSecret, type RunningGateway } from '../support/gateway.js';
import { envelopeOf, rawRequest } from '../support/http.js';
import { probeIncludeDir, probeMethod, probeProtoFile, ProbeService, startProbeBackend, type ProbeBackend } from '../support/probe-backend.js';

/*
 * The cross-cutting concerns every request goes through, end to end: request ids, metadata,
 * identity, logging, CORS, routing errors, crash isolation, deadlines, cancellation, health
 * and metrics. A real grpc-js upstream on loopback, real HTTP over a socket.
 */

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const allowedOrigin = 'http://app.example';

const echo = probeMethod(ProbeService, 'Echo');

/** A route module whose request mapping throws: a bug in hand-written code. */
const brokenContext: BoundedContext = {
  name: 'broken',
  prefix: '/v1/broken',
  service: 'probe',
  routes: [
    defineAclRoute({
      method: 'GET',
      url: '/',
      summary: 'A route whose mapping throws',
      auth: 'none',
      schema: {},
      rpc: echo,
      toRequest: () => {
        throw new Error('mapping exploded near SELECT secret FROM vault');
      },
      reply: echo.output,
      toReply: (response) => response,
    }),
  ],
};

let backend: ProbeBackend;
let gw: RunningGateway;

before(async () => {
  backend = await startProbeBackend();
  const config = testConfig({
    protos: { includeDirs: [probeIncludeDir] },
    services: [
      { name: 'probe', protoFiles: [probeProtoFile], service: 'probe.v1.ProbeService', address: backend.address, auth: 'optional', timeoutMs: 5000 },
      { name: 'slow', protoFiles: [probeProtoFile], service: 'probe.v1.SlowService', address: backend.address, timeoutMs: 100 },
    ],
    cors: { origins: [allowedOrigin] },
    auth: { jwt: { secret: testJwtSecret } },
    // Hop-by-hop names and the identity key are listed on purpose: listing them must not let them through.
    metadata: { forwardHeaders: ['accept-language', 'te', 'upgrade', 'connection', 'keep-alive', 'x-user-id', 'x-request-id'] },
  });
  gw = await startGateway(config, { contexts: [brokenContext] });
});

after(async () => {
  await gw?.close();
  await backend?.close();
});

interface EchoReply {
  id: string;
  metadata: Record<string, string>;
}

async function echoCall(id: string, headers: Record<string, string> = {}): Promise<{ response: Response; body: EchoReply }> {
  const response = await fetch(`${gw.url}/v1/probe/${id}`, { headers });
  assert.equal(response.status, 200, `GET /v1/probe/${id} answered ${response.status}`);
  return { response, body: (await response.json()) as EchoReply };
}

/** The server-side record of the last call, checked to be the one for `id`. */
function lastCall(method: string) {
  const call = backend.calls.at(-1);
  assert.ok(call, 'the upstream received no call');
  assert.equal(call.method, method);
  return call;
}

function accessLine(requestId: string): Record<string, unknown> {
  const line = gw.logs.find((l) => l['msg'] === 'request completed' && l['requestId'] === requestId);
  assert.ok(line, `no access log line for request ${requestId}`);
  return line;
}

describe('X-Request-ID', () => {
  it('keeps a valid client id: echoed in the response, forwarded once as metadata and logged', async () => {
    const id = 'req-2024.06.03:abc_DEF-9';
    const { response, body } = await echoCall('rid-1', { 'x-request-id': id });
    assert.equal(response.headers.get('x-request-id'), id);
    assert.equal(body.metadata['x-request-id'], id);
    assert.deepEqual(lastCall('Echo').metadata.get('x-request-id'), [id]);
    assert.equal(accessLine(id)['requestId'], id);
  });

  for (const [label, invalid] of [
    ['200 characters long', 'a'.repeat(200)],
    ['containing spaces', 'not a valid id'],
    ['containing a slash', 'abc/def'],
  ] as const) {
    it(`replaces a client id ${label} with a generated one, used everywhere instead`, async () => {
      const { response, body } = await echoCall('rid-2', { 'x-request-id': invalid });
      const generated = response.headers.get('x-request-id');
      assert.match(generated ?? '', uuid);
      assert.notEqual(generated, invalid);
      assert.equal(body.metadata['x-request-id'], generated);
      assert.deepEqual(lastCall('Echo').metadata.get('x-request-id'), [generated]);
      accessLine(generated!);
    });
  }

  it('generates a distinct id per request when the client sends none', async () => {
    const first = await echoCall('rid-3');
    const second = await echoCall('rid-4');
    const ids = [first.response.headers.get('x-request-id'), second.response.headers.get('x-request-id')];
    for (const id of ids) assert.match(id ?? '', uuid);
    assert.notEqual(ids[0], ids[1]);
    assert.equal(second.body.metadata['x-request-id'], ids[1]);
  });

  it('puts the request id into error envelopes too', async () => {
    const response = await fetch(`${gw.url}/v1/nowhere`, { headers: { 'x-request-id': 'trace-404' } });
    const error = envelopeOf(await response.json());
    assert.equal(response.headers.get('x-request-id'), 'trace-404');
    assert.equal(error.requestId, 'trace-404');
  });
});

describe('request headers to gRPC metadata', () => {
  it('forwards allow-listed headers but never hop-by-hop or unlisted ones', async () => {
    const res = await rawRequest(`${gw.url}/v1/probe/hdr`, {
      headers: {
        'accept-language': 'fr-CH, fr;q=0.9',
        te: 'trailers',
        upgrade: 'h2c',
        'keep-alive': 'timeout=5',
        'x-secret': 'do-not-forward',
      },
    });
    assert.equal(res.status, 200, res.body);
    const { metadata } = JSON.parse(res.body) as EchoReply;
    assert.equal(metadata['accept-language'], 'fr-CH, fr;q=0.9');
    for (const name of ['te', 'upgrade', 'keep-alive', 'connection', 'x-secret', 'authorization', 'host']) {
      assert.equal(metadata[name], undefined, `${name} reached the upstream as metadata`);
    }
    const received = lastCall('Echo').metadata;
    for (const name of ['te', 'upgrade', 'keep-alive', 'x-secret']) assert.deepEqual(received.get(name), [], name);
  });

  it('forwards the verified JWT subject as x-user-id, and a client header cannot replace it', async () => {
    const token = signToken({ sub: 'alice' });
    const { body } = await echoCall('who', { authorization: `Bearer ${token}`, 'x-user-id': 'mallory' });
    assert.equal(body.metadata['x-user-id'], 'alice');
    assert.deepEqual(lastCall('Echo').metadata.get('x-user-id'), ['alice']);
  });

  it('never forwards a client-sent x-user-id when the caller is anonymous', async () => {
    const { body } = await echoCall('anon', { 'x-user-id': 'mallory' });
    assert.equal(body.metadata['x-user-id'], undefined);
    assert.deepEqual(lastCall('Echo').metadata.get('x-user-id'), []);
  });

  it('never forwards a client-sent x-user-id when the verified token has no sub claim', async () => {
    const token = signToken({ scope: 'read' });
    const { body } = await echoCall('nosub', { authorization: `Bearer ${token}`, 'x-user-id': 'mallory' });
    assert.equal(body.metadata['x-user-id'], undefined);
  });
});

describe('logging', () => {
  it('writes one access line per request with route template, status, latency, upstream code and request id', async () => {
    await echoCall('log-me', { 'x-request-id': 'access-line-1' });
    const lines = gw.logs.filter((l) => l['requestId'] === 'access-line-1' && l['msg'] === 'request completed');
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.equal(line['route'], '/v1/probe/{id}');
    assert.equal(line['method'], 'GET');
    assert.equal(line['status'], 200);
    assert.equal(line['upstreamCode'], 'OK');
    assert.equal(typeof line['latencyMs'], 'number');
    assert.ok((line['latencyMs'] as number) >= 0);
  });

  it('never logs the Authorization header or the token, valid or not', async () => {
    const valid = signToken({ sub: 'log-check' });
    const forged = signToken({ sub: 'log-check' }, { key: 'some-other-secret-of-enough-length' });
    await echoCall('auth-log', { authorization: `Bearer ${valid}`, 'x-request-id': 'auth-log-1' });
    const rejected = await fetch(`${gw.url}/v1/probe/auth-log`, { headers: { authorization: `Bearer ${forged}`, 'x-request-id': 'auth-log-2' } });
    assert.equal(rejected.status, 401);
    await fetch(`${gw.url}/v1/broken`, { headers: { authorization: `Bearer ${valid}`, 'x-request-id': 'auth-log-3' } });
    accessLine('auth-log-1');
    accessLine('auth-log-2');
    accessLine('auth-log-3');
    const text = JSON.stringify(gw.logs);
    for (const token of [valid, forged]) {
      for (const part of token.split('.')) assert.ok(!text.includes(part), 'a token (or part of one) was logged');
    }
    assert.ok(!/bearer ey/i.test(text));
  });
});

describe('CORS', () => {
  it('grants a preflight from an allowed origin', async () => {
    const res = await rawRequest(`${gw.url}/v1/probe/1`, {
      method: 'OPTIONS',
      headers: { origin: allowedOrigin, 'access-control-request-method': 'GET' },
    });
    assert.ok(res.status === 204 || res.status === 200, `preflight answered ${res.status}`);
    assert.equal(res.headers['access-control-allow-origin'], allowedOrigin);
    assert.match(String(res.headers['access-control-allow-methods']), /\bGET\b/);
  });

  it('answers a preflight from any other origin without a grant', async () => {
    const res = await rawRequest(`${gw.url}/v1/probe/1`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  it('grants the allowed origin on the actual request and exposes x-request-id', async () => {
    const { response } = await echoCall('cors', { origin: allowedOrigin });
    assert.equal(response.headers.get('access-control-allow-origin'), allowedOrigin);
    assert.match(response.headers.get('access-control-expose-headers') ?? '', /x-request-id/i);
  });
});

describe('routing errors', () => {
  it('answers an unknown path with a 404 envelope', async () => {
    const response = await fetch(`${gw.url}/v1/does-not-exist/42`);
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const error = envelopeOf(await response.json());
    assert.equal(error.code, 404);
    assert.equal(error.status, 'NOT_FOUND');
    assert.equal(error.requestId, response.headers.get('x-request-id'));
    assert.deepEqual(error.details, []);
  });

  it('answers a known path with another method with a 405 envelope and Allow', async () => {
    const response = await fetch(`${gw.url}/v1/probe/42`, { method: 'DELETE' });
    assert.equal(response.status, 405);
    const allow = (response.headers.get('allow') ?? '').split(/,\s*/);
    assert.ok(allow.includes('GET'), `Allow: ${allow.join(', ')}`);
    assert.ok(!allow.includes('DELETE'));
    const error = envelopeOf(await response.json());
    assert.equal(error.code, 405);
    assert.equal(error.status, 'UNIMPLEMENTED');
  });
});

describe('a handler that throws', () => {
  it('gives a generic 500 envelope, logs the cause, and the gateway keeps serving', async () => {
    const response = await fetch(`${gw.url}/v1/broken`, { headers: { 'x-request-id': 'crash-1' } });
    assert.equal(response.status, 500);
    const text = await response.text();
    const error = envelopeOf(JSON.parse(text));
    assert.equal(error.status, 'INTERNAL');
    assert.equal(error.message, 'internal error');
    assert.deepEqual(error.details, []);
    assert.ok(!text.includes('exploded') && !text.includes('SELECT'), 'the exception message reached the client');
    assert.ok(
      gw.logs.some((l) => l['requestId'] === 'crash-1' && l['level'] === 50 && JSON.stringify(l).includes('mapping exploded')),
      'the cause was not logged',
    );
    assert.equal(accessLine('crash-1')['status'], 500);

    const { body } = await echoCall('still-alive');
    assert.equal(body.id, 'still-alive');
  });
});

describe('deadlines and cancellation', () => {
  it('answers 504 DEADLINE_EXCEEDED when the upstream outlives the service timeoutMs', async () => {
    const started = performance.now();
    const response = await fetch(`${gw.url}/v1/slow?delay_ms=1000`, { headers: { 'x-request-id': 'deadline-1' } });
    const elapsed = performance.now() - started;
    assert.equal(response.status, 504);
    const error = envelopeOf(await response.json());
    assert.equal(error.status, 'DEADLINE_EXCEEDED');
    assert.equal(error.code, 504);
    assert.ok(elapsed < 800, `the gateway waited ${Math.round(elapsed)} ms instead of about 100`);
    assert.equal(accessLine('deadline-1')['upstreamCode'], 'DEADLINE_EXCEEDED');
  });

  it('shortens the deadline to a client grpc-timeout header', async () => {
    const started = performance.now();
    const response = await fetch(`${gw.url}/v1/wait?delay_ms=2000`, { headers: { 'grpc-timeout': '150m' } });
    assert.equal(response.status, 504);
    assert.ok(performance.now() - started < 1500);
  });

  for (const method of ['GET', 'POST'] as const) {
    it(`cancels the upstream call when the client of a ${method} disconnects mid-call, and logs it as 499`, async () => {
      const before = backend.calls.length;
      const requestId = `hang-up-${method}`;
      const req = http.request(`${gw.url}/v1/wait${method === 'GET' ? '?delay_ms=3000' : ''}`, {
        method,
        agent: false,
        headers: { 'x-request-id': requestId, ...(method === 'POST' && { 'content-type': 'application/json' }) },
      });
      req.on('error', () => {});
      req.end(method === 'POST' ? JSON.stringify({ delayMs: 3000 }) : undefined);
      await sleep(100);
      const call = backend.calls.slice(before).find((c) => c.method === 'Wait');
      assert.ok(call, 'the upstream call had not started 100 ms after the request');
      assert.equal(call.metadata.get('x-request-id')[0], requestId);
      const destroyedAt = Date.now();
      req.destroy();
      const cancelledAt = await Promise.race([call.cancelled, sleep(500).then(() => undefined)]);
      assert.ok(cancelledAt !== undefined, 'the upstream did not observe cancellation within 500 ms');
      assert.ok(cancelledAt - destroyedAt < 500);

      await sleep(50);
      const line = accessLine(requestId);
      assert.equal(line['status'], 499);
      assert.equal(line['upstreamCode'], 'CANCELLED');
      assert.equal(line['route'], '/v1/wait');
    });
  }
});

describe('health endpoints', () => {
  it('answers /healthz with 200', async () => {
    const response = await fetch(`${gw.url}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  it('answers /readyz with 200 while serving', async () => {
    const response = await fetch(`${gw.url}/readyz`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { status: string }).status, 'ready');
  });
});

describe('metrics', () => {
  it('labels HTTP requests by route template, never by the raw path', async () => {
    await echoCall('raw-id-7731');
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(text, /^portico_http_requests_total\{route="\/v1\/probe\/\{id\}",method="GET",status="200"\} \d+$/m);
    assert.ok(!text.includes('raw-id-7731'), 'a raw path reached a metric label');
    assert.match(text, /^portico_http_requests_total\{route="unmatched",method="GET",status="404"\} \d+$/m);
    assert.match(text, /^portico_http_request_duration_seconds_bucket\{le="[^"]+",route="\/v1\/probe\/\{id\}",method="GET",status="200"\} \d+$/m);
  });

  it('counts upstream calls by service, method and gRPC code', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const count = (labels: string): number => {
      const match = new RegExp(`^portico_upstream_calls_total\\{${labels}\\} (\\d+)$`, 'm').exec(text);
      return match ? Number(match[1]) : 0;
    };
    assert.ok(count('service="probe",method="Echo",code="OK"') >= 10);
    assert.ok(count('service="slow",method="Slow",code="DEADLINE_EXCEEDED"') >= 1);
    assert.ok(count('service="probe",method="Wait",code="CANCELLED"') >= 2);
    assert.match(text, /^portico_http_requests_total\{route="\/v1\/wait",method="POST",status="499"\} 1$/m);
  });

  it('with metrics.enabled false, serves no /metrics and still answers requests', async () => {
    const quiet = await startGateway(
      testConfig({
        protos: { includeDirs: [probeIncludeDir] },
        services: [{ name: 'probe', protoFiles: [probeProtoFile], service: 'probe.v1.ProbeService', address: backend.address }],
        metrics: { enabled: false },
      }),
    );
    try {
      assert.equal((await fetch(`${quiet.url}/v1/probe/no-metrics`)).status, 200);
      const metrics = await fetch(`${quiet.url}/metrics`);
      assert.equal(metrics.status, 404);
      assert.equal(envelopeOf(await metrics.json()).status, 'NOT_FOUND');
    } finally {
      await quiet.close();
    }
  });
});

describe('draining', () => {
  it('turns /readyz to 503 once draining starts, while /healthz stays 200', async () => {
    gw.gateway.readiness.startDraining();
    const ready = await fetch(`${gw.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { status: string }).status, 'draining');
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });
});
