import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create, type DescMessage, type DescMethod } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { LiveRoutes } from '../../src/lifecycle/live-routes.js';
import { noMetrics } from '../../src/observability/metrics.js';
import { balancedChannel, loadBalancingConfig } from '../../src/upstreams/balancing/channel-balancing.js';
import { hashKeyMetadata, ringPosition } from '../../src/upstreams/balancing/ring-hash.js';
import { detailsRegistry } from '../../src/upstreams/status-details.js';
import { ServiceHealth } from '../../src/upstreams/health/service-health.js';
import { compileRpc, Upstream } from '../../src/upstreams/upstream.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { signToken, startGateway, testJwtSecret, type RunningGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * Balancing over three replicas (src/upstreams/balancing/): three real grpc-js echo servers on
 * loopback behind the real gateway, 600 GETs over HTTP per policy, counted by the replica that
 * answered each call.
 */

const calls = 600;

/** Each replica's extra latency, in ms, applied to its answers by a server interceptor. */
const latencyMs = [0, 0, 0];
/** Replicas that end every call UNAVAILABLE. */
const failing = [false, false, false];

/** Holds a replica's answer (message and status alike, in order) for its current latency, and fails it when told to. */
function delayedAnswers(replica: number): grpc.ServerInterceptor {
  const later = <T>(value: T, next: (value: T) => void): void => {
    const ms = latencyMs[replica]!;
    if (ms === 0) next(value);
    else setTimeout(() => next(value), ms);
  };
  type StatusSender = NonNullable<grpc.Responder['sendStatus']>;
  const status: StatusSender = (status, next) =>
    later(failing[replica] ? { ...status, code: grpc.status.UNAVAILABLE, details: 'replica down' } : status, next);
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withSendMessage(later).withSendStatus(status).build());
}

let replicas: EchoUpstream[];

before(async () => {
  replicas = await Promise.all([0, 1, 2].map((i) => startEchoUpstream({ interceptors: [delayedAnswers(i)] })));
});

after(async () => {
  await Promise.all(replicas.map((replica) => replica.close()));
});

function endpoints(weights: readonly number[] = [1, 1, 1]) {
  return replicas.slice(0, weights.length).map((replica, i) => ({ address: replica.address, weight: weights[i]! }));
}

/** The echo service over the replicas, with `settings` (balancing, hashOn, endpoints…). */
function balancedConfig(settings: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const { address: _address, ...service } = echoService('');
  return stackConfig([{ ...service, endpoints: endpoints(), ...settings }], extra);
}

const served = (): number[] => replicas.map((replica) => replica.calls.length);

/** Sends `count` GETs, `concurrency` at a time; returns how many each replica answered. */
async function spread(gateway: RunningGateway, count: number, concurrency = 1, headers: (i: number) => Record<string, string> = () => ({})): Promise<number[]> {
  const before = served();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const response = await fetch(`${gateway.url}/v1/items/${i}`, { headers: headers(i) });
        assert.equal(response.status, 200, await response.text());
      }
    }),
  );
  return served().map((n, i) => n - before[i]!);
}

/** Calls until every replica in `indexes` has answered: the policy then sees each of them connected. */
async function warmUp(gateway: RunningGateway, indexes: readonly number[] = [0, 1, 2], headers: Record<string, string> = {}): Promise<void> {
  const before = served();
  await waitFor(async () => {
    await spread(gateway, 6, 3, () => headers);
    return indexes.every((i) => served()[i]! > before[i]!);
  }, 10_000, 0);
}

async function withGateway(config: ReturnType<typeof balancedConfig>, body: (gateway: RunningGateway) => Promise<void>): Promise<void> {
  const gateway = await startGateway(config);
  try {
    await body(gateway);
  } finally {
    await gateway.close();
  }
}

/** Within `tolerance` (0.1 = 10 %) of `expected`. */
function near(actual: number, expected: number, tolerance: number): boolean {
  return Math.abs(actual - expected) <= expected * tolerance;
}

