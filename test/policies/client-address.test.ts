import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { compileClientAddress } from '../../src/policies/client-address.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { echoService, getJson, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * The client address (request.clientAddress): the socket's peer, unless that peer is a trusted
 * proxy, then the right-most X-Forwarded-For entry no trusted proxy wrote. Seen end to end, over
 * real sockets, where it is used: the x-forwarded-for metadata an upstream receives and the
 * access line's `client`.
 */

let upstream: EchoUpstream;
before(async () => {
  upstream = await startEchoUpstream();
});
after(async () => {
  await upstream.close();
});

function configWith(trustedProxies: string[]) {
  return stackConfig([echoService(upstream.address)], { server: { trustedProxies } });
}

let requests = 0;

/** Sends a GET with `headers` to `url` and returns the client address as the upstream and the access line saw it. */
async function addressSeen(gateway: RunningGateway, headers: Record<string, string>, url = gateway.url): Promise<{ upstream: unknown[]; logged: unknown }> {
  const requestId = `client-address-${++requests}`;
  await getJson({ url }, `/v1/items/${requestId}`, { headers: { ...headers, 'x-request-id': requestId } });
  const call = upstream.calls.findLast((c) => c.metadata.get('x-request-id')[0] === requestId);
  assert.ok(call, 'the upstream was called');
  const accessLine = () => gateway.logs.find((l) => l['requestId'] === requestId && l['msg'] === 'request completed');
  await waitFor(() => accessLine() !== undefined);
  return { upstream: call.metadata.get('x-forwarded-for'), logged: accessLine()!['client'] };
}

describe('a peer that is not a trusted proxy', () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(configWith([]));
  });
  after(async () => {
    await gateway.close();
  });

  it('is the client, whatever X-Forwarded-For it writes', async () => {
    assert.deepEqual(await addressSeen(gateway, { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' }), { upstream: ['127.0.0.1'], logged: '127.0.0.1' });
    assert.deepEqual(await addressSeen(gateway, {}), { upstream: ['127.0.0.1'], logged: '127.0.0.1' });
  });

  it('is the client when other proxies are trusted, even if its X-Forwarded-For names one of them', async () => {
    gateway.gateway.live.reload(configWith(['10.0.0.0/8', '192.0.2.1']));
    assert.deepEqual(await addressSeen(gateway, { 'x-forwarded-for': '203.0.113.7, 192.0.2.1, 10.0.0.1' }), { upstream: ['127.0.0.1'], logged: '127.0.0.1' });
  });

  it('becomes a trusted proxy on reload, and stops being one on the next', async () => {
    gateway.gateway.live.reload(configWith(['127.0.0.1/8']));
    assert.deepEqual(await addressSeen(gateway, { 'x-forwarded-for': '203.0.113.7' }), { upstream: ['203.0.113.7'], logged: '203.0.113.7' });
    gateway.gateway.live.reload(configWith([]));
    assert.deepEqual(await addressSeen(gateway, { 'x-forwarded-for': '203.0.113.7' }), { upstream: ['127.0.0.1'], logged: '127.0.0.1' });
  });
});

describe('behind trusted proxies', () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(configWith(['127.0.0.1/8', '10.0.0.0/8']));
  });
  after(async () => {
    await gateway.close();
  });

  it('takes the right-most X-Forwarded-For entry that is not a trusted proxy, not what the client wrote left of it', async () => {
    // The client wrote 198.51.100.66; the ingress (not trusted) appended the client's real address.
    const seen = await addressSeen(gateway, { 'x-forwarded-for': '198.51.100.66, 203.0.113.7' });
    assert.deepEqual(seen, { upstream: ['203.0.113.7'], logged: '203.0.113.7' });
  });

  it('walks past several trusted hops', async () => {
    // client 203.0.113.7 → 10.1.0.5 → 10.0.0.9 → the peer 127.0.0.1; 198.51.100.66 is spoofed.
    const seen = await addressSeen(gateway, { 'x-forwarded-for': '198.51.100.66, 203.0.113.7, 10.1.0.5, 10.0.0.9' });
    assert.deepEqual(seen, { upstream: ['203.0.113.7'], logged: '203.0.113.7' });
  });

  it('is the peer when the trusted proxy sends no X-Forwarded-For', async () => {
    assert.deepEqual(await addressSeen(gateway, {}), { upstream: ['127.0.0.1'], logged: '127.0.0.1' });
  });

  it('is the left-most entry when every hop is trusted', async () => {
    assert.deepEqual(await addressSeen(gateway, { 'x-forwarded-for': '10.2.3.4, 10.0.0.9' }), { upstream: ['10.2.3.4'], logged: '10.2.3.4' });
  });

  it('is the trusted hop that wrote an entry that is no address', async () => {
    assert.deepEqual(await addressSeen(gateway, { 'x-forwarded-for': '203.0.113.7, unknown, 10.0.0.9' }), { upstream: ['10.0.0.9'], logged: '10.0.0.9' });
  });
});

