import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { defineAclRoute, type BoundedContext } from '../../src/contexts/acl-route.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { probeIncludeDir, probeMethod, probeProtoFile, ProbeService, startProbeBackend, type ProbeBackend } from '../support/probe-backend.js';

/*
 * What the client reads and what the log keeps when an upstream call fails: grpc-js's own
 * words for transport failures (addresses, method paths) stay in the log, and an upstream's
 * failure is one warn line without a stack, while the gateway's own failures keep theirs.
 */

const fail = probeMethod(ProbeService, 'Fail');

/** Route modules over ProbeService.Fail: one with a message override, one whose mapping throws. */
const thingsContext: BoundedContext = {
  name: 'things',
  prefix: '/v1/things',
  service: 'probe',
  routes: [
    defineAclRoute({
      method: 'GET',
      url: '/resting',
      summary: 'Fails UNAVAILABLE, with an override of the message',
      auth: 'none',
      schema: {},
      rpc: fail,
      toRequest: () => ({ code: grpc.status.UNAVAILABLE, message: 'pool of db-host=10.0.0.7 drained' }),
      reply: fail.output,
      toReply: (response) => response,
      errors: { UNAVAILABLE: 'things are resting, try again later' },
    }),
    defineAclRoute({
      method: 'GET',
      url: '/broken',
      summary: 'A mapping that throws',
      auth: 'none',
      schema: {},
      rpc: fail,
      toRequest: () => {
        throw new Error('mapping exploded');
      },
      reply: fail.output,
      toReply: (response) => response,
    }),
  ],
};

let backend: ProbeBackend;
/** A grpc-js server with no service at all: every method is unimplemented. */
let bare: grpc.Server;
let gw: RunningGateway;
/** A gateway whose upstream's port is closed. */
let unreachable: RunningGateway;

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function probeConfig(probeAddress: string, slowAddress: string) {
  return testConfig({
    protos: { includeDirs: [probeIncludeDir] },
    services: [
      { name: 'probe', protoFiles: [probeProtoFile], service: 'probe.v1.ProbeService', address: probeAddress, timeoutMs: 5000 },
      { name: 'slow', protoFiles: [probeProtoFile], service: 'probe.v1.SlowService', address: slowAddress },
    ],
  });
}

