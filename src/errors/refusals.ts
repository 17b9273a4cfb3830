import { GatewayError, type ErrorDetail } from './gateway-error.js';
import { GrpcStatus } from './status-codes.js';

/** Why the gateway answered 503 without calling an upstream (google.rpc.ErrorInfo `reason`). */
export type RefusalReason = 'CIRCUIT_OPEN' | 'CONCURRENCY_LIMIT' | 'NO_HEALTHY_UPSTREAM' | 'OVERLOADED';

/**
 * A 503 UNAVAILABLE the gateway decides on by itself, machine-readable: an ErrorInfo with the
 * reason (domain "portico"), and where waiting helps a RetryInfo and a Retry-After header
 * in whole seconds (at least 1: "0" would invite an immediate retry).
 */
export function refusal(reason: RefusalReason, message: string, retryAfterSeconds?: number): GatewayError {
  const details: ErrorDetail[] = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'portico' }];
  if (retryAfterSeconds === undefined) return new GatewayError(GrpcStatus.UNAVAILABLE, message, details);
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${seconds}s` });
  return new GatewayError(GrpcStatus.UNAVAILABLE, message, details, { headers: { 'retry-after': String(seconds) } });
}
