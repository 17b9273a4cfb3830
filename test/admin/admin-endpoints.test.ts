import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { redacted, redactSecrets } from '../../src/admin/redaction.js';
import { quantile } from '../../src/admin/route-stats.js';
import { ConfigError } from '../../src/config/load.js';
import { envelopeOf } from '../support/http.js';
import { testConfig } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { probeConfigYaml, startAdminGateway, startHealthReplica, type AdminGateway, type HealthReplica } from './admin-harness.js';

/*
 * The admin listener (src/admin/) over real sockets: a gateway started from a YAML file with
 * its admin listener on a port of its own, in front of two real grpc-js replicas with health
 * checks.
 */

const jwtSecret = 'an-hmac-secret-nobody-may-see';
const authYaml = `auth: { jwt: { secret: ${jwtSecret}, algorithms: [HS256] } }\n`;

const json = async (response: Response): Promise<Record<string, unknown>> => (await response.json()) as Record<string, unknown>;
const sha256 = (file: string): string => `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;

describe('admin listener', () => {
  let replicas: HealthReplica[];
  let running: AdminGateway;
  const admin = (path: string, init?: RequestInit) => fetch(`${running.adminUrl}${path}`, init);

  before(async () => {
    replicas = await Promise.all([startHealthReplica(), startHealthReplica()]);
    running = await startAdminGateway(probeConfigYaml(replicas, authYaml));
  });
  after(async () => {
    await running.close();
    await Promise.all(replicas.map((replica) => replica.close()));
  });

  it('listens on its own port, never serving the admin routes on the public one', async () => {
    assert.notEqual(new URL(running.adminUrl).port, new URL(running.url).port);
    assert.equal((await fetch(`${running.url}/admin/config`)).status, 404);
    assert.equal((await admin('/v1/probe/x')).status, 404);
  });

  it('GET /admin/config: version, the hash of the file bytes, load time and the config with the JWT secret redacted', async () => {
    const response = await admin('/admin/config');
    assert.equal(response.status, 200);
    const text = await response.clone().text();
    const body = await json(response);
    assert.equal(body['version'], running.gateway.live.current.version);
    assert.equal(body['hash'], sha256(running.configFile));
    assert.ok(!Number.isNaN(Date.parse(body['loadedAt'] as string)) && (body['loadedAt'] as string).endsWith('Z'));
    assert.equal(body['lastRejected'], null);
    const config = body['config'] as { auth: { jwt: { secret: string; algorithms: string[] } }; services: { name: string }[] };
    assert.equal(config.auth.jwt.secret, redacted);
    assert.deepEqual(config.auth.jwt.algorithms, ['HS256']);
    assert.equal(config.services[0]!.name, 'probe');
    assert.ok(!text.includes(jwtSecret), 'the secret leaked');
  });

  it('POST /admin/reload re-reads the unchanged file: 200 with the new version and the same hash', async () => {
    const before = running.gateway.live.current.version;
    const response = await admin('/admin/reload', { method: 'POST' });
    assert.equal(response.status, 200);
    assert.deepEqual(await json(response), { version: before + 1, hash: sha256(running.configFile) });
    assert.equal(running.gateway.live.current.version, before + 1);
  });

  it('POST /admin/reload with an invalid file: 400 envelope with the reason, the old config keeps serving, lastRejected set', async () => {
    const good = fs.readFileSync(running.configFile, 'utf8');
    const version = running.gateway.live.current.version;
    fs.writeFileSync(running.configFile, good.replace('concurrency: { max: 10 }', 'concurrency: { max: -1 }'));
    try {
      const response = await admin('/admin/reload', { method: 'POST' });
      assert.equal(response.status, 400);
      const error = envelopeOf(await response.json());
      assert.match(error.message, new RegExp(`version ${version} keeps serving: invalid configuration`));
      assert.match(error.message, /concurrency\.max/);
      assert.equal(error.details[0]?.['reason'], 'CONFIG_REJECTED');

      assert.equal(running.gateway.live.current.version, version);
      assert.equal((await fetch(`${running.url}/v1/probe/still-here`)).status, 200);
      const config = await json(await admin('/admin/config'));
      assert.equal(config['version'], version);
      const rejected = config['lastRejected'] as { at: string; reason: string };
      assert.match(rejected.reason, /concurrency\.max/);
      assert.ok(Date.parse(rejected.at) >= Date.parse(config['loadedAt'] as string));
    } finally {
      fs.writeFileSync(running.configFile, good);
    }
  });

  it('PUT /admin/log-level: 200 and debug lines appear; 400 envelope for an unknown level; a reload restores the file level', async () => {
    const debugLines = () => running.logs.filter((line) => line['level'] === 20).length;
    // A 404 on the public port logs one debug line (errors/error-handler.ts), seen only at debug.
    await fetch(`${running.url}/nowhere`);
    assert.equal(debugLines(), 0);

    const put = (level: unknown) => admin('/admin/log-level', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ level }) });
    const response = await put('debug');
    assert.equal(response.status, 200);
    assert.deepEqual(await json(response), { level: 'debug' });
    await fetch(`${running.url}/nowhere`);
    await waitFor(() => debugLines() > 0);

    const unknown = await put('verbose');
    assert.equal(unknown.status, 400);
    assert.match(envelopeOf(await unknown.json()).message, /level must be one of fatal, error, warn, info, debug, trace, silent/);
    assert.equal(running.gateway.app.log.level, 'debug');

    assert.equal((await admin('/admin/reload', { method: 'POST' })).status, 200);
    assert.equal(running.gateway.app.log.level, 'info');
    const seen = debugLines();
    await fetch(`${running.url}/nowhere`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(debugLines(), seen);
  });

  it('PUT /admin/log-level with a body that is not JSON answers the 400 envelope', async () => {
    const response = await admin('/admin/log-level', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{level' });
    assert.equal(response.status, 400);
    envelopeOf(await response.json());
  });

  it('GET /admin/upstreams: every replica with health, connection and calls in flight; the breaker and the concurrency limit', async () => {
    type Upstreams = { services: { name: string; breaker: string; concurrency: { limit: number; inFlight: number } | null; replicas: { address: string; health: string; connected: boolean; inFlight: number }[] }[] };
    const read = async (): Promise<Upstreams> => (await json(await admin('/admin/upstreams'))) as unknown as Upstreams;
    await waitFor(async () => (await read()).services[0]!.replicas.every((replica) => replica.health === 'healthy' && replica.connected));
    const { services } = await read();
    assert.equal(services.length, 1);
    const [probe] = services;
    assert.equal(probe!.name, 'probe');
    assert.equal(probe!.breaker, 'closed');
    assert.deepEqual(probe!.concurrency, { limit: 10, inFlight: 0 });
    assert.deepEqual(probe!.replicas.map((replica) => replica.address).sort(), replicas.map((replica) => replica.address).sort());
    for (const replica of probe!.replicas) assert.deepEqual(replica, { address: replica.address, health: 'healthy', connected: true, inFlight: 0 });

    // A call held by the upstream counts on its replica and in the service's concurrency limit.
    const slow = fetch(`${running.url}/v1/wait?delayMs=1500`);
    await waitFor(async () => {
      const [service] = (await read()).services;
      return service!.concurrency?.inFlight === 1 && service!.replicas.reduce((sum, replica) => sum + replica.inFlight, 0) === 1;
    });
    assert.equal((await slow).status, 200);
    await waitFor(async () => (await read()).services[0]!.replicas.every((replica) => replica.inFlight === 0));

    replicas[1]!.serving = false;
    try {
      await waitFor(async () => (await read()).services[0]!.replicas.find((replica) => replica.address === replicas[1]!.address)?.health === 'unhealthy');
    } finally {
      replicas[1]!.serving = true;
    }
    await waitFor(async () => (await read()).services[0]!.replicas.every((replica) => replica.health === 'healthy'));
  });

  it('GET /admin/routes: requests, 5xx errors, latency buckets and p99 per route and method, from the gateway histogram', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${running.url}/v1/probe/r${i}`)).status, 200);
    assert.equal((await fetch(`${running.url}/v1/fail/14`)).status, 503);
    type Routes = { routes: { route: string; method: string; requests: number; errors: number; p99Seconds: number | null; buckets: { le: number; count: number }[] }[] };
    const body = (await json(await admin('/admin/routes'))) as unknown as Routes;
    const echo = body.routes.find((route) => route.route === '/v1/probe/{id}' && route.method === 'GET')!;
    assert.ok(echo.requests >= 3);
    assert.equal(echo.errors, 0);
    assert.ok(echo.p99Seconds !== null && echo.p99Seconds > 0);
    assert.equal(echo.buckets.at(-1)!.count, echo.requests);
    const failing = body.routes.find((route) => route.route === '/v1/fail/{code}')!;
    assert.deepEqual([failing.requests, failing.errors], [1, 1]);
  });

  it('GET /admin/ serves the status page; an unknown admin path is the 404 envelope', async () => {
    const page = await admin('/admin/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    assert.match(html, /<title>Portico status<\/title>/);
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+stylesheet/, 'the page must be self-contained');
    assert.equal((await admin('/admin', { redirect: 'manual' })).headers.get('location'), '/admin/');
    const missing = await admin('/admin/nothing');
    assert.equal(missing.status, 404);
    envelopeOf(await missing.json());
  });
});

