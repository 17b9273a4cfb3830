import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startScriptedUpstream, type ScriptedUpstream } from '../fixtures/scripted-upstream.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * The circuit breaker (src/policies/circuit-breaker.ts) against a real grpc-js upstream: its
 * states as the client and the breaker state gauge see them, and across a reload.
 */

const openMs = 1000;
const breaker = { failureRatio: 0.5, minimumCalls: 5, windowMs: 2000, openMs, halfOpenCalls: 2 };

async function breakerGauge(gateway: RunningGateway): Promise<number | undefined> {
  const metric = await gateway.gateway.metrics!.registry.getSingleMetric('portico_circuit_breaker_state')!.get();
  return metric.values.find((value) => value.labels['service'] === 'echo')?.value;
}

async function transitions(gateway: RunningGateway, to: string): Promise<number> {
  const metric = await gateway.gateway.metrics!.registry.getSingleMetric('portico_circuit_breaker_transitions_total')!.get();
  return metric.values.find((value) => value.labels['service'] === 'echo' && value.labels['to'] === to)?.value ?? 0;
}

describe('circuit breaker', () => {
  let upstream: ScriptedUpstream;
  let gateway: RunningGateway;
  let failing = true;
  before(async () => {
    upstream = await startScriptedUpstream(() => (failing ? { fail: grpc.status.UNAVAILABLE } : undefined));
    gateway = await startGateway(stackConfig([{ ...echoService(upstream.address), circuitBreaker: breaker }]));
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  /** Fails calls until the breaker opens (it needs minimumCalls in the window). */
  async function openTheBreaker(): Promise<void> {
    failing = true;
    for (let i = 0; i < breaker.minimumCalls + 1; i++) assert.equal((await fetch(`${gateway.url}/v1/items/${i}`)).status, 503);
    assert.equal(await breakerGauge(gateway), 1, 'the gauge shows open');
  }

  it('opens after failures and answers 503 CIRCUIT_OPEN with Retry-After, without calling the upstream', async () => {
    assert.equal(await breakerGauge(gateway), 0, 'the gauge shows closed');
    await openTheBreaker();
    const callsBefore = upstream.count('GetItem');
    const startedAt = performance.now();
    const response = await fetch(`${gateway.url}/v1/items/1`);
    const refusalMs = performance.now() - startedAt;
    console.log(`# an open breaker answered in ${refusalMs.toFixed(1)} ms`);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '1');
    const error = envelopeOf(await response.json());
    assert.equal(error.status, 'UNAVAILABLE');
    assert.deepEqual(error.details, [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CIRCUIT_OPEN', domain: 'portico' },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' },
    ]);
    assert.equal(upstream.count('GetItem'), callsBefore, 'the upstream was not called');
    const line = gateway.logs.filter((l) => l['msg'] === 'request completed').at(-1)!;
    assert.equal(line['refusal'], 'CIRCUIT_OPEN');
    // A server stream is refused the same way, before it starts.
    const stream = await fetch(`${gateway.url}/v1/stream?count=1`);
    assert.equal(stream.status, 503);
    assert.equal(envelopeOf(await stream.json()).details[0]?.['reason'], 'CIRCUIT_OPEN');
  });

  it('half-opens after openMs, lets halfOpenCalls probes through and closes when they succeed', async () => {
    failing = false;
    await new Promise((resolve) => setTimeout(resolve, openMs + 50));
    assert.equal((await fetch(`${gateway.url}/v1/items/1`)).status, 200, 'the first probe');
    assert.equal(await breakerGauge(gateway), 2, 'the gauge shows half-open');
    assert.equal((await fetch(`${gateway.url}/v1/items/2`)).status, 200, 'the second probe');
    assert.equal(await breakerGauge(gateway), 0, 'the gauge shows closed');
    assert.equal(await transitions(gateway, 'open'), 1);
    assert.equal(await transitions(gateway, 'half-open'), 1);
    assert.equal(await transitions(gateway, 'closed'), 1);
  });

  it('opens again when a probe fails', async () => {
    await openTheBreaker();
    await new Promise((resolve) => setTimeout(resolve, openMs + 50));
    assert.equal((await fetch(`${gateway.url}/v1/items/1`)).status, 503, 'the probe fails');
    assert.equal(await breakerGauge(gateway), 1);
    const callsBefore = upstream.count('GetItem');
    assert.equal((await fetch(`${gateway.url}/v1/items/1`)).status, 503);
    assert.equal(upstream.count('GetItem'), callsBefore);
  });

  it('stays open across a reload that changes an unrelated route', async () => {
    // A failed probe opens the breaker anew, so the reload comes early in its openMs.
    await new Promise((resolve) => setTimeout(resolve, openMs + 50));
    assert.equal((await fetch(`${gateway.url}/v1/items/1`)).status, 503);
    assert.equal(await breakerGauge(gateway), 1);
    gateway.gateway.live.reload(stackConfig([{ ...echoService(upstream.address), circuitBreaker: breaker, methods: { GetTags: { timeoutMs: 999 } } }]));
    const callsBefore = upstream.count('GetItem');
    const response = await fetch(`${gateway.url}/v1/items/1`);
    assert.equal(response.status, 503);
    assert.equal(envelopeOf(await response.json()).details[0]?.['reason'], 'CIRCUIT_OPEN');
    assert.equal(upstream.count('GetItem'), callsBefore);
    assert.equal(await breakerGauge(gateway), 1);
  });
});
