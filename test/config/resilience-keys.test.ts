import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configProblems, normaliseRaw } from '../support/config.js';

/* The retry, circuitBreaker and concurrency keys: defaults and the merge across layers. */

const service = (overrides: Record<string, unknown> = {}) => ({ name: 'orders', protoFiles: ['o.proto'], service: 'acme.v1.Orders', address: '127.0.0.1:50051', ...overrides });

const load = normaliseRaw;
const problemsOf = configProblems;

describe('resilience keys', () => {
  test('default to no retry, no breaker and no concurrency cap', () => {
    const [orders] = load({ services: [service()] }).services;
    assert.deepEqual(orders!.retry, { maxAttempts: 1, initialBackoffMs: 25, maxBackoffMs: 250, codes: ['UNAVAILABLE'], budgetPercent: 20 });
    assert.equal(orders!.circuitBreaker, undefined);
    assert.equal(orders!.concurrency, undefined);
  });

  test('merge key by key: upstreamDefaults, then the service; per-RPC retry keys stay on the method', () => {
    const [orders] = load({
      upstreamDefaults: { retry: { maxAttempts: 2 }, circuitBreaker: { openMs: 1000 }, concurrency: { max: 100 } },
      services: [
        service({
          retry: { initialBackoffMs: 50 },
          circuitBreaker: { failureRatio: 0.3 },
          concurrency: { adaptive: true, min: 8, max: 64 },
          methods: { CreateOrder: { retry: { maxAttempts: 1 } } },
        }),
      ],
    }).services;
    assert.deepEqual(orders!.retry, { maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 250, codes: ['UNAVAILABLE'], budgetPercent: 20 });
    assert.deepEqual(orders!.circuitBreaker, { failureRatio: 0.3, minimumCalls: 20, windowMs: 10000, openMs: 1000, halfOpenCalls: 3 });
    assert.deepEqual(orders!.concurrency, { adaptive: true, min: 8, max: 64 });
    assert.deepEqual(orders!.methods['CreateOrder'], { retry: { maxAttempts: 1 } });
  });

  test('a fixed cap from upstreamDefaults applies to every service', () => {
    const [orders] = load({ upstreamDefaults: { concurrency: { max: 10 } }, services: [service()] }).services;
    assert.deepEqual(orders!.concurrency, { adaptive: false, max: 10 });
  });

  test('refuses bad values, naming the key', () => {
    assert.ok(problemsOf({ services: [service({ retry: { codes: ['OK'] } })] }).some((p) => p.startsWith('services[0].retry.codes[0]')));
    assert.ok(problemsOf({ services: [service({ circuitBreaker: { failureRatio: 1 } })] }).some((p) => p.startsWith('services[0].circuitBreaker.failureRatio')));
    assert.ok(problemsOf({ services: [service({ concurrency: { adaptive: true } })] }).some((p) => p.startsWith('services[0].concurrency.max: is required')));
    assert.deepEqual(problemsOf({ services: [service({ concurrency: { adaptive: true, min: 20, max: 10 } })] }), [
      'services[0].concurrency.min: must be at most concurrency.max (10), got 20',
    ]);
    assert.deepEqual(problemsOf({ services: [service({ methods: { GetOrder: { retry: { budgetPercent: 5 } } } })] }), [
      'services[0].methods.GetOrder.retry.budgetPercent: unknown key',
    ]);
  });
});
