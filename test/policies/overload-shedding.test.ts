import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { waitFor } from '../support/wait.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * server.overload (src/policies/overload-shedding.ts): past a threshold every request but the
 * probes and the scrape is refused at once with 503 OVERLOADED, through the gateway's error
 * path. The gateway runs in this process, so blocking this test's event loop stalls it.
 */

const exemptPaths = ['/healthz', '/readyz', '/metrics'] as const;

function accessLine(gateway: RunningGateway, requestId: string): Record<string, unknown> {
  const line = gateway.logs.find((l) => l['msg'] === 'request completed' && l['requestId'] === requestId);
  assert.ok(line, `no access line for request ${requestId}`);
  return line;
}

/** Checks a response is the OVERLOADED refusal, envelope and headers both; returns its request id. */
async function assertOverloaded(response: Response): Promise<string> {
  assert.equal(response.status, 503);
  assert.equal(response.headers.get('retry-after'), '2');
  const error = envelopeOf(await response.json());
  assert.equal(error.status, 'UNAVAILABLE');
  assert.deepEqual(error.details, [
    { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'OVERLOADED', domain: 'portico' },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' },
  ]);
  assert.equal(response.headers.get('x-request-id'), error.requestId);
  return error.requestId;
}

/** Blocks the event loop for `ms` over and over, with a turn in between so sockets are still served. */
function stallRepeatedly(ms: number): () => void {
  let stopped = false;
  const stall = (): void => {
    if (stopped) return;
    const end = performance.now() + ms;
    while (performance.now() < end);
    setTimeout(stall, 1);
  };
  setTimeout(stall, 1);
  return () => {
    stopped = true;
  };
}

describe('overload shedding', () => {
  let upstream: EchoUpstream;
  before(async () => {
    upstream = await startEchoUpstream();
  });
  after(async () => {
    await upstream.close();
  });

  it('is off by default: no threshold set and nothing compared per request', async () => {
    const config = stackConfig([echoService(upstream.address)]);
    assert.deepEqual(config.server.overload, { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0, maxRssBytes: 0 });
    const gateway = await startGateway(config);
    try {
      assert.equal(gateway.gateway.live.current.overload, undefined);
    } finally {
      await gateway.close();
    }
  });

  it('refuses a negative threshold at start-up, naming the key', () => {
    assert.throws(
      () => stackConfig([], { server: { overload: { maxRssBytes: -1 } } }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.includes('server.overload.maxRssBytes')),
    );
  });

  it('past the heap threshold answers 503 OVERLOADED without calling the upstream; probes and /metrics still answer', async () => {
    // 1 byte: over the threshold from the first sample on (taken after a second).
    const gateway = await startGateway(stackConfig([echoService(upstream.address)], { server: { overload: { maxHeapUsedBytes: 1 } } }));
    try {
      // The first sample is taken after a second.
      let shed: Response | undefined;
      await waitFor(async () => {
        const response = await fetch(`${gateway.url}/v1/items/1`);
        if (response.status !== 503) {
          await response.arrayBuffer();
          return false;
        }
        shed = response;
        return true;
      }, 5_000);
      const callsBefore = upstream.calls.length;
      await assertOverloaded(shed!);
      const requestId = await assertOverloaded(await fetch(`${gateway.url}/v1/items/1`));
      assert.equal(upstream.calls.length, callsBefore, 'a shed request reached the upstream');
      const line = accessLine(gateway, requestId);
      assert.equal(line['status'], 503);
      assert.equal(line['refusal'], 'OVERLOADED');
      for (const path of exemptPaths) assert.equal((await fetch(`${gateway.url}${path}`)).status, 200, `${path} was shed`);
    } finally {
      await gateway.close();
    }
  });

  it('an event-loop stall past maxEventLoopDelayMs sheds requests while /healthz answers, and serving resumes after it', async () => {
    const gateway = await startGateway(stackConfig([echoService(upstream.address)], { server: { overload: { maxEventLoopDelayMs: 100 } } }));
    let stopStalling: (() => void) | undefined;
    try {
      assert.equal((await fetch(`${gateway.url}/v1/items/1`)).status, 200);
      stopStalling = stallRepeatedly(250);
      let shed: Response | undefined;
      await waitFor(async () => {
        const response = await fetch(`${gateway.url}/v1/items/1`);
        if (response.status === 200) {
          await response.arrayBuffer();
          return false;
        }
        shed = response;
        return true;
      }, 15_000);
      await assertOverloaded(shed!);
      assert.equal((await fetch(`${gateway.url}/healthz`)).status, 200);
      assert.ok(gateway.gateway.app.memoryUsage().eventLoopDelay > 100, 'the stall should still be measured while /healthz answers');
      stopStalling();
      await waitFor(async () => (await fetch(`${gateway.url}/v1/items/1`)).status === 200, 10_000);
    } finally {
      stopStalling?.();
      await gateway.close();
    }
  });
});
