import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfigFile, normaliseConfig } from '../../src/config/load.js';

const service = (overrides: Record<string, unknown> = {}) => ({ name: 'echo', protoFiles: ['echo.proto'], service: 'acme.v1.Echo', address: '127.0.0.1:50051', ...overrides });

function problemsOf(raw: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    normaliseConfig(raw, { baseDir: '/etc/portico', env });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

describe('config validation', () => {
  test('accepts host:port, dns:///host:port and bracketed IPv6 addresses', () => {
    for (const address of ['127.0.0.1:50051', 'localhost', 'dns:///svc.ns.svc.cluster.local:50051', '[::1]:50051', 'dns:///[::1]:50051']) {
      assert.deepEqual(problemsOf({ services: [service({ address })] }), [], address);
    }
  });

  test('refuses other addresses, naming the key and the expected form', () => {
    for (const address of ['http://x:1', 'a:b', 'two words']) {
      assert.deepEqual(problemsOf({ services: [service({ address })] }), ['services[0].address: has an invalid format (expected host:port or dns:///host:port)'], address);
    }
  });

  test('names unknown keys, missing keys and duplicate service names', () => {
    assert.deepEqual(problemsOf({ sever: {} }), ['sever: unknown key']);
    assert.deepEqual(problemsOf({ services: [{ name: 'x', protoFiles: ['a.proto'], service: 'a.B' }] }), ['services[0].address: is required']);
    assert.deepEqual(problemsOf({ services: [service(), service()] }), ['services[1].name: "echo" is used by another service']);
  });

  test('refuses JWT-protected services when no JWT key is configured', () => {
    assert.deepEqual(problemsOf({ services: [service({ auth: 'required' })] }), ['services[0].auth: "required" needs auth.jwt to be configured']);
    assert.deepEqual(problemsOf({ auth: { jwt: {} } }), ['auth.jwt: needs secret (or PORTICO_JWT_SECRET) or publicKeyFile']);
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
    assert.deepEqual(problemsOf({}, { PORT: 'eighty' }), ['PORT: must be an integer from 0 to 65535, got "eighty"']);
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
