import type { IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import proxyaddr from '@fastify/proxy-addr';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The client's IP address, the one every policy keys on (forwarded `x-forwarded-for`
     * metadata, the access line, rate limits): the socket's peer, or, when that peer is one of
     * `server.trustedProxies`, the right-most X-Forwarded-For entry no trusted proxy wrote.
     * IPv4 clients of a dual-stack listener are given as IPv4 (`10.1.2.3`, not
     * `::ffff:10.1.2.3`). Computed once, by the first onRequest hook, with the config in force
     * then; undefined only when the connection was gone before the request was seen.
     */
    clientAddress: string | undefined;
  }
}

/** Finds the client address of a request; compiled per config (server.trustedProxies). */
export type ClientAddressResolver = (request: IncomingMessage) => string | undefined;

/** Why an entry of server.trustedProxies is not an address or a CIDR, if it is not. */
export function trustedProxyProblem(entry: string): string | undefined {
  try {
    proxyaddr.compile(entry);
    return undefined;
  } catch {
    return `expected an IP address or a CIDR such as 10.0.0.0/8 or fd00::/8, got "${entry}"`;
  }
}

/**
 * X-Forwarded-For is a list every proxy appends its peer to, so only its right end can be
 * believed, and only as far as the proxies that wrote it are trusted: walking from the socket's
 * peer leftwards, each trusted hop vouches for the entry before it, and the first entry no
 * trusted proxy is known to be is the client (proxy-addr does this walk). Anything left of it
 * is what the client itself wrote. Without trusted proxies the header is never read.
 */
export function compileClientAddress(trustedProxies: readonly string[]): ClientAddressResolver {
  if (trustedProxies.length === 0) return (request) => peerAddress(request.socket);
  const trustAddress = proxyaddr.compile([...trustedProxies]);
  const trust = (hop: string, index: number) => trustAddress(withoutPort(hop), index);
  return (request) => {
    if (peerAddress(request.socket) === undefined) return undefined;
    // The peer, then the entries from right to left up to the first untrusted one.
    const hops = proxyaddr.all(request, trust);
    // An entry that is no address ("unknown", a host name) came from the trusted hop to its
    // right, which is then the client as far as the gateway can tell.
    for (let i = hops.length - 1; i > 0; i--) {
      const address = withoutPort(hops[i]!);
      if (net.isIP(address) !== 0) return canonicalAddress(address);
    }
    return canonicalAddress(hops[0]);
  };
}

const ipv4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;
const bracketedIpv6 = /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/;

/**
 * Some proxies (Azure Application Gateway, some IIS setups) append the client's port to the
 * address they forward: `203.0.113.7:51234`, `[2001:db8::7]:443`. Read as addresses without
 * it, such entries are still the client and not a reason to stop the walk at their writer;
 * anything else is left as written.
 */
function withoutPort(entry: string): string {
  return ipv4WithPort.exec(entry)?.[1] ?? bracketedIpv6.exec(entry)?.[1] ?? entry;
}

const canonicalPeer = Symbol('portico.canonicalPeer');

/**
 * The socket's peer in canonical form, worked out once per connection: a keep-alive
 * connection's requests all come from one peer.
 */
function peerAddress(socket: Socket & { [canonicalPeer]?: string }): string | undefined {
  return (socket[canonicalPeer] ??= canonicalAddress(socket.remoteAddress));
}

const ipv4Mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** One form per address, so that one client is one rate-limit key: IPv4-mapped IPv6 as IPv4, IPv6 lower-case. */
export function canonicalAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const mapped = ipv4Mapped.exec(address);
  return mapped ? mapped[1] : address.toLowerCase();
}

/**
 * Sets `request.clientAddress` on every request, before any other hook, with the resolver of
 * the config in force: the route pipeline pins the same generation in the same turn, so a
 * request's address and its policies come from one config.
 */
async function clientAddressPlugin(app: FastifyInstance, { resolver }: { resolver: () => ClientAddressResolver }): Promise<void> {
  app.decorateRequest('clientAddress', undefined);
  app.addHook('onRequest', (request, _reply, done) => {
    request.clientAddress = resolver()(request.raw);
    done();
  });
}

export default fp(clientAddressPlugin, { name: 'portico-client-address' });
