import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { drain } from '../../src/lifecycle/shutdown.js';
import { RawClient } from '../support/raw-socket.js';
import { waitFor } from '../support/wait.js';
import { startStack, type Stack } from '../transcoding-e2e/harness.js';

/*
 * Shutdown as kept-alive clients see it: from SIGTERM on, responses say `Connection: close`;
 * once the listener has closed, requests on connections still open get the envelope.
 */

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.upstream.close();
  stack = undefined;
});

const get = (path: string, requestId: string): string => `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-request-id: ${requestId}\r\n\r\n`;

describe('shutdown on a kept-alive connection', () => {
  it('serves requests during shutdown.delayMs, saying Connection: close', async () => {
    stack = await startStack();
    const client = new RawClient(stack.port);
    try {
      client.write(get('/healthz', 'before-drain'));
      await waitFor(() => client.responses.length === 1);
      assert.equal(client.responses[0]!.headers['connection'], 'keep-alive');

      const draining = drain(stack.gateway.gateway, { delayMs: 2000, graceMs: 1000 });
      await waitFor(() => stack!.gateway.gateway.readiness.draining);
      client.write(get('/v1/items/during-drain', 'during-drain'));
      await client.closedWithin(5000);
      const [, response] = client.responses;
      assert.equal(response?.status, 200, response?.body);
      assert.equal(response.headers['connection'], 'close');
      await draining;
    } finally {
      client.destroy();
    }
  });

  it('answers requests arriving once the listener is closed with a 503 envelope and Connection: close', async () => {
    stack = await startStack();
    const busy = new RawClient(stack.port);
    const late = new RawClient(stack.port);
    try {
      busy.write(get('/v1/sleep/1500', 'in-flight'));
      // The late request's headers are half sent, so its connection is not idle when closing starts.
      late.write('GET /v1/items/late HTTP/1.1\r\nhost: 127.0.0.1\r\n');
      await waitFor(() => stack!.upstream.calls.some((c) => c.method === 'Sleep'));

      const closing = stack.gateway.gateway.app.close();
      await waitFor(() => !stack!.gateway.gateway.app.server.listening);
      late.write('x-request-id: after-close\r\n\r\n');
      await late.closedWithin(5000);
      const [refused, ...more] = late.responses;
      assert.equal(more.length, 0);
      assert.equal(refused?.status, 503, refused?.body);
      assert.equal(refused.headers['connection'], 'close');
      assert.equal(refused.headers['x-request-id'], 'after-close');
      assert.equal(refused.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(JSON.parse(refused.body), {
        error: { code: 503, status: 'UNAVAILABLE', message: 'the gateway is shutting down', requestId: 'after-close', details: [] },
      });
      assert.equal(stack.upstream.calls.filter((c) => c.method === 'GetItem').length, 0, 'the upstream was not called');

      await busy.closedWithin(5000);
      const [finished] = busy.responses;
      assert.equal(finished?.status, 200, finished?.body);
      assert.equal(finished.headers['connection'], 'close');
      await closing;
    } finally {
      busy.destroy();
      late.destroy();
    }
  });
});
