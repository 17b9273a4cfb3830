import { status as GrpcStatus } from '@grpc/grpc-js';

export { GrpcStatus };

export type GrpcCodeName = keyof typeof GrpcStatus;

interface StatusRow {
  readonly name: GrpcCodeName;
  readonly http: number;
  /**
   * What the client reads when the upstream answers with this code: the upstream's own message
   * and details ('upstream'), or a fixed text of the gateway's (the upstream's message then only
   * reaches the log) that keeps or drops the upstream's details.
   */
  readonly clientMessage: 'upstream' | { readonly text: string; readonly keepDetails: boolean };
}

// UNKNOWN, INTERNAL and DATA_LOSS messages come from the upstream's internals (stack traces,
// SQL): neither message nor details are shown.
const internalError = { text: 'internal error', keepDetails: false } as const;

/*
 * The gRPC → HTTP table of google/rpc/code.proto, as grpc-gateway and Envoy apply it.
 * Rows indexed by the numeric gRPC code.
 */
const rows: readonly StatusRow[] = [
  { name: 'OK', http: 200, clientMessage: 'upstream' },
  // 499 is nginx's "client closed request": the caller gave up, nothing failed upstream.
  { name: 'CANCELLED', http: 499, clientMessage: 'upstream' },
  { name: 'UNKNOWN', http: 500, clientMessage: internalError },
  { name: 'INVALID_ARGUMENT', http: 400, clientMessage: 'upstream' },
  // DEADLINE_EXCEEDED, UNIMPLEMENTED and UNAVAILABLE are mostly written by grpc-js itself
  // ("Deadline exceeded after 1.002s,remote_addr=10.0.3.7:50051", "connect ECONNREFUSED
  // 10.0.3.7:50051", "The server does not implement the method /pkg.Svc/Rpc"): addresses and
  // internal names the client has no use for. Details the upstream sent (RetryInfo) still help.
  { name: 'DEADLINE_EXCEEDED', http: 504, clientMessage: { text: 'the upstream service did not answer in time', keepDetails: true } },
  { name: 'NOT_FOUND', http: 404, clientMessage: 'upstream' },
  { name: 'ALREADY_EXISTS', http: 409, clientMessage: 'upstream' },
  { name: 'PERMISSION_DENIED', http: 403, clientMessage: 'upstream' },
  // Quota or rate limits: the client should slow down, as with HTTP 429.
  { name: 'RESOURCE_EXHAUSTED', http: 429, clientMessage: 'upstream' },
  // Deliberately 400, not 412: the system is not in the state the request needs, and 412
  // is about HTTP conditional headers.
  { name: 'FAILED_PRECONDITION', http: 400, clientMessage: 'upstream' },
  // A concurrency conflict (e.g. a transaction abort): 409 tells the client to retry.
  { name: 'ABORTED', http: 409, clientMessage: 'upstream' },
  { name: 'OUT_OF_RANGE', http: 400, clientMessage: 'upstream' },
  { name: 'UNIMPLEMENTED', http: 501, clientMessage: { text: 'the upstream service does not implement this method', keepDetails: true } },
  { name: 'INTERNAL', http: 500, clientMessage: internalError },
  { name: 'UNAVAILABLE', http: 503, clientMessage: { text: 'the upstream service is unavailable', keepDetails: true } },
  { name: 'DATA_LOSS', http: 500, clientMessage: internalError },
  { name: 'UNAUTHENTICATED', http: 401, clientMessage: 'upstream' },
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
