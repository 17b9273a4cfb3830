import type { ServiceConfig } from '../config/schema.js';
import { CircuitBreaker } from '../policies/circuit-breaker.js';
import { ConcurrencyLimit } from '../policies/concurrency-limit.js';
import { OpenStreamsLimit } from '../policies/open-streams.js';
import type { ResilienceObserver, WatchedPolicies } from '../policies/resilience-observer.js';
import { RetryPolicy } from '../policies/retry.js';
import { UpstreamClient } from './upstream-client.js';
import { Upstream, type UpstreamObserver } from './upstream.js';

/** What one service's upstream is: its channel, the state of its policies and their chain. */
interface ServiceUpstream {
  /** What the channel was built from; a reload that changes it gets a new channel. */
  readonly identity: string;
  readonly channel: Upstream;
  readonly retry: RetryPolicy;
  readonly breaker: CircuitBreaker;
  readonly concurrency: ConcurrencyLimit;
  readonly openStreams: OpenStreamsLimit;
  readonly client: UpstreamClient;
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
 * Per-service upstream state across reloads. A reload that keeps a service's address and
 * channel settings keeps its channel (connections stay up) and its policies' state (open
 * streams, retry budget, circuit breaker, calls in flight). Only services removed or changed are retired:
 * their calls in flight finish on the old channel, which closes after the grace period.
 */
export class UpstreamPool {
  #current = new Map<string, ServiceUpstream>();
  readonly #retiring = new Map<NodeJS.Timeout, readonly ServiceUpstream[]>();

  constructor(private readonly observer: UpstreamObserver & ResilienceObserver) {}

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
        for (const config of services) configure(next.get(config.name)!, config);
        const retired = [...this.#current.values()].filter((upstream) => next.get(upstream.channel.name) !== upstream);
        for (const upstream of retired) if (!next.has(upstream.channel.name)) this.observer.watchService(upstream.channel.name, undefined);
        for (const upstream of next.values()) this.observer.watchService(upstream.channel.name, watched(upstream));
        this.#current = next;
        this.#retire(retired, graceMs);
      },
      discard: () => {
        for (const upstream of created) upstream.channel.close();
      },
    };
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
    const channel = new Upstream({ name: config.name, address: config.address, observer: this.observer, keepalive: config.keepalive });
    const retry = new RetryPolicy(config.name, this.observer);
    const breaker = new CircuitBreaker(config.name, this.observer);
    const concurrency = new ConcurrencyLimit(config.name, this.observer);
    const openStreams = new OpenStreamsLimit(config.name, config.maxOpenStreams);
    const upstream = { identity, channel, retry, breaker, concurrency, openStreams };
    configure(upstream, config);
    // Outermost first. Each retry is a call of its own through the breaker (which counts it)
    // and the concurrency limit (which holds a slot only while it is in flight).
    const policies = [retry, breaker, concurrency, openStreams];
    return { ...upstream, client: new UpstreamClient(config.name, channel, policies) };
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

/** Applies a (re)loaded config's policy settings to a service's policies; their state stays. */
function configure(upstream: Omit<ServiceUpstream, 'client'>, config: ServiceConfig): void {
  upstream.retry.configure(config);
  upstream.breaker.configure(config.circuitBreaker);
  upstream.concurrency.configure(config.concurrency);
  upstream.openStreams.max = config.maxOpenStreams;
}

/** The live view of a service's policies for the metrics. */
function watched({ breaker, concurrency }: ServiceUpstream): WatchedPolicies {
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

function channelIdentity(config: ServiceConfig): string {
  return JSON.stringify([config.address, config.keepalive]);
}
