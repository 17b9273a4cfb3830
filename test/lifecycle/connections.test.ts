import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { exchange, RawClient, type SocketResponse } from '../support/raw-socket.js';
import { testConfig } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { startStack, type Stack } from '../transcoding-e2e/harness.js';

/*
 * What the gateway does with connections before a route runs: requests Node's parser refuses
 * or times out, and the Host header rules. Every test talks over a raw socket.
 */

const headersTimeoutMs = 200;
const requestTimeoutMs = 400;
let stack: Stack;
before(async () => {
  stack = await startStack({}, { server: { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs: 5000 } });
});
after(async () => {
  await stack.close();
});

/** Asserts the envelope with the status pair, its request id equal to X-Request-ID; returns that id. */
function assertSocketEnvelope(response: SocketResponse | undefined, httpStatus: number, grpcStatus: string): string {
  assert.ok(response, 'a response');
  assert.equal(response.status, httpStatus, response.body);
  assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
  const { error } = JSON.parse(response.body) as { error: { code: number; status: string; message: string; requestId: string; details: unknown[] } };
  assert.equal(error.code, httpStatus);
  assert.equal(error.status, grpcStatus);
  assert.deepEqual(error.details, []);
  const requestId = response.headers['x-request-id'];
  assert.ok(requestId, 'X-Request-ID');
  assert.equal(error.requestId, requestId);
  return requestId;
}

async function accessLine(requestId: string): Promise<Record<string, unknown>> {
  const find = () => stack.gateway.logs.find((l) => l['requestId'] === requestId && l['msg'] === 'request completed');
  await waitFor(() => find() !== undefined);
  return find()!;
}