describe('IPv6 and dual-stack listeners', () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(configWith(['::1', 'fd00::/8', '127.0.0.0/8']), { host: '::' });
  });
  after(async () => {
    await gateway.close();
  });

  it('trusts an IPv6 peer and IPv6 CIDRs, and gives the IPv6 client in lower case', async () => {
    const seen = await addressSeen(gateway, { 'x-forwarded-for': '2001:db8::66, 2001:DB8::7, fd00::1, fd12::2' });
    assert.deepEqual(seen, { upstream: ['2001:db8::7'], logged: '2001:db8::7' });
  });

  it('gives an IPv4 peer of a dual-stack listener as IPv4, and matches it against IPv4 CIDRs', async () => {
    const ipv4 = gateway.url.replace('[::1]', '127.0.0.1');
    assert.deepEqual(await addressSeen(gateway, {}, ipv4), { upstream: ['127.0.0.1'], logged: '127.0.0.1' });
    assert.deepEqual(await addressSeen(gateway, { 'x-forwarded-for': '203.0.113.7' }, ipv4), { upstream: ['203.0.113.7'], logged: '203.0.113.7' });
  });
});

describe('the resolver on its own', () => {
  // Only the two fields the resolver reads: the header and the socket's peer.
  const requestFrom = (remoteAddress: string | undefined, forwardedFor?: string) =>
    ({ headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }, socket: { remoteAddress } }) as unknown as IncomingMessage;

  it('gives an IPv4-mapped peer as IPv4 and trusts it by its IPv4 CIDR', () => {
    assert.equal(compileClientAddress([])(requestFrom('::ffff:10.1.2.3', '203.0.113.7')), '10.1.2.3');
    assert.equal(compileClientAddress(['10.0.0.0/8'])(requestFrom('::ffff:10.1.2.3', '203.0.113.7')), '203.0.113.7');
    assert.equal(compileClientAddress(['10.0.0.0/8'])(requestFrom('10.1.2.3', '::ffff:203.0.113.7')), '203.0.113.7');
  });

  it('knows loopback, linklocal and uniquelocal as names of their ranges', () => {
    assert.equal(compileClientAddress(['loopback'])(requestFrom('::1', '203.0.113.7')), '203.0.113.7');
    assert.equal(compileClientAddress(['uniquelocal'])(requestFrom('192.168.1.9', '203.0.113.7, 172.16.0.4')), '203.0.113.7');
    assert.equal(compileClientAddress(['linklocal'])(requestFrom('192.168.1.9', '203.0.113.7')), '192.168.1.9');
  });

  it('reads entries a proxy wrote with a port as their address', () => {
    const resolve = compileClientAddress(['10.0.0.0/8']);
    assert.equal(resolve(requestFrom('10.1.2.3', '198.51.100.66, 203.0.113.7:51234')), '203.0.113.7');
    assert.equal(resolve(requestFrom('10.1.2.3', '[2001:DB8::7]:443')), '2001:db8::7');
    assert.equal(resolve(requestFrom('10.1.2.3', '[2001:db8::7]')), '2001:db8::7');
    // A trusted hop written with its port is walked past like one without.
    assert.equal(resolve(requestFrom('10.1.2.3', '203.0.113.7, 10.0.0.9:8080')), '203.0.113.7');
    // Bare IPv6 keeps its last group: it is no port.
    assert.equal(resolve(requestFrom('10.1.2.3', '2001:db8::7:443')), '2001:db8::7:443');
  });

  it('gives nothing for a connection already gone', () => {
    assert.equal(compileClientAddress([])(requestFrom(undefined)), undefined);
    assert.equal(compileClientAddress(['10.0.0.0/8'])(requestFrom(undefined, '203.0.113.7')), undefined);
  });
});

describe('server.trustedProxies', () => {
  it('is empty by default', () => {
    assert.deepEqual(testConfig({}).server.trustedProxies, []);
  });

  it('refuses an entry that is not an address or a CIDR, naming it', () => {
    assert.throws(
      () => testConfig({ server: { trustedProxies: ['10.0.0.0/8', '10.0.0.0/33', 'proxy.internal'] } }),
      (err: ConfigError) => {
        assert.deepEqual(
          err.problems.filter((p) => p.startsWith('server.trustedProxies')),
          [
            'server.trustedProxies[1]: expected an IP address or a CIDR such as 10.0.0.0/8 or fd00::/8, got "10.0.0.0/33"',
            'server.trustedProxies[2]: expected an IP address or a CIDR such as 10.0.0.0/8 or fd00::/8, got "proxy.internal"',
          ],
        );
        return true;
      },
    );
  });
});
