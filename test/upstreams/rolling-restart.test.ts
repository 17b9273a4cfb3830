import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ConfigSchema, type GatewayConfig } from '../../src/config/schema.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * A rolling restart of one of two replicas under steady load: the replica stops accepting,
 * drains its calls in flight and exits, then a new one starts on the same port. With retries
 * configured, no client request may fail.
 *
 * It needs two keys from other branches of the resilience work: `services[].endpoints` (two
 * replicas on two ports; branch `balancing`) and `upstreamDefaults.retry` (branch
 * `resilience`). Until both are in the schema it is skipped, saying which is missing.
 */

const schema = ConfigSchema as unknown as {
  properties: { services: { items: { properties: Record<string, unknown> } }; upstreamDefaults: { properties: Record<string, unknown> } };
};
const missingKeys = [
  ...('endpoints' in schema.properties.services.items.properties ? [] : ['services[].endpoints (branch balancing)']),
  ...('retry' in schema.properties.upstreamDefaults.properties ? [] : ['upstreamDefaults.retry (branch resilience)']),
];
const skip = missingKeys.length > 0 ? `needs ${missingKeys.join(' and ')}` : false;

const requestsPerSecond = 200;
const loadMs = 6_000;
const restartAtMs = 2_000;
/** Each call sleeps this long upstream, so the restarted replica has calls in flight to drain. */
const upstreamSleepMs = 100;

/** Two replicas of the echo service, retried on UNAVAILABLE, spread round robin. */
function twoReplicaConfig(replicas: readonly EchoUpstream[]): GatewayConfig {
  const { address: _single, ...service } = echoService(replicas[0]!.address);
  return stackConfig([{ ...service, balancing: 'round_robin', endpoints: replicas.map((replica) => ({ address: replica.address })) }], {
    upstreamDefaults: { retry: { maxAttempts: 3, codes: ['UNAVAILABLE'] } },
  });
}

/** grpc-js's graceful stop: no new calls, GOAWAY to connected clients, the calls in flight finish. */
function drainAndStop(replica: EchoUpstream): Promise<void> {
  return new Promise((resolve, reject) => replica.server.tryShutdown((err) => (err ? reject(err) : resolve())));
}

interface LoadResult {
  sent: number;
  failures: string[];
}

/** GETs at a steady rate for `durationMs`, each awaited to its end; `at(ms)` runs once the load has run that long. */
async function steadyLoad(url: string, durationMs: number, at: { ms: number; run: () => Promise<void> }): Promise<LoadResult> {
  const failures: string[] = [];
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  let sent = 0;
  let event: Promise<void> | undefined;
  for (let elapsed = 0; elapsed < durationMs; elapsed = performance.now() - started) {
    // Catch up to the rate from the elapsed time, so a late timer does not lower it.
    const due = Math.floor((elapsed / 1000) * requestsPerSecond);
    for (; sent < due; sent++) {
      inFlight.push(
        fetch(`${url}/v1/sleep/${upstreamSleepMs}`).then(
          async (response) => {
            const body = await response.text();
            if (response.status !== 200) failures.push(`${response.status} ${body}`);
          },
          (err: unknown) => {
            failures.push(`network: ${(err as Error).message}`);
          },
        ),
      );
    }
    if (!event && elapsed >= at.ms) event = at.run();
    await sleep(5);
  }
  await Promise.all([...inFlight, event]);
  return { sent, failures };
}

describe('rolling restart of one of two replicas', { skip }, () => {
  let replicas: EchoUpstream[];
  let gateway: RunningGateway;
  before(async () => {
    replicas = await Promise.all([startEchoUpstream(), startEchoUpstream()]);
    gateway = await startGateway(twoReplicaConfig(replicas));
  });
  after(async () => {
    await gateway?.close();
    await Promise.all((replicas ?? []).map((replica) => replica.close()));
  });

  it(`loses no request at ${requestsPerSecond} req/s while one replica drains, stops and comes back`, async (t) => {
    const restarted = replicas[1]!;
    const port = Number(restarted.address.split(':')[1]);
    let callsBeforeRestart = [0, 0];
    const result = await steadyLoad(gateway.url, loadMs, {
      ms: restartAtMs,
      run: async () => {
        callsBeforeRestart = replicas.map((replica) => replica.calls.length);
        await drainAndStop(restarted);
        replicas[1] = await startEchoUpstream({}, port);
      },
    });
    t.diagnostic(`rolling restart: ${result.sent} requests, ${result.failures.length} failed`);
    assert.deepEqual(result.failures, [], 'client requests failed during the rolling restart');
    assert.ok(callsBeforeRestart.every((count) => count > 0), `both replicas served before the restart: ${callsBeforeRestart.join(', ')}`);
    assert.ok(
      restarted.calls.every((call) => call.finished),
      'the stopped replica cancelled calls instead of draining them',
    );
    assert.ok(replicas[1]!.calls.length > 0, 'the restarted replica got no calls again');
  });
});