async function requestCount(labels: string): Promise<number> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`portico_http_requests_total{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('slow clients', () => {
  it('answers 408 with the envelope and closes the connection when the headers come too slowly', async () => {
    const before = await requestCount('route="unmatched",method="UNKNOWN",status="408"');
    const client = new RawClient(stack.port);
    try {
      await client.trickle('GET /v1/items/slow HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n', 40);
      await client.closedWithin(5000);
      const [response, ...more] = client.responses;
      assert.equal(more.length, 0);
      const requestId = assertSocketEnvelope(response, 408, 'DEADLINE_EXCEEDED');
      assert.equal(response!.headers['connection'], 'close');
      const access = await accessLine(requestId);
      assert.equal(access['status'], 408);
      assert.equal(access['route'], 'unmatched');
      assert.equal(await requestCount('route="unmatched",method="UNKNOWN",status="408"'), before + 1);
    } finally {
      client.destroy();
    }
  });

  it('answers 408 with the envelope and the request id when a body trickles past requestTimeoutMs', async () => {
    const client = new RawClient(stack.port);
    try {
      client.write(
        'POST /v1/items HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100000\r\nx-request-id: slow-body\r\n\r\n{',
      );
      await client.trickle(' '.repeat(500), 40);
      await client.closedWithin(5000);
      const [response, ...more] = client.responses;
      assert.equal(more.length, 0);
      assert.equal(assertSocketEnvelope(response, 408, 'DEADLINE_EXCEEDED'), 'slow-body');
      assert.equal(response!.headers['connection'], 'close');
      const access = await accessLine('slow-body');
      assert.equal(access['status'], 408);
      assert.equal(access['method'], 'POST');
      assert.equal(stack.gateway.logs.filter((l) => l['requestId'] === 'slow-body' && l['msg'] === 'request completed').length, 1);
      assert.ok(!stack.gateway.logs.some((l) => l['requestId'] === 'slow-body' && l['level'] as number >= 40), 'no warning or error logged');
    } finally {
      client.destroy();
    }
  });

  it('cuts a GET whose unread body trickles past requestTimeoutMs while its handler runs, answering once', async () => {
    const client = new RawClient(stack.port);
    try {
      client.write('GET /v1/sleep/800 HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 100000\r\nx-request-id: get-with-body\r\n\r\n');
      await client.trickle(' '.repeat(500), 40);
      await client.closedWithin(5000);
      assert.deepEqual(client.responses, []);
      const access = await accessLine('get-with-body');
      assert.equal(access['status'], 499);
      await stack.upstream.cancellation('Sleep', 5000);
      assert.equal(stack.gateway.logs.filter((l) => l['requestId'] === 'get-with-body' && l['msg'] === 'request completed').length, 1);
      assert.ok(!stack.gateway.logs.some((l) => l['requestId'] === 'get-with-body' && (l['level'] as number) >= 40), 'no warning or error logged');
    } finally {
      client.destroy();
    }
  });

  it('closes without a second answer a connection whose request was answered while its body trickles', async () => {
    const before = await requestCount('route="unmatched",method="UNKNOWN",status="408"');
    const client = new RawClient(stack.port);
    try {
      client.write('POST /v1/nowhere HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{');
      await client.trickle(' '.repeat(500), 40);
      await client.closedWithin(5000);
      assert.deepEqual(
        client.responses.map((r) => r.status),
        [404],
      );
      assert.equal(await requestCount('route="unmatched",method="UNKNOWN",status="408"'), before);
    } finally {
      client.destroy();
    }
  });

  it('closes a connection that sends nothing within headersTimeoutMs without an answer or a record', async () => {
    const before = await requestCount('route="unmatched",method="UNKNOWN",status="408"');
    const client = new RawClient(stack.port);
    try {
      await client.closedWithin(5000);
      assert.equal(client.received, '');
      assert.equal(await requestCount('route="unmatched",method="UNKNOWN",status="408"'), before);
    } finally {
      client.destroy();
    }
  });

  it('gives Node the configured timeouts, and the production defaults without config', async () => {
    const server = stack.gateway.gateway.app.server;
    assert.deepEqual([server.headersTimeout, server.requestTimeout, server.keepAliveTimeout], [headersTimeoutMs, requestTimeoutMs, 5000]);
    const defaults = testConfig({}).server;
    assert.deepEqual([defaults.headersTimeoutMs, defaults.requestTimeoutMs, defaults.keepAliveTimeoutMs, defaults.streamIdleTimeoutMs], [10000, 30000, 65000, 60000]);
    assert.throws(() => testConfig({ server: { headersTimeoutMs: 5000, requestTimeoutMs: 1000 } }), (err: ConfigError) => {
      assert.match(err.message, /server\.headersTimeoutMs: must be at most server\.requestTimeoutMs/);
      return true;
    });
  });
});

describe('requests the HTTP parser refuses', () => {
  it('answers malformed framing with a 400 envelope, an access line and a metric', async () => {
    const before = await requestCount('route="unmatched",method="GET",status="400"');
    const [response] = await exchange(stack.port, 'GET /v1/items/a HTTP/1.1\r\nhost: 127.0.0.1\r\nnot a header\r\n\r\n');
    const requestId = assertSocketEnvelope(response, 400, 'INVALID_ARGUMENT');
    const access = await accessLine(requestId);
    assert.deepEqual([access['method'], access['route'], access['status']], ['GET', 'unmatched', 400]);
    assert.equal(await requestCount('route="unmatched",method="GET",status="400"'), before + 1);
  });

  it('answers headers over 16 KiB with a 431 envelope and an access line', async () => {
    const [response] = await exchange(stack.port, `GET /v1/items/a HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const requestId = assertSocketEnvelope(response, 431, 'RESOURCE_EXHAUSTED');
    assert.equal((await accessLine(requestId))['status'], 431);
  });
});

describe('the Host header', () => {
  it('answers two Host headers with a 400 envelope', async () => {
    const [response] = await exchange(stack.port, 'GET /v1/items/a HTTP/1.1\r\nhost: a.example\r\nhost: b.example\r\nconnection: close\r\n\r\n');
    const requestId = assertSocketEnvelope(response, 400, 'INVALID_ARGUMENT');
    assert.match(JSON.parse(response!.body).error.message, /exactly one Host header/);
    const access = await accessLine(requestId);
    assert.deepEqual([access['status'], access['route']], [400, 'unmatched'], 'refused before routing: "unmatched", not the catch-all\'s "/*"');
    assert.equal(stack.upstream.calls.filter((c) => c.method === 'GetItem').length, 0, 'the upstream was not called');
  });

  it('answers an HTTP/1.1 request without Host with a 400 envelope', async () => {
    const [response] = await exchange(stack.port, 'GET /v1/items/a HTTP/1.1\r\nconnection: close\r\n\r\n');
    assertSocketEnvelope(response, 400, 'INVALID_ARGUMENT');
    assert.match(JSON.parse(response!.body).error.message, /must have a Host header/);
  });

  it('serves an HTTP/1.0 request without Host', async () => {
    const [response] = await exchange(stack.port, 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.equal(response?.status, 200);
  });
});
