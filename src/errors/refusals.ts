import { GatewayError } from './gateway-error.js';
import { GrpcStatus } from './status-codes.js';

/** Why the gateway refused a call without reaching the upstream (ErrorInfo.reason). */
export type RefusalReason = 'CIRCUIT_OPEN' | 'CONCURRENCY_LIMIT' | 'NO_HEALTHY_UPSTREAM' | 'OVERLOADED';

/**
 * A refusal: 503 UNAVAILABLE with a google.rpc.ErrorInfo saying why (domain "portico"), and,
 * where waiting helps, a google.rpc.RetryInfo and a Retry-After header with the same delay.
 */
export function refusal(reason: RefusalReason, message: string, retryAfterSeconds?: number): GatewayError {
  const details: Record<string, unknown>[] = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'portico' }];
  if (retryAfterSeconds === undefined) return new GatewayError(GrpcStatus.UNAVAILABLE, message, details);
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${seconds}s` });
  return new GatewayError(GrpcStatus.UNAVAILABLE, message, details, { headers: { 'retry-after': String(seconds) } });
}

