import { codeName, grpcCodeForHttp, GrpcStatus, httpStatusOf, statusRow } from './status-codes.js';

/** One entry of the envelope's `details`: proto3 JSON with `@type`, or a gateway-made object. */
export type ErrorDetail = Record<string, unknown>;

/** The status an upstream answered with, as it wrote it: for the log, never for the client. */
export interface UpstreamStatus {
  readonly code: GrpcStatus;
  readonly message: string;
}

interface GatewayErrorOptions {
  httpStatus?: number;
  cause?: unknown;
  headers?: Record<string, string>;
  upstream?: UpstreamStatus;
}

/**
 * Every error Portico answers with. `message` and `details` are what the client may see;
 * `cause` and `upstream` keep the originals for the log only.
 */
export class GatewayError extends Error {
  override name = 'GatewayError';
  readonly httpStatus: number;
  readonly headers: Record<string, string> | undefined;
  /**
   * Set when the error is an upstream's answer (fromUpstream), unset when the gateway raised it
   * (its checks, its bugs): the log treats the two differently.
   */
  readonly upstream: UpstreamStatus | undefined;

  constructor(
    readonly code: GrpcStatus,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
    options: GatewayErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.httpStatus = options.httpStatus ?? httpStatusOf(code);
    this.headers = options.headers;
    this.upstream = options.upstream;
  }

  get status(): string {
    return codeName(this.code);
  }

  /** An error from the upstream: what reaches the client is what the status table allows. */
  static fromUpstream(code: number, upstreamMessage: string, details: readonly ErrorDetail[], cause: unknown): GatewayError {
    const row = statusRow(code);
    const upstream = { code, message: upstreamMessage };
    if (row.clientMessage !== 'upstream') {
      return new GatewayError(code, row.clientMessage.text, row.clientMessage.keepDetails ? details : [], { cause, upstream });
    }
    return new GatewayError(code, upstreamMessage || row.name.toLowerCase().replace(/_/g, ' '), details, { cause, upstream });
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
      return new GatewayError(grpcCodeForHttp(fastifyStatus), clientSafeMessage(err as FastifyLikeError), [], { httpStatus: fastifyStatus, cause: err });
    }
    return new GatewayError(GrpcStatus.INTERNAL, 'internal error', [], { cause: err });
  }

  /**
   * The same failure told in other words (a route's message for a code): the details go too, as
   * they explain the replaced message. Status, cause and the upstream's own status stay, for the log.
   */
  withMessage(message: string): GatewayError {
    return new GatewayError(this.code, message, [], { httpStatus: this.httpStatus, cause: this.cause, headers: this.headers, upstream: this.upstream });
  }
}

type FastifyLikeError = Error & { code?: unknown };

/** Fastify's own 4xx messages are safe; strip its "FST_..." prefixes and trailing details. */
function clientSafeMessage(err: FastifyLikeError): string {
  // "Unsupported Media Type: text/plain" names what was sent; the client needs what is expected.
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaTypeMessage;
  return err.message.replace(/^FST_[A-Z_]+:\s*/, '');
}

/** The 415 answer, whoever finds the body's media type wrong. */
export const unsupportedMediaTypeMessage = 'unsupported media type: expected application/json';

export interface ErrorEnvelope {
  error: { code: number; status: string; message: string; requestId: string; traceId?: string; details: readonly ErrorDetail[] };
}

/** `traceId`: the request's trace, only with tracing on (observability/tracing/). */
export function errorEnvelope(err: GatewayError, requestId: string, traceId?: string): ErrorEnvelope {
  if (traceId !== undefined) return { error: { code: err.httpStatus, status: err.status, message: err.message, requestId, traceId, details: err.details } };
  return { error: { code: err.httpStatus, status: err.status, message: err.message, requestId, details: err.details } };
}

export interface FieldViolationLike {
  readonly field: string;
  readonly description: string;
}

/**
 * How many violations a 400 lists: 2,000 bad query parameters would otherwise make a 124 KB
 * body. What is left out is counted in one last entry.
 */
export const maxListedViolations = 20;

const omissionNotes = new WeakSet<FieldViolationLike>();

/** The last entry of a cut list: how many violations were found beyond it. */
export function violationsNotListed(count: number): FieldViolationLike {
  const note = { field: '', description: `${count} more violation${count === 1 ? '' : 's'} not listed` };
  omissionNotes.add(note);
  return note;
}

/** The first maxListedViolations violations, then a note of how many more; a list already cut stays as it is. */
export function boundedViolations<V extends FieldViolationLike>(violations: readonly V[]): readonly (V | FieldViolationLike)[] {
  if (violations.length <= maxListedViolations) return violations;
  if (violations.length === maxListedViolations + 1 && omissionNotes.has(violations[maxListedViolations]!)) return violations;
  return [...violations.slice(0, maxListedViolations), violationsNotListed(violations.length - maxListedViolations)];
}

/** A google.rpc.BadRequest detail listing field violations, as Google APIs do, at most maxListedViolations of them. */
export function badRequestDetail(violations: readonly FieldViolationLike[]): ErrorDetail {
  return { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: boundedViolations(violations) };
}
