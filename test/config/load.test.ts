import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfigFile, normaliseConfig } from '../../src/config/load.js';
import { demoConfig } from '../../src/demo/demo-config.js';
import { configProblems, problemsThrownBy } from '../support/config.js';

const service = (overrides: Record<string, unknown> = {}) => ({ name: 'echo', protoFiles: ['echo.proto'], service: 'acme.v1.Echo', address: '127.0.0.1:50051', ...overrides });

const addressProblem = 'services[0].address: has an invalid format (expected host:port, [IPv6]:port or dns:///host:port, with a port from 1 to 65535)';

const problemsOf = configProblems;

describe('config validation', () => {
  test('accepts host:port, dns:///host:port and bracketed IPv6 addresses', () => {
    for (const address of ['127.0.0.1:50051', 'localhost:1', 'dns:///svc.ns.svc.cluster.local:65535', '[::1]:50051', 'dns:///[::1]:50051']) {
      assert.deepEqual(problemsOf({ services: [service({ address })] }), [], address);
    }
  });

  test('refuses other addresses, naming the key and the expected form', () => {
    for (const address of ['http://x:1', 'a:b', 'two words']) {
      assert.deepEqual(problemsOf({ services: [service({ address })] }), [addressProblem], address);
    }
  });

  test('refuses an address without a port (grpc-js would quietly call port 443) or with one out of range', () => {
    for (const address of ['localhost', 'dns:///svc.ns.svc.cluster.local', '[::1]', 'localhost:', 'localhost:0', 'localhost:65536', 'localhost:050051']) {
      assert.deepEqual(problemsOf({ services: [service({ address })] }), [addressProblem], address);
    }
  });

  test('names unknown keys, missing keys and duplicate service names', () => {
    assert.deepEqual(problemsOf({ sever: {} }), ['sever: unknown key']);
    assert.deepEqual(problemsOf({ services: [{ name: 'x', protoFiles: ['a.proto'], service: 'a.B' }] }), ['services[0].address: is required (or services[0].endpoints, a static list of replicas)']);
    assert.deepEqual(problemsOf({ services: [service(), service()] }), ['services[1].name: "echo" is used by another service']);
  });

  test('refuses JWT-protected services when no JWT key is configured', () => {
    assert.deepEqual(problemsOf({ services: [service({ auth: 'required' })] }), ['services[0].auth: "required" needs auth.jwt to be configured']);
    assert.deepEqual(problemsOf({ auth: { jwt: {} } }), ['auth.jwt: needs secret (or PORTICO_JWT_SECRET), publicKeyFile or jwksUrl, or an issuers list']);
  });

  test('applies defaults, resolves include dirs from the config file and lets the environment override', () => {
    const config = normaliseConfig(
      { protos: { includeDirs: ['protos', '/abs'] }, services: [service()], auth: { jwt: {} } },
      { baseDir: '/etc/portico', env: { PORT: '9090', PORTICO_JWT_SECRET: 'from-the-environment-123', LOG_LEVEL: 'warn' } },
    );
    assert.equal(config.server.port, 9090);
    assert.equal(config.server.host, '0.0.0.0');
    assert.equal(config.server.bodyLimit, 1048576);
    assert.deepEqual(config.protos.includeDirs, ['/etc/portico/protos', '/abs']);
    assert.equal(config.services[0]!.timeoutMs, 5000);
    assert.equal(config.services[0]!.auth, 'none');
    assert.equal(config.auth.jwt?.secret, 'from-the-environment-123');
    assert.deepEqual(config.auth.jwt?.forwardClaims, { sub: 'x-user-id' });
    assert.equal(config.logging.level, 'warn');
    assert.equal(config.shutdown.graceMs, 10000);
    assert.equal(config.metrics.enabled, true);
    assert.equal(normaliseConfig({ metrics: { enabled: false } }, { baseDir: '/', env: {} }).metrics.enabled, false);
  });

  test('refuses a PORT that is not a port', () => {
    for (const port of ['eighty', '65536', '-1', '0x50', '1e3', '80.5']) {
      assert.deepEqual(problemsOf({}, { PORT: port }), [`PORT: must be an integer from 0 to 65535, got "${port}"`], port);
    }
  });

  test('an empty PORT counts as unset: the configured port stays, not a random one', () => {
    for (const PORT of ['', ' ']) {
      assert.equal(normaliseConfig({ server: { port: 18080 } }, { baseDir: '/', env: { PORT } }).server.port, 18080);
      assert.equal(normaliseConfig({}, { baseDir: '/', env: { PORT } }).server.port, 8080);
    }
  });

  test('HOST overrides server.host; an empty one counts as unset', () => {
    assert.equal(normaliseConfig({ server: { host: '127.0.0.1' } }, { baseDir: '/', env: { HOST: '::' } }).server.host, '::');
    assert.equal(normaliseConfig({ server: { host: '127.0.0.1' } }, { baseDir: '/', env: { HOST: '' } }).server.host, '127.0.0.1');
  });

  test('refuses a LOG_LEVEL pino does not know, listing the valid ones', () => {
    assert.deepEqual(problemsOf({}, { LOG_LEVEL: 'verbose' }), ['LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"']);
    assert.equal(normaliseConfig({ logging: { level: 'warn' } }, { baseDir: '/', env: { LOG_LEVEL: '' } }).logging.level, 'warn');
  });

  test('another problem does not make a valid auth.jwt look missing', () => {
    const raw = { services: [service({ auth: 'required' })], auth: { jwt: { secret: 'a-secret-of-sixteen-chars' } } };
    assert.deepEqual(problemsOf(raw, { PORT: 'eighty' }), ['PORT: must be an integer from 0 to 65535, got "eighty"']);
    // A configured but incomplete auth.jwt is named once, not also reported as missing.
    assert.deepEqual(problemsOf({ ...raw, auth: { jwt: {} } }), ['auth.jwt: needs secret (or PORTICO_JWT_SECRET), publicKeyFile or jwksUrl, or an issuers list']);
  });
});

