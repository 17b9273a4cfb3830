import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';
import { signToken, startGateway, testConfig, testJwtSecret, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { assertWithinTenPercent, burst, countOf, get, quotaOf, sustained } from '../support/rate-limit.js';
import { MemoryBuckets } from '../../src/policies/rate-limit/memory-store.js';

/*
 * Rate limits with the memory store, through the real gateway over sockets: each key
 * strategy lets `burst` through at once and then `rps`, measured over 3 s; refused requests
 * get the 429 envelope and the RateLimit headers; global, service and RPC limits all apply;
 * a reload keeps the buckets of an unchanged limit.
 */

let upstream: EchoUpstream;
before(async () => {
  upstream = await startEchoUpstream();
});
after(async () => {
  await upstream.close();
});

const jwt = { secret: testJwtSecret };

async function gatewayWith(service: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<RunningGateway> {
  return startGateway(stackConfig([{ ...echoService(upstream.address), ...service }], { auth: { jwt }, ...extra }));
}

/**
 * `burst + 10` requests at once let `burst` through, and what refilled while they were being
 * sent (connections take a while on a busy machine); then `rps` holds for 3 s.
 */
async function assertBurstThenRate(send: () => ReturnType<typeof get>, limit: { rps: number; burst: number }): Promise<void> {
  const started = performance.now();
  const first = await burst(limit.burst + 10, send);
  const refilled = Math.ceil((limit.rps * (performance.now() - started)) / 1000);
  const allowed = countOf(first, 200);
  assert.ok(allowed >= limit.burst && allowed <= limit.burst + refilled, `burst: ${allowed} of ${limit.burst + 10} allowed (${limit.burst} + ${refilled} refilled)`);
  assert.equal(countOf(first, 429), limit.burst + 10 - allowed);
  const { allowed: paced, elapsed } = await sustained(send, limit.rps * 2, 3);
  assertWithinTenPercent(paced, limit.rps * elapsed, `allowed in ${elapsed.toFixed(2)} s at ${limit.rps} rps`);
}

describe('rate limits in memory', () => {
  it('keys by client address: burst, then the sustained rate, per address', async () => {
    const limit = { rps: 20, burst: 10 };
    const gateway = await gatewayWith({ rateLimit: { ...limit, key: 'ip' } });
    try {
      await assertBurstThenRate(() => get(`${gateway.url}/v1/items/a`), limit);
      // Another address has a full bucket of its own.
      const other = await burst(limit.burst, () => get(`${gateway.url}/v1/items/a`, { from: '127.0.0.2' }));
      assert.equal(countOf(other, 200), limit.burst);
    } finally {
      await gateway.close();
    }
  });

  it('keys by JWT subject, anonymous calls by address', async () => {
    const limit = { rps: 20, burst: 10 };
    const gateway = await gatewayWith({ auth: 'optional', rateLimit: { ...limit, key: 'user' } });
    const as = (sub: string) => ({ headers: { authorization: `Bearer ${signToken({ sub })}` } });
    try {
      await assertBurstThenRate(() => get(`${gateway.url}/v1/items/a`, as('alice')), limit);
      // alice's bucket is spent; bob, from the same address, and an anonymous caller each have a full one.
      assert.equal(countOf(await burst(limit.burst, () => get(`${gateway.url}/v1/items/a`, as('bob'))), 200), limit.burst);
      assert.equal(countOf(await burst(limit.burst, () => get(`${gateway.url}/v1/items/a`)), 200), limit.burst);
    } finally {
      await gateway.close();
    }
  });

  it('keys globally: every client shares one bucket', async () => {
    const limit = { rps: 20, burst: 10 };
    const gateway = await gatewayWith({ rateLimit: { ...limit, key: 'global' } });
    let turn = 0;
    const fromEither = () => get(`${gateway.url}/v1/items/a`, { from: turn++ % 2 === 0 ? '127.0.0.1' : '127.0.0.3' });
    try {
      await assertBurstThenRate(fromEither, limit);
    } finally {
      await gateway.close();
    }
  });

  it('answers 429 RESOURCE_EXHAUSTED with RATE_LIMITED, RetryInfo, Retry-After and the RateLimit headers', async () => {
    // One request per 100 s: nothing refills during the test, however slow the machine.
    const gateway = await gatewayWith({ rateLimit: { rps: 0.01, burst: 2, key: 'ip' } });
    try {
      const allowed = await get(`${gateway.url}/v1/items/a`);
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers['ratelimit-policy'], '"echo";q=2;w=200');
      assert.deepEqual(quotaOf(allowed), { name: 'echo', r: 1, t: 100 });
      assert.equal(quotaOf(await get(`${gateway.url}/v1/items/a`)).r, 0);

      const refused = await get(`${gateway.url}/v1/items/a`);
      assert.equal(refused.status, 429);
      const error = envelopeOf(JSON.parse(refused.body));
      assert.equal(error.status, 'RESOURCE_EXHAUSTED');
      assert.equal(error.code, 429);
      assert.deepEqual(error.details[0], { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'RATE_LIMITED', domain: 'portico' });
      const retryInfo = error.details[1]!;
      assert.equal(retryInfo['@type'], 'type.googleapis.com/google.rpc.RetryInfo');
      const delay = Number(/^([\d.]+)s$/.exec(retryInfo['retryDelay'] as string)?.[1]);
      assert.ok(delay > 90 && delay <= 100, `retryDelay ${String(retryInfo['retryDelay'])}`);
      assert.equal(refused.headers['retry-after'], String(Math.ceil(delay)));
      assert.equal(refused.headers['ratelimit-policy'], '"echo";q=2;w=200');
      assert.equal(quotaOf(refused).r, 0);
      assert.equal(error.requestId, refused.headers['x-request-id']);

      const metrics = await get(`${gateway.url}/metrics`);
      assert.match(metrics.body, /portico_rate_limited_requests_total\{scope="service",key="ip"\} 1/);
    } finally {
      await gateway.close();
    }
  });

  it('applies the global, the service and the RPC limit together, reporting the tightest', async () => {
    const slow = { rps: 0.01 };
    const gateway = await gatewayWith(
      { rateLimit: { ...slow, burst: 5, key: 'ip' }, methods: { GetItem: { rateLimit: { ...slow, burst: 2, key: 'ip' } } } },
      { rateLimit: { global: { ...slow, burst: 9, key: 'global' } } },
    );
    try {
      const item = await get(`${gateway.url}/v1/items/a`);
      assert.deepEqual(quotaOf(item), { name: 'echo.GetItem', r: 1, t: 100 });
      assert.equal((await get(`${gateway.url}/v1/items/a`)).status, 200);
      const byRpc = await get(`${gateway.url}/v1/items/a`);
      assert.equal(byRpc.status, 429);
      assert.equal(byRpc.headers['ratelimit-policy'], '"echo.GetItem";q=2;w=200');

      // Another RPC of the service: the service's bucket, which the refused call left alone (5 - 2).
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push(await get(`${gateway.url}/v1/sleep/0`));
      assert.deepEqual(statuses.map((a) => a.status), [200, 200, 200, 429]);
      assert.deepEqual(quotaOf(statuses[0]!), { name: 'echo', r: 2, t: 300 });
      assert.equal(statuses[3]!.headers['ratelimit-policy'], '"echo";q=5;w=500');

      // The global limit took a token from all 7 so far, before routing: 2 left, for any path.
      const unknown = await get(`${gateway.url}/v1/nothing/here`);
      assert.equal(unknown.status, 404);
      assert.deepEqual(quotaOf(unknown), { name: 'global', r: 1, t: 800 });
      assert.equal((await get(`${gateway.url}/v1/nothing/here`)).status, 404);
      const byGlobal = await get(`${gateway.url}/v1/items/a`, { from: '127.0.0.4' });
      assert.equal(byGlobal.status, 429);
      assert.equal(byGlobal.headers['ratelimit-policy'], '"global";q=9;w=900');
      // Health and metrics are not behind the global limit.
      assert.equal((await get(`${gateway.url}/healthz`)).status, 200);

      const metrics = (await get(`${gateway.url}/metrics`)).body;
      for (const scope of ['global', 'service', 'method']) {
        assert.match(metrics, new RegExp(`portico_rate_limited_requests_total\\{scope="${scope}",key="(ip|global)"\\} 1`));
      }
    } finally {
      await gateway.close();
    }
  });

  it('keeps the buckets of an unchanged limit across a reload and starts a changed one afresh', async () => {
    const config = (rps: number) =>
      stackConfig([{ ...echoService(upstream.address), methods: { GetItem: { rateLimit: { rps, burst: 1 } } } }], { auth: { jwt } });
    const gateway = await startGateway(config(0.01));
    try {
      assert.equal((await get(`${gateway.url}/v1/items/a`)).status, 200);
      assert.equal((await get(`${gateway.url}/v1/items/a`)).status, 429);
      gateway.gateway.live.reload(config(0.01));
      assert.equal((await get(`${gateway.url}/v1/items/a`)).status, 429, 'same limit after the reload, same bucket');
      gateway.gateway.live.reload(config(0.02));
      const fresh = await get(`${gateway.url}/v1/items/a`);
      assert.equal(fresh.status, 200, `a changed limit starts with a full bucket: ${fresh.body}`);
      assert.equal((await get(`${gateway.url}/v1/items/a`)).status, 429);
    } finally {
      await gateway.close();
    }
  });

  it('lets browsers read the RateLimit headers (CORS)', async () => {
    const gateway = await gatewayWith({ rateLimit: { rps: 10 } }, { cors: { origins: ['https://app.example'] } });
    try {
      const answer = await get(`${gateway.url}/v1/items/a`, { headers: { origin: 'https://app.example' } });
      assert.equal(answer.status, 200);
      const exposed = String(answer.headers['access-control-expose-headers']).split(/\s*,\s*/);
      assert.ok(exposed.includes('ratelimit') && exposed.includes('ratelimit-policy'), `exposed: ${exposed.join(', ')}`);
    } finally {
      await gateway.close();
    }
  });
});

describe('memory buckets', () => {
  it('stay within their bound when every request comes from a new client', () => {
    const buckets = new MemoryBuckets(1000);
    const now = 1_000_000;
    // Every bucket is spent (TAT in the future): nothing is free to forget, the oldest go.
    for (let i = 0; i < 50_000; i++) buckets.set(`10.0.${i >> 8}.${i & 255}`, now + 60_000, now);
    assert.ok(buckets.size <= 1000, `${buckets.size} buckets`);
    assert.notEqual(buckets.tat('10.0.195.79'), undefined, 'the newest client is kept');
  });

  it('forget full buckets first', () => {
    const buckets = new MemoryBuckets(10);
    buckets.set('spent', 5_000, 0);
    for (let i = 0; i < 9; i++) buckets.set(`full-${i}`, 100, 0);
    buckets.set('newcomer', 2_000, 1_000);
    assert.equal(buckets.tat('spent'), 5_000);
    assert.equal(buckets.tat('full-0'), undefined);
    assert.equal(buckets.tat('newcomer'), 2_000);
  });
});

describe('rate-limit config', () => {
  it('defaults burst to rps rounded up and the key to ip (global: global)', () => {
    const config = testConfig({ rateLimit: { global: { rps: 2.5 } }, services: [{ ...echoService('127.0.0.1:1'), rateLimit: { rps: 7 } }] });
    assert.deepEqual(config.rateLimit, { store: 'memory', global: { rps: 2.5, burst: 3, key: 'global' } });
    assert.deepEqual(config.services[0]!.rateLimit, { rps: 7, burst: 7, key: 'ip' });
  });

  it('refuses a global limit keyed by user, and the Redis store without a URL', () => {
    assert.throws(() => testConfig({ rateLimit: { global: { rps: 1, key: 'user' } } }), /rateLimit\.global\.key: "user" cannot apply before routing/);
    assert.throws(() => testConfig({ rateLimit: { store: 'redis' } }), /rateLimit\.redis\.url: is required with rateLimit\.store redis/);
    assert.throws(() => testConfig({ rateLimit: { global: { rps: 0 } } }), /rateLimit\.global\.rps/);
  });
});
