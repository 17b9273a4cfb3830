import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create, type DescMessage } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import { buildFileRegistry } from '../../src/descriptors/file-registry.js';
import { loadProtoSources } from '../../src/descriptors/proto-files.js';
import { startGrpcServer, type RunningGrpcServer } from '../../src/demo/grpc-server.js';
import { repoRoot } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

/*
 * The gateway as operators run it: a real process started the way `npm start -- --config`
 * starts it, signalled with SIGTERM, against a real grpc-js upstream on loopback.
 */

const fixtures = path.join(repoRoot, 'test/fixtures/protos');
const registry = buildFileRegistry(loadProtoSources([fixtures], ['lifecycle/v1/slow.proto']));
const service = registry.getService('lifecycle.v1.SlowService')!;
const responseSchema = registry.getMessage('lifecycle.v1.WaitResponse') as DescMessage;

let upstream: RunningGrpcServer;
let tmp: string;

before(async () => {
  const impl: grpc.UntypedServiceImplementation = {
    wait: (call: grpc.ServerUnaryCall<{ delayMs: number }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      setTimeout(() => callback(null, create(responseSchema, { waitedMs: call.request.delayMs })), call.request.delayMs);
    },
    ticks: (call: grpc.ServerWritableStream<{ delayMs: number }, unknown>) => {
      const timer = setInterval(() => call.write(create(responseSchema, { waitedMs: call.request.delayMs })), call.request.delayMs);
      call.on('cancelled', () => clearInterval(timer));
      call.on('close', () => clearInterval(timer));
    },
  };
  upstream = await startGrpcServer([{ service, impl } as never]);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-lifecycle-'));
});

after(async () => {
  await upstream.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function writeConfig(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

function validConfig(extra = ''): string {
  return `server: { port: 0, host: 127.0.0.1 }
shutdown: { delayMs: 400, graceMs: 1500 }
protos: { includeDirs: [${fixtures}] }
services:
  - { name: slow, protoFiles: [lifecycle/v1/slow.proto], service: lifecycle.v1.SlowService, address: "${upstream.address}" }
${extra}`;
}

interface Running {
  child: ChildProcess;
  url: string;
  exit: Promise<number | null>;
  output: () => string;
}

function runGateway(args: string[], env: NodeJS.ProcessEnv = {}, script = 'src/server.ts'): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: repoRoot, env: { ...process.env, PORT: '', ...env } });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, url: '', exit, output: () => output };
}