describe('secret redaction', () => {
  it('redacts every listed path and the password of any URL, leaving the input untouched', () => {
    const config = {
      auth: { jwt: { secret: 's3cret', issuers: [{ issuer: 'a', secret: 'one' }, { issuer: 'b', jwksUrl: 'https://idp.example/jwks' }] } },
      // rateLimit arrives with issue 15; the URL rule covers it whatever key holds the URL.
      rateLimit: { redis: { url: 'redis://portico:hunter2@redis:6379/0' } },
      tracing: { endpoint: 'http://:token@collector:4318' },
      services: [{ name: 'a', address: 'dns:///a.default.svc:50051' }],
    };
    const before = structuredClone(config);
    assert.deepEqual(redactSecrets(config), {
      auth: { jwt: { secret: redacted, issuers: [{ issuer: 'a', secret: redacted }, { issuer: 'b', jwksUrl: 'https://idp.example/jwks' }] } },
      rateLimit: { redis: { url: `redis://portico:${redacted}@redis:6379/0` } },
      tracing: { endpoint: `http://:${redacted}@collector:4318` },
      services: [{ name: 'a', address: 'dns:///a.default.svc:50051' }],
    });
    assert.deepEqual(config, before);
  });
});

describe('admin config keys', () => {
  it('admin.port equal to server.port is a start-up error', () => {
    assert.throws(
      () => testConfig({ server: { port: 8080 }, admin: { port: 8080 } }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('admin.port: must differ from server.port (8080)')),
    );
  });

  it('is off unless configured; host defaults to loopback', () => {
    assert.equal(testConfig({}).admin, undefined);
    assert.deepEqual(testConfig({ admin: { port: 9901 } }).admin, { port: 9901, host: '127.0.0.1' });
  });
});

describe('quantile', () => {
  it('interpolates within the bucket holding the rank, as histogram_quantile does', () => {
    const buckets = [
      { le: 0.01, count: 50 },
      { le: 0.1, count: 100 },
    ];
    assert.equal(quantile(0.5, buckets, 100), 0.01);
    assert.ok(Math.abs(quantile(0.99, buckets, 100)! - 0.0982) < 1e-9);
    assert.equal(quantile(0.99, buckets, 200), 0.1, 'past the last finite bound');
    assert.equal(quantile(0.99, [], 0), null);
  });
});
