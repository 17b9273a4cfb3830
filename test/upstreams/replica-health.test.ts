import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { create, fromBinary, toBinary, type DescMessage, type DescMethod } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import type { ServiceConfig } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { HealthCheckRequestSchema, HealthCheckResponse_ServingStatus, HealthCheckResponseSchema } from '../../src/gen/grpc/health/v1/health_pb.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import type { ReplicaHealth } from '../../src/upstreams/health/service-health.js';
import { detailsRegistry } from '../../src/upstreams/status-details.js';
import type { UpstreamClient } from '../../src/upstreams/upstream-client.js';
import { UpstreamPool } from '../../src/upstreams/upstream-pool.js';
import { compileRpc } from '../../src/upstreams/upstream.js';
import { startGateway, testConfig } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { probeMethod, probeRegistry, ProbeService } from '../support/probe-backend.js';
import { waitFor } from '../support/wait.js';

/*
 * Replica health (src/upstreams/health/): three real grpc-js replicas on loopback, each serving
 * probe.v1.ProbeService/Echo (answering with its own name) and grpc.health.v1.Health/Check as
 * the test sets them, behind one channel whose target lists the three (ipv4:a,b,c: every
 * address is a replica, as with a headless service's DNS name). Calls go through the
 * service's upstream client, as the gateway's routes do.
 */

const echo = probeMethod(ProbeService, 'Echo') as DescMethod & { methodKind: 'unary'; input: DescMessage; output: DescMessage };
const rpc = compileRpc(echo, detailsRegistry(probeRegistry));
const raw = (bytes: Buffer): Buffer => bytes;

interface Replica {
  readonly name: string;
  readonly address: string;
  /** What Health/Check answers. */
  serving: boolean;
  /** Echo fails UNAVAILABLE when set. */
  failing: boolean;
  /** Echo calls received. */
  calls: number;
  close(): void;
}

