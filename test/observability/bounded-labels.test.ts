import assert from 'node:assert/strict';
import http from 'node:http';
import v8 from 'node:v8';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { codeName } from '../../src/errors/status-codes.js';
import { loadAcceptanceRegistry } from '../fixtures/echo-upstream.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../fixtures/scripted-upstream.js';
import { signToken, startGateway, testJwtSecret, type RunningGateway } from '../support/gateway.js';
import { exchange } from '../support/raw-socket.js';
import { parseExposition } from '../support/exposition.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * Metrics cost memory and Prometheus storage per distinct label value, so no value a client
 * chooses may ever become one. A real gateway in front of a real grpc-js upstream gets many
 * distinct ids in paths, unknown paths, query strings, request ids, methods the routes do not
 * take, malformed requests and tokens of many users; then every label value of its /metrics
 * must belong to a set fixed by the config and the code, and no id may appear anywhere.
 */

const distinct = Array.from({ length: 40 }, (_, i) => `zq${i}x${Math.random().toString(36).slice(2, 8)}`);
const users = distinct.map((id) => `user-${id}`);

let upstream: ScriptedUpstream;
let gw: RunningGateway;

before(async () => {
  // Every third GetItem fails UNAVAILABLE: retries, upstream codes and breaker series appear.
  upstream = await startScriptedUpstream((method, n) => (method === 'GetItem' && n % 3 === 0 ? { fail: grpc.status.UNAVAILABLE } : undefined));
  gw = await startGateway(
    stackConfig(
      [
        {
          ...echoService(upstream.address),
          auth: 'optional',
          retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 2 },
          circuitBreaker: { failureRatio: 0.3, minimumCalls: 5, windowMs: 2000, openMs: 500, halfOpenCalls: 1 },
          concurrency: { max: 50 },
        },
      ],
      { auth: { jwt: { secret: testJwtSecret } } },
    ),
  );
});

after(async () => {
  await gw?.close();
  await upstream?.close();
});

