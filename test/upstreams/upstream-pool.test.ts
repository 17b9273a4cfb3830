import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { LiveRoutes } from '../../src/lifecycle/live-routes.js';
import { noMetrics } from '../../src/observability/metrics.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { waitFor } from '../support/wait.js';

/*
 * Per-service upstream state (src/upstreams/upstream-pool.ts) across reloads, and the policies
 * of the chain around the call, against real grpc-js upstreams on loopback.
 */

const silent = pino({ level: 'silent' });

describe('upstream state across reloads', () => {
  let first: EchoUpstream;
  let second: EchoUpstream;
  before(async () => {
    [first, second] = await Promise.all([startEchoUpstream(), startEchoUpstream()]);
  });
  after(async () => {
    await Promise.all([first.close(), second.close()]);
  });

  it('keeps the client of a service whose address is unchanged, and replaces a changed one', () => {
    const live = new LiveRoutes(stackConfig([echoService(first.address)]), noMetrics, silent);
    try {
      const kept = live.current.clients.get('echo');
      // A reload sets the log level the config says: silent, like the logger given.
      live.reload(stackConfig([echoService(first.address, { timeoutMs: 1234 })], { logging: { level: 'silent' } }));
      assert.equal(live.current.clients.get('echo'), kept, 'an unrelated change must keep the channel and its state');
      live.reload(stackConfig([echoService(second.address)], { logging: { level: 'silent' } }));
      assert.notEqual(live.current.clients.get('echo'), kept);
    } finally {
      live.close();
    }
  });

  it('closes the channels of a retired generation on close(), not only those in force', async () => {
    // A TCP relay in front of the upstream counts the gateway's open connections to it.
    const relay = await startRelay(first.address);
    const gateway = await startGateway(stackConfig([echoService(relay.address)], { shutdown: { graceMs: 60_000 } }));
    try {
      assert.equal((await fetch(`${gateway.url}/v1/items/1`)).status, 200);
      assert.equal(relay.open(), 1);
      // The old channel now drains for a minute; the gateway closes before that.
      gateway.gateway.live.reload(stackConfig([echoService(second.address)], { shutdown: { graceMs: 60_000 } }));
    } finally {
      await gateway.close();
    }
    try {
      await waitFor(() => relay.open() === 0, 5_000).catch(() => assert.fail("the retired generation's channel was left open"));
    } finally {
      relay.close();
    }
  });
});

/** Relays TCP connections to `target`, counting those open. */
async function startRelay(target: string): Promise<{ address: string; open(): number; close(): void }> {
  const [host, port] = target.split(':') as [string, string];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), host);
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
      from.pipe(to);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: relayPort } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${relayPort}`,
    open: () => sockets.size,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('open streams per service', () => {
  /** An upstream that allows 4 concurrent HTTP/2 streams per connection, as some servers are set. */
  let upstream: EchoUpstream;
  let gateway: RunningGateway;
  before(async () => {
    upstream = await startEchoUpstream({ 'grpc.max_concurrent_streams': 4 });
    gateway = await startGateway(stackConfig([{ ...echoService(upstream.address, { timeoutMs: 1500 }), maxOpenStreams: 3 }]));
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('refuses a stream past maxOpenStreams with 503, so unary calls keep their room', async () => {
    // Three clients that open a long stream and never read it.
    const held = await Promise.all([0, 1, 2].map(() => openStream(gateway.port)));
    try {
      await waitFor(() => upstream.calls.filter((c) => c.method === 'StreamItems').length === 3);
      const refused = await fetch(`${gateway.url}/v1/stream?count=1000&intervalMs=50`);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.match(envelopeOf(await refused.json()).message, /too many open streams to the echo service/);
      const unary = await fetch(`${gateway.url}/v1/items/7`);
      assert.equal(unary.status, 200);
    } finally {
      for (const request of held) request.destroy();
    }
    // A stream that ends gives its place back.
    await waitFor(async () => (await fetch(`${gateway.url}/v1/stream?count=1`)).status === 200);
  });
});

/** Starts a stream request whose response the client never reads. */
function openStream(port: number): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/v1/stream?count=1000&intervalMs=50' }, (response) => {
      response.pause();
      resolve(request);
    });
    request.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
  });
}

describe('per-RPC settings', () => {
  it('gives an RPC its own deadline, and refuses a method name the service does not have', () => {
    const config = stackConfig([{ ...echoService('127.0.0.1:1'), timeoutMs: 2000, methods: { Sleep: { timeoutMs: 150 } } }]);
    const live = new LiveRoutes(config, noMetrics, silent);
    try {
      const timeouts = new Map(live.current.routes.table.entries.map((e) => [e.value.rpc.name, e.value.timeoutMs]));
      assert.equal(timeouts.get('Sleep'), 150);
      assert.equal(timeouts.get('GetItem'), 2000);
      const idempotent = new Map(live.current.routes.table.entries.map((e) => [e.value.rpc.name, e.value.idempotent]));
      assert.deepEqual([idempotent.get('GetItem'), idempotent.get('CreateItem'), idempotent.get('Sleep')], [true, false, false]);
    } finally {
      live.close();
    }
    assert.throws(
      () => new LiveRoutes(stackConfig([{ ...echoService('127.0.0.1:1'), methods: { Slep: { timeoutMs: 150 } } }]), noMetrics, silent),
      /methods\.Slep: acceptance\.v1\.EchoService has no RPC Slep/,
    );
  });
});
