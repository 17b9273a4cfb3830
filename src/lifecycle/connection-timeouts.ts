import type { Server, ServerOptions } from 'node:http';
import type { GatewayConfig } from '../config/schema.js';

/** The keys of `server` that bound how long a client may hold a connection. */
export type ConnectionTimeouts = Pick<GatewayConfig['server'], 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs'>;

/**
 * Node checks the headers and request timeouts on a timer (every 30 s by default), so a 10 s
 * headers timeout could let a slow client hold its socket for 40 s. A quarter of the shorter
 * timeout (at most 1 s) keeps the overshoot small; the check is a walk over open connections.
 * Node starts that timer when the server listens and never reads the interval again, so it is
 * the one of the config at start-up: a reload cannot change it, and a timeout a reload shortens
 * is enforced up to that interval (at most 1 s) late.
 */
function checkingIntervalMs({ headersTimeoutMs, requestTimeoutMs }: GatewayConfig['server']): number {
  return Math.max(10, Math.min(1000, Math.floor(Math.min(headersTimeoutMs, requestTimeoutMs) / 4)));
}

/**
 * The Fastify (and through `http`, node:http) options that bound how long a client may hold a
 * connection: slow headers, slow bodies and idle keep-alive connections. Node answers the
 * first two through the clientError path (errors/client-errors.ts) with a 408.
 */
export function connectionTimeoutOptions(server: GatewayConfig['server']): { requestTimeout: number; keepAliveTimeout: number; http: ServerOptions } {
  return {
    requestTimeout: server.requestTimeoutMs,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    http: {
      headersTimeout: server.headersTimeoutMs,
      // Also here, not only through Fastify: Node checks headersTimeout against it on construction.
      requestTimeout: server.requestTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(server),
      // Node's own answer to a request without Host is a bare 400; the gateway answers it with
      // the envelope (lifecycle/connection-policy.ts).
      requireHostHeader: false,
    },
  };
}

/**
 * Gives a running server the timeouts of a reloaded config (pass `config.server`). Node reads
 * headersTimeout and requestTimeout at each check of the open connections, so they apply at
 * once, to connections already open too; keepAliveTimeout is armed when a response ends, so a
 * connection already idle keeps its old one until its next response. The checking interval
 * stays the start-up one (see checkingIntervalMs).
 */
export function applyConnectionTimeouts(server: Server, timeouts: ConnectionTimeouts): void {
  server.headersTimeout = timeouts.headersTimeoutMs;
  server.requestTimeout = timeouts.requestTimeoutMs;
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs;
}
