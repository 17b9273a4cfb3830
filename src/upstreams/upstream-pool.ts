import type { ServiceConfig } from '../config/schema.js';
import { OpenStreamsLimit } from '../policies/open-streams.js';
import { balancedChannel } from './balancing/channel-balancing.js';
import { hashKeyReader } from './balancing/hash-key.js';
import { UpstreamClient } from './upstream-client.js';
import { Upstream, type UpstreamObserver } from './upstream.js';

/** What one service's upstream is: its channel, the state of its policies and their chain. */
interface ServiceUpstream {
  /** What the channel was built from; a reload that changes it gets a new channel. */
  readonly identity: string;
  /** The configured replicas, as /readyz shows them. */
  readonly replicas: readonly string[];
  readonly channel: Upstream;
  readonly openStreams: OpenStreamsLimit;
  readonly client: UpstreamClient;
}

/** A replica's state as health checks and outlier detection see it; 'unknown' until a check has run. */
export type ReplicaHealth = 'healthy' | 'unhealthy' | 'ejected' | 'unknown';

/** A service's circuit breaker state. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface ReplicaStatus {
  readonly address: string;
  readonly health: ReplicaHealth;
}

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

  constructor(private readonly observer: UpstreamObserver) {}

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
      const fresh = this.#create(config, identity);
      created.push(fresh);
      next.set(config.name, fresh);
    }
    return {
      clients: new Map([...next].map(([name, upstream]) => [name, upstream.client])),
      commit: (graceMs) => {
        for (const config of services) next.get(config.name)!.openStreams.max = config.maxOpenStreams;
        const retired = [...this.#current.values()].filter((upstream) => next.get(upstream.channel.name) !== upstream);
        this.#current = next;
        this.#retire(retired, graceMs);
      },
      discard: () => {
        for (const upstream of created) upstream.channel.close();
      },
    };
  }

  /** The services in force with their replicas' health and breaker state, in config order. */
  status(): ServiceStatus[] {
    return [...this.#current.values()].map((upstream) => ({
      name: upstream.channel.name,
      // One entry per configured replica (a dns:/// address counts as one): nothing checks them yet.
      replicas: upstream.replicas.map((address) => ({ address, health: 'unknown' })),
      // No breaker is configured, and a service without one always lets calls through.
      breaker: 'closed',
    }));
  }

  /** Closes every channel, those in force and those still draining after a reload. */
  close(): void {
    for (const [timer, upstreams] of this.#retiring) {
      clearTimeout(timer);
      for (const upstream of upstreams) upstream.channel.close();
    }
    this.#retiring.clear();
    for (const upstream of this.#current.values()) upstream.channel.close();
  }

  #create(config: ServiceConfig, identity: string): ServiceUpstream {
    const channel = new Upstream({ name: config.name, ...balancedChannel(config), observer: this.observer, keepalive: config.keepalive });
    const openStreams = new OpenStreamsLimit(config.name, config.maxOpenStreams);
    const hashKey = config.hashOn && hashKeyReader(config.hashOn);
    const replicas = config.endpoints?.map((endpoint) => endpoint.address) ?? [config.address!];
    return { identity, replicas, channel, openStreams, client: new UpstreamClient(config.name, channel, [openStreams], hashKey) };
  }

  #retire(upstreams: readonly ServiceUpstream[], graceMs: number): void {
    if (upstreams.length === 0) return;
    const timer = setTimeout(() => {
      this.#retiring.delete(timer);
      for (const upstream of upstreams) upstream.channel.close();
    }, graceMs);
    timer.unref();
    this.#retiring.set(timer, upstreams);
  }
}

/** What the channel is built from: its replicas, how it balances over them, and keepalive. */
function channelIdentity(config: ServiceConfig): string {
  return JSON.stringify([config.address, config.endpoints, config.balancing, config.hashOn, config.keepalive]);
}
