import { codeName, grpcCodeForHttp, GrpcStatus, httpStatusOf, statusRow } from './status-codes.js';

/** One entry of the envelope's `details`: proto3 JSON with `@type`, or a gateway-made object. */
export type ErrorDetail = Record<string, unknown>;

const genericMessages: Partial<Record<number, string>> = {
  [GrpcStatus.UNKNOWN]: 'internal error',
  [GrpcStatus.INTERNAL]: 'internal error',
  [GrpcStatus.DATA_LOSS]: 'internal error',
};

/**
 * Every error Portico answers with. `message` and `details` are what the client may see;
 * `cause` keeps the original for the log only.
 */
export class GatewayError extends Error {
  override name = 'GatewayError';
  readonly httpStatus: number;

  constructor(
    readonly code: GrpcStatus,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
    options: { httpStatus?: number; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.httpStatus = options.httpStatus ?? httpStatusOf(code);
    this.headers = options.headers;
  }

  readonly headers: Record<string, string> | undefined;

  get status(): string {
    return codeName(this.code);
  }

  /** An error from the upstream: hides what the table says must not reach the client. */
  static fromUpstream(code: number, upstreamMessage: string, details: readonly ErrorDetail[], cause: unknown): GatewayError {
    const row = statusRow(code);
    if (!row.exposeMessage) return new GatewayError(code, genericMessages[code] ?? 'internal error', [], { cause });
    return new GatewayError(code, upstreamMessage || row.name.toLowerCase().replace(/_/g, ' '), details, { cause });
  }

  /** An error the gateway itself raises with an HTTP status (validation, auth, routing). */
  static http(httpStatus: number, message: string, details: readonly ErrorDetail[] = [], headers?: Record<string, string>): GatewayError {
    return new GatewayError(grpcCodeForHttp(httpStatus), message, details, { httpStatus, ...(headers && { headers }) });
  }

  /** Normalises anything thrown on the request path; unknown failures become a generic 500. */
  static from(err: unknown): GatewayError {
    if (err instanceof GatewayError) return err;
    const fastifyStatus = (err as { statusCode?: unknown } | null)?.statusCode;
    if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) {
      return new GatewayError(grpcCodeForHttp(fastifyStatus), clientSafeMessage(err as Error), [], { httpStatus: fastifyStatus, cause: err });
    }
    return new GatewayError(GrpcStatus.INTERNAL, 'internal error', [], { cause: err });
  }
}

/** Fastify's own 4xx messages are safe; strip its "FST_..." prefixes and trailing details. */
function clientSafeMessage(err: Error): string {
  return err.message.replace(/^FST_[A-Z_]+:\s*/, '');
}

export interface ErrorEnvelope {
  error: { code: number; status: string; message: string; requestId: string; details: readonly ErrorDetail[] };
}

export function errorEnvelope(err: GatewayError, requestId: string): ErrorEnvelope {
  return { error: { code: err.httpStatus, status: err.status, message: err.message, requestId, details: err.details } };
}

/** A google.rpc.BadRequest detail listing field violations, as Google APIs do. */
export function badRequestDetail(violations: readonly { field: string; description: string }[]): ErrorDetail {
  return { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: violations };
}
