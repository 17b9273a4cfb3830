import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../support/gateway.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

/*
 * The admin listener as server.ts starts it: a real gateway process from a config file. It
 * refuses admin.port equal to server.port, names admin.port when that port is taken, serves
 * /admin/ next to the public port, and closes with the gateway on SIGTERM.
 */

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-admin-start-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function start(yaml: string) {
  const file = path.join(tmp, `config-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, yaml);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', '--config', file], { cwd: repoRoot, env: { ...process.env, PORT: '', HOST: '', LOG_LEVEL: '' } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // A regression that keeps running fails the test rather than hanging it.
  const stop = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))).finally(() => clearTimeout(stop));
  return { child, exit, output: () => output };
}

describe('admin listener at start-up', () => {
  it('admin.port equal to server.port is a one-line start-up error', async () => {
    const port = await freePort();
    const run = start(`server: { port: ${port}, host: 127.0.0.1 }\nadmin: { port: ${port} }\n`);
    assert.equal(await run.exit, 1, run.output());
    assert.match(run.output(), new RegExp(`^portico: invalid configuration:\\n  - admin\\.port: must differ from server\\.port \\(${port}\\)`, 'm'));
    assert.doesNotMatch(run.output(), /^\s+at /m, 'no stack trace for a mistake of the user');
  });

  it('an admin port in use is one line naming admin.port', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const run = start(`server: { port: 0, host: 127.0.0.1 }\nadmin: { port: ${port} }\n`);
      assert.equal(await run.exit, 1, run.output());
      assert.match(run.output(), new RegExp(`^portico: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use by another process \\(set admin\\.port\\)$`, 'm'));
    } finally {
      holder.close();
    }
  });

  it('serves /admin/ on its own port and closes with the gateway on SIGTERM', async () => {
    const adminPort = await freePort();
    const run = start(`server: { port: 0, host: 127.0.0.1 }\nadmin: { port: ${adminPort} }\n`);
    try {
      await waitFor(() => run.output().includes('serving'), 15_000);
      assert.match(run.output(), new RegExp(`admin listener on http://127\\.0\\.0\\.1:${adminPort}/admin/`));
      const response = await fetch(`http://127.0.0.1:${adminPort}/admin/config`);
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { version: number }).version, 1);
      run.child.kill('SIGTERM');
      assert.equal(await run.exit, 0, run.output());
      await assert.rejects(fetch(`http://127.0.0.1:${adminPort}/admin/config`));
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});
