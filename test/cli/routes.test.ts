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
