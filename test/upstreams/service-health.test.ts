import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { GrpcStatus } from '../../src/errors/status-codes.js';
import { ServiceHealth, type HealthSettings, type ReplicaHealth } from '../../src/upstreams/health/service-health.js';

/*
 * The per-service health state (src/upstreams/health/service-health.ts) on its own, with mocked
 * timers: check thresholds, which call outcomes count toward an ejection, and how long
 * ejections last. The balancer that acts on it is tested with real replicas in
 * replica-health.test.ts.
 */

const outlier: HealthSettings = { outlierDetection: { consecutiveFailures: 3, ejectionMs: 1000, maxEjectionPercent: 100 }, allUnhealthy: 'fail_open' };
const checks: HealthSettings = {
  healthCheck: { intervalMs: 100, timeoutMs: 100, unhealthyThreshold: 2, healthyThreshold: 2, serviceName: '' },
  allUnhealthy: 'fail_closed',
};

describe('ServiceHealth', () => {
  const events: string[] = [];
  const observer = {
    replicaHealthChanged: (_s: string, address: string, health: ReplicaHealth) => events.push(`${address}=${health}`),
    replicaEjected: (_s: string, address: string) => events.push(`${address} ejected`),
    replicaRemoved: (_s: string, address: string) => events.push(`${address} removed`),
  };
  let health: ServiceHealth;

  beforeEach(() => {
    events.length = 0;
    mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  });
  afterEach(() => {
    health.close();
    mock.timers.reset();
  });

  const healthOf = (address: string) => health.replicaHealth().find((r) => r.address === address)?.health;
  const fail = (address: string, times: number, code = GrpcStatus.UNAVAILABLE) => {
    for (let i = 0; i < times; i++) health.callEnded(address, code);
  };

  it('makes a replica unhealthy after unhealthyThreshold failed checks, healthy after healthyThreshold passes', () => {
    health = new ServiceHealth('svc', checks, observer);
    health.setAddresses(['a', 'b']);
    assert.equal(healthOf('a'), 'unknown');
    health.checked('a', true);
    assert.equal(healthOf('a'), 'healthy', 'a replica never seen before needs one pass');
    health.checked('a', false);
    assert.equal(healthOf('a'), 'healthy');
    health.checked('a', false);
    assert.equal(healthOf('a'), 'unhealthy');
    assert.ok(health.excluded('a'));
    health.checked('a', true);
    assert.equal(healthOf('a'), 'unhealthy');
    health.checked('a', true);
    assert.equal(healthOf('a'), 'healthy');
    assert.deepEqual(events, ['a=unknown', 'b=unknown', 'a=healthy', 'a=unhealthy', 'a=healthy']);
  });

  it('fails open only when every replica is excluded, and only under fail_open', () => {
    health = new ServiceHealth('svc', { ...checks, allUnhealthy: 'fail_open' }, observer);
    health.setAddresses(['a', 'b']);
    for (const address of ['a', 'b']) [false, false].forEach((serving) => health.checked(address, serving));
    assert.ok(health.failingOpen());
    health.update({ ...checks, allUnhealthy: 'fail_closed' });
    assert.ok(!health.failingOpen());
  });

  it('counts UNAVAILABLE, DEADLINE_EXCEEDED and INTERNAL in a row; another code resets the count, CANCELLED does not', () => {
    health = new ServiceHealth('svc', outlier, observer);
    health.setAddresses(['a', 'b']);
    fail('a', 2);
    fail('a', 1, GrpcStatus.NOT_FOUND);
    fail('a', 2, GrpcStatus.DEADLINE_EXCEEDED);
    assert.equal(healthOf('a'), 'unknown', 'a NOT_FOUND answer means the replica works');
    fail('a', 1, GrpcStatus.CANCELLED);
    fail('a', 1, GrpcStatus.INTERNAL);
    assert.equal(healthOf('a'), 'ejected');
    assert.ok(events.includes('a ejected'));
  });

  it('ejects a repeat offender for longer, and forgives it after time back in service', () => {
    health = new ServiceHealth('svc', outlier, observer);
    health.setAddresses(['a', 'b']);
    fail('a', 3);
    mock.timers.tick(999);
    assert.equal(healthOf('a'), 'ejected');
    mock.timers.tick(1);
    assert.notEqual(healthOf('a'), 'ejected', 'a first ejection lasts ejectionMs');

    fail('a', 3);
    mock.timers.tick(1000);
    assert.equal(healthOf('a'), 'ejected', 'a second ejection in a row lasts twice as long');
    mock.timers.tick(1000);
    assert.notEqual(healthOf('a'), 'ejected');

    // Two ejectionMs back in service forgive both ejections.
    mock.timers.tick(2000);
    fail('a', 3);
    mock.timers.tick(1000);
    assert.notEqual(healthOf('a'), 'ejected');
  });

  it('never ejects more than maxEjectionPercent of the replicas', () => {
    health = new ServiceHealth('svc', { ...outlier, outlierDetection: { ...outlier.outlierDetection!, maxEjectionPercent: 34 } }, observer);
    health.setAddresses(['a', 'b', 'c']);
    fail('a', 3);
    fail('b', 3);
    assert.deepEqual(
      health.replicaHealth().map((r) => r.health),
      ['ejected', 'unknown', 'unknown'],
    );
  });

  it('counts the calls in flight on each replica and says until when an ejected one is out', () => {
    health = new ServiceHealth('svc', outlier, observer);
    health.setAddresses(['a', 'b', 'c']);
    const ends = [health.callStarted('a'), health.callStarted('a'), health.callStarted('b')];
    assert.deepEqual(health.replicaHealth().map((r) => r.inFlight), [2, 1, 0]);
    for (const end of ends) end();
    assert.deepEqual(health.replicaHealth().map((r) => r.inFlight), [0, 0, 0]);

    fail('a', outlier.outlierDetection!.consecutiveFailures);
    const a = health.replicaHealth().find((r) => r.address === 'a')!;
    assert.equal(a.health, 'ejected');
    assert.equal(a.ejectedUntil, new Date(Date.now() + outlier.outlierDetection!.ejectionMs).toISOString());
    mock.timers.tick(outlier.outlierDetection!.ejectionMs);
    assert.equal(health.replicaHealth().find((r) => r.address === 'a')!.ejectedUntil, undefined);
  });

  it('forgets replicas the resolver no longer lists, and all of them on close', () => {
    health = new ServiceHealth('svc', outlier, observer);
    health.setAddresses(['a', 'b']);
    fail('a', 3);
    health.setAddresses(['b']);
    assert.deepEqual(health.replicaHealth(), [{ address: 'b', health: 'unknown', connected: false, inFlight: 0 }]);
    health.close();
    assert.deepEqual(events.filter((e) => e.endsWith('removed')), ['a removed', 'b removed']);
  });
});
