import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { extraProtoFile } from '../fixtures/echo-upstream.js';
import { assertEnvelope, echoService, getJson, request, stackConfig, startStack, type Stack } from './harness.js';

/*
 * Config reload through gateway.live.reload: a new service's routes start answering, a broken
 * config throws and leaves the routes in force serving, calls in flight finish.
 */

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

function extraService(address: string, protoFiles = [extraProtoFile]): Record<string, unknown> {
  return { name: 'extra', protoFiles, service: 'acceptance.v1.ExtraService', address };
}

const live = () => stack.gateway.gateway.live;

describe('config reload', () => {
  it('serves the routes of a service added by a reload, next to the old ones', async () => {
    assertEnvelope(await request(stack, '/v1/extra/x1'), 404, 'NOT_FOUND');
    const address = stack.upstream.address;
    const version = live().current.version;

    const generation = live().reload(stackConfig([echoService(address), extraService(address)]));

    assert.equal(generation.version, version + 1);
    const extra = await getJson(stack, '/v1/extra/x1?title=added');
    assert.deepEqual([extra['id'], extra['title']], ['x1', 'added']);
    assert.equal(stack.upstream.calls.at(-1)?.method, 'GetExtra');
    assert.equal((await getJson(stack, '/v1/items/still-here'))['id'], 'still-here');
  });

  it('throws on a config whose proto file does not exist and keeps the routes in force serving', async () => {
    const address = stack.upstream.address;
    const version = live().current.version;
    assert.throws(
      () => live().reload(stackConfig([echoService(address), extraService(address, ['acceptance/v1/missing.proto'])])),
      /missing\.proto/,
    );
    assert.equal(live().current.version, version);
    assert.equal((await getJson(stack, '/v1/items/after-bad-reload'))['id'], 'after-bad-reload');
    assert.equal((await getJson(stack, '/v1/extra/after-bad-reload'))['id'], 'after-bad-reload');
  });

  it('throws on a config whose bindings collide and keeps the routes in force serving', async () => {
    const address = stack.upstream.address;
    const colliding = { name: 'colliding', protoFiles: ['acceptance/v1/collide.proto'], service: 'acceptance.v1.CollidingService', address };
    assert.throws(() => live().reload(stackConfig([echoService(address), colliding])), /CollidingService\.First.*CollidingService\.Second/s);
    assert.equal((await getJson(stack, '/v1/items/after-conflict'))['id'], 'after-conflict');
    assertEnvelope(await request(stack, '/v1/things/x'), 404, 'NOT_FOUND');
  });

  it('lets a call in flight finish on the old generation while a reload swaps the routes', async () => {
    const address = stack.upstream.address;
    const pending = request(stack, '/v1/sleep/300');
    await new Promise((resolve) => setTimeout(resolve, 100));
    live().reload(stackConfig([echoService(address, { timeoutMs: 1500 })], { reload: { allowBreaking: true } }));
    const response = await pending;
    assert.equal(response.status, 200, response.text);
    assert.equal((response.json as Record<string, unknown>)['sleptMs'], 300);
  });

  it('applies the new service settings and drops the routes of a removed service', async () => {
    assertEnvelope(await request(stack, '/v1/extra/gone'), 404, 'NOT_FOUND');
    const budget = Number((await getJson(stack, '/v1/sleep/0'))['deadlineRemainingMs']);
    assert.ok(budget <= 1500 && budget > 1200, `upstream saw ${budget} ms`);
  });
});
