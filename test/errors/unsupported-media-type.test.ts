import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertEnvelope, rawRequest, request, startStack, type Stack } from '../transcoding-e2e/harness.js';

/*
 * A 415 tells the client what to send, whoever finds the media type wrong: Fastify's content
 * type parsing (a body of another type) or the gateway (a body-carrying binding without one).
 */

let stack: Stack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

const expected = 'unsupported media type: expected application/json';

describe('415 Unsupported Media Type', () => {
  it('names the expected media type for a body of another type', async () => {
    const response = await request(stack, '/v1/items/ct', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: '{"title":"ok"}' });
    assert.equal(assertEnvelope(response, 415, 'INVALID_ARGUMENT').message, expected);
  });

  it('names the expected media type for a request without a content type', async () => {
    for (const [method, path, body] of [
      ['PUT', '/v1/items/ct', '{"title":"ok"}'],
      ['POST', '/v1/items', ''],
    ] as const) {
      const response = await rawRequest(stack, { method, path, headers: { 'content-length': String(body.length) }, chunks: [body] });
      assert.equal(response.status, 415, response.body);
      assert.equal((JSON.parse(response.body) as { error: { message: string } }).error.message, expected, `${method} ${path}`);
    }
  });
});
