import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exceedsJsonDepth } from '../../src/transcoding/json-depth.js';
import { testConfig } from '../support/gateway.js';
import { assertEnvelope, echoService, getJson, request, stackConfig, startStack, type Stack } from '../transcoding-e2e/harness.js';

/** `depth` nested arrays around `inner`. */
const nestedArrays = (depth: number, inner = '') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;

describe('exceedsJsonDepth', () => {
  it('counts objects and arrays alike, a flat document as one level', () => {
    assert.equal(exceedsJsonDepth('{"a":1,"b":[1,2]}', 1), true);
    assert.equal(exceedsJsonDepth('{"a":1,"b":[1,2]}', 2), false);
    assert.equal(exceedsJsonDepth('[{"a":[{}]}]', 3), true);
    assert.equal(exceedsJsonDepth('[{"a":[{}]}]', 4), false);
    assert.equal(exceedsJsonDepth('[[],[],[],[]]', 2), false, 'siblings do not add up');
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    assert.equal(exceedsJsonDepth(JSON.stringify({ text: '[[[[{{{{' }), 1), false);
    assert.equal(exceedsJsonDepth(JSON.stringify({ text: 'a "quoted" [[[[ \\', more: '{{{{' }), 1), false);
    assert.equal(exceedsJsonDepth(JSON.stringify(['\\', [['x']]]), 2), true, 'a string ending in a backslash ends there');
  });

  it('passes exactly the limit and refuses one level more', () => {
    assert.equal(exceedsJsonDepth(nestedArrays(64), 64), false);
    assert.equal(exceedsJsonDepth(nestedArrays(65), 64), true);
    assert.equal(exceedsJsonDepth(nestedArrays(100_000), 64), true);
  });

  it('leaves documents that are not JSON to the parser', () => {
    assert.equal(exceedsJsonDepth('[[[', 64), false);
    assert.equal(exceedsJsonDepth('"unterminated [[[[[', 2), false);
  });
});

describe('server.maxJsonDepth', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({}, { server: { maxJsonDepth: 8 } });
  });
  after(async () => {
    await stack.close();
  });

  /** A Struct in the body that makes the whole document `depth` levels deep. */
  const bodyOfDepth = (depth: number) => `{"wkt":{"struct":${'{"a":'.repeat(depth - 3)}{}${'}'.repeat(depth - 3)}}}`;
  const put = (body: string) => request(stack, '/v1/items/deep', { method: 'PUT', body, headers: { 'content-type': 'application/json' } });

  it('is 64 by default', () => {
    assert.equal(testConfig({}).server.maxJsonDepth, 64);
  });

  it('binds a body nested exactly to the limit', async () => {
    const result = await put(bodyOfDepth(8));
    assert.equal(result.status, 200, result.text);
    assert.deepEqual((result.json as { wkt: unknown }).wkt, JSON.parse(bodyOfDepth(8)).wkt);
  });

  it('answers one level more with a 400 envelope naming the key', async () => {
    const envelope = assertEnvelope(await put(bodyOfDepth(9)), 400, 'INVALID_ARGUMENT');
    assert.equal(envelope.message, 'request body nests JSON deeper than 8 levels (server.maxJsonDepth)');
    assert.deepEqual(envelope.details, []);
    assert.equal(stack.upstream.calls.filter((c) => c.metadata.get('x-request-id')[0] === envelope.requestId).length, 0, 'the upstream was not called');
  });

  it('answers 100,000 levels with the same 400, before the reviver of long integers could overflow the stack, and keeps serving', async () => {
    for (const body of [nestedArrays(100_000), nestedArrays(100_000, '12345678901234567890'), `{"wkt":{"struct":{"a":${nestedArrays(100_000)}}}}`]) {
      const envelope = assertEnvelope(await put(body), 400, 'INVALID_ARGUMENT');
      assert.match(envelope.message, /deeper than 8 levels \(server\.maxJsonDepth\)/);
    }
    assert.equal((await getJson(stack, '/v1/items/after-the-deep-one'))['id'], 'after-the-deep-one');
    assert.deepEqual(
      stack.gateway.logs.filter((l) => (l['level'] as number) >= 50),
      [],
      'nothing logged as an error',
    );
  });

  it('holds JSON in a query parameter (a Struct, Value or ListValue) to the same limit, naming the parameter', async () => {
    const atLimit = await request(stack, `/v1/items/q?wkt.value=${nestedArrays(8)}`);
    assert.equal(atLimit.status, 200, atLimit.text);
    const envelope = assertEnvelope(await request(stack, `/v1/items/q?wkt.value=${nestedArrays(9)}`), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(envelope.details, [
      {
        '@type': 'type.googleapis.com/google.rpc.BadRequest',
        fieldViolations: [{ field: 'wkt.value', description: 'JSON nested deeper than 8 levels (server.maxJsonDepth)' }],
      },
    ]);
    // As deep as the 16 KiB header limit lets through: the same 400, before any parsing.
    assertEnvelope(await request(stack, `/v1/items/q?wkt.list_value=${nestedArrays(7000)}`), 400, 'INVALID_ARGUMENT');
  });

  it('follows a reload', async () => {
    stack.gateway.gateway.live.reload(stackConfig([echoService(stack.upstream.address)], { server: { maxJsonDepth: 4 } }));
    try {
      assertEnvelope(await put(bodyOfDepth(5)), 400, 'INVALID_ARGUMENT');
      assert.equal((await put(bodyOfDepth(4))).status, 200);
    } finally {
      stack.gateway.gateway.live.reload(stackConfig([echoService(stack.upstream.address)], { server: { maxJsonDepth: 8 } }));
    }
  });
});

describe('Struct, Value and ListValue nesting and the upstream', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  it('refuses nesting the upstream could not decode (two messages a level, 100 at most) with a 400, not its INTERNAL as a 500', async () => {
    // 45 levels: about 92 messages with the request's own, within protobuf's default limit of 100.
    const fits = await request(stack, `/v1/items/v?wkt.value=${nestedArrays(45)}`);
    assert.equal(fits.status, 200, fits.text);
    for (const path of [`/v1/items/v?wkt.value=${nestedArrays(55)}`, `/v1/items/v?wkt.struct=${'{"a":'.repeat(55)}{}${'}'.repeat(55)}`]) {
      const envelope = assertEnvelope(await request(stack, path), 400, 'INVALID_ARGUMENT');
      assert.match(JSON.stringify(envelope.details), /message nesting is too deep/);
      assert.equal(stack.upstream.calls.filter((c) => c.metadata.get('x-request-id')[0] === envelope.requestId).length, 0, 'the upstream was not called');
    }
    const body = await request(stack, '/v1/items/b', { method: 'PUT', body: `{"wkt":{"value":${nestedArrays(55)}}}`, headers: { 'content-type': 'application/json' } });
    assertEnvelope(body, 400, 'INVALID_ARGUMENT');
  });
});
