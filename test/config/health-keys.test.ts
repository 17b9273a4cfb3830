import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, normaliseConfig } from '../../src/config/load.js';

/*
 * healthCheck, outlierDetection and allUnhealthy (src/config/schema.ts, load.ts): off unless
 * configured, set in upstreamDefaults or per service, merged key by key (the service wins),
 * the keys left out taking the built-in values.
 */

const service = (overrides: Record<string, unknown> = {}) => ({ name: 'echo', protoFiles: ['echo.proto'], service: 'acme.v1.Echo', address: '127.0.0.1:50051', ...overrides });

const servicesOf = (raw: Record<string, unknown>) => normaliseConfig(raw, { baseDir: '/etc/portico', env: {} }).services;

describe('health keys', () => {
  test('are off by default: no active checks, no outlier detection, fail_open', () => {
    const [echo] = servicesOf({ services: [service()] });
    assert.equal(echo!.healthCheck, undefined);
    assert.equal(echo!.outlierDetection, undefined);
    assert.equal(echo!.allUnhealthy, 'fail_open');
  });

  test('merge upstreamDefaults and the service key by key, over the built-in values', () => {
    const [echo, other] = servicesOf({
      upstreamDefaults: { healthCheck: { intervalMs: 2000, serviceName: 'acme' }, outlierDetection: { consecutiveFailures: 3 }, allUnhealthy: 'fail_closed' },
      services: [service({ healthCheck: { serviceName: '' }, outlierDetection: { maxEjectionPercent: 34 }, allUnhealthy: 'fail_open' }), service({ name: 'other' })],
    });
    assert.deepEqual(echo!.healthCheck, { intervalMs: 2000, timeoutMs: 1000, unhealthyThreshold: 2, healthyThreshold: 1, serviceName: '' });
    assert.deepEqual(echo!.outlierDetection, { consecutiveFailures: 3, ejectionMs: 30000, maxEjectionPercent: 34 });
    assert.equal(echo!.allUnhealthy, 'fail_open');
    assert.deepEqual(other!.healthCheck, { intervalMs: 2000, timeoutMs: 1000, unhealthyThreshold: 2, healthyThreshold: 1, serviceName: 'acme' });
    assert.equal(other!.allUnhealthy, 'fail_closed');
  });

  test('a service alone can turn them on', () => {
    const [echo] = servicesOf({ services: [service({ healthCheck: {}, outlierDetection: {} })] });
    assert.deepEqual(echo!.healthCheck, { intervalMs: 5000, timeoutMs: 1000, unhealthyThreshold: 2, healthyThreshold: 1, serviceName: '' });
    assert.deepEqual(echo!.outlierDetection, { consecutiveFailures: 5, ejectionMs: 30000, maxEjectionPercent: 50 });
  });

  test('refuse unknown keys and values, naming the key', () => {
    assert.throws(
      () => servicesOf({ services: [service({ allUnhealthy: 'panic', healthCheck: { intervalMs: 5 }, outlierDetection: { maxEjectionPercent: 150 } })] }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        for (const key of ['services[0].allUnhealthy', 'services[0].healthCheck.intervalMs', 'services[0].outlierDetection.maxEjectionPercent']) assert.match(text, new RegExp(key.replace(/[[\].]/g, '\\$&')));
        return true;
      },
    );
  });
});
