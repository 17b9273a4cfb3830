import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { extraProtoFile, startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * GET /readyz: about the gateway itself (200 while it serves, whatever its upstreams), with a
 * body listing each service in force, its replicas' health and its breaker state.
 */

interface ReadyBody {
  status: string;
  routesVersion?: number;
  services: { name: string; replicas: { address: string; health: string }[]; breaker: string }[];
}

/** A loopback port nothing listens on: an upstream that is down. */
async function deadAddress(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

describe('/readyz body', () => {
  let upstream: EchoUpstream;
  let down: string;
  let gateway: RunningGateway;
  const services = (): Record<string, unknown>[] => [
    echoService(upstream.address),
    { name: 'extra', protoFiles: [extraProtoFile], service: 'acceptance.v1.ExtraService', address: down },
  ];

  before(async () => {
    upstream = await startEchoUpstream();
    down = await deadAddress();
    gateway = await startGateway(stackConfig(services()));
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('lists every service with its replicas and breaker, and stays 200 while an upstream is down', async () => {
    // The call to the dead upstream fails; readiness must not follow it.
    assert.equal((await fetch(`${gateway.url}/v1/extra/1`)).status, 503);
    const response = await fetch(`${gateway.url}/readyz`);
    assert.equal(response.status, 200);
    assert.deepEqual((await response.json()) as ReadyBody, {
      status: 'ready',
      routesVersion: 1,
      services: [
        { name: 'echo', replicas: [{ address: upstream.address, health: 'unknown', connected: false, inFlight: 0 }], breaker: 'closed', concurrency: null },
        { name: 'extra', replicas: [{ address: down, health: 'unknown', connected: false, inFlight: 0 }], breaker: 'closed', concurrency: null },
      ],
    });
  });

  it('follows a reload: a removed service is no longer listed', async () => {
    gateway.gateway.live.reload(stackConfig([echoService(upstream.address)], { reload: { allowBreaking: true } }));
    const body = (await (await fetch(`${gateway.url}/readyz`)).json()) as ReadyBody;
    assert.equal(body.routesVersion, 2);
    assert.deepEqual(
      body.services.map((service) => service.name),
      ['echo'],
    );
  });

  it('while draining answers 503 and still lists the services', async () => {
    gateway.gateway.readiness.startDraining();
    const response = await fetch(`${gateway.url}/readyz`);
    assert.equal(response.status, 503);
    const body = (await response.json()) as ReadyBody;
    assert.equal(body.status, 'draining');
    assert.deepEqual(
      body.services.map((service) => service.name),
      ['echo'],
    );
  });
});