describe('the demo config', () => {
  const addresses = { investor: '127.0.0.1:1', 'company-selector': '127.0.0.1:2', 'market-monitor': '127.0.0.1:3', 'indicator-insights': '127.0.0.1:4' };

  test('with a bad PORT names only PORT', () => {
    assert.deepEqual(problemsThrownBy(() => demoConfig(addresses, { PORT: 'eighty' })), ['PORT: must be an integer from 0 to 65535, got "eighty"']);
  });

  test('binds 127.0.0.1 unless HOST says otherwise', () => {
    assert.equal(demoConfig(addresses, {}).server.host, '127.0.0.1');
    assert.equal(demoConfig(addresses, { HOST: '0.0.0.0' }).server.host, '0.0.0.0');
  });
});

describe('auth.jwt keys and algorithms', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-keys-'));
  const pemFile = (name: string, key: crypto.KeyObject): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, key.export({ type: 'spki', format: 'pem' }));
    return file;
  };
  const rsaKey = pemFile('rsa.pem', crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey);
  const ecKey = pemFile('ec.pem', crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  const secret = 'a-secret-of-enough-length';
  after(() => fs.rmSync(dir, { recursive: true }));

  test('refuses a public key next to HS* algorithms only (algorithm confusion)', () => {
    assert.deepEqual(problemsOf({ auth: { jwt: { secret, publicKeyFile: rsaKey, algorithms: ['HS256'] } } }), [
      'auth.jwt.algorithms: publicKeyFile is configured but no RS*, PS*, ES* or EdDSA algorithm is listed',
    ]);
  });

  test('refuses an algorithm without the key of its family', () => {
    assert.deepEqual(problemsOf({ auth: { jwt: { publicKeyFile: rsaKey, algorithms: ['HS256', 'RS256'] } } }), ['auth.jwt.algorithms: HS256 needs auth.jwt.secret (or PORTICO_JWT_SECRET)']);
    assert.deepEqual(problemsOf({ auth: { jwt: { secret, algorithms: ['HS256', 'RS256', 'EdDSA'] } } }), ['auth.jwt.algorithms: RS256, EdDSA need auth.jwt.publicKeyFile or auth.jwt.jwksUrl']);
    assert.deepEqual(problemsOf({ auth: { jwt: { secret, algorithms: ['RS256'] } } }), [
      'auth.jwt.algorithms: RS256 needs auth.jwt.publicKeyFile or auth.jwt.jwksUrl',
      'auth.jwt.algorithms: a secret is configured (auth.jwt.secret or PORTICO_JWT_SECRET) but no HS256/384/512 algorithm is listed',
    ]);
  });

  test('refuses algorithms the public key cannot verify, and a file that holds no public key', () => {
    assert.deepEqual(problemsOf({ auth: { jwt: { publicKeyFile: ecKey, algorithms: ['ES256', 'RS256'] } } }), [
      'auth.jwt.algorithms: RS256 cannot be verified with the key in publicKeyFile (it suits ES256)',
    ]);
    const notAKey = path.join(dir, 'not-a-key.pem');
    fs.writeFileSync(notAKey, 'hello\n');
    assert.deepEqual(problemsOf({ auth: { jwt: { publicKeyFile: notAKey, algorithms: ['RS256'] } } }), [
      `auth.jwt.publicKeyFile: ${notAKey} is not an RSA, EC (P-256/384/521) or Ed25519/Ed448 public key in PEM`,
    ]);
  });

  test('accepts each key with the algorithms of its family, together or alone', () => {
    const config = normaliseConfig({ auth: { jwt: { secret, publicKeyFile: rsaKey, algorithms: ['HS256', 'RS256', 'PS384'] } } }, { baseDir: '/', env: {} });
    assert.equal(config.auth.jwt?.secret, secret);
    assert.match(config.auth.jwt?.publicKey ?? '', /BEGIN PUBLIC KEY/);
    assert.deepEqual(problemsOf({ auth: { jwt: { publicKeyFile: ecKey, algorithms: ['ES256'] } } }), []);
    assert.deepEqual(problemsOf({ auth: { jwt: { secret } } }), []);
  });

  test('defaults the token size limit and the cache budget', () => {
    const jwt = normaliseConfig({ auth: { jwt: { secret } } }, { baseDir: '/', env: {} }).auth.jwt!;
    assert.equal(jwt.maxTokenBytes, 8192);
    assert.equal(jwt.cacheBytes, 8388608);
  });
});

