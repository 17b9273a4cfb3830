import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GrpcStatus } from '../errors/status-codes.js';
import { codeName } from '../errors/status-codes.js';
import type { ReplicaHealthObserver, ReplicaHealth } from '../upstreams/health/service-health.js';
import type { RefusalReason } from '../errors/refusals.js';
import type { BreakerState, ResilienceObserver, WatchedPolicies } from '../policies/resilience-observer.js';
import type { RateLimitKey } from '../config/schema.js';
import type { LimitScope, RateLimitObserver } from '../policies/rate-limit/observer.js';
import type { UpstreamObserver } from '../upstreams/upstream.js';

/** The request latency histogram, which /admin/routes also reads. */
export const httpRequestSecondsName = 'portico_http_request_duration_seconds';

/**
 * From 0.5 ms, the order of the gateway's own overhead per request (200-500 µs in the
 * benchmark), to 60 s: `timeoutMs` is 5 s by default but has no upper bound, and
 * `server.requestTimeoutMs` is 30 s, so a call that ran into a long deadline still lands in a
 * bucket of its own rather than in +Inf, where no quantile can be read.
 */
const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** What the HTTP side records about each finished request. */
export interface HttpMetrics {
  /** A request reached the gateway's hooks; `requestEnded` follows it exactly once. */
  requestStarted(): void;
  requestEnded(): void;
  requestFinished(route: string, method: string, status: number, seconds: number): void;
}

const replicaHealthStates: readonly ReplicaHealth[] = ['healthy', 'unhealthy', 'ejected', 'unknown'];

/** Records nothing: the observers when `metrics.enabled` is false. */
export const noMetrics: HttpMetrics & UpstreamObserver & ReplicaHealthObserver & ResilienceObserver & RateLimitObserver = {
  requestStarted: () => {},
  requestEnded: () => {},
  requestFinished: () => {},
  callFinished: () => {},
  replicaHealthChanged: () => {},
  replicaEjected: () => {},
  replicaRemoved: () => {},
  watchService: () => {},
  breakerTransition: () => {},
  retried: () => {},
  retryBudgetExhausted: () => {},
  refused: () => {},
  rateLimited: () => {},
  rateLimitStoreError: () => {},
  rateLimitStoreUp: () => {},
};

/** The breaker state gauge's values. */
const breakerStateValues: Readonly<Record<BreakerState, number>> = { closed: 0, open: 1, 'half-open': 2 };

/**
 * The gateway's Prometheus metrics, in a registry of its own so that several gateways (tests)
 * never share series. Label children are cached so the request path does no label lookups.
 */
