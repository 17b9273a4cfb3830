import type { ServiceConfig } from '../config/schema.js';
import { CircuitBreaker } from '../policies/circuit-breaker.js';
import { ConcurrencyLimit } from '../policies/concurrency-limit.js';
import { OpenStreamsLimit } from '../policies/open-streams.js';
import type { BreakerState, ResilienceObserver, WatchedPolicies } from '../policies/resilience-observer.js';
import { RetryPolicy } from '../policies/retry.js';
import { balancedChannel } from './balancing/channel-balancing.js';
import { hashKeyReader } from './balancing/hash-key.js';
import { ServiceHealth, type HealthSettings, type ReplicaHealthObserver, type ReplicaStatus } from './health/service-health.js';
import { UpstreamClient } from './upstream-client.js';
import { Upstream, type UpstreamObserver } from './upstream.js';

/** What the upstreams report: calls, replica health, and the resilience policies' events. */
export type PoolObserver = UpstreamObserver & ReplicaHealthObserver & ResilienceObserver;

/** The state of a service's policies: kept across reloads that keep its replicas. */
interface ServicePolicies {
  /** Its replicas' health; the balancer of its channel acts on it. */
  readonly health: ServiceHealth;
  readonly retry: RetryPolicy;
  readonly breaker: CircuitBreaker;
  readonly concurrency: ConcurrencyLimit;
  readonly openStreams: OpenStreamsLimit;
}

/** What one service's upstream is: its channel, the state of its policies and their chain. */
interface ServiceUpstream extends ServicePolicies {
  /** What the channel was built from; a reload that changes it gets a new channel. */
  readonly identity: string;
  /** The configured replicas, as /readyz shows them before the channel has resolved. */
  readonly replicas: readonly string[];
  readonly channel: Upstream;
  readonly client: UpstreamClient;
}

export type { ReplicaHealth, ReplicaStatus } from './health/service-health.js';
export type { BreakerState } from '../policies/resilience-observer.js';

/** One service in force, as the bodies of /readyz and /admin/upstreams list it. */
export interface ServiceStatus {
  readonly name: string;
  readonly replicas: readonly ReplicaStatus[];
  /** "closed" also when the service has no circuitBreaker. */
  readonly breaker: BreakerState;
  /** Its concurrency cap (the adaptive limit's current value) and the unary calls it counts; null without one. */
  readonly concurrency: { readonly limit: number; readonly inFlight: number } | null;
}

/** The upstreams of a route generation being compiled: swapped in with commit(), or thrown away. */
export interface PreparedUpstreams {
  readonly clients: ReadonlyMap<string, UpstreamClient>;
  /** Makes these the upstreams in force; services no longer configured, or changed, drain for `graceMs`, then close. */
  commit(graceMs: number): void;
  /** Closes what prepare() created for this generation; the upstreams in force are untouched. */
  discard(): void;
}

/**
 * Per-service upstream state across reloads. A reload that keeps a service's channel settings
 * keeps its channel (connections stay up) and its policies' state; one that changes the
 * channel (balancing, keepalive) but keeps the replicas keeps the policies' state (replica
 * health, retry budget, circuit breaker, calls in flight, open streams) on the new channel.
 * Only services removed or changed are retired: their calls in flight finish on the old
 * channel, which closes after the grace period.
 */
export class UpstreamPool {
  #current = new Map<string, ServiceUpstream>();
  readonly #retiring = new Map<NodeJS.Timeout, readonly ServiceUpstream[]>();

  constructor(private readonly observer: PoolObserver) {}