async function startReplica(name: string): Promise<Replica> {
  const server = new grpc.Server();
  const replica = { name, serving: true, failing: false, calls: 0 } as Replica & { address: string; close(): void };
  const unary = (path: string) => ({ path, requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw });
  server.addService({ Echo: unary(rpc.path) }, {
    Echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      replica.calls++;
      if (replica.failing) callback({ code: grpc.status.UNAVAILABLE, details: `${name} is failing` });
      else callback(null, Buffer.from(toBinary(echo.output, create(echo.output, { id: name }))));
    },
  });
  server.addService({ Check: unary('/grpc.health.v1.Health/Check') }, {
    Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      fromBinary(HealthCheckRequestSchema, call.request);
      const status = replica.serving ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING;
      callback(null, Buffer.from(toBinary(HealthCheckResponseSchema, create(HealthCheckResponseSchema, { status }))));
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  replica.address = `127.0.0.1:${port}`;
  replica.close = () => server.forceShutdown();
  return replica;
}

/** A gateway config of the probe service at `address`, with the given health keys. */
function probeConfig(address: string, keys: Record<string, unknown>) {
  return testConfig({
    protos: { includeDirs: ['test/fixtures/protos'] },
    services: [{ name: 'probe', protoFiles: ['probe/v1/probe.proto'], service: 'probe.v1.ProbeService', address, ...keys }],
  });
}

/** The config of a service over the three replicas, with the given health keys. */
function serviceOver(replicas: readonly Replica[], keys: Record<string, unknown>): ServiceConfig {
  const config = probeConfig('127.0.0.1:1', keys);
  // The config's address accepts one host; grpc-js's ipv4: scheme lists every replica.
  return { ...config.services[0]!, address: `ipv4:${replicas.map((r) => r.address).join(',')}` };
}

describe('replica health', () => {
  let replicas: Replica[];
  let metrics: GatewayMetrics;
  let pool: UpstreamPool;
  let client: UpstreamClient | undefined;

  before(async () => {
    replicas = await Promise.all(['a', 'b', 'c'].map(startReplica));
  });
  after(() => {
    for (const replica of replicas) replica.close();
  });
  beforeEach(() => {
    for (const replica of replicas) Object.assign(replica, { serving: true, failing: false, calls: 0 });
    metrics = new GatewayMetrics();
    pool?.close();
    pool = new UpstreamPool(metrics);
  });

  /** Calls Echo once: the replica that answered, or the client's error. */
  async function call(): Promise<string | GatewayError> {
    const ctx = { signal: new AbortController().signal, deadline: Date.now() + 3000, metadata: new grpc.Metadata(), outcome: { upstreamCode: '' } };
    try {
      const response = (await client!.unary({ service: 'probe', rpc, request: create(echo.input, {}), ctx, idempotent: true })) as unknown as { id: string };
      return response.id;
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
  }

  /** Prepares and commits `service` as a reload does; call() uses its client. */
  function commit(service: ServiceConfig): void {
    const prepared = pool.prepare([service]);
    prepared.commit(0);
    client = prepared.clients.get('probe');
  }

  const serve = (keys: Record<string, unknown>): void => commit(serviceOver(replicas, keys));

  /** Who answered `n` calls, by replica name ('error' for failed calls). */
  async function spread(n: number): Promise<Record<string, number>> {
    const answers: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const answer = await call();
      const key = typeof answer === 'string' ? answer : 'error';
      answers[key] = (answers[key] ?? 0) + 1;
    }
    return answers;
  }

  /** The probe service's replicas as /readyz lists them. */
  const replicasOf = (upstreams: UpstreamPool) => upstreams.status().find((service) => service.name === 'probe')?.replicas ?? [];

  function healthOf(name: string): ReplicaHealth | undefined {
    const address = replicas.find((r) => r.name === name)!.address;
    return replicasOf(pool).find((r) => r.address === address)?.health;
  }

  const everyReplica = (health: ReplicaHealth) => () => replicas.every((r) => healthOf(r.name) === health);

  const checks = { healthCheck: { intervalMs: 200, timeoutMs: 1000, unhealthyThreshold: 2, healthyThreshold: 2 } };

  it('stops calling a replica switched to NOT_SERVING within two check intervals, and calls it again once it recovers', async () => {
    serve(checks);
    await waitFor(everyReplica('healthy'));
    assert.deepEqual(Object.keys(await spread(30)).sort(), ['a', 'b', 'c']);

    replicas[1]!.serving = false;
    // Two checks fail within two intervals; the time the checks take is the slack.
    await new Promise((resolve) => setTimeout(resolve, 2 * 200 + 250));
    assert.equal(healthOf('b'), 'unhealthy');
    replicas[1]!.calls = 0;
    const without = await spread(30);
    assert.equal(replicas[1]!.calls, 0, 'the NOT_SERVING replica got calls');
    assert.equal(without['b'], undefined);
    assert.equal((without['a'] ?? 0) + (without['c'] ?? 0), 30, 'every call must succeed on the other two');
    assert.match(await metrics.registry.getSingleMetricAsString('portico_upstream_replica_health'), new RegExp(`service="probe",replica="${replicas[1]!.address}",state="unhealthy"} 1`));

    replicas[1]!.serving = true;
    await waitFor(() => healthOf('b') === 'healthy', 3000);
    assert.deepEqual(Object.keys(await spread(30)).sort(), ['a', 'b', 'c']);
  });

  it('counts an unreachable replica unhealthy after unhealthyThreshold failed checks', async () => {
    const gone = await startReplica('gone');
    const address = gone.address;
    gone.close();
    commit({ ...serviceOver(replicas, checks), address: `ipv4:${replicas[0]!.address},${address}` });
    await waitFor(() => replicasOf(pool).find((r) => r.address === address)?.health === 'unhealthy', 3000);
    assert.equal(healthOf('a'), 'healthy');
  });

  it('fail_open: with every replica unhealthy, spreads calls over all of them', async () => {
    serve({ ...checks, allUnhealthy: 'fail_open' });
    await waitFor(everyReplica('healthy'));
    for (const replica of replicas) replica.serving = false;
    await waitFor(everyReplica('unhealthy'), 3000);
    const answers = await spread(30);
    assert.equal(answers['error'], undefined);
    assert.deepEqual(Object.keys(answers).sort(), ['a', 'b', 'c'], `calls went to ${JSON.stringify(answers)}`);
  });

  it('fail_closed: with every replica unhealthy, answers 503 NO_HEALTHY_UPSTREAM at once without calling any', async () => {
    serve({ ...checks, allUnhealthy: 'fail_closed' });
    await waitFor(everyReplica('healthy'));
    for (const replica of replicas) replica.serving = false;
    await waitFor(everyReplica('unhealthy'), 3000);
    for (const replica of replicas) replica.calls = 0;

    const started = performance.now();
    const answer = await call();
    const elapsed = performance.now() - started;
    assert.ok(answer instanceof GatewayError, `expected a refusal, got ${String(answer)}`);
    assert.equal(answer.httpStatus, 503);
    assert.equal(answer.status, 'UNAVAILABLE');
    assert.deepEqual(answer.details[0], { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'NO_HEALTHY_UPSTREAM', domain: 'portico' });
    assert.equal(answer.upstream, undefined, 'a refusal is the gateway\'s own answer, not an upstream\'s');
    assert.ok(elapsed < 500, `the refusal took ${elapsed.toFixed(0)} ms`);
    assert.deepEqual(
      replicas.map((r) => r.calls),
      [0, 0, 0],
    );
    // Counted as the gateway's refusal, not as an upstream call that failed.
    assert.match(await metrics.registry.getSingleMetricAsString('portico_upstream_refusals_total'), /service="probe",reason="NO_HEALTHY_UPSTREAM"} 1$/m);
    assert.doesNotMatch(await metrics.registry.getSingleMetricAsString('portico_upstream_calls_total'), /code="UNAVAILABLE"/);

    // One replica back: calls go to it alone.
    replicas[2]!.serving = true;
    await waitFor(() => healthOf('c') === 'healthy', 3000);
    assert.deepEqual(await spread(6), { c: 6 });
  });

  it('keeps what it knows of the replicas across a reload, and applies changed health keys to the live channel', async () => {
    serve({ ...checks, allUnhealthy: 'fail_open' });
    await waitFor(everyReplica('healthy'));
    replicas[0]!.serving = false;
    await waitFor(() => healthOf('a') === 'unhealthy', 3000);
    const kept = client;
    serve({ ...checks, allUnhealthy: 'fail_closed', timeoutMs: 1234 });
    assert.equal(client, kept, 'health keys must not need a new channel');
    assert.equal(healthOf('a'), 'unhealthy');
    // A new channel to the same replicas (keepalive changed) starts from what is known.
    serve({ ...checks, keepalive: { timeMs: 600_000 } });
    assert.notEqual(client, kept);
    assert.equal(healthOf('a'), 'unhealthy');
    replicas[0]!.calls = 0;
    await spread(10);
    assert.equal(replicas[0]!.calls, 0);
  });

  it('ejects a replica whose calls fail UNAVAILABLE in a row, never more than maxEjectionPercent of them', async () => {
    serve({ outlierDetection: { consecutiveFailures: 3, ejectionMs: 60_000, maxEjectionPercent: 50 } });
    replicas[0]!.failing = true;
    replicas[1]!.failing = true;
    await spread(30);
    const ejected = replicas.filter((r) => healthOf(r.name) === 'ejected');
    // 50 % of three replicas: one at most, although two fail every call.
    assert.equal(ejected.length, 1);
    const [out] = ejected;
    const stillFailing = replicas.find((r) => r.failing && r !== out)!;
    for (const replica of replicas) replica.calls = 0;
    await spread(30);
    assert.equal(out!.calls, 0, 'the ejected replica got calls');
    assert.ok(stillFailing.calls > 0, 'the replica past the cap must stay in');
    const ejections = await metrics.registry.getSingleMetricAsString('portico_upstream_ejections_total');
    assert.match(ejections, new RegExp(`service="probe",replica="${out!.address}"} 1`));
  });

  it('returns an ejected replica after ejectionMs', async () => {
    serve({ outlierDetection: { consecutiveFailures: 2, ejectionMs: 300, maxEjectionPercent: 50 } });
    replicas[0]!.failing = true;
    await waitFor(async () => {
      await call();
      return healthOf('a') === 'ejected';
    }, 3000, 0);
    replicas[0]!.failing = false;
    await waitFor(() => healthOf('a') !== 'ejected', 3000);
    replicas[0]!.calls = 0;
    await spread(9);
    assert.equal(replicas[0]!.calls, 3);
  });

  after(() => pool?.close());
});

