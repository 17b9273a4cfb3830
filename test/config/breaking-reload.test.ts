import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/app.js';
import { loadConfigFile } from '../../src/config/load.js';
import { BreakingReloadError } from '../../src/transcoding/breaking-changes.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { jsonLogCapture } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { reloadWorkspace, startWatchedGateway } from '../support/watched-gateway.js';

/*
 * A reload that would break clients is refused unless the new file sets reload.allowBreaking:
 * the real gateway watches a config file and a copy of the acceptance protos in a temp dir,
 * in front of the real echo upstream, and each test edits the copy.
 */

const pollMs = 50;
const projectsBinding = '      additional_bindings { get: "/v1/{name=projects/*/items/*}" }\n';

describe('breaking reloads', () => {
  const { dir, configFile, protoFile, originalProto: original, remove } = reloadWorkspace('portico-breaking-reload-');
  let upstream: EchoUpstream;
  let gateway: Gateway;
  let url: string;
  /** Every log line the gateway wrote, parsed. */
  const { logs, stream } = jsonLogCapture();

  const writeConfig = (extra = ''): void => {
    fs.writeFileSync(
      configFile,
      `logging: { level: info }
protos: { includeDirs: [${path.join(dir, 'protos')}] }
services:
  - { name: echo, protoFiles: [acceptance/v1/echo.proto], service: acceptance.v1.EchoService, address: "${upstream.address}" }
${extra}`,
    );
  };
  /** The original echo.proto with `edits` applied; each must match. */
  const writeProto = (...edits: [string, string][]): void => {
    let source = original;
    for (const [text, replacement] of edits) {
      assert.ok(source.includes(text), `echo.proto has no ${JSON.stringify(text)}`);
      source = source.replace(text, replacement);
    }
    fs.writeFileSync(protoFile, source);
  };
  const rejections = (): string[] => logs.filter((line) => String(line['msg']).startsWith('config reload rejected')).map((line) => String(line['msg']));
  /** Waits for the next rejected reload and returns its log message. */
  const nextRejection = async (seen: number): Promise<string> => {
    await waitFor(() => rejections().length > seen);
    return rejections()[seen]!;
  };
  const status = async (route: string): Promise<number> => (await fetch(`${url}${route}`)).status;

  before(async () => {
    upstream = await startEchoUpstream();
    writeConfig();
    ({ gateway, url } = await startWatchedGateway(configFile, stream, pollMs));
  });

  after(async () => {
    await gateway.app.close();
    await upstream.close();
    remove();
  });

  it('refuses a reload that removes a binding, names it in the log line, and keeps serving the old routes', async () => {
    const version = gateway.live.current.version;
    const seen = rejections().length;
    writeProto([projectsBinding, '']);
    const message = await nextRejection(seen);
    assert.match(message, /reload\.allowBreaking: true/);
    assert.ok(message.includes('binding removed: GET /v1/{name=projects/*/items/*} (acceptance.v1.EchoService/GetItem)'), message);
    const record = logs.find((line) => line['msg'] === message)!;
    assert.deepEqual(record['breaks'], ['binding removed: GET /v1/{name=projects/*/items/*} (acceptance.v1.EchoService/GetItem)']);
    assert.equal(gateway.live.current.version, version);
    assert.equal(await status('/v1/projects/p1/items/i1'), 200);
  });

  it('refuses a reload that changes the type of a field of a served message, naming the field', async () => {
    const seen = rejections().length;
    writeProto(['  int64 count = 2;', '  string count = 2;']);
    const message = await nextRejection(seen);
    assert.ok(message.includes('field acceptance.v1.Deep.count: type changed from int64 to string'), message);
    assert.doesNotMatch(message, /binding removed/);
    const echoed = (await (await fetch(`${url}/v1/items/i1?inner.deep.count=7`)).json()) as { inner: { deep: { count: string } } };
    assert.equal(echoed.inner.deep.count, '7', 'the int64 of the generation in force');
  });

  it('refuses a reload that makes a request field REQUIRED, naming it', async () => {
    const seen = rejections().length;
    writeProto(
      ['import "google/api/annotations.proto";', 'import "google/api/annotations.proto";\nimport "google/api/field_behavior.proto";'],
      ['  string value = 1;', '  string value = 1 [(google.api.field_behavior) = REQUIRED];'],
    );
    const message = await nextRejection(seen);
    assert.ok(message.includes('field acceptance.v1.Deep.value: now REQUIRED, so requests without it would be refused'), message);
    assert.equal(await status('/v1/items/i1?inner.deep.count=7'), 200, 'a request without it is still served');
  });

  it('applies additions: a new field and a new binding', async () => {
    const version = gateway.live.current.version;
    writeProto(['  int64 count = 2;\n', '  int64 count = 2;\n  string unit = 3;\n'], [projectsBinding, `${projectsBinding}      additional_bindings { get: "/v1/more/{id}" }\n`]);
    await waitFor(() => gateway.live.current.version > version);
    assert.equal(await status('/v1/more/m1'), 200);
  });

  it('applies a breaking reload when the new file sets reload.allowBreaking, and logs the breaks', async () => {
    const version = gateway.live.current.version;
    writeProto([projectsBinding, '']);
    writeConfig('reload: { allowBreaking: true }\n');
    await waitFor(() => gateway.live.current.version > version);
    await waitFor(async () => (await status('/v1/projects/p1/items/i1')) === 404);
    const warning = logs.find((line) => line['level'] === 40 && String(line['msg']).includes('breaking change'));
    assert.ok(warning, 'a warning names the breaks it applied');
    assert.ok((warning['breaks'] as string[]).some((line) => line.startsWith('binding removed: GET /v1/{name=projects/*/items/*}')));
  });

  it('refuses through live.reload too, with the breaks on the error', () => {
    writeConfig();
    writeProto(['  repeated string tags = 9;', '  string tags = 9;']);
    const version = gateway.live.current.version;
    assert.throws(
      () => gateway.live.reload(loadConfigFile(configFile, {})),
      (err: unknown) => err instanceof BreakingReloadError && err.breaks.includes('field acceptance.v1.EchoMessage.tags: type changed from repeated string to string'),
    );
    assert.equal(gateway.live.current.version, version);
  });
});
