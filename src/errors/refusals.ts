import { GatewayError } from './gateway-error.js';
import { GrpcStatus } from './status-codes.js';

/** Why the gateway refused a call without reaching the upstream (google.rpc.ErrorInfo reason). */
export type RefusalReason = 'CIRCUIT_OPEN' | 'CONCURRENCY_LIMIT' | 'NO_HEALTHY_UPSTREAM' | 'OVERLOADED';

/**
 * A 503 UNAVAILABLE the gateway answers itself: the envelope's details say why in a
 * machine-readable way (ErrorInfo, domain "portico"), and, where waiting helps, how long to
 * wait (RetryInfo and the Retry-After header, in seconds).
 */
export function refusal(reason: RefusalReason, message: string, retryAfterSeconds?: number): GatewayError {
  const details: Record<string, unknown>[] = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'portico' }];
  if (retryAfterSeconds === undefined) return new GatewayError(GrpcStatus.UNAVAILABLE, message, details);
  details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` });
  return new GatewayError(GrpcStatus.UNAVAILABLE, message, details, { headers: { 'retry-after': String(retryAfterSeconds) } });
}