describe('auth.jwt issuers and JWKS', () => {
  const secret = 'a-secret-of-enough-length';
  const jwksUrl = 'https://login.example.com/.well-known/jwks.json';

  test('accepts a JWKS issuer beside the implicit one, inheriting jwksRefreshSec and clockToleranceSec', () => {
    const jwt = normaliseConfig(
      { auth: { jwt: { secret, jwksRefreshSec: 60, clockToleranceSec: 30, issuers: [{ issuer: 'https://login.example.com/', jwksUrl, audience: 'shop' }] } } },
      { baseDir: '/', env: {} },
    ).auth.jwt!;
    assert.deepEqual(jwt.algorithms, ['HS256']);
    assert.deepEqual(jwt.issuers, [
      { key: 'auth.jwt.issuers[0]', issuer: 'https://login.example.com/', jwksUrl, audience: 'shop', algorithms: ['RS256'], jwksRefreshSec: 60, clockToleranceSec: 30 },
    ]);
  });

  test('refuses an issuer without a key, a repeated issuer, and a JWKS beside a key file', () => {
    assert.deepEqual(problemsOf({ auth: { jwt: { issuers: [{ issuer: 'a' }] } } }), ['auth.jwt.issuers[0]: needs secret, publicKeyFile or jwksUrl']);
    assert.deepEqual(
      problemsOf({ auth: { jwt: { secret, issuer: 'a', issuers: [{ issuer: 'b', jwksUrl }, { issuer: 'a', jwksUrl }] } } }),
      ['auth.jwt.issuers[1].issuer: "a" is already the issuer of auth.jwt; each issuer has one entry'],
    );
    assert.deepEqual(problemsOf({ auth: { jwt: { jwksUrl, publicKeyFile: '/nonexistent.pem' } } }), [
      'auth.jwt.publicKeyFile: cannot read /nonexistent.pem',
      'auth.jwt.jwksUrl: cannot be set together with auth.jwt.publicKeyFile; keep one of them',
    ]);
  });

  test('refuses HS* for a JWKS issuer and RS* for an HMAC one', () => {
    assert.deepEqual(problemsOf({ auth: { jwt: { issuers: [{ issuer: 'a', jwksUrl, algorithms: ['HS256', 'RS256'] }] } } }), [
      'auth.jwt.issuers[0].algorithms: HS256 needs auth.jwt.issuers[0].secret',
    ]);
    assert.deepEqual(problemsOf({ auth: { jwt: { issuers: [{ issuer: 'a', secret, algorithms: ['RS256'] }] } } }), [
      'auth.jwt.issuers[0].algorithms: RS256 needs auth.jwt.issuers[0].publicKeyFile or auth.jwt.issuers[0].jwksUrl',
      'auth.jwt.issuers[0].algorithms: a secret is configured (auth.jwt.issuers[0].secret) but no HS256/384/512 algorithm is listed',
    ]);
  });

  test('takes https JWKS URLs, and http ones to a loopback host only', () => {
    assert.deepEqual(problemsOf({ auth: { jwt: { jwksUrl: 'http://127.0.0.1:8080/jwks' } } }), []);
    assert.deepEqual(problemsOf({ auth: { jwt: { jwksUrl: 'http://login.example.com/jwks' } } }), [
      'auth.jwt.jwksUrl: has an invalid format (expected an https:// URL, or http:// to 127.0.0.1, localhost or [::1])',
    ]);
  });

  test('refuses top-level issuer keys that apply to no issuer', () => {
    assert.deepEqual(problemsOf({ auth: { jwt: { audience: 'shop', issuers: [{ issuer: 'a', secret }] } } }), [
      'auth.jwt.audience: auth.jwt itself has no key (secret, publicKeyFile or jwksUrl), so this applies to nothing; set it in the issuers[] entries',
    ]);
  });
});