describe('no healthy upstream, seen over HTTP', () => {
  it('answers 503 with the envelope and ErrorInfo NO_HEALTHY_UPSTREAM under fail_closed', async () => {
    const replica = await startReplica('only');
    const gateway = await startGateway(
      probeConfig(replica.address, { allUnhealthy: 'fail_closed', healthCheck: { intervalMs: 200, unhealthyThreshold: 1 } }),
    );
    try {
      assert.equal((await fetch(`${gateway.url}/v1/probe/1`)).status, 200);
      replica.serving = false;
      await waitFor(async () => (await fetch(`${gateway.url}/v1/probe/1`)).status === 503, 3000);
      const calls = replica.calls;
      const response = await fetch(`${gateway.url}/v1/probe/1`);
      assert.equal(response.status, 503);
      const error = envelopeOf(await response.json());
      assert.equal(error.status, 'UNAVAILABLE');
      assert.match(error.message, /no healthy replica of the probe service/);
      assert.deepEqual(error.details, [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'NO_HEALTHY_UPSTREAM', domain: 'portico' }]);
      assert.equal(replica.calls, calls, 'the refused request reached the replica');
      const line = gateway.logs.find((l) => l['msg'] === 'request completed' && l['requestId'] === response.headers.get('x-request-id'));
      assert.equal(line?.['refusal'], 'NO_HEALTHY_UPSTREAM', 'the access line says why');
      // /readyz stays 200 and shows the replica unhealthy.
      const ready = await fetch(`${gateway.url}/readyz`);
      assert.equal(ready.status, 200);
      const body = (await ready.json()) as { services: { name: string; replicas: unknown[] }[] };
      assert.deepEqual(body.services.find((s) => s.name === 'probe')?.replicas, [{ address: replica.address, health: 'unhealthy', connected: true, inFlight: 0 }]);
    } finally {
      await gateway.close();
      replica.close();
    }
  });
});
