import { status as GrpcStatus } from '@grpc/grpc-js';

export { GrpcStatus };

export type GrpcCodeName = keyof typeof GrpcStatus;

interface StatusRow {
  readonly name: GrpcCodeName;
  readonly http: number;
  /** Whether the upstream's message may reach the client. */
  readonly exposeMessage: boolean;
}

/*
 * The gRPC → HTTP table of google/rpc/code.proto, as grpc-gateway and Envoy apply it.
 * Rows indexed by the numeric gRPC code.
 */
const rows: readonly StatusRow[] = [
  { name: 'OK', http: 200, exposeMessage: true },
  // 499 is nginx's "client closed request": the caller gave up, nothing failed upstream.
  { name: 'CANCELLED', http: 499, exposeMessage: true },
  // UNKNOWN, INTERNAL and DATA_LOSS messages come from the upstream's internals (stack
  // traces, SQL): never shown to the client.
  { name: 'UNKNOWN', http: 500, exposeMessage: false },
  { name: 'INVALID_ARGUMENT', http: 400, exposeMessage: true },
  { name: 'DEADLINE_EXCEEDED', http: 504, exposeMessage: true },
  { name: 'NOT_FOUND', http: 404, exposeMessage: true },
  { name: 'ALREADY_EXISTS', http: 409, exposeMessage: true },
  { name: 'PERMISSION_DENIED', http: 403, exposeMessage: true },
  // Quota or rate limits: the client should slow down, as with HTTP 429.
  { name: 'RESOURCE_EXHAUSTED', http: 429, exposeMessage: true },
  // Deliberately 400, not 412: the system is not in the state the request needs, and 412
  // is about HTTP conditional headers.
  { name: 'FAILED_PRECONDITION', http: 400, exposeMessage: true },
  // A concurrency conflict (e.g. a transaction abort): 409 tells the client to retry.
  { name: 'ABORTED', http: 409, exposeMessage: true },
  { name: 'OUT_OF_RANGE', http: 400, exposeMessage: true },
  { name: 'UNIMPLEMENTED', http: 501, exposeMessage: true },
  { name: 'INTERNAL', http: 500, exposeMessage: false },
  { name: 'UNAVAILABLE', http: 503, exposeMessage: true },
  { name: 'DATA_LOSS', http: 500, exposeMessage: false },
  { name: 'UNAUTHENTICATED', http: 401, exposeMessage: true },
];

const unknownRow = rows[GrpcStatus.UNKNOWN]!;

export function statusRow(code: number): StatusRow {
  return rows[code] ?? unknownRow;
}

export function httpStatusOf(code: number): number {
  return statusRow(code).http;
}

export function codeName(code: number): GrpcCodeName {
  return statusRow(code).name;
}

/** The gRPC code the gateway reports for an HTTP status it produced itself. */
export function grpcCodeForHttp(http: number): GrpcStatus {
  switch (http) {
    case 400:
    case 415:
      return GrpcStatus.INVALID_ARGUMENT;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.NOT_FOUND;
    case 405:
    case 501:
      return GrpcStatus.UNIMPLEMENTED;
    case 409:
      return GrpcStatus.ABORTED;
    case 413:
    case 429:
    case 431:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 499:
      return GrpcStatus.CANCELLED;
    case 503:
      return GrpcStatus.UNAVAILABLE;
    case 504:
      return GrpcStatus.DEADLINE_EXCEEDED;
    default:
      return http >= 400 && http < 500 ? GrpcStatus.FAILED_PRECONDITION : GrpcStatus.INTERNAL;
  }
}