describe('metadata keys', () => {
  const reserved = 'has an invalid format (expected a lower-case header or metadata name, neither grpc-* (reserved by gRPC) nor *-bin (binary))';

  test('refuses grpc-* and -bin names in metadata.forwardHeaders', () => {
    assert.deepEqual(problemsOf({ metadata: { forwardHeaders: ['traceparent', 'grpc-trace', 'x-ticket-bin'] } }), [
      `metadata.forwardHeaders[1]: ${reserved}`,
      `metadata.forwardHeaders[2]: ${reserved}`,
    ]);
  });

  test('refuses grpc-* and -bin keys in auth.jwt.forwardClaims', () => {
    const secret = 'a-secret-of-enough-length';
    assert.deepEqual(problemsOf({ auth: { jwt: { secret, forwardClaims: { sub: 'grpc-user' } } } }), [`auth.jwt.forwardClaims.sub: ${reserved}`]);
    assert.deepEqual(problemsOf({ auth: { jwt: { secret, forwardClaims: { sub: 'x-user-bin' } } } }), [`auth.jwt.forwardClaims.sub: ${reserved}`]);
  });

  test('still accepts names that only contain "grpc" or "bin"', () => {
    assert.deepEqual(problemsOf({ metadata: { forwardHeaders: ['x-grpc-hint', 'x-binary', 'bin-id'] } }), []);
  });
});

