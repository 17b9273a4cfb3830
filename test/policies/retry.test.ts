import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startEchoUpstream } from '../fixtures/echo-upstream.js';
import { startScriptedUpstream, type Script } from '../fixtures/scripted-upstream.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { waitFor } from '../support/wait.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * Retries (src/policies/retry.ts) against a real grpc-js upstream whose answers the test scripts.
 */

const unavailable = { fail: grpc.status.UNAVAILABLE };
const quickRetry = { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 };

async function withStack(
  script: Script,
  service: Record<string, unknown>,
  run: (gateway: RunningGateway, upstream: Awaited<ReturnType<typeof startScriptedUpstream>>) => Promise<void>,
): Promise<void> {
  const upstream = await startScriptedUpstream(script);
  const gateway = await startGateway(stackConfig([echoService(upstream.address, service)]));
  try {
    await run(gateway, upstream);
  } finally {
    await gateway.close();
    await upstream.close();
  }
}

function accessLines(gateway: RunningGateway): Record<string, unknown>[] {
  return gateway.logs.filter((line) => line['msg'] === 'request completed');
}

describe('retries', () => {
  it('retries an upstream that answers UNAVAILABLE once: the client gets 200 and the access line says attempts 2', async () => {
    await withStack(
      (method, n) => (method === 'GetItem' && n === 1 ? unavailable : undefined),
      { retry: quickRetry },
      async (gateway, upstream) => {
        const response = await fetch(`${gateway.url}/v1/items/7`);
        assert.equal(response.status, 200);
        assert.equal(((await response.json()) as { id: string }).id, '7');
        assert.equal(upstream.count('GetItem'), 2);
        assert.equal(accessLines(gateway).at(-1)?.['attempts'], 2);
        const retries = await gateway.gateway.metrics!.registry.getSingleMetric('portico_upstream_retries_total')!.get();
        assert.equal(retries.values.find((value) => value.labels['service'] === 'echo')?.value, 1);
      },
    );
  });

  it('does not retry a POST binding unless the RPC is marked idempotent', async () => {
    const failOnce: Script = (method, n) => (method === 'CreateItem' && n === 1 ? unavailable : undefined);
    const post = (gateway: RunningGateway) =>
      fetch(`${gateway.url}/v1/items?id=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"leaf":"x"}' });
    await withStack(failOnce, { retry: quickRetry }, async (gateway, upstream) => {
      assert.equal((await post(gateway)).status, 503);
      assert.equal(upstream.count('CreateItem'), 1, 'a POST is not idempotent by default: one call only');
      assert.equal(accessLines(gateway).at(-1)?.['attempts'], undefined);
    });
    await withStack(failOnce, { retry: quickRetry, methods: { CreateItem: { idempotent: true } } }, async (gateway, upstream) => {
      assert.equal((await post(gateway)).status, 200);
      assert.equal(upstream.count('CreateItem'), 2);
    });
  });

  it('takes per-RPC retry keys over the service\'s, key by key', async () => {
    await withStack(() => unavailable, { retry: quickRetry, methods: { GetItem: { retry: { maxAttempts: 1 } } } }, async (gateway, upstream) => {
      assert.equal((await fetch(`${gateway.url}/v1/items/1`)).status, 503);
      assert.equal(upstream.count('GetItem'), 1);
      assert.equal((await fetch(`${gateway.url}/v1/items/1/tags`)).status, 503);
      assert.equal(upstream.count('GetTags'), 3, 'GetTags keeps the service\'s maxAttempts');
    });
  });

  it('keeps upstream calls within the budget when every call fails: at most 1.25x the client requests at 200 req/s', async () => {
    await withStack(() => unavailable, { retry: { maxAttempts: 5, initialBackoffMs: 1, maxBackoffMs: 5, budgetPercent: 20 } }, async (gateway, upstream) => {
      const sent: Promise<unknown>[] = [];
      const started = performance.now();
      // 200 requests a second for 10 seconds (the outage), paced by the clock rather than by the answers.
      const total = 2000;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const due = Math.min(total, Math.floor((performance.now() - started) / 5));
          while (sent.length < due) sent.push(fetch(`${gateway.url}/v1/items/${sent.length}`).then((r) => r.arrayBuffer()));
          if (sent.length >= total) {
            clearInterval(timer);
            resolve();
          }
        }, 5);
      });
      await Promise.all(sent);
      const calls = upstream.count('GetItem');
      console.log(`# retry budget: ${sent.length} client requests, ${calls} upstream calls (${(calls / sent.length).toFixed(2)}x)`);
      assert.ok(calls > sent.length, 'some retries were made');
      assert.ok(calls <= sent.length * 1.25, `${calls} upstream calls for ${sent.length} requests`);
      const exhausted = await gateway.gateway.metrics!.registry.getSingleMetric('portico_upstream_retry_budget_exhausted_total')!.get();
      assert.ok(exhausted.values[0]!.value > 0, 'the budget refused retries, and the metric counts them');
    });
  });

  it('never waits for a retry past the request\'s deadline', async () => {
    // Backoffs of up to 10 s against a 300 ms deadline: nearly every retry would start past it.
    const retry = { maxAttempts: 10, initialBackoffMs: 10_000, maxBackoffMs: 10_000, budgetPercent: 100 };
    await withStack(() => unavailable, { timeoutMs: 300, retry }, async (gateway, upstream) => {
      const sentAt = performance.now();
      const response = await fetch(`${gateway.url}/v1/items/1`);
      const elapsedMs = performance.now() - sentAt;
      assert.equal(response.status, 503);
      assert.equal(envelopeOf(await response.json()).status, 'UNAVAILABLE', "the upstream's answer, not a timeout");
      assert.ok(elapsedMs < 2_000, `the client waited ${Math.round(elapsedMs)} ms: a retry was scheduled past the deadline`);
      // Nothing is left to start after the answer.
      const made = upstream.count('GetItem');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(upstream.count('GetItem'), made);
    });
  });

  it('retries a server stream that failed before its first message, never one that delivered a message', async () => {
    const upstream = await startEchoUpstream();
    const gateway = await startGateway(stackConfig([{ ...echoService(upstream.address), retry: quickRetry }]));
    const streamCalls = () => upstream.calls.filter((call) => call.method === 'StreamItems').length;
    try {
      const early = await fetch(`${gateway.url}/v1/stream?count=0&fail_code=14`);
      await early.arrayBuffer();
      assert.equal(streamCalls(), quickRetry.maxAttempts, 'a stream that sent nothing is retried up to maxAttempts');
      const late = await fetch(`${gateway.url}/v1/stream?count=1&fail_code=14`);
      assert.equal(late.status, 200, 'the stream had started');
      await late.arrayBuffer();
      assert.equal(streamCalls(), quickRetry.maxAttempts + 1, 'a stream that delivered a message is not retried');
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});

describe('a retry on another replica', () => {
  it('answers every request 200 when one of two replicas always fails UNAVAILABLE: the retry takes the next replica', async () => {
    const broken = await startScriptedUpstream(() => ({ fail: grpc.status.UNAVAILABLE }));
    const healthy = await startScriptedUpstream();
    const { address: _single, ...service } = echoService(broken.address);
    const gateway = await startGateway(
      stackConfig([{ ...service, balancing: 'round_robin', endpoints: [{ address: broken.address }, { address: healthy.address }], retry: { maxAttempts: 2, codes: ['UNAVAILABLE'] } }]),
    );
    try {
      // Until both connections are up, round robin has one replica to pick: wait for both.
      await waitFor(async () => (await fetch(`${gateway.url}/v1/items/warm-up`)).ok && broken.count('GetItem') > 0 && healthy.count('GetItem') > 0);
      const [brokenBefore, healthyBefore] = [broken.count('GetItem'), healthy.count('GetItem')];
      const statuses = [];
      for (let i = 0; i < 20; i++) statuses.push((await fetch(`${gateway.url}/v1/items/${i}`)).status);
      assert.deepEqual(new Set(statuses), new Set([200]));
      assert.ok(broken.count('GetItem') > brokenBefore, 'round robin sent some first attempts to the broken replica');
      assert.equal(healthy.count('GetItem') - healthyBefore, 20, 'every request was answered by the healthy replica, retries included');
    } finally {
      await gateway.close();
      await Promise.all([broken.close(), healthy.close()]);
    }
  });
});
