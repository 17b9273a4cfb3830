import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/app.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { jsonLogCapture, signToken, testJwtSecret } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { reloadWorkspace, startWatchedGateway } from '../support/watched-gateway.js';

/*
 * Every setting live, under load: a real gateway watches its config file (and a copy of the
 * acceptance protos) in front of the real echo upstream while a client sends 200 requests a
 * second with a token and an Origin. Reloads change CORS origins, add a rate limit, raise the
 * log level, add an issuer, try an invalid file and a breaking proto change; not one of the
 * client's requests may fail.
 */

const pollMs = 50;
const partnerSecret = 'partner-secret-at-least-sixteen';
const projectsBinding = '      additional_bindings { get: "/v1/{name=projects/*/items/*}" }\n';

interface Settings {
  origins: string[];
  sleepLimit: boolean;
  level: string;
  partnerIssuer: boolean;
  allowBreaking: boolean;
}

describe('reloads under 200 requests a second', () => {
  const { dir, configFile, protoFile, originalProto, remove } = reloadWorkspace('portico-live-reload-');
  let upstream: EchoUpstream;
  let gateway: Gateway;
  let url: string;
  const { logs, stream } = jsonLogCapture();
  let settings: Settings = { origins: ['https://a.example'], sleepLimit: false, level: 'info', partnerIssuer: false, allowBreaking: false };

  const gatewayToken = signToken({ sub: 'alice', iss: 'gateway-test' });
  const partnerToken = signToken({ sub: 'bob', iss: 'partner-idp' }, { key: partnerSecret });

  const writeConfig = (text?: string): void => {
    const config = {
      logging: { level: settings.level },
      protos: { includeDirs: [path.join(dir, 'protos')] },
      cors: { origins: settings.origins },
      auth: {
        jwt: {
          secret: testJwtSecret,
          issuer: 'gateway-test',
          algorithms: ['HS256'],
          ...(settings.partnerIssuer && { issuers: [{ issuer: 'partner-idp', secret: partnerSecret, algorithms: ['HS256'] }] }),
        },
      },
      reload: { allowBreaking: settings.allowBreaking },
      services: [
        {
          name: 'echo',
          protoFiles: ['acceptance/v1/echo.proto'],
          service: 'acceptance.v1.EchoService',
          address: upstream.address,
          auth: 'required',
          ...(settings.sleepLimit && { methods: { Sleep: { rateLimit: { rps: 1, burst: 1, key: 'ip' } } } }),
        },
      ],
    };
    fs.writeFileSync(configFile, text ?? JSON.stringify(config, null, 2));
  };

  /** Writes the settings and waits for the gateway to put them in force. */
  const apply = async (change: Partial<Settings>): Promise<void> => {
    const version = gateway.live.current.version;
    settings = { ...settings, ...change };
    writeConfig();
    await waitFor(() => gateway.live.current.version > version, 10_000);
  };

  const rejections = (): string[] => logs.filter((line) => String(line['msg']).startsWith('config reload rejected')).map((line) => String(line['msg']));
  const nextRejection = async (seen: number): Promise<string> => {
    await waitFor(() => rejections().length > seen, 10_000);
    return rejections()[seen]!;
  };

  // The client under load: every answer must be a 200 with the CORS grant of origin a.
  let sent = 0;
  const failures: string[] = [];
  let load: NodeJS.Timeout | undefined;
  let loadStarted = 0;
  const inFlight = new Set<Promise<void>>();
  const startLoad = (): void => {
    loadStarted = Date.now();
    load = setInterval(() => {
      const n = sent++;
      const request = fetch(`${url}/v1/items/load-${n}`, { headers: { authorization: `Bearer ${gatewayToken}`, origin: 'https://a.example' } })
        .then(async (response) => {
          await response.arrayBuffer();
          if (response.status !== 200) failures.push(`request ${n}: ${response.status}`);
          else if (response.headers.get('access-control-allow-origin') !== 'https://a.example') failures.push(`request ${n}: no CORS grant`);
        })
        .catch((err: unknown) => void failures.push(`request ${n}: ${(err as Error).message}`))
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    }, 5);
  };

  before(async () => {
    upstream = await startEchoUpstream();
    writeConfig();
    ({ gateway, url } = await startWatchedGateway(configFile, stream, pollMs));
    startLoad();
  });

  after(async () => {
    clearInterval(load);
    await Promise.all(inFlight);
    await gateway.app.close();
    await upstream.close();
    remove();
  });

  it('changes the CORS origins', async () => {
    const preflight = (origin: string) =>
      fetch(`${url}/v1/items/x`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET' } });
    assert.equal((await preflight('https://b.example')).headers.get('access-control-allow-origin'), null);
    await apply({ origins: ['https://a.example', 'https://b.example'] });
    assert.equal((await preflight('https://b.example')).headers.get('access-control-allow-origin'), 'https://b.example');
  });

  it('adds a rate limit to one RPC', async () => {
    const sleep = () => fetch(`${url}/v1/sleep/1`, { headers: { authorization: `Bearer ${gatewayToken}` } });
    for (let i = 0; i < 3; i++) assert.equal((await sleep()).status, 200);
    await apply({ sleepLimit: true });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await sleep()).status);
    assert.ok(statuses.includes(429), `statuses after the limit: ${statuses.join(', ')}`);
  });

  it('raises the log level', async () => {
    assert.equal(gateway.app.log.level, 'info');
    await apply({ level: 'debug' });
    assert.equal(gateway.app.log.level, 'debug');
    await apply({ level: 'info' });
  });

  it('adds an issuer: its tokens are accepted from the reload on', async () => {
    const partnerCall = () => fetch(`${url}/v1/items/p`, { headers: { authorization: `Bearer ${partnerToken}` } });
    assert.equal((await partnerCall()).status, 401);
    await apply({ partnerIssuer: true });
    assert.equal((await partnerCall()).status, 200);
  });

  it('keeps the config in force when the file is invalid, and says why in one line', async () => {
    const version = gateway.live.current.version;
    const seen = rejections().length;
    writeConfig('services: 3\n');
    const message = await nextRejection(seen);
    assert.match(message, /services/);
    assert.equal(gateway.live.current.version, version);
    writeConfig();
    await waitFor(() => gateway.live.current.version > version, 10_000);
  });

  it('refuses a breaking proto change, naming it, and applies it with reload.allowBreaking', async () => {
    const seen = rejections().length;
    fs.writeFileSync(protoFile, originalProto.replace(projectsBinding, ''));
    const message = await nextRejection(seen);
    assert.ok(message.includes('binding removed: GET /v1/{name=projects/*/items/*}'), message);
    assert.equal((await fetch(`${url}/v1/projects/p/items/i`, { headers: { authorization: `Bearer ${gatewayToken}` } })).status, 200);
    await apply({ allowBreaking: true });
    assert.equal((await fetch(`${url}/v1/projects/p/items/i`, { headers: { authorization: `Bearer ${gatewayToken}` } })).status, 404);
  });

  it('failed none of the requests sent meanwhile', async (t) => {
    // At least 5 s and 600 requests of load in all, however quickly the reloads went: on a busy
    // machine the 5 ms timer fires late, so the count, not the clock, says the load was real.
    await waitFor(() => Date.now() >= loadStarted + 5000 && sent >= 600, 30_000);
    clearInterval(load);
    await Promise.all(inFlight);
    t.diagnostic(`${sent} requests under load across ${gateway.live.current.version - 1} applied reloads, ${failures.length} failed`);
    assert.ok(sent >= 600, `only ${sent} requests were sent`);
    assert.deepEqual(failures, []);
  });
});