async function startGateway(configFile: string): Promise<Running> {
  const running = runGateway(['--config', configFile]);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(running.output());
    if (match) return { ...running, url: match[1]! };
    if (running.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  running.child.kill('SIGKILL');
  throw new Error(`gateway did not start:\n${running.output()}`);
}

describe('the gateway process', () => {
  test('--check-config accepts a valid config and exits 0 without listening', async () => {
    const run = runGateway(['--config', writeConfig('ok.yaml', validConfig()), '--check-config']);
    assert.equal(await run.exit, 0);
    assert.match(run.output(), /config OK: 1 services, 2 bindings and 0 route modules/);
  });

  test('a bad config stops start-up with a message naming each bad key', async () => {
    const bad = `server: { port: "eighty" }
services:
  - { name: Bad_Name, protoFiles: [], service: nope, address: "not an address" }
`;
    const run = runGateway(['--config', writeConfig('bad.yaml', bad), '--check-config']);
    assert.equal(await run.exit, 1);
    const output = run.output();
    assert.match(output, /server\.port: must be integer/);
    assert.match(output, /services\[0\]\.name: has an invalid format/);
    assert.match(output, /services\[0\]\.protoFiles:/);
    assert.match(output, /services\[0\]\.service: has an invalid format/);
    assert.match(output, /services\[0\]\.address: has an invalid format \(expected host:port, \[IPv6\]:port or dns:\/\/\/host:port, with a port from 1 to 65535\)/);
  });

  test('a service missing from its proto files is named at start-up', async () => {
    const config = validConfig().replace('lifecycle.v1.SlowService', 'lifecycle.v1.Missing');
    const run = runGateway(['--config', writeConfig('missing.yaml', config), '--check-config']);
    assert.equal(await run.exit, 1);
    assert.match(run.output(), /services\[0\]\.service: lifecycle\.v1\.Missing is not defined in lifecycle\/v1\/slow\.proto/);
  });

  test('two colliding bindings stop start-up with one line naming both', async () => {
    const config = `protos: { includeDirs: [${fixtures}] }
services:
  - { name: collide, protoFiles: [acceptance/v1/collide.proto], service: acceptance.v1.CollidingService, address: "127.0.0.1:1" }
`;
    const run = runGateway(['--config', writeConfig('collide.yaml', config), '--check-config']);
    assert.equal(await run.exit, 1);
    assert.match(run.output(), /^portico: Conflicting HTTP bindings: GET \/v1\/things\/\{id\} \(acceptance\.v1\.CollidingService\.First\) and GET \/v1\/things\/\{name\} \(acceptance\.v1\.CollidingService\.Second\)/m);
    assert.doesNotMatch(run.output(), /    at /, 'no stack trace for a configuration error');
  });

  test('SIGTERM turns readiness to 503, lets the request in flight finish, and exits 0', async () => {
    const gateway = await startGateway(writeConfig('run.yaml', validConfig()));
    assert.equal((await fetch(`${gateway.url}/readyz`)).status, 200);
    const inFlight = fetch(`${gateway.url}/v1/wait/900`);
    await new Promise((r) => setTimeout(r, 150));
    gateway.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    // Within shutdown.delayMs the listener still serves, but readiness already says draining.
    assert.equal((await fetch(`${gateway.url}/readyz`)).status, 503);
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { waitedMs: 900 });
    assert.equal(await gateway.exit, 0);
    await assert.rejects(fetch(`${gateway.url}/healthz`));
  });

  test('SIGTERM ends an open stream when the grace period runs out, then exits 0', async () => {
    const gateway = await startGateway(writeConfig('stream.yaml', validConfig()));
    const response = await fetch(`${gateway.url}/v1/ticks/50`);
    assert.equal(response.status, 200);
    const started = Date.now();
    gateway.child.kill('SIGTERM');
    const body = await response.text();
    const lines = body.trim().split('\n');
    const last = JSON.parse(lines.at(-1)!) as { error: { code: number; status: string } };
    assert.equal(last.error.status, 'UNAVAILABLE');
    assert.equal(last.error.code, 503);
    assert.ok(lines.length > 5, 'messages kept flowing during the delay and the grace period');
    assert.equal(await gateway.exit, 0);
    assert.ok(Date.now() - started >= 1500, 'the stream lasted through delayMs and graceMs');
  });

  test('access lines go out in batches: a lone line still reaches stdout, and none is lost at exit', async () => {
    const gateway = await startGateway(writeConfig('logs.yaml', validConfig().replace('delayMs: 400', 'delayMs: 0')));
    const accessLines = (): Array<{ route: string; status: number }> =>
      gateway
        .output()
        .split('\n')
        .filter((line) => line.includes('"request completed"'))
        .map((line) => JSON.parse(line) as { route: string; status: number });
    assert.equal((await fetch(`${gateway.url}/v1/wait/1`)).status, 200);
    // One short line is far below a batch: only the periodic flush writes it.
    await waitFor(() => accessLines().length === 1);
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(`${gateway.url}/v1/wait/${i + 1}`)));
    assert.ok(burst.every((response) => response.status === 200));
    gateway.child.kill('SIGTERM');
    assert.equal(await gateway.exit, 0);
    const lines = accessLines();
    assert.equal(lines.length, 41, 'every request has its access line');
    assert.ok(lines.every((line) => line.route === '/v1/wait/{delay_ms}' && line.status === 200));
  });

  test('a config change is picked up without a restart, and a broken one is refused', async () => {
    const file = writeConfig('reload.yaml', validConfig());
    const gateway = await startGateway(file);
    try {
      assert.equal((await fetch(`${gateway.url}/readyz`).then((r) => r.json()) as { routesVersion: number }).routesVersion, 1);
      fs.writeFileSync(file, validConfig().replace('delayMs: 400', 'delayMs: 0') + '\n# changed\n');
      gateway.child.kill('SIGHUP');
      await waitFor(async () => ((await fetch(`${gateway.url}/readyz`).then((r) => r.json())) as { routesVersion: number }).routesVersion === 2);
      fs.writeFileSync(file, validConfig().replace('lifecycle/v1/slow.proto]', 'lifecycle/v1/absent.proto]'));
      gateway.child.kill('SIGHUP');
      await waitFor(async () => gateway.output().includes('config reload rejected'));
      const still = await fetch(`${gateway.url}/v1/wait/1`);
      assert.equal(still.status, 200);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exit;
    }
  });
});

/** Runs a command that should stop at once; its exit code and its output. */
async function runToExit(args: string[], env: NodeJS.ProcessEnv = {}, script?: string): Promise<{ code: number | null; output: string }> {
  const run = runGateway(args, env, script);
  // A regression that starts serving instead of stopping fails the test rather than hanging it.
  const stop = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
  const code = await run.exit;
  clearTimeout(stop);
  return { code, output: run.output() };
}

/** One `portico: ...` line (or `token: ...`), no stack trace, exit 1. */
function assertOneLineMistake({ code, output }: { code: number | null; output: string }, pattern: RegExp): void {
  assert.equal(code, 1, output);
  assert.match(output, pattern);
  assert.doesNotMatch(output, /^\s+at /m, 'no stack trace for a mistake of the user');
}

