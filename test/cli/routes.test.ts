import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/gateway.js';

/*
 * `npm run routes` lists route modules as the declarative bindings are listed: by path template,
 * with their RPC, beside the bindings, and never as "not exposed".
 */

test('npm run routes lists route modules by path template beside the bindings', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-routes-'));
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    file,
    `protos: { includeDirs: [${path.join(repoRoot, 'proto')}] }
services:
  - { name: market-monitor, protoFiles: [market-monitor/v1/market_monitor.proto], service: market_monitor.v1.MarketMonitorService, address: "127.0.0.1:1" }
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/routes.ts', '--config', file], { cwd: repoRoot });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  assert.match(output, /GET\s+\/v1\/tickers\/\{symbol\}\s+market_monitor\.v1\.MarketMonitorService\.GetQuote \(route module market-monitor\)/);
  assert.match(output, /GET\s+\/v1\/quotes\/\{symbol\}\s+market_monitor\.v1\.MarketMonitorService\.GetQuote\n/);
  assert.match(output, /\(not mounted\)\s+route modules of investor: no service named "investor" in the config/);
  assert.doesNotMatch(output, /not exposed.*GetQuote/);
});

test('npm run routes -- --diff prints what a reload would break, one line each, and exits 1; 0 when nothing breaks', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-routes-diff-'));
  const original = fs.readFileSync(path.join(repoRoot, 'test/fixtures/protos/binding/v1/orders.proto'), 'utf8');
  const writeGeneration = (name: string, proto: string, extra = ''): string => {
    fs.mkdirSync(path.join(dir, name, 'binding/v1'), { recursive: true });
    fs.writeFileSync(path.join(dir, name, 'binding/v1/orders.proto'), proto);
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(
      file,
      `protos: { includeDirs: [${path.join(dir, name)}] }
services:
  - { name: orders, protoFiles: [binding/v1/orders.proto], service: binding.v1.OrderService, address: "127.0.0.1:1" }
${extra}`,
    );
    return file;
  };
  const oldFile = writeGeneration('old', original);
  const breaking = original.replace('option (google.api.http) = {delete: "/v1/{name=orders/*}"};', '').replace('  int64 units = 2;', '  string units = 2;');
  const newFile = writeGeneration('new', breaking);
  const allowedFile = writeGeneration('allowed', breaking, 'reload: { allowBreaking: true }\n');
  const sameFile = writeGeneration('same', original.replace('  int32 nanos = 3;\n', '  int32 nanos = 3;\n  string symbol = 4;\n'));
  const run = async (...args: string[]): Promise<{ code: unknown; output: string }> => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/routes.ts', ...args], { cwd: repoRoot });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    return { code, output };
  };
  try {
    const refused = await run('--diff', oldFile, newFile);
    assert.equal(refused.code, 1);
    assert.deepEqual(refused.output.trim().split('\n'), [
      'binding removed: DELETE /v1/{name=orders/*} (binding.v1.OrderService/DeleteOrder)',
      'field binding.v1.Money.units: type changed from int64 to string',
      `2 breaking changes: a reload to ${newFile} is refused unless it sets reload.allowBreaking: true`,
    ]);
    const allowed = await run('--diff', oldFile, allowedFile);
    assert.equal(allowed.code, 1);
    assert.match(allowed.output, /a reload to .* applies them, as it sets reload\.allowBreaking: true/);
    const additions = await run('--diff', oldFile, sameFile);
    assert.equal(additions.code, 0);
    assert.equal(additions.output.trim(), 'no breaking changes');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