export class GatewayMetrics implements HttpMetrics, UpstreamObserver, ReplicaHealthObserver, ResilienceObserver, RateLimitObserver {
  readonly registry = new Registry();
  readonly #requests: Counter<'route' | 'method' | 'status'>;
  readonly #requestSeconds: Histogram<'route' | 'method' | 'status'>;
  readonly #requestsInFlight: Gauge;
  readonly #upstreamCalls: Counter<'service' | 'method' | 'code'>;
  readonly #upstreamSeconds: Histogram<'service' | 'method' | 'code'>;
  readonly #replicaHealth: Gauge<'service' | 'replica' | 'state'>;
  readonly #ejections: Counter<'service' | 'replica'>;
  // Label children by label values, nested so the request path builds no key strings.
  readonly #httpChildren = new Map<string, Map<string, Map<number, SeriesPair>>>();
  readonly #upstreamChildren = new Map<string, Map<string, Map<number, SeriesPair>>>();
  readonly #watched = new Map<string, WatchedPolicies>();
  readonly #breakerTransitions: Counter<'service' | 'to'>;
  readonly #retries: Counter<'service'>;
  readonly #retryBudgetExhausted: Counter<'service'>;
  readonly #refusals: Counter<'service' | 'reason'>;
  readonly #rateLimited: Counter<'scope' | 'key'>;
  readonly #rateLimitStoreErrors: Counter;
  readonly #rateLimitStoreUp: Gauge;
  readonly #configReloads: Counter<'result'>;
  #configVersion: () => number = () => 0;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'portico_' });
    this.#requests = new Counter({
      name: 'portico_http_requests_total',
      help: 'HTTP requests by route template, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers: [this.registry],
    });
    this.#requestSeconds = new Histogram({
      name: httpRequestSecondsName,
      help: 'HTTP request latency by route template, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: latencyBuckets,
      registers: [this.registry],
    });
    this.#requestsInFlight = new Gauge({
      name: 'portico_http_requests_in_flight',
      help: 'HTTP requests received and not yet answered (streams included).',
      registers: [this.registry],
    });
    this.#upstreamCalls = new Counter({
      name: 'portico_upstream_calls_total',
      help: 'gRPC calls to upstreams by service, method and gRPC code.',
      labelNames: ['service', 'method', 'code'],
      registers: [this.registry],
    });
    this.#upstreamSeconds = new Histogram({
      name: 'portico_upstream_call_duration_seconds',
      help: 'gRPC call latency by service, method and gRPC code.',
      labelNames: ['service', 'method', 'code'],
      buckets: latencyBuckets,
      registers: [this.registry],
    });
    this.#replicaHealth = new Gauge({
      name: 'portico_upstream_replica_health',
      help: 'Health of each replica of a service: 1 for its current state (healthy, unhealthy, ejected or unknown), 0 for the others.',
      labelNames: ['service', 'replica', 'state'],
      registers: [this.registry],
    });
    this.#ejections = new Counter({
      name: 'portico_upstream_ejections_total',
      help: 'Ejections of a replica by outlier detection (calls failing in a row).',
      labelNames: ['service', 'replica'],
      registers: [this.registry],
    });
    const watched = this.#watched;
    // Gauges read the policies at scrape time: nothing to update on the request path.
    new Gauge({
      name: 'portico_circuit_breaker_state',
      help: 'Circuit breaker state by service: 0 closed, 1 open, 2 half-open (services with a breaker only).',
      labelNames: ['service'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [service, policies] of watched) if (policies.breakerState) this.set({ service }, breakerStateValues[policies.breakerState]);
      },
    });
    new Gauge({
      name: 'portico_upstream_in_flight_calls',
      help: 'Unary calls in flight to each service with a concurrency limit, as the limit counts them.',
      labelNames: ['service'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [service, policies] of watched) if (Number.isFinite(policies.concurrencyLimit)) this.set({ service }, policies.inFlight);
      },
    });
    new Gauge({
      name: 'portico_upstream_concurrency_limit',
      help: 'Current concurrency limit of each capped service (moves between min and max when adaptive).',
      labelNames: ['service'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [service, policies] of watched) if (Number.isFinite(policies.concurrencyLimit)) this.set({ service }, policies.concurrencyLimit);
      },
    });
    this.#breakerTransitions = new Counter({
      name: 'portico_circuit_breaker_transitions_total',
      help: 'Circuit breaker state changes by service and new state.',
      labelNames: ['service', 'to'],
      registers: [this.registry],
    });
    this.#retries = new Counter({ name: 'portico_upstream_retries_total', help: 'Retries made by service.', labelNames: ['service'], registers: [this.registry] });
    this.#retryBudgetExhausted = new Counter({
      name: 'portico_upstream_retry_budget_exhausted_total',
      help: 'Retries not made because the service\'s retry budget was spent.',
      labelNames: ['service'],
      registers: [this.registry],
    });
    this.#refusals = new Counter({
      name: 'portico_upstream_refusals_total',
      help: 'Calls the gateway refused without reaching the upstream, by service and reason.',
      labelNames: ['service', 'reason'],
      registers: [this.registry],
    });
    this.#rateLimited = new Counter({
      name: 'portico_rate_limited_requests_total',
      help: 'Requests answered 429 by a rate limit, by its scope (global, service, method) and key (ip, user, global).',
      labelNames: ['scope', 'key'],
      registers: [this.registry],
    });
    this.#rateLimitStoreErrors = new Counter({
      name: 'portico_rate_limit_store_errors_total',
      help: 'Rate-limit checks that could not reach the shared store (Redis): served without limits or answered 503, as rateLimit.redis.onError says.',
      registers: [this.registry],
    });
    this.#rateLimitStoreUp = new Gauge({
      name: 'portico_rate_limit_store_up',
      help: 'Whether the shared rate-limit store (Redis) is reachable: 1 or 0 (absent with the memory store).',
      registers: [this.registry],
    });
    this.#configReloads = new Counter({
      name: 'portico_config_reloads_total',
      help: 'Config reloads by result: applied, or rejected (the previous config keeps serving).',
      labelNames: ['result'],
      registers: [this.registry],
    });
    const metrics = this;
    new Gauge({
      name: 'portico_config_version',
      help: 'Version of the config in force: 1 at start, one more per applied reload.',
      registers: [this.registry],
      collect() {
        this.set(metrics.#configVersion());
      },
    });
  }

  /** The config version gauge reads `version` at scrape time. */
  watchConfigVersion(version: () => number): void {
    this.#configVersion = version;
  }

  configReloaded(result: 'applied' | 'rejected'): void {
    this.#configReloads.inc({ result });
  }

  rateLimited(scope: LimitScope, key: RateLimitKey): void {
    this.#rateLimited.inc({ scope, key });
  }

  rateLimitStoreError(): void {
    this.#rateLimitStoreErrors.inc();
  }

  rateLimitStoreUp(up: boolean): void {
    this.#rateLimitStoreUp.set(up ? 1 : 0);
  }

  replicaHealthChanged(service: string, replica: string, health: ReplicaHealth): void {
    for (const state of replicaHealthStates) this.#replicaHealth.labels({ service, replica, state }).set(state === health ? 1 : 0);
  }

  replicaEjected(service: string, replica: string): void {
    this.#ejections.labels({ service, replica }).inc();
  }

  replicaRemoved(service: string, replica: string): void {
    for (const state of replicaHealthStates) this.#replicaHealth.remove({ service, replica, state });
  }

  watchService(service: string, policies: WatchedPolicies | undefined): void {
    if (policies) this.#watched.set(service, policies);
    else this.#watched.delete(service);
  }

  breakerTransition(service: string, to: BreakerState): void {
    this.#breakerTransitions.inc({ service, to });
  }

  retried(service: string): void {
    this.#retries.inc({ service });
  }

  retryBudgetExhausted(service: string): void {
    this.#retryBudgetExhausted.inc({ service });
  }

  refused(service: string, reason: RefusalReason): void {
    this.#refusals.inc({ service, reason });
  }

  requestStarted(): void {
    this.#requestsInFlight.inc();
  }

  requestEnded(): void {
    this.#requestsInFlight.dec();
  }

  requestFinished(route: string, method: string, status: number, seconds: number): void {
    const series =
      lookup(this.#httpChildren, route, method, status) ??
      store(this.#httpChildren, route, method, status, () => {
        const labels = { route, method, status: String(status) };
        return { count: this.#requests.labels(labels), seconds: this.#requestSeconds.labels(labels) };
      });
    series.count.inc();
    series.seconds.observe(seconds);
  }

  callFinished(service: string, method: string, code: GrpcStatus, seconds: number): void {
    const series =
      lookup(this.#upstreamChildren, service, method, code) ??
      store(this.#upstreamChildren, service, method, code, () => {
        const labels = { service, method, code: codeName(code) };
        return { count: this.#upstreamCalls.labels(labels), seconds: this.#upstreamSeconds.labels(labels) };
      });
    series.count.inc();
    series.seconds.observe(seconds);
  }
}

interface SeriesPair {
  count: Counter.Internal;
  seconds: Histogram.Internal<string>;
}

type SeriesTree = Map<string, Map<string, Map<number, SeriesPair>>>;

function lookup(tree: SeriesTree, a: string, b: string, c: number): SeriesPair | undefined {
  return tree.get(a)?.get(b)?.get(c);
}

function store(tree: SeriesTree, a: string, b: string, c: number, create: () => SeriesPair): SeriesPair {
  let level1 = tree.get(a);
  if (!level1) tree.set(a, (level1 = new Map()));
  let level2 = level1.get(b);
  if (!level2) level1.set(b, (level2 = new Map()));
  const series = create();
  level2.set(c, series);
  return series;
}
