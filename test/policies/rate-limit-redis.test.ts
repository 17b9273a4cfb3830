import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { acceptanceProtoDir, echoProtoFile, startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';
import { repoRoot, signToken, startGateway, testJwtSecret, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { assertWithinTenPercent, burst, countOf, get, quotaOf, sustained } from '../support/rate-limit.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

/*
 * Rate limits with the Redis store against real Redis: the shared one at 127.0.0.1:6379 (each
 * test with its own key prefix, so runs never share buckets), and for outages a redis-server
 * of the test's own, killed and started again (the shared one must stay up for other tests).
 */

const sharedRedis = 'redis://127.0.0.1:6379';
const jwt = { secret: testJwtSecret };

let upstream: EchoUpstream;
let tmp: string;
before(async () => {
  upstream = await startEchoUpstream();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-rate-limit-'));
});
after(async () => {
  await upstream.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const uniquePrefix = (): string => `portico-test:${randomUUID()}:`;

function redisLimits(url: string, onError: 'fail_open' | 'fail_closed' = 'fail_open'): Record<string, unknown> {
  return { store: 'redis', redis: { url, onError, keyPrefix: uniquePrefix() } };
}

/** A redis-server of the test's own, without persistence: a restart starts empty. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => output.includes('Ready to accept connections') || child.exitCode !== null, 10_000, 20);
  assert.equal(child.exitCode, null, `redis-server did not start: ${output}`);
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function metricValue(gateway: RunningGateway, series: string): Promise<number | undefined> {
  const text = (await get(`${gateway.url}/metrics`)).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A burst of 3 against a bucket of 2: which of the concurrent requests gets the 429 is Redis's order. */
function assertTwoOfThree(statuses: number[]): void {
  assert.deepEqual([countOf(statuses, 200), countOf(statuses, 429)], [2, 1], `statuses ${statuses.join(', ')}`);
}

const logLines = (gateway: RunningGateway, text: string) => gateway.logs.filter((l) => String(l['msg']).includes(text));

describe('rate limits in Redis', () => {
  it('limits through Redis with the same answers as in memory, per address and per user, across reloads', async () => {
    const limits = redisLimits(sharedRedis);
    const config = (rps: number) =>
      stackConfig([{ ...echoService(upstream.address), auth: 'optional', rateLimit: { rps, burst: 3, key: 'user' } }], { auth: { jwt }, rateLimit: limits });
    const gateway = await startGateway(config(0.01));
    const alice = { headers: { authorization: `Bearer ${signToken({ sub: 'alice' })}` } };
    try {
      await waitFor(async () => (await metricValue(gateway, 'portico_rate_limit_store_up')) === 1);
      const first = await get(`${gateway.url}/v1/items/a`, alice);
      assert.equal(first.status, 200);
      assert.equal(first.headers['ratelimit-policy'], '"echo";q=3;w=300');
      assert.deepEqual(quotaOf(first), { name: 'echo', r: 2, t: 100 });
      assert.deepEqual(await burst(2, () => get(`${gateway.url}/v1/items/a`, alice)), [200, 200]);
      const refused = await get(`${gateway.url}/v1/items/a`, alice);
      assert.equal(refused.status, 429);
      const error = envelopeOf(JSON.parse(refused.body));
      assert.equal(error.status, 'RESOURCE_EXHAUSTED');
      assert.equal(error.details[0]!['reason'], 'RATE_LIMITED');
      assert.equal(error.details[1]!['@type'], 'type.googleapis.com/google.rpc.RetryInfo');
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      assert.deepEqual(quotaOf(refused), { name: 'echo', r: 0, t: 300 });
      // Anonymous: keyed by address, a bucket of its own.
      assert.equal(countOf(await burst(3, () => get(`${gateway.url}/v1/items/a`)), 200), 3);
      assert.equal((await get(`${gateway.url}/v1/items/a`)).status, 429);
      assert.equal((await get(`${gateway.url}/v1/items/a`, { from: '127.0.0.2' })).status, 200);

      // An unchanged limit keeps its buckets (and the connection); a changed one has fresh keys.
      gateway.gateway.live.reload(config(0.01));
      assert.equal((await get(`${gateway.url}/v1/items/a`, alice)).status, 429);
      gateway.gateway.live.reload(config(0.02));
      assert.equal((await get(`${gateway.url}/v1/items/a`, alice)).status, 200);
    } finally {
      await gateway.close();
    }
  });

  it('enforces one limit shared by two gateway processes', async () => {
    const limit = { rps: 10, burst: 10 };
    const file = path.join(tmp, 'shared.yaml');
    fs.writeFileSync(
      file,
      `server: { port: 0, host: 127.0.0.1 }
protos: { includeDirs: ["${acceptanceProtoDir}"] }
services:
  - name: echo
    protoFiles: [${echoProtoFile}]
    service: acceptance.v1.EchoService
    address: "${upstream.address}"
    rateLimit: { rps: ${limit.rps}, burst: ${limit.burst}, key: global }
rateLimit:
  store: redis
  redis: { url: "${sharedRedis}", keyPrefix: "${uniquePrefix()}" }
`,
    );
    const started = await Promise.allSettled([startProcess(file), startProcess(file)]);
    const gateways = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    try {
      for (const result of started) if (result.status === 'rejected') throw result.reason;
      for (const gateway of gateways) {
        await waitFor(async () => (await get(`${gateway.url}/metrics`)).body.includes('portico_rate_limit_store_up 1'));
        // Warm: a cold process can stall its event loop past the 100 ms Redis timeout (then fail_open lets requests through).
        for (let i = 0; i < 4; i++) await get(`${gateway.url}/v1/items/a`);
      }
      await new Promise((resolve) => setTimeout(resolve, (limit.burst / limit.rps) * 1000 + 200));
      const storeErrors = async () => (await Promise.all(gateways.map(async (g) => /portico_rate_limit_store_errors_total (\d+)/.exec((await get(`${g.url}/metrics`)).body)?.[1]))).join(' and ');
      const errorsBefore = await storeErrors();
      let turn = 0;
      const either = () => get(`${gateways[turn++ % 2]!.url}/v1/items/a`);
      const burstStarted = performance.now();
      const first = await burst(limit.burst * 2, either);
      const refilled = Math.ceil((limit.rps * (performance.now() - burstStarted)) / 1000);
      const allowed = countOf(first, 200);
      assert.ok(
        allowed >= limit.burst && allowed <= limit.burst + refilled,
        `burst over both: ${allowed} allowed (${limit.burst} + ${refilled} refilled); Redis errors ${errorsBefore}, then ${await storeErrors()}`,
      );
      const { allowed: paced, elapsed } = await sustained(either, limit.rps * 4, 3);
      assertWithinTenPercent(paced, limit.rps * elapsed, `allowed by both gateways together in ${elapsed.toFixed(2)} s`);
    } finally {
      await Promise.all(gateways.map((g) => g.stop()));
    }
  });

  for (const onError of ['fail_open', 'fail_closed'] as const) {
    it(`${onError}: while Redis is down, ${onError === 'fail_open' ? 'serves without limits' : 'answers 503'}, logs once, and limits again once it is back`, async () => {
      const port = await freePort();
      let redis = await startRedis(port);
      const gateway = await startGateway(
        stackConfig([{ ...echoService(upstream.address), rateLimit: { rps: 0.01, burst: 2 } }], { rateLimit: redisLimits(`redis://127.0.0.1:${port}`, onError) }),
      );
      const item = () => get(`${gateway.url}/v1/items/a`);
      try {
        await waitFor(async () => (await metricValue(gateway, 'portico_rate_limit_store_up')) === 1);
        assertTwoOfThree(await burst(3, item));

        await stopRedis(redis);
        await waitFor(async () => (await metricValue(gateway, 'portico_rate_limit_store_up')) === 0);
        const during = await Promise.all(Array.from({ length: 5 }, item));
        for (const answer of during) {
          if (onError === 'fail_open') {
            assert.equal(answer.status, 200, answer.body);
            assert.equal(answer.headers['ratelimit'], undefined);
          } else {
            assert.equal(answer.status, 503, answer.body);
            const error = envelopeOf(JSON.parse(answer.body));
            assert.equal(error.status, 'UNAVAILABLE');
            assert.equal(error.details[0]!['reason'], 'RATE_LIMIT_UNAVAILABLE');
            assert.equal(answer.headers['retry-after'], '1');
          }
        }
        assert.ok((await metricValue(gateway, 'portico_rate_limit_store_errors_total'))! >= 5);
        assert.equal(logLines(gateway, 'rate-limit store (Redis) unavailable').length, 1, 'one line per outage, not per request');

        redis = await startRedis(port);
        await waitFor(async () => (await metricValue(gateway, 'portico_rate_limit_store_up')) === 1, 5_000);
        // The restarted Redis is empty: a full bucket again, and limits apply.
        assertTwoOfThree(await burst(3, item));
        assert.equal(logLines(gateway, 'rate-limit store (Redis) is reachable again').length, 1);
        assert.equal(logLines(gateway, 'rate-limit store (Redis) unavailable').length, 1);
      } finally {
        await gateway.close();
        await stopRedis(redis);
      }
    });
  }
});

interface GatewayProcess {
  url: string;
  stop(): Promise<void>;
}

/** `node --import tsx src/server.ts --config file`, as operators run it; resolves once it listens. */
async function startProcess(configFile: string): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', '--config', configFile], { cwd: repoRoot, env: { ...process.env, PORT: '', LOG_LEVEL: 'info' } });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  try {
    // A minute: tsx compiles the gateway at start, slow on a machine busy with other tests.
    await waitFor(() => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(output) || child.exitCode !== null, 60_000, 50);
  } catch (err) {
    await stop();
    throw err;
  }
  const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
  if (!url) {
    await stop();
    throw new Error(`gateway did not start:\n${output}`);
  }
  return { url, stop };
}
