import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { GatewayError } from '../errors/gateway-error.js';
import type { HashKeyReader } from './balancing/hash-key.js';
import { hashKeyMetadata } from './balancing/ring-hash.js';
import { parseGrpcTimeout } from './grpc-timeout.js';
import { MetadataBuilder } from './metadata.js';
import type { CallContext } from './upstream.js';

/** Verified claims to forward, as metadata key → value. */
export type Identity = ReadonlyMap<string, string>;

/**
 * Turns an HTTP request into the context of its upstream call: the client's lifetime as an
 * AbortSignal, the deadline, and the metadata.
 */
export class CallContextFactory {
  readonly #metadata: MetadataBuilder;

  /** `identityKeys`: the metadata keys of forwarded claims, which headers may never supply. */
  constructor(forwardHeaders: readonly string[], identityKeys: readonly string[] = []) {
    this.#metadata = new MetadataBuilder(forwardHeaders, identityKeys);
  }

  /**
   * The call's final gRPC code is recorded on `request` (upstreamCode), for its access line.
   * `hashKey`: the service's ring_hash key reader; its result rides in the metadata to the
   * channel's picker, which takes it out before the call is sent (balancing/ring-hash.ts).
   */
  forCall(request: FastifyRequest, reply: FastifyReply, identity: Identity | undefined, timeoutMs: number | undefined, hashKey?: HashKeyReader): CallContext {
    const metadata = this.#metadata.build(request.headers, request.id, identity, request.clientAddress);
    const position = hashKey?.(request, identity);
    if (position !== undefined) metadata.set(hashKeyMetadata, String(position));
    return {
      signal: clientGone(reply.raw),
      deadline: deadlineOf(request, timeoutMs),
      metadata,
      outcome: request,
    };
  }
}

/**
 * Aborts when the client hangs up before its response is complete. Fastify's request.signal
 * follows the IncomingMessage's 'close', which Node emits as soon as a request body has been
 * read, so after a POST body it never fires; the response's 'close' covers every method.
 */
function clientGone(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  if (response.destroyed || response.socket?.destroyed) controller.abort();
  else response.once('close', () => response.writableFinished || controller.abort());
  return controller.signal;
}

/** The configured timeout, shortened (never lengthened) by a client's grpc-timeout header. */
function deadlineOf(request: FastifyRequest, timeoutMs: number | undefined): number {
  const header = request.headers['grpc-timeout'];
  let budget = timeoutMs ?? Infinity;
  if (typeof header === 'string') {
    const clientMs = parseGrpcTimeout(header);
    if (clientMs === undefined) throw GatewayError.http(400, `invalid grpc-timeout header "${header.slice(0, 32)}": expected digits and a unit (H, M, S, m, u, n)`);
    budget = Math.min(budget, clientMs);
  }
  return budget === Infinity ? Infinity : Date.now() + budget;
}
