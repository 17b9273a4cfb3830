import type { ServiceConfig } from '../config/schema.js';
import { OpenStreamsLimit } from '../policies/open-streams.js';
import { balancedChannel } from './balancing/channel-balancing.js';
import { hashKeyReader } from './balancing/hash-key.js';
import { ServiceHealth, type HealthSettings, type ReplicaHealthObserver, type ReplicaStatus } from './health/service-health.js';
import { UpstreamClient } from './upstream-client.js';
import { Upstream, type UpstreamObserver } from './upstream.js';

/** What one service's upstream is: its channel, the state of its policies and their chain. */
interface ServiceUpstream {
  /** What the channel was built from; a reload that changes it gets a new channel. */
  readonly identity: string;
  /** The configured replicas, as /readyz shows them. */
  readonly replicas: readonly string[];
  readonly channel: Upstream;
  /** Its replicas' health; handed on to a new channel to the same address. */
  readonly health: ServiceHealth;
  readonly openStreams: OpenStreamsLimit;
  readonly client: UpstreamClient;
}

export type { ReplicaHealth, ReplicaStatus } from './health/service-health.js';

/** A service's circuit breaker state. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** One service in force, as the body of /readyz lists it. */
export interface ServiceStatus {
  readonly name: string;
  readonly replicas: readonly ReplicaStatus[];
  readonly breaker: BreakerState;
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
 * Per-service upstream state across reloads. A reload that keeps a service's replicas and
 * channel settings keeps its channel (connections stay up) and its policies' state (open
 * streams now; health and breakers later). Only services removed or changed are retired:
 * their calls in flight finish on the old channel, which closes after the grace period.
 */
export class UpstreamPool {
  #current = new Map<string, ServiceUpstream>();
  readonly #retiring = new Map<NodeJS.Timeout, readonly ServiceUpstream[]>();

  constructor(private readonly observer: UpstreamObserver & ReplicaHealthObserver) {}


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
      // A new channel to the same replicas (keepalive changed) keeps what is known of their health.
      const sameReplicas = kept !== undefined && kept.replicas.join() === replicaAddresses(config).join();
      const fresh = this.#create(config, identity, sameReplicas ? kept.health : undefined);
      created.push(fresh);
      next.set(config.name, fresh);
    }
    return {
      clients: new Map([...next].map(([name, upstream]) => [name, upstream.client])),
      commit: (graceMs) => {
        for (const config of services) {
          const upstream = next.get(config.name)!;
          upstream.openStreams.max = config.maxOpenStreams;
          upstream.health.update(healthSettings(config));
          if (config.healthCheck) upstream.channel.connect();
        }
        const retired = [...this.#current.values()].filter((upstream) => next.get(upstream.channel.name) !== upstream);
        this.#current = next;
        this.#retire(retired, graceMs);
      },
      discard: () => {
        for (const upstream of created) this.#close(upstream);
      },
    };
  }

  /** The services in force with their replicas' health and breaker state, in config order. */
  status(): ServiceStatus[] {
    return [...this.#current.values()].map((upstream) => ({
      name: upstream.channel.name,
      replicas: replicasOf(upstream),
      // No breaker is configured, and a service without one always lets calls through.
      breaker: 'closed',
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

  #create(config: ServiceConfig, identity: string, health = new ServiceHealth(config.name, healthSettings(config), this.observer)): ServiceUpstream {
    const channel = new Upstream({ name: config.name, ...balancedChannel(config, health), observer: this.observer, keepalive: config.keepalive, health });
    const openStreams = new OpenStreamsLimit(config.name, config.maxOpenStreams);
    const hashKey = config.hashOn && hashKeyReader(config.hashOn);
    return { identity, replicas: replicaAddresses(config), channel, health, openStreams, client: new UpstreamClient(config.name, channel, [openStreams], hashKey) };
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

/**
 * Every resolved address with its health; before the channel has resolved (it does at the
 * first call, or at once with health checks on), the configured address, health unknown.
 */
function replicasOf(upstream: ServiceUpstream): ReplicaStatus[] {
  const replicas = upstream.health.replicaHealth();
  return replicas.length > 0 ? replicas : upstream.replicas.map((address) => ({ address, health: 'unknown' }));
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
