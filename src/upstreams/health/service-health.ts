import { GrpcStatus } from '../../errors/status-codes.js';

/** Active checks with the gRPC health protocol (grpc.health.v1.Health/Check), per replica. */
export interface HealthCheckSettings {
  intervalMs: number;
  timeoutMs: number;
  /** Failed checks in a row that make a replica unhealthy. */
  unhealthyThreshold: number;
  /** Passed checks in a row that make an unhealthy replica healthy again. */
  healthyThreshold: number;
  /** The service asked about; "" is the server as a whole. */
  serviceName: string;
}

/** Ejection of a replica whose calls fail in a row. */
export interface OutlierDetectionSettings {
  consecutiveFailures: number;
  ejectionMs: number;
  maxEjectionPercent: number;
}

/** The values of the keys a configured healthCheck leaves out. */
export const healthCheckDefaults: HealthCheckSettings = { intervalMs: 5000, timeoutMs: 1000, unhealthyThreshold: 2, healthyThreshold: 1, serviceName: '' };

/** The values of the keys a configured outlierDetection leaves out. */
export const outlierDetectionDefaults: OutlierDetectionSettings = { consecutiveFailures: 5, ejectionMs: 30000, maxEjectionPercent: 50 };

export type AllUnhealthy = 'fail_open' | 'fail_closed';

export interface HealthSettings {
  healthCheck?: HealthCheckSettings;
  outlierDetection?: OutlierDetectionSettings;
  allUnhealthy: AllUnhealthy;
}

/** A replica's state as health checks and outlier detection see it. */
export type ReplicaHealth = 'healthy' | 'unhealthy' | 'ejected' | 'unknown';

/** One replica (one resolved address) as /readyz, /admin/upstreams and the metrics show it. */
export interface ReplicaStatus {
  readonly address: string;
  readonly health: ReplicaHealth;
  /** A connection to it is READY. */
  readonly connected: boolean;
  /** Calls (unary and streams) started on it and not yet ended. */
  readonly inFlight: number;
  /** When an outlier ejection ends (RFC 3339), while the replica is ejected. */
  readonly ejectedUntil?: string;
}

/** What the gateway records about replicas (metrics live in observability/). */
export interface ReplicaHealthObserver {
  replicaHealthChanged(service: string, address: string, health: ReplicaHealth): void;
  replicaEjected(service: string, address: string): void;
  replicaRemoved(service: string, address: string): void;
}

/** The call outcomes that count toward an ejection: the replica, not the request, failed. */
const replicaFailures: ReadonlySet<GrpcStatus> = new Set([GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.INTERNAL]);

/** The longest ejection of a repeat offender (Envoy's max_ejection_time default), unless ejectionMs is longer. */
const maxEjectionMs = 300_000;

interface Replica {
  readonly address: string;
  /** The active checks' verdict; 'unknown' until the first check and when checks are off. */
  verdict: 'unknown' | 'healthy' | 'unhealthy';
  passes: number;
  failedChecks: number;
  /** A connection to it is READY. */
  connected: boolean;
  failedCalls: number;
  ejection: NodeJS.Timeout | undefined;
  ejectedUntil: number;
  inFlight: number;
  /** Ejections that count toward the next one's length; one is forgiven per ejectionMs spent back in service. */
  ejections: number;
  returnedAt: number;
  reported: ReplicaHealth | undefined;
}

const noCall = (): void => {};

/** Every open ServiceHealth by id: the way a channel's balancer, built by grpc-js from JSON, finds its own. */
const byId = new Map<string, ServiceHealth>();
let lastId = 0;

export function serviceHealthById(id: string): ServiceHealth | undefined {
  return byId.get(id);
}

/**
 * The health of one service's replicas: active check verdicts, outlier ejections and whether
 * each replica is connected. It belongs to the service's upstream state (upstream-pool.ts), so
 * it outlives a reload that keeps the replicas, and the grpc-js balancer of the service's
 * channel (health-balancer.ts) feeds it and follows it.
 */
export class ServiceHealth {
  /** What the channel's load-balancing config names it by (health-balancer.ts). */
  readonly id: string;
  readonly #replicas = new Map<string, Replica>();
  #settings: HealthSettings;
  /** The balancers acting on this state: usually one, two while a replaced channel drains. */
  readonly #listeners = new Set<() => void>();

  constructor(
    readonly service: string,
    settings: HealthSettings,
    private readonly observer: ReplicaHealthObserver,
  ) {
    this.#settings = settings;
    this.id = `${service}#${++lastId}`;
    byId.set(this.id, this);
  }

  get settings(): HealthSettings {
    return this.#settings;
  }

  /** Applies reloaded settings: checks or outlier detection turned off forget their verdicts. */
  update(settings: HealthSettings): void {
    this.#settings = settings;
    for (const replica of this.#replicas.values()) {
      if (!settings.healthCheck) Object.assign(replica, { verdict: 'unknown', passes: 0, failedChecks: 0 });
      if (!settings.outlierDetection) this.#return(replica);
    }
    this.#changed();
  }

  /** `listener` is told of every change until the returned function is called. */
  follow(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The resolver's current addresses: new ones start unknown, gone ones are forgotten. */
  setAddresses(addresses: readonly string[]): void {
    const current = new Set(addresses);
    for (const address of addresses) {
      if (!this.#replicas.has(address)) {
        this.#replicas.set(address, {
          address,
          verdict: 'unknown',
          passes: 0,
          failedChecks: 0,
          connected: false,
          failedCalls: 0,
          ejection: undefined,
          ejectedUntil: 0,
          inFlight: 0,
          ejections: 0,
          returnedAt: 0,
          reported: undefined,
        });
      }
    }
    for (const replica of [...this.#replicas.values()]) {
      if (!current.has(replica.address)) this.#forget(replica);
    }
    this.#changed();
  }

