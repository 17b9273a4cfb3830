import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startEchoUpstream } from '../fixtures/echo-upstream.js';
import { startScriptedUpstream } from '../fixtures/scripted-upstream.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * The concurrency limit (src/policies/concurrency-limit.ts) against real grpc-js upstreams
 * that sleep: a fixed cap, the isolation of another service, and the adaptive limit.
 */

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
}

async function timed(url: string): Promise<{ status: number; ms: number; body: unknown }> {
  const startedAt = performance.now();
  const response = await fetch(url);
  const body = await response.json();
  return { status: response.status, ms: performance.now() - startedAt, body };
}

async function seriesValue(gateway: RunningGateway, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = await gateway.gateway.metrics!.registry.getSingleMetric(name)!.get();
  return metric.values.find((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted))?.value;
}

async function concurrencyLimit(gateway: RunningGateway): Promise<number> {
  return (await seriesValue(gateway, 'portico_upstream_concurrency_limit', { service: 'echo' }))!;
}

describe('concurrency limit', () => {
  it('refuses the 11th concurrent call at once with CONCURRENCY_LIMIT, while another service keeps answering', async () => {
    const slow = await startScriptedUpstream();
    const other = await startEchoUpstream();
    const gateway = await startGateway(
      stackConfig([
        { ...echoService(slow.address), timeoutMs: 10_000, concurrency: { max: 10 } },
        { name: 'extra', protoFiles: ['acceptance/v1/extra.proto'], service: 'acceptance.v1.ExtraService', address: other.address },
      ]),
    );
    try {
      const sleeping = Array.from({ length: 10 }, () => fetch(`${gateway.url}/v1/sleep/4000`));
      while (slow.count('Sleep') < 10) await new Promise((resolve) => setTimeout(resolve, 10));
      const refusals: number[] = [];
      const others: number[] = [];
      for (let i = 0; i < 20; i++) {
        const refused = await timed(`${gateway.url}/v1/sleep/4000`);
        assert.equal(refused.status, 503);
        const error = envelopeOf(refused.body);
        assert.equal(error.details[0]?.['reason'], 'CONCURRENCY_LIMIT');
        refusals.push(refused.ms);
        const served = await timed(`${gateway.url}/v1/extra/${i}`);
        assert.equal(served.status, 200);
        others.push(served.ms);
      }
      console.log(`# p99 of the refusals: ${p99(refusals).toFixed(1)} ms; p99 of the other service meanwhile: ${p99(others).toFixed(1)} ms`);
      // "At once": far below the 4 s the upstream sleeps (long enough for the 40 requests below on a busy machine).
      assert.ok(p99(refusals) < 500, `refusals took up to ${p99(refusals)} ms`);
      assert.equal(slow.count('Sleep'), 10, 'no refused call reached the upstream');
      assert.equal(await seriesValue(gateway, 'portico_upstream_in_flight_calls', { service: 'echo' }), 10);
      assert.equal(await seriesValue(gateway, 'portico_upstream_concurrency_limit', { service: 'echo' }), 10);
      assert.equal(await seriesValue(gateway, 'portico_upstream_refusals_total', { service: 'echo', reason: 'CONCURRENCY_LIMIT' }), 20);
      const line = gateway.logs.filter((l) => l['msg'] === 'request completed' && l['status'] === 503).at(-1)!;
      assert.equal(line['refusal'], 'CONCURRENCY_LIMIT');
      for (const response of await Promise.all(sleeping)) assert.equal(response.status, 200);
    } finally {
      await gateway.close();
      await Promise.all([slow.close(), other.close()]);
    }
  });

  it('lowers the adaptive limit when the upstream gets 5x slower, and raises it again when it recovers', async () => {
    const upstream = await startScriptedUpstream();
    const gateway = await startGateway(stackConfig([{ ...echoService(upstream.address), concurrency: { adaptive: true, min: 2, max: 40 } }]));
    let latencyMs = 100;
    let running = true;
    // 20 clients in a loop; a refused one waits a little rather than spinning.
    const clients = Array.from({ length: 20 }, async () => {
      while (running) {
        const response = await fetch(`${gateway.url}/v1/sleep/${latencyMs}`);
        await response.arrayBuffer();
        if (response.status !== 200) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    const lowest = async (ms: number): Promise<number> => {
      let low = Infinity;
      for (const until = performance.now() + ms; performance.now() < until; ) {
        low = Math.min(low, await concurrencyLimit(gateway));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return low;
    };
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const normal = await concurrencyLimit(gateway);
      latencyMs = 500;
      const slowed = await lowest(4000);
      latencyMs = 100;
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const recovered = await concurrencyLimit(gateway);
      console.log(`# adaptive limit: ${normal} at 100 ms, down to ${slowed} at 500 ms, ${recovered} after recovery`);
      assert.ok(normal >= 36, `the limit stays near max while the upstream is fast (${normal})`);
      assert.ok(slowed <= normal * 0.6, `the limit falls when the upstream slows down (${normal} → ${slowed})`);
      assert.ok(recovered >= 36, `the limit recovers (${recovered})`);
    } finally {
      running = false;
      await Promise.all(clients);
      await gateway.close();
      await upstream.close();
    }
  });
});