async function drive(): Promise<void> {
  const base = gw.url;
  await Promise.all(
    distinct.map(async (id, i) => {
      const user = { authorization: `Bearer ${signToken({ sub: users[i] })}`, 'x-request-id': `rid-${id}`, 'x-user-id': id };
      const requests: Array<[string, RequestInit]> = [
        [`/v1/items/${id}`, { headers: user }],
        [`/v1/items/${id}?q=${id}&${id}=1`, { headers: user }],
        [`/v1/shelves/${id}/items/${id}`, {}],
        [`/v1/projects/${id}/items/${id}`, {}],
        [`/v1/files/${id}/${id}.txt`, {}],
        [`/v1/items/${id}/tags?tag=${id}`, {}],
        [`/v1/items/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) }],
        [`/v1/items/${id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
        [`/v1/items/${id}`, { method: 'PROPFIND' }],
        [`/v1/items/${id}`, { headers: { authorization: `Bearer not.a.token-${id}` } }],
        [`/${id}`, {}],
        [`/v1/${id}/unknown/${id}?${id}`, { headers: user }],
        [`/v1/items/%zz${id}`, {}],
        [`/v1/fail/${id}`, {}],
        [`/docs/static/${id}.js`, {}],
        [`/healthz?${id}`, {}],
        [`/metrics?${id}=1`, {}],
      ];
      for (const [path, init] of requests) await (await fetch(base + path, init)).arrayBuffer();
    }),
  );
  // Requests Node's parser refuses never reach a route: a bad method name and broken framing.
  for (const id of distinct.slice(0, 5)) {
    await exchange(gw.port, `${id.toUpperCase()} /v1/items/${id} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await exchange(gw.port, `GET /v1/items/${id} HTTP/1.1\r\nHost: x\r\ncontent-length: ${id}\r\n\r\n`);
  }
  // An over-long header, with the id in the path of a method the routes take.
  await new Promise<void>((resolve) => {
    const request = http.get(`${base}/v1/items/${distinct[0]}`, { headers: { 'x-big': 'a'.repeat(20_000) } }, (response) => {
      response.resume();
      response.on('end', resolve);
    });
    request.on('error', () => resolve());
  });
}

/** For each label name, the values it may take; a label not listed here fails the test. */
function boundedValues(): Map<string, (value: string, metric: string) => boolean> {
  const service = loadAcceptanceRegistry().getService('acceptance.v1.EchoService')!;
  const rpcNames = new Set(service.methods.map((m) => m.name));
  const routeTemplates = new Set(gw.gateway.live.current.routes.table.entries.map((entry) => entry.value.label));
  const codeNames = new Set<string>(Array.from({ length: 17 }, (_, code) => codeName(code)));
  const heapSpaces = new Set(v8.getHeapSpaceStatistics().map((space) => space.space_name.replace(/_space$/, '')));
  const [major, minor, patch] = process.versions.node.split('.');
  const oneOf = (...values: string[]) => (value: string) => values.includes(value);
  const number = (value: string) => value === '+Inf' || Number.isFinite(Number(value));
  return new Map<string, (value: string, metric: string) => boolean>([
    // A Fastify route is a template registered at build time (/healthz, /docs/static/*, ...).
    ['route', (value) => value === 'unmatched' || routeTemplates.has(value) || gw.gateway.app.hasRoute({ method: 'GET', url: value })],
    ['method', (value, metric) => (metric.startsWith('portico_upstream_') ? rpcNames.has(value) : value === 'UNKNOWN' || http.METHODS.includes(value))],
    ['status', (value) => /^[1-5]\d\d$/.test(value)],
    ['code', (value) => codeNames.has(value)],
    ['service', oneOf('echo')],
    ['replica', oneOf(upstream.address)],
    ['state', oneOf('healthy', 'unhealthy', 'ejected', 'unknown')],
    ['reason', oneOf('CIRCUIT_OPEN', 'CONCURRENCY_LIMIT', 'NO_HEALTHY_UPSTREAM', 'OVERLOADED')],
    ['to', oneOf('closed', 'open', 'half-open')],
    ['scope', oneOf('global', 'service', 'method')],
    ['key', oneOf('ip', 'user', 'global')],
    ['result', oneOf('applied', 'rejected')],
    ['le', number],
    ['quantile', number],
    // prom-client's default metrics: GC kinds, V8 heap spaces, libuv resource types, Node's version.
    ['kind', oneOf('major', 'minor', 'incremental', 'weakcb')],
    ['space', (value) => heapSpaces.has(value)],
    ['type', (value) => /^[A-Z][A-Za-z0-9]+$/.test(value)],
    ['version', oneOf(process.version)],
    ['major', oneOf(major!)],
    ['minor', oneOf(minor!)],
    ['patch', oneOf(patch!)],
  ]);
}

describe('metric labels', () => {
  it('take only values from bounded sets, whatever paths, ids, queries and users the clients send', async () => {
    await drive();
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const { samples } = parseExposition(text);
    const bounded = boundedValues();
    const offending: string[] = [];
    for (const { name, labels } of samples) {
      for (const [label, value] of Object.entries(labels)) {
        const allowed = bounded.get(label);
        if (!allowed) offending.push(`${name}: label "${label}" has no bounded set in this test`);
        else if (!allowed(value, name)) offending.push(`${name}{${label}="${value}"}`);
      }
    }
    assert.deepEqual(offending, []);
    const leaked = distinct.filter((id) => text.includes(id));
    assert.deepEqual(leaked, [], 'no id, query or user reaches /metrics at all');
    // The traffic did reach the series the test is about.
    const routes = new Set(samples.filter((s) => s.name === 'portico_http_requests_total').map((s) => s.labels['route']));
    for (const route of ['/v1/items/{id}', '/v1/shelves/{inner.deep.value}/items/{id}', 'unmatched', '/healthz']) assert.ok(routes.has(route), `route ${route} was counted`);
    const codes = new Set(samples.filter((s) => s.name === 'portico_upstream_calls_total').map((s) => s.labels['code']));
    assert.ok(codes.has('OK') && codes.has('UNAVAILABLE'), 'upstream codes were counted');
    assert.ok(samples.some((s) => s.name === 'portico_upstream_retries_total'), 'retries were counted');
  });
});