  prepare(services: readonly ServiceConfig[]): PreparedUpstreams {
    const next = new Map<string, ServiceUpstream>();
    const created: ServiceUpstream[] = [];
    for (const config of services) {
      const kept = this.#current.get(config.name);
      const identity = channelIdentity(config);
      if (kept?.identity === identity) {
        next.set(config.name, kept);
        continue;
      }
      const sameReplicas = kept !== undefined && kept.replicas.join() === replicaAddresses(config).join();
      const fresh = this.#create(config, identity, sameReplicas ? kept : this.#policies(config));
      created.push(fresh);
      next.set(config.name, fresh);
    }
    return {
      clients: new Map([...next].map(([name, upstream]) => [name, upstream.client])),
      commit: (graceMs) => {
        for (const config of services) {
          const upstream = next.get(config.name)!;
          configure(upstream, config);
          if (config.healthCheck) upstream.channel.connect();
        }
        const retired = [...this.#current.values()].filter((upstream) => next.get(upstream.channel.name) !== upstream);
        for (const upstream of retired) if (!next.has(upstream.channel.name)) this.observer.watchService(upstream.channel.name, undefined);
        for (const upstream of next.values()) this.observer.watchService(upstream.channel.name, watched(upstream));
        this.#current = next;
        this.#retire(retired, graceMs);
      },
      discard: () => {
        for (const upstream of created) this.#close(upstream);
      },
    };
  }

  /** The services in force with their replicas, breaker and concurrency limit, in config order. */
  status(): ServiceStatus[] {
    return [...this.#current.values()].map((upstream) => ({
      name: upstream.channel.name,
      replicas: replicasOf(upstream),
      breaker: upstream.breaker.state ?? 'closed',
      concurrency: Number.isFinite(upstream.concurrency.limit) ? { limit: upstream.concurrency.limit, inFlight: upstream.concurrency.inFlight } : null,
    }));
  }

  /** Closes every channel, those in force and those still draining after a reload. */
  close(): void {
    for (const [timer, upstreams] of this.#retiring) {
      clearTimeout(timer);
      for (const upstream of upstreams) this.#close(upstream);
    }
    this.#retiring.clear();
    for (const upstream of this.#current.values()) this.#close(upstream);
  }

  #policies(config: ServiceConfig): ServicePolicies {
    const policies = {
      health: new ServiceHealth(config.name, healthSettings(config), this.observer),
      retry: new RetryPolicy(config.name, this.observer),
      breaker: new CircuitBreaker(config.name, this.observer),
      concurrency: new ConcurrencyLimit(config.name, this.observer),
      openStreams: new OpenStreamsLimit(config.name, config.maxOpenStreams),
    };
    configure(policies, config);
    return policies;
  }

  #create(config: ServiceConfig, identity: string, policies: ServicePolicies): ServiceUpstream {
    const { health, retry, breaker, concurrency, openStreams } = policies;
    const channel = new Upstream({ name: config.name, ...balancedChannel(config, health), observer: this.observer, keepalive: config.keepalive, health });
    const hashKey = config.hashOn && hashKeyReader(config.hashOn);
    // The chain, outermost first. Each retry is a call of its own through the breaker (which
    // counts it) and the concurrency limit (which holds a slot only while it is in flight).
    const client = new UpstreamClient(config.name, channel, [retry, breaker, concurrency, openStreams], hashKey);
    return { identity, replicas: replicaAddresses(config), channel, health, retry, breaker, concurrency, openStreams, client };
  }

  /** Closes the channel, and the health state unless the service in force still uses it. */
  #close(upstream: ServiceUpstream): void {
    upstream.channel.close();
    const inUse = [...this.#current.values()].some((current) => current !== upstream && current.health === upstream.health);
    if (!inUse) upstream.health.close();
  }

  #retire(upstreams: readonly ServiceUpstream[], graceMs: number): void {
    if (upstreams.length === 0) return;
    const timer = setTimeout(() => {
      this.#retiring.delete(timer);
      for (const upstream of upstreams) this.#close(upstream);
    }, graceMs);
    timer.unref();
    this.#retiring.set(timer, upstreams);
  }
}

/** Applies a (re)loaded config's policy settings to a service's policies; their state stays. */
function configure(policies: ServicePolicies, config: ServiceConfig): void {
  policies.health.update(healthSettings(config));
  policies.retry.configure(config);
  policies.breaker.configure(config.circuitBreaker);
  policies.concurrency.configure(config.concurrency);
  policies.openStreams.max = config.maxOpenStreams;
}

/** The live view of a service's policies for the metrics. */
function watched({ breaker, concurrency }: ServicePolicies): WatchedPolicies {
  return {
    get breakerState() {
      return breaker.state;
    },
    get inFlight() {
      return concurrency.inFlight;
    },
    get concurrencyLimit() {
      return concurrency.limit;
    },
  };
}

/**
 * Every resolved address with its health; before the channel has resolved (it does at the
 * first call, or at once with health checks on), the configured replicas, health unknown.
 */
function replicasOf(upstream: ServiceUpstream): ReplicaStatus[] {
  const replicas = upstream.health.replicaHealth();
  return replicas.length > 0 ? replicas : upstream.replicas.map((address) => ({ address, health: 'unknown', connected: false, inFlight: 0 }));
}

/** The configured replicas: the endpoints, or the one address (a dns:/// name counts as one). */
function replicaAddresses(config: ServiceConfig): string[] {
  return config.endpoints?.map((endpoint) => endpoint.address) ?? [config.address!];
}

/** Health settings are not part of the identity: a reload changes them on the live channel. */
function healthSettings(config: ServiceConfig): HealthSettings {
  return { ...(config.healthCheck && { healthCheck: config.healthCheck }), ...(config.outlierDetection && { outlierDetection: config.outlierDetection }), allUnhealthy: config.allUnhealthy };
}

/** What the channel is built from: its replicas, how it balances over them, and keepalive. */
function channelIdentity(config: ServiceConfig): string {
  return JSON.stringify([config.address, config.endpoints, config.balancing, config.hashOn, config.keepalive]);
}