  connectivityChanged(address: string, connected: boolean): void {
    const replica = this.#replicas.get(address);
    if (!replica || replica.connected === connected) return;
    replica.connected = connected;
    this.#changed();
  }

  /** One active check's result: `serving` is a SERVING answer within the timeout. */
  checked(address: string, serving: boolean): void {
    const replica = this.#replicas.get(address);
    const settings = this.#settings.healthCheck;
    if (!replica || !settings) return;
    if (serving) {
      replica.failedChecks = 0;
      replica.passes++;
      // A replica never seen before needs one pass; one that failed needs healthyThreshold.
      if (replica.verdict === 'unknown' || (replica.verdict === 'unhealthy' && replica.passes >= settings.healthyThreshold)) replica.verdict = 'healthy';
    } else {
      replica.passes = 0;
      replica.failedChecks++;
      if (replica.failedChecks >= settings.unhealthyThreshold) replica.verdict = 'unhealthy';
    }
    this.#changed();
  }

  /** A call began on the replica: it counts in the replica's inFlight until the returned function runs. */
  callStarted(address: string): () => void {
    const replica = this.#replicas.get(address);
    if (!replica) return noCall;
    replica.inFlight++;
    return () => {
      replica.inFlight--;
    };
  }

  /** The final code of a call the replica served, for outlier detection. */
  callEnded(address: string, code: GrpcStatus): void {
    const settings = this.#settings.outlierDetection;
    const replica = this.#replicas.get(address);
    if (!settings || !replica) return;
    // A client that hung up says nothing about the replica.
    if (code === GrpcStatus.CANCELLED) return;
    if (!replicaFailures.has(code)) {
      replica.failedCalls = 0;
      return;
    }
    replica.failedCalls++;
    if (replica.failedCalls >= settings.consecutiveFailures && replica.ejection === undefined) this.#eject(replica, settings);
  }

  /** Whether calls should avoid the replica (unhealthy or ejected), fail_open aside. */
  excluded(address: string): boolean {
    const replica = this.#replicas.get(address);
    return replica !== undefined && (replica.verdict === 'unhealthy' || replica.ejection !== undefined);
  }

  /**
   * fail_open with every replica excluded: calls go to all of them again. An unreachable replica
   * counts once its checks say so, not at its first failed connection attempt, so a replica that
   * connects first after a restart does not take every call while the others connect.
   */
  failingOpen(): boolean {
    if (this.#settings.allUnhealthy !== 'fail_open' || this.#replicas.size === 0) return false;
    for (const replica of this.#replicas.values()) {
      if (!this.excluded(replica.address)) return false;
    }
    return true;
  }

  replicaHealth(): ReplicaStatus[] {
    return [...this.#replicas.values()].map((replica) => ({
      address: replica.address,
      health: this.#healthOf(replica),
      connected: replica.connected,
      inFlight: replica.inFlight,
      ...(replica.ejection !== undefined && { ejectedUntil: new Date(replica.ejectedUntil).toISOString() }),
    }));
  }

  /** The service is gone: timers stop and its replicas leave the metrics. */
  close(): void {
    byId.delete(this.id);
    this.#listeners.clear();
    for (const replica of [...this.#replicas.values()]) this.#forget(replica);
  }

  #healthOf(replica: Replica): ReplicaHealth {
    if (replica.ejection !== undefined) return 'ejected';
    if (this.#settings.healthCheck) return replica.verdict;
    // Without active checks, a READY connection is all that is known.
    return replica.connected ? 'healthy' : 'unknown';
  }

  /** Ejects for ejectionMs times the recent ejections, unless that would eject more than maxEjectionPercent of the replicas. */
  #eject(replica: Replica, settings: OutlierDetectionSettings): void {
    const ejected = [...this.#replicas.values()].filter((r) => r.ejection !== undefined).length;
    if ((ejected + 1) * 100 > settings.maxEjectionPercent * this.#replicas.size) return;
    const now = Date.now();
    const forgiven = replica.ejections === 0 ? 0 : Math.floor((now - replica.returnedAt) / settings.ejectionMs);
    replica.ejections = Math.max(0, replica.ejections - forgiven) + 1;
    const ms = Math.min(settings.ejectionMs * replica.ejections, Math.max(settings.ejectionMs, maxEjectionMs));
    replica.ejectedUntil = now + ms;
    replica.ejection = setTimeout(() => {
      this.#return(replica);
      this.#changed();
    }, ms);
    replica.ejection.unref();
    this.observer.replicaEjected(this.service, replica.address);
    this.#changed();
  }

  #return(replica: Replica): void {
    if (replica.ejection === undefined) return;
    clearTimeout(replica.ejection);
    replica.ejection = undefined;
    replica.failedCalls = 0;
    replica.returnedAt = Date.now();
  }

  #forget(replica: Replica): void {
    clearTimeout(replica.ejection);
    this.#replicas.delete(replica.address);
    this.observer.replicaRemoved(this.service, replica.address);
  }

  #changed(): void {
    for (const replica of this.#replicas.values()) {
      const health = this.#healthOf(replica);
      if (health === replica.reported) continue;
      replica.reported = health;
      this.observer.replicaHealthChanged(this.service, replica.address, health);
    }
    for (const listener of this.#listeners) listener();
  }
}