describe('config files', () => {
  test('a YAML syntax error names the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-config-'));
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'server: [unclosed\n');
    assert.throws(() => loadConfigFile(file, {}), (err: unknown) => err instanceof ConfigError && err.problems[0]!.startsWith(`${file}: `));
    fs.rmSync(dir, { recursive: true });
  });

  test('a missing file is named with the reason', () => {
    assert.throws(() => loadConfigFile('/nonexistent/portico.yaml', {}), (err: unknown) => err instanceof ConfigError && err.problems[0] === 'cannot read /nonexistent/portico.yaml: ENOENT');
  });
});

describe('upstream channel defaults', () => {
  test('keepalive pings no more often than every 5 minutes unless configured: default gRPC servers refuse more (GOAWAY too_many_pings)', () => {
    const config = normaliseConfig({ services: [service()] }, { baseDir: '/etc/portico', env: {} });
    assert.ok(config.services[0]!.keepalive.timeMs >= 300_000, `keepalive.timeMs defaults to ${config.services[0]!.keepalive.timeMs}`);
    const tuned = normaliseConfig({ services: [service({ keepalive: { timeMs: 30_000, timeoutMs: 5_000 } })] }, { baseDir: '/etc/portico', env: {} });
    assert.deepEqual(tuned.services[0]!.keepalive, { timeMs: 30_000, timeoutMs: 5_000 });
  });

  test('caps open streams per service by default, below the 100 concurrent streams HTTP/2 servers commonly allow', () => {
    const config = normaliseConfig({ services: [service()] }, { baseDir: '/etc/portico', env: {} });
    assert.ok(config.services[0]!.maxOpenStreams < 100);
    assert.deepEqual(problemsOf({ services: [service({ maxOpenStreams: 0 })] }), ['services[0].maxOpenStreams: must be >= 1']);
  });
});

describe('upstream policies in three layers: upstreamDefaults, the service, the RPC', () => {
  const normalise = (raw: unknown) => normaliseConfig(raw, { baseDir: '/etc/portico', env: {} });

  test('a service takes upstreamDefaults for the keys it does not set, key by key inside objects', () => {
    const config = normalise({
      upstreamDefaults: { timeoutMs: 900, maxOpenStreams: 10, keepalive: { timeoutMs: 7000 } },
      services: [service(), service({ name: 'own', timeoutMs: 300, keepalive: { timeMs: 600_000 } })],
    });
    const [inherits, own] = config.services;
    assert.deepEqual([inherits!.timeoutMs, inherits!.maxOpenStreams, inherits!.keepalive], [900, 10, { timeMs: 300_000, timeoutMs: 7000 }]);
    assert.deepEqual([own!.timeoutMs, own!.maxOpenStreams, own!.keepalive], [300, 10, { timeMs: 600_000, timeoutMs: 7000 }]);
  });

  test('without upstreamDefaults the built-in defaults apply', () => {
    const [only] = normalise({ services: [service()] }).services;
    assert.deepEqual([only!.timeoutMs, only!.maxOpenStreams], [5000, 50]);
  });

  test('keeps per-RPC settings and refuses unknown keys in them', () => {
    const [only] = normalise({ services: [service({ methods: { GetOrder: { timeoutMs: 800, idempotent: true } } })] }).services;
    assert.deepEqual(only!.methods, { GetOrder: { timeoutMs: 800, idempotent: true } });
    assert.deepEqual(problemsOf({ services: [service({ methods: { GetOrder: { timeout: 1 } } })] }), ['services[0].methods.GetOrder.timeout: unknown key']);
  });
});

