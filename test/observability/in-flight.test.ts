import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../transcoding-e2e/harness.js';
import { waitFor } from '../support/wait.js';

/*
 * portico_http_requests_in_flight against a real upstream: up while requests wait on it, and
 * back to zero however they end, answered or abandoned by the client. Read from the registry,
 * since a scrape of /metrics is itself a request in flight.
 */

let stack: Stack;

before(async () => {
  stack = await startStack();
});

after(async () => {
  await stack?.close();
});

async function inFlight(): Promise<number> {
  const metric = await stack.gateway.gateway.metrics!.registry.getSingleMetric('portico_http_requests_in_flight')!.get();
  return metric.values[0]?.value ?? 0;
}

describe('portico_http_requests_in_flight', () => {
  it('counts requests waiting on the upstream and drops back to zero when they are answered', async () => {
    assert.equal(await inFlight(), 0);
    const answers = Array.from({ length: 3 }, () => fetch(`${stack.url}/v1/sleep/400`).then((r) => r.text()));
    await waitFor(async () => (await inFlight()) === 3, 5_000, 20);
    await Promise.all(answers);
    assert.equal(await inFlight(), 0);
  });

  it('drops back to zero when the client hangs up before the answer', async () => {
    const request = http.get(`${stack.url}/v1/sleep/2000`);
    request.on('error', () => {});
    await waitFor(async () => (await inFlight()) === 1, 5_000, 20);
    request.destroy();
    await waitFor(async () => (await inFlight()) === 0, 5_000, 20);
  });
});
