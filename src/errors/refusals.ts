import { GatewayError, type ErrorDetail } from './gateway-error.js';
import { GrpcStatus } from './status-codes.js';

/** Why the gateway answered 503 without calling an upstream (google.rpc.ErrorInfo `reason`). */
export type RefusalReason = 'CIRCUIT_OPEN' | 'CONCURRENCY_LIMIT' | 'NO_HEALTHY_UPSTREAM' | 'OVERLOADED' | 'RATE_LIMIT_UNAVAILABLE';

/**
 * A 503 UNAVAILABLE the gateway decides on by itself, machine-readable: an ErrorInfo with the
 * reason (domain "portico"), and where waiting helps a RetryInfo and a Retry-After header
 * in whole seconds (at least 1: "0" would invite an immediate retry).
 */
export function refusal(reason: RefusalReason, message: string, retryAfterSeconds?: number): GatewayError {
  return gatewayDecision(GrpcStatus.UNAVAILABLE, reason, message, retryAfterSeconds, false);
}

/**
 * A 429 RESOURCE_EXHAUSTED of a client over a rate limit: ErrorInfo RATE_LIMITED, and the wait
 * until the request would pass, as Retry-After in whole seconds and exact to the millisecond
 * in RetryInfo: at 50 requests a second the wait is 20 ms, and a client pacing itself needs
 * that, not "1". `headers`: the RateLimit fields of the limit that refused.
 */
export function rateLimited(message: string, retryAfterSeconds: number, headers: Record<string, string>): GatewayError {
  return gatewayDecision(GrpcStatus.RESOURCE_EXHAUSTED, 'RATE_LIMITED', message, retryAfterSeconds, true, headers);
}

function gatewayDecision(
  code: GrpcStatus,
  reason: string,
  message: string,
  retryAfterSeconds: number | undefined,
  exactDelay: boolean,
  headers?: Record<string, string>,
): GatewayError {
  const details: ErrorDetail[] = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'portico' }];
  if (retryAfterSeconds === undefined) return new GatewayError(code, message, details, headers && { headers });
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  // proto3 JSON of a Duration: seconds with up to 9 fractional digits ("0.021s").
  const delay = exactDelay ? Math.max(0.001, Math.ceil(retryAfterSeconds * 1000) / 1000) : seconds;
  details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${delay}s` });
  return new GatewayError(code, message, details, { headers: { ...headers, 'retry-after': String(seconds) } });
}