describe('replicas and balancing', () => {
  const normalise = (raw: unknown) => normaliseConfig(raw, { baseDir: '/etc/portico', env: {} });
  const endpoints = [{ address: '10.0.0.7:50051', weight: 3 }, { address: '[::1]:50052' }];
  const withEndpoints = (overrides: Record<string, unknown> = {}) => ({ ...service(), address: undefined, endpoints, ...overrides });

  test('takes a static endpoint list instead of address, each weight defaulting to 1; balancing defaults to round_robin', () => {
    const [only] = normalise({ services: [withEndpoints()] }).services;
    assert.equal(only!.address, undefined);
    assert.deepEqual(only!.endpoints, [{ address: '10.0.0.7:50051', weight: 3 }, { address: '[::1]:50052', weight: 1 }]);
    assert.equal(only!.balancing, 'round_robin');
    assert.equal(only!.hashOn, undefined);
  });

  test('refuses address and endpoints together, and neither, naming the key', () => {
    assert.deepEqual(problemsOf({ services: [service({ endpoints })] }), ['services[0].endpoints: cannot be set together with services[0].address; keep one of them']);
    assert.deepEqual(problemsOf({ services: [service({ address: undefined })] }), ['services[0].address: is required (or services[0].endpoints, a static list of replicas)']);
  });

  test('refuses a bad or repeated endpoint address and a weight out of range', () => {
    assert.deepEqual(problemsOf({ services: [withEndpoints({ endpoints: [{ address: 'dns:///x:1' }] })] }), [
      'services[0].endpoints[0].address: has an invalid format (expected host:port or [IPv6]:port, with a port from 1 to 65535)',
    ]);
    assert.deepEqual(problemsOf({ services: [withEndpoints({ endpoints: [{ address: 'a:1' }, { address: 'a:1' }] })] }), ['services[0].endpoints[1].address: "a:1" is listed twice']);
    assert.equal(problemsOf({ services: [withEndpoints({ endpoints: [{ address: 'a:1', weight: 0 }] })] }).length, 1);
    assert.deepEqual(problemsOf({ services: [withEndpoints({ endpoints: [] })] }).length, 1);
  });

  test('refuses hashOn without ring_hash, in a service and in upstreamDefaults', () => {
    assert.deepEqual(problemsOf({ services: [service({ hashOn: { header: 'x-tenant-id' } })] }), [
      "services[0].hashOn: only ring_hash balancing hashes, and services[0]'s balancing is round_robin",
    ]);
    assert.deepEqual(problemsOf({ upstreamDefaults: { balancing: 'least_request', hashOn: { query: 'tenant' } }, services: [service()] }), [
      "upstreamDefaults.hashOn: only ring_hash balancing hashes, and upstreamDefaults's balancing is least_request",
    ]);
  });

  test('refuses ring_hash without hashOn, a hashOn of two sources, and a claim without auth.jwt', () => {
    assert.deepEqual(problemsOf({ services: [service({ balancing: 'ring_hash' })] }), [
      'services[0].hashOn: is required with balancing ring_hash ({ header: NAME }, { claim: NAME } or { query: NAME })',
    ]);
    assert.deepEqual(problemsOf({ services: [service({ balancing: 'ring_hash', hashOn: { header: 'a', query: 'b' } })] }), ['services[0].hashOn: set exactly one of header, claim or query']);
    assert.deepEqual(problemsOf({ services: [service({ balancing: 'ring_hash', hashOn: { claim: 'tenant' } })] }), ['services[0].hashOn.claim: needs auth.jwt to be configured']);
    const unknownPolicy = problemsOf({ services: [service({ balancing: 'maglev' })] });
    assert.ok(unknownPolicy.length > 0 && unknownPolicy.every((problem) => problem.startsWith('services[0].balancing: ')), unknownPolicy.join('; '));
  });

  test("a service inherits upstreamDefaults' ring_hash with its hashOn, or balances its own way without it", () => {
    const config = normalise({
      upstreamDefaults: { balancing: 'ring_hash', hashOn: { header: 'x-tenant-id' } },
      services: [service(), service({ name: 'own', balancing: 'least_request' }), service({ name: 'query', hashOn: { query: 'tenant' } })],
    });
    const [inherits, own, query] = config.services;
    assert.deepEqual([inherits!.balancing, inherits!.hashOn], ['ring_hash', { header: 'x-tenant-id' }]);
    assert.deepEqual([own!.balancing, own!.hashOn], ['least_request', undefined]);
    assert.deepEqual([query!.balancing, query!.hashOn], ['ring_hash', { query: 'tenant' }]);
  });
});