describe('balancing over three replicas', () => {
  it('round_robin spreads 600 calls evenly (each replica within 10 % of 200)', async () => {
    await withGateway(balancedConfig({ balancing: 'round_robin' }), async (gateway) => {
      await warmUp(gateway);
      const counts = await spread(gateway, calls, 4);
      assert.ok(
        counts.every((n) => near(n, calls / 3, 0.1)),
        `round_robin: ${counts.join(', ')}`,
      );
    });
  });

  it('weighted_round_robin follows the endpoint weights 1:2:3 (each within 10 % of 100, 200, 300)', async () => {
    await withGateway(balancedConfig({ balancing: 'weighted_round_robin', endpoints: endpoints([1, 2, 3]) }), async (gateway) => {
      await warmUp(gateway);
      const counts = await spread(gateway, calls, 4);
      assert.ok(
        [100, 200, 300].every((expected, i) => near(counts[i]!, expected, 0.1)),
        `weighted_round_robin 1:2:3: ${counts.join(', ')}`,
      );
    });
  });

  it('least_request favours a replica that answers 5x faster', async () => {
    await withGateway(balancedConfig({ balancing: 'least_request' }), async (gateway) => {
      await warmUp(gateway);
      latencyMs.splice(0, 3, 10, 50, 50);
      try {
        const counts = await spread(gateway, calls, 6);
        console.log(`least_request: ${counts.join(', ')} calls, replica 0 answering in 10 ms and the others in 50 ms`);
        const [fast, ...slow] = counts;
        assert.ok(
          slow.every((n) => fast! >= 1.4 * n),
          `least_request with replica 0 5x faster: ${counts.join(', ')}`,
        );
      } finally {
        latencyMs.fill(0);
      }
    });
  });
});

describe('ring_hash', () => {
  /**
   * 100 keys, one in each hundredth of the hash space: the keys stand for the key space itself,
   * so the share that moves measures the ring, not the luck of 100 random strings.
   */
  function spreadKeys(): string[] {
    const keys: (string | undefined)[] = new Array(100);
    let filled = 0;
    for (let n = 0; filled < 100; n++) {
      const key = `tenant-${n}`;
      const slot = Math.floor((ringPosition(key) / 2 ** 32) * 100);
      if (keys[slot] === undefined) {
        keys[slot] = key;
        filled++;
      }
    }
    return keys as string[];
  }

  /** The replica each key's three calls went to; fails if a key's calls went to more than one. */
  async function owners(gateway: RunningGateway, keys: readonly string[]): Promise<number[]> {
    const owner: number[] = [];
    for (const key of keys) {
      const counts = await spread(gateway, 3, 1, () => ({ 'x-tenant-id': key }));
      const hit = counts.flatMap((n, i) => (n > 0 ? [i] : []));
      assert.equal(hit.length, 1, `key ${key} went to replicas ${hit.join(', ')}`);
      owner.push(hit[0]!);
    }
    return owner;
  }

  it('sends one key to one replica, never forwards the hash key, and moves at most 45 % of 100 keys when one of three leaves', async () => {
    const keys = spreadKeys();
    const config = (weights: readonly number[]) => balancedConfig({ balancing: 'ring_hash', hashOn: { header: 'x-tenant-id' }, endpoints: endpoints(weights) });
    await withGateway(config([1, 1, 1]), async (gateway) => {
      await warmUp(gateway);
      const before = await owners(gateway, keys);
      for (const replica of [0, 1, 2]) assert.ok(before.includes(replica), `replica ${replica} owns no key: ${before.join('')}`);

      const forwarded = replicas.flatMap((replica) => replica.calls).filter((call) => call.metadata.get(hashKeyMetadata).length > 0);
      assert.equal(forwarded.length, 0, 'the hash key reached an upstream');

      // A reload with replica 2 gone: a new channel over the two left.
      gateway.gateway.live.reload(config([1, 1]));
      await warmUp(gateway, [0, 1]);
      const after = await owners(gateway, keys);
      const moved = keys.filter((_key, i) => after[i] !== before[i]);
      console.log(`ring_hash: ${moved.length} of 100 keys moved when one of three replicas left`);
      assert.ok(moved.length <= 45, `${moved.length} keys moved`);
      assert.ok(
        keys.every((_key, i) => before[i] === 2 || after[i] === before[i]),
        'a key of a replica that stayed moved',
      );
    });
  });

  it('hashes on a query parameter or a claim of the verified token', async () => {
    // The parameter is bound like any other: a field of the request, or an unknown one allowed.
    const query = balancedConfig({ balancing: 'ring_hash', hashOn: { query: 'tenant' }, allowUnknownFields: true });
    await withGateway(query, async (gateway) => {
      await warmUp(gateway);
      for (const tenant of ['a', 'b', 'c', 'd']) {
        const before = served();
        for (let i = 0; i < 3; i++) assert.equal((await fetch(`${gateway.url}/v1/items/1?tenant=${tenant}`)).status, 200);
        assert.equal(served().filter((n, r) => n > before[r]!).length, 1, `tenant ${tenant} by query`);
      }
    });
    const claim = balancedConfig({ balancing: 'ring_hash', hashOn: { claim: 'tenant' }, auth: 'required' }, { auth: { jwt: { secret: testJwtSecret } } });
    await withGateway(claim, async (gateway) => {
      await warmUp(gateway, [0, 1, 2], { authorization: `Bearer ${signToken()}` });
      for (const tenant of ['a', 'b', 'c', 'd']) {
        // The claim is not forwarded (forwardClaims holds sub only): it is read from the verified token.
        const authorization = `Bearer ${signToken({ sub: `user-of-${tenant}`, tenant })}`;
        const before = served();
        for (let i = 0; i < 3; i++) assert.equal((await fetch(`${gateway.url}/v1/items/1`, { headers: { authorization } })).status, 200);
        const hit = served().flatMap((n, r) => (n > before[r]! ? [r] : []));
        assert.equal(hit.length, 1, `tenant ${tenant} by claim: ${hit.join(', ')}`);
      }
    });
  });
});

