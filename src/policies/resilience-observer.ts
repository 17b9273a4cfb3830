import type { RefusalReason } from '../errors/refusals.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What the metrics read of a service's policies at each scrape. */
export interface WatchedPolicies {
  /** Undefined when the service has no breaker. */
  readonly breakerState: BreakerState | undefined;
  /** Counted only where a concurrency limit is configured (the count costs a step per call). */
  readonly inFlight: number;
  /** Infinity when the service has no concurrency cap. */
  readonly concurrencyLimit: number;
}

/** What the resilience policies report (metrics live in observability/metrics.ts). */
export interface ResilienceObserver {
  /** The policies of a service in force, read at scrape time; undefined when the service is gone. */
  watchService(service: string, policies: WatchedPolicies | undefined): void;
  breakerTransition(service: string, to: BreakerState): void;
  retried(service: string): void;
  retryBudgetExhausted(service: string): void;
  refused(service: string, reason: RefusalReason): void;
}