describe('mistakes at start-up', () => {
  test('an unknown option is one line', async () => {
    assertOneLineMistake(await runToExit(['--bogus']), /^portico: Unknown option '--bogus' \(see --help\)\n$/);
  });

  test('LOG_LEVEL=verbose is refused, listing the levels', async () => {
    const result = await runToExit(['--config', writeConfig('level.yaml', validConfig()), '--check-config'], { LOG_LEVEL: 'verbose' });
    assertOneLineMistake(result, /LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/);
  });

  test('a port in use is one line naming the address', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const config = validConfig().replace('port: 0', `port: ${port}`);
      const result = await runToExit(['--config', writeConfig('in-use.yaml', config)]);
      assertOneLineMistake(result, new RegExp(`^portico: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another process`, 'm'));
    } finally {
      holder.close();
    }
  });

  test('a proto syntax error names the file and the line', async () => {
    const protoDir = path.join(tmp, 'broken-protos');
    fs.mkdirSync(path.join(protoDir, 'broken/v1'), { recursive: true });
    fs.writeFileSync(path.join(protoDir, 'broken/v1/broken.proto'), 'syntax = "proto3";\npackage broken.v1;\nmessage M {\n  int32 x = 1\n}\n');
    const config = `protos: { includeDirs: [${protoDir}] }
services:
  - { name: broken, protoFiles: [broken/v1/broken.proto], service: broken.v1.S, address: "127.0.0.1:1" }
`;
    const result = await runToExit(['--config', writeConfig('broken.yaml', config), '--check-config']);
    const file = path.join(protoDir, 'broken/v1/broken.proto').replace(/[.\\/]/g, '\\$&');
    assertOneLineMistake(result, new RegExp(`^portico: cannot parse ${file}: illegal token '\\}', ';' expected \\(line 5\\)$`, 'm'));
  });

  test('the demo with a bad PORT names only PORT', async () => {
    const result = await runToExit([], { PORT: 'eighty' });
    assertOneLineMistake(result, /PORT: must be an integer from 0 to 65535, got "eighty"/);
    assert.doesNotMatch(result.output, /auth/);
  });

  test('PORTICO_CONFIG (the container image sets it) naming no file is one line, not the demo', async () => {
    const result = await runToExit([], { PORTICO_CONFIG: path.join(tmp, 'not-mounted.yaml') });
    assertOneLineMistake(result, /^portico: no config file at .*not-mounted\.yaml \(PORTICO_CONFIG\): mount one there, pass --config <file>, or --demo/m);
  });
});

describe('the demo', () => {
  test('listens on 127.0.0.1 unless told otherwise', async () => {
    const demo = runGateway(['--demo'], { PORT: '0', PORTICO_CONFIG: path.join(tmp, 'ignored-with-demo.yaml') });
    try {
      await waitFor(() => /Server listening at http:\/\//.test(demo.output()) || demo.child.exitCode !== null, 20_000);
      assert.match(demo.output(), /Server listening at http:\/\/127\.0\.0\.1:\d+/);
      assert.doesNotMatch(demo.output(), /Server listening at http:\/\/(?!127\.0\.0\.1)/);
    } finally {
      demo.child.kill('SIGTERM');
      await demo.exit;
    }
  });

  test('says at start-up what it serves, route modules counted and never listed as "not exposed", and where the docs are', async () => {
    const demo = runGateway(['--demo'], { PORT: '0' });
    try {
      await waitFor(() => /OpenAPI at/.test(demo.output()) || demo.child.exitCode !== null, 20_000);
      assert.match(demo.output(), /serving \d+ bindings and 4 route modules of 4 services on http:\/\/127\.0\.0\.1:\d+; OpenAPI at http:\/\/127\.0\.0\.1:\d+\/docs/);
      assert.doesNotMatch(demo.output(), /GetInvestor is not exposed|GetQuote is not exposed/);
    } finally {
      demo.child.kill('SIGTERM');
      await demo.exit;
    }
  });
});

describe('npm run token', () => {
  test('--help prints the usage and exits 0', async () => {
    const { code, output } = await runToExit(['--help'], {}, 'scripts/token.ts');
    assert.equal(code, 0);
    assert.match(output, /^usage: npm run token -- \[--sub <subject>\] \[--ttl <seconds>\]/);
  });

  test('an unknown option or a missing value is one line', async () => {
    assertOneLineMistake(await runToExit(['--bogus'], {}, 'scripts/token.ts'), /^token: Unknown option '--bogus' \(see --help\)\n$/);
    assertOneLineMistake(await runToExit(['--sub'], {}, 'scripts/token.ts'), /^token: Option '--sub <value>' argument missing \(see --help\)\n$/);
  });
});

describe('npm run routes', () => {
  test('lists every binding with its RPC', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/routes.ts', '--config', writeConfig('routes.yaml', validConfig())], { cwd: repoRoot });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.match(output, /GET\s+\/v1\/wait\/\{delay_ms\}\s+lifecycle\.v1\.SlowService\.Wait/);
    assert.match(output, /GET\s+\/v1\/ticks\/\{delay_ms\}\s+lifecycle\.v1\.SlowService\.Ticks \(server stream\)/);
  });
});