describe('replica settings across reloads', () => {
  it('keeps the channel for an unrelated change and makes a new one when the balancing, hashOn or endpoints change', () => {
    const silent = pino({ level: 'silent' });
    const live = new LiveRoutes(balancedConfig({ balancing: 'least_request' }), noMetrics, silent);
    try {
      let client = live.current.clients.get('echo');
      const changes: [string, Record<string, unknown>, boolean][] = [
        ['timeoutMs', { balancing: 'least_request', timeoutMs: 1234 }, true],
        ['balancing', { balancing: 'round_robin' }, false],
        ['endpoints', { balancing: 'round_robin', endpoints: endpoints([1, 1]) }, false],
        ['weights', { balancing: 'round_robin', endpoints: endpoints([1, 3]) }, false],
        ['ring_hash', { balancing: 'ring_hash', hashOn: { header: 'x-a' }, endpoints: endpoints([1, 3]) }, false],
        ['hashOn', { balancing: 'ring_hash', hashOn: { header: 'x-b' }, endpoints: endpoints([1, 3]) }, false],
      ];
      for (const [what, settings, kept] of changes) {
        // A reload sets the log level the config says: silent, like the logger given.
        live.reload(balancedConfig(settings, { logging: { level: 'silent' } }));
        const now = live.current.clients.get('echo');
        assert.equal(now === client, kept, `a change of ${what} ${kept ? 'must keep' : 'must replace'} the channel`);
        client = now;
      }
    } finally {
      live.close();
    }
  });
});

describe('as the child of a wrapping policy', () => {
  it("gives no calls to a replica that grpc-js's outlier_detection ejects", async () => {
    const method = replicas[0]!.registry.getService('acceptance.v1.EchoService')!.methods.find((m) => m.name === 'GetItem')!;
    const rpc = compileRpc(method as DescMethod & { input: DescMessage; output: DescMessage }, detailsRegistry(replicas[0]!.registry));
    const health = new ServiceHealth('echo', { allUnhealthy: 'fail_open' }, noMetrics);
    const { target } = balancedChannel({ endpoints: endpoints(), balancing: 'least_request' }, health);
    for (const balancing of ['weighted_round_robin', 'least_request', 'ring_hash'] as const) {
      // What the health branch's policy does to a subchannel it marks down, grpc-js's outlier_detection does to an ejected one.
      const ejecting = {
        outlier_detection: {
          interval: { seconds: 0, nanos: 100_000_000 },
          base_ejection_time: { seconds: 30, nanos: 0 },
          max_ejection_percent: 50,
          failure_percentage_ejection: { threshold: 50, enforcement_percentage: 100, minimum_hosts: 3, request_volume: 5 },
          child_policy: [loadBalancingConfig(balancing)],
        },
      };
      const upstream = new Upstream({
        name: 'echo',
        target,
        serviceConfig: JSON.stringify({ loadBalancingConfig: [ejecting] }),
        keepalive: { timeMs: 300_000, timeoutMs: 20_000 },
        health,
        observer: { callFinished() {}, refused() {} },
      });
      const call = () => {
        const metadata = new grpc.Metadata();
        metadata.set(hashKeyMetadata, String(Math.floor(Math.random() * 2 ** 32)));
        return upstream.unary(rpc, create(method.input, {}) as never, { signal: new AbortController().signal, deadline: Date.now() + 5_000, metadata, outcome: { upstreamCode: '' } }).then(
          () => true,
          () => false,
        );
      };
      failing[2] = true;
      try {
        // Failures once replica 2 is connected, until the detector's next sweep ejects it; then every call succeeds elsewhere.
        const start = served()[2]!;
        await waitFor(async () => (await Promise.all(Array.from({ length: 30 }, call))).every(Boolean) && served()[2]! > start, 10_000, 50);
        const before = served();
        const results = await Promise.all(Array.from({ length: 60 }, call));
        const counts = served().map((n, i) => n - before[i]!);
        assert.ok(results.every(Boolean), `${balancing}: a call failed after the ejection`);
        assert.equal(counts[2], 0, `${balancing}: the ejected replica got ${counts[2]} calls`);
      } finally {
        failing[2] = false;
        upstream.close();
      }
    }
  });
});
