import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/gateway-error.js';
import { codeName, GrpcStatus } from '../errors/status-codes.js';
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

  constructor(forwardHeaders: readonly string[]) {
    this.#metadata = new MetadataBuilder(forwardHeaders);
  }

  forCall(request: FastifyRequest, identity: Identity | undefined, timeoutMs: number | undefined): CallContext {
    return {
      signal: request.signal,
      deadline: deadlineOf(request, timeoutMs),
      metadata: this.#metadata.build(request.headers, request.id, identity),
    };
  }

  /** Records the upstream's gRPC code on the request for the access log. */
  async observe<T>(request: FastifyRequest, call: Promise<T>): Promise<T> {
    try {
      const result = await call;
      request.upstreamCode = 'OK';
      return result;
    } catch (err) {
      request.upstreamCode = err instanceof GatewayError ? err.status : codeName(GrpcStatus.UNKNOWN);
      throw err;
    }
  }
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