before(async () => {
  backend = await startProbeBackend();
  bare = new grpc.Server();
  const barePort = await new Promise<number>((resolve, reject) => {
    bare.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
  gw = await startGateway(probeConfig(backend.address, `127.0.0.1:${barePort}`), { contexts: [thingsContext] });
  const closed = `127.0.0.1:${await closedPort()}`;
  unreachable = await startGateway(probeConfig(closed, closed));
});

after(async () => {
  await gw?.close();
  await unreachable?.close();
  await backend?.close();
  bare?.forceShutdown();
});

async function call(target: RunningGateway, path: string, requestId: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${target.url}${path}`, { headers: { 'x-request-id': requestId, ...headers } });
  const text = await response.text();
  return { status: response.status, text, error: envelopeOf(JSON.parse(text)) };
}

/** The gateway's log lines of one request, the access line left out. */
function errorLines(target: RunningGateway, requestId: string): Record<string, unknown>[] {
  return target.logs.filter((line) => line['requestId'] === requestId && line['msg'] !== 'request completed');
}

/** Words of grpc-js and of the network that must not reach a client. */
const transportText = /127\.0\.0\.1|remote_addr|ECONNREFUSED|does not implement the method|probe\.v1|deadline exceeded after|No connection established/i;

describe('transport failures', () => {
  it('answers DEADLINE_EXCEEDED with the gateway’s message; grpc-js’s text stays in the log', async () => {
    const { status, text, error } = await call(gw, '/v1/wait?delayMs=10000', 'transport-deadline', { 'grpc-timeout': '50m' });
    assert.equal(status, 504);
    assert.equal(error.status, 'DEADLINE_EXCEEDED');
    assert.equal(error.message, 'the upstream service did not answer in time');
    assert.doesNotMatch(text, transportText);
    const [line] = errorLines(gw, 'transport-deadline');
    assert.match(String(line?.['upstreamMessage']), /deadline/i);
  });

  it('answers UNAVAILABLE with the gateway’s message, without the address it could not reach', async () => {
    const { status, text, error } = await call(unreachable, '/v1/probe/x', 'transport-unavailable');
    assert.equal(status, 503);
    assert.equal(error.status, 'UNAVAILABLE');
    assert.equal(error.message, 'the upstream service is unavailable');
    assert.doesNotMatch(text, transportText);
    const [line] = errorLines(unreachable, 'transport-unavailable');
    assert.ok(typeof line?.['upstreamMessage'] === 'string' && line['upstreamMessage'] !== '', JSON.stringify(line));
  });

  it('answers UNIMPLEMENTED with the gateway’s message, without the method path', async () => {
    const { status, text, error } = await call(gw, '/v1/slow?delayMs=1', 'transport-unimplemented');
    assert.equal(status, 501);
    assert.equal(error.status, 'UNIMPLEMENTED');
    assert.equal(error.message, 'the upstream service does not implement this method');
    assert.doesNotMatch(text, transportText);
    const [line] = errorLines(gw, 'transport-unimplemented');
    assert.match(String(line?.['upstreamMessage']), /probe\.v1\.SlowService\/Slow/);
  });

  it('keeps the upstream’s own message for other codes', async () => {
    const { status, error } = await call(gw, '/v1/fail/9?message=stock+is+low', 'transport-other');
    assert.equal(status, 400);
    assert.equal(error.message, 'stock is low');
  });
});

describe('logging of failures', () => {
  it('logs an upstream 5xx as one warn line with its code and message, without a stack', async () => {
    const secret = 'pool of db-host=10.0.0.7 drained';
    const { status } = await call(gw, `/v1/fail/13?message=${encodeURIComponent(secret)}`, 'log-upstream-5xx');
    assert.equal(status, 500);
    const lines = errorLines(gw, 'log-upstream-5xx');
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const [line] = lines as [Record<string, unknown>];
    assert.equal(line['level'], 40);
    assert.equal(line['upstreamCode'], 'INTERNAL');
    assert.equal(line['upstreamMessage'], secret);
    assert.equal(line['err'], undefined);
    assert.doesNotMatch(JSON.stringify(line), /\n\s+at /);
  });

  it('still logs it as the upstream’s failure when a route module overrides the message', async () => {
    const { status, error } = await call(gw, '/v1/things/resting', 'log-override');
    assert.equal(status, 503);
    assert.equal(error.message, 'things are resting, try again later');
    const lines = errorLines(gw, 'log-override');
    assert.deepEqual(
      lines.map((l) => [l['level'], l['upstreamCode'], l['upstreamMessage']]),
      [[40, 'UNAVAILABLE', 'pool of db-host=10.0.0.7 drained']],
    );
  });

  it('logs the gateway’s own failure at error, with the stack', async () => {
    const { status } = await call(gw, '/v1/things/broken', 'log-gateway-bug');
    assert.equal(status, 500);
    const lines = errorLines(gw, 'log-gateway-bug');
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const err = lines[0]!['err'] as { message?: string; stack?: string } | undefined;
    assert.equal(lines[0]!['level'], 50);
    assert.equal(err?.message, 'mapping exploded');
    assert.match(err?.stack ?? '', /\n\s+at /);
  });

  it('logs an upstream 4xx at debug only', async () => {
    const { status } = await call(gw, '/v1/fail/5?message=no+such+thing', 'log-upstream-4xx');
    assert.equal(status, 404);
    assert.deepEqual(
      errorLines(gw, 'log-upstream-4xx').map((l) => l['level']),
      [20],
    );
  });
});
