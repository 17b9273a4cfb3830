import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp, type Gateway } from '../../src/app.js';
import { loadConfigFile } from '../../src/config/load.js';
import { watchConfig } from '../../src/config/watch.js';
import { waitFor } from '../support/wait.js';

/*
 * Reload on file changes: editing only a .proto (the config untouched) is picked up, and the
 * protos watched follow the config after a reload. No upstream runs: a new binding answers
 * 503 UNAVAILABLE where an unknown path answers 404.
 */

const pollMs = 50;

function protoSource(pkg: string, rpcs: string[]): string {
  const methods = rpcs.map((rpc) => `  rpc ${rpc}(Req) returns (Res) { option (google.api.http) = { get: "/v1/${pkg}/${rpc.toLowerCase()}" }; }`);
  return `syntax = "proto3";
package ${pkg}.v1;
import "google/api/annotations.proto";
service Svc {
${methods.join('\n')}
}
message Req {}
message Res {}
`;
}

function configSource(protoDir: string, services: string[]): string {
  const entries = services.map((pkg) => `  - { name: ${pkg}, protoFiles: [${pkg}/v1/svc.proto], service: ${pkg}.v1.Svc, address: "127.0.0.1:1" }`);
  return `protos: { includeDirs: [${protoDir}] }\nservices:\n${entries.join('\n')}\n`;
}

describe('watchConfig', () => {
  let dir: string;
  let configFile: string;
  let gateway: Gateway;
  let url: string;

  const write = (relative: string, text: string): void => {
    const file = path.join(dir, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  };
  const status = async (route: string): Promise<number> => (await fetch(`${url}${route}`)).status;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-watch-'));
    write('protos/alpha/v1/svc.proto', protoSource('alpha', ['One']));
    write('protos/beta/v1/svc.proto', protoSource('beta', ['One']));
    configFile = path.join(dir, 'config.yaml');
    fs.writeFileSync(configFile, configSource(path.join(dir, 'protos'), ['alpha']));
    gateway = await buildApp(loadConfigFile(configFile, {}), { logger: false });
    watchConfig(configFile, gateway, pollMs);
    url = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  });

  after(async () => {
    await gateway.app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reloads when only a listed .proto changes', async () => {
    assert.equal(await status('/v1/alpha/two'), 404);
    write('protos/alpha/v1/svc.proto', protoSource('alpha', ['One', 'Two']));
    await waitFor(async () => (await status('/v1/alpha/two')) === 503);
    assert.equal(gateway.live.current.routes.table.entries.length, 2);
  });

  it('watches the protos a reloaded config lists, not only those it started with', async () => {
    fs.writeFileSync(configFile, configSource(path.join(dir, 'protos'), ['alpha', 'beta']));
    await waitFor(async () => (await status('/v1/beta/one')) === 503);
    write('protos/beta/v1/svc.proto', protoSource('beta', ['One', 'Two']));
    await waitFor(async () => (await status('/v1/beta/two')) === 503);
  });
});
