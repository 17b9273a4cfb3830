import type { RateLimitKey } from '../../config/schema.js';

/** Where a limit is configured: rateLimit.global, services[].rateLimit or services[].methods.<Rpc>.rateLimit. */
export type LimitScope = 'global' | 'service' | 'method';

/** What rate limiting tells the metrics. */
export interface RateLimitObserver {
  /** A request was answered 429 by a limit of this scope and key. */
  rateLimited(scope: LimitScope, key: RateLimitKey): void;
  /** A check could not reach the shared store (Redis). */
  rateLimitStoreError(): void;
  /** The shared store became reachable (true) or unreachable (false). */
  rateLimitStoreUp(up: boolean): void;
}
