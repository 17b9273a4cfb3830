import * as grpc from '@grpc/grpc-js';
import { endpointWeight } from './static-resolver.js';

const { LeafLoadBalancer, QueuePicker, UnavailablePicker, createChildChannelControlHelper, endpointToString } = grpc.experimental;
const State = grpc.connectivityState;

type Endpoint = grpc.experimental.Endpoint;
type Picker = grpc.experimental.Picker;

/** One replica of the service: an endpoint with its configured weight and its own connection. */
export interface Replica {
  readonly endpoint: Endpoint;
  /** The endpoint as text (its addresses), stable across resolutions. */
  readonly key: string;
  readonly weight: number;
  readonly leaf: InstanceType<typeof LeafLoadBalancer>;
}

/** A replica at the moment a picker is built: whether it takes calls, and its own picker. */
export interface ReplicaView {
  readonly replica: Replica;
  readonly ready: boolean;
  readonly picker: Picker;
}

/**
 * The common part of Portico's balancing policies, built as grpc-js's round_robin is: one
 * LeafLoadBalancer (a pick_first over one endpoint) per replica, every replica kept connected,
 * the channel READY while any replica is. A replica counts as ready only while its leaf reports
 * READY; a wrapping policy that marks a subchannel unhealthy (outlier ejection, health checks)
 * makes its leaf report TRANSIENT_FAILURE, so it gets no picks. Subclasses decide only how a
 * call picks among the replicas.
 */
export abstract class ReplicaBalancer<Config extends grpc.experimental.TypedLoadBalancingConfig> implements grpc.experimental.LoadBalancer {
  #replicas: Replica[] = [];
  #state: grpc.connectivityState = State.IDLE;
  #updatesPaused = false;
  #lastError: string | null = null;
  readonly #childHelper: grpc.experimental.ChannelControlHelper;

  constructor(private readonly helper: grpc.experimental.ChannelControlHelper) {
    this.#childHelper = createChildChannelControlHelper(helper, {
      updateState: (replicaState, _picker, errorMessage) => {
        // A replica lost: the resolver may know of others by now (dns:///), as round_robin asks.
        if (this.#state === State.READY && replicaState !== State.READY) helper.requestReresolution();
        if (errorMessage) this.#lastError = errorMessage;
        this.#update();
      },
    });
  }

  abstract getTypeName(): string;

  /** Whether `config` is this policy's (grpc-js hands over whatever the service config names). */
  protected abstract accepts(config: grpc.experimental.TypedLoadBalancingConfig): config is Config;

  /** The picker while at least one replica is ready; `replicas` is in resolver order, not-ready ones included. */
  protected abstract readyPicker(replicas: readonly ReplicaView[]): Picker;

  /** A new replica list (a resolution); the views given to readyPicker follow its order. */
  protected replicasChanged(_replicas: readonly Replica[]): void {}

  updateAddressList(
    endpointList: grpc.experimental.StatusOr<Endpoint[]>,
    config: grpc.experimental.TypedLoadBalancingConfig,
    options: grpc.ChannelOptions,
    resolutionNote: string,
  ): boolean {
    if (!this.accepts(config)) return false;
    if (!endpointList.ok) {
      if (this.#replicas.length === 0) this.#report(State.TRANSIENT_FAILURE, new UnavailablePicker(endpointList.error), endpointList.error.details);
      return true;
    }
    this.#destroyReplicas();
    if (endpointList.value.length === 0) {
      const message = `${this.getTypeName()}: no addresses resolved. ${resolutionNote}`;
      this.#report(State.TRANSIENT_FAILURE, new UnavailablePicker({ details: message }), message);
      return true;
    }
    this.#updatesPaused = true;
    this.#replicas = endpointList.value.map((endpoint) => ({
      endpoint,
      key: endpointToString(endpoint),
      weight: endpointWeight(options, endpoint),
      leaf: new LeafLoadBalancer(endpoint, this.#childHelper, options, resolutionNote),
    }));
    this.replicasChanged(this.#replicas);
    for (const replica of this.#replicas) replica.leaf.startConnecting();
    this.#updatesPaused = false;
    this.#update();
    return true;
  }

  exitIdle(): void {
    for (const replica of this.#replicas) if (replica.leaf.getConnectivityState() === State.IDLE) replica.leaf.exitIdle();
  }

  resetBackoff(): void {}

  destroy(): void {
    this.#destroyReplicas();
  }

  #destroyReplicas(): void {
    for (const replica of this.#replicas) replica.leaf.destroy();
    this.#replicas = [];
  }

  #update(): void {
    if (this.#updatesPaused || this.#replicas.length === 0) return;
    const views = this.#replicas.map((replica) => {
      const state = replica.leaf.getConnectivityState();
      return { replica, state, ready: state === State.READY, picker: replica.leaf.getPicker() };
    });
    if (views.some((view) => view.ready)) {
      this.#report(State.READY, this.readyPicker(views), null);
    } else if (views.some((view) => view.state === State.CONNECTING)) {
      this.#report(State.CONNECTING, new QueuePicker(this), null);
    } else if (views.some((view) => view.state === State.TRANSIENT_FAILURE)) {
      const message = `${this.getTypeName()}: no replica is reachable. Last error: ${this.#lastError}`;
      this.#report(State.TRANSIENT_FAILURE, new UnavailablePicker({ details: message }), message);
    } else {
      this.#report(State.IDLE, new QueuePicker(this), null);
    }
    // Every replica stays connected, so a pick never waits for a connection to open.
    this.exitIdle();
  }

  #report(state: grpc.connectivityState, picker: Picker, errorMessage: string | null): void {
    this.#state = state;
    this.helper.updateState(state, picker, errorMessage);
  }
}

/** A policy's service-config entry; Portico's policies take no settings of their own. */
export function emptyConfigClass(name: string) {
  return class implements grpc.experimental.TypedLoadBalancingConfig {
    getLoadBalancerName(): string {
      return name;
    }
    toJsonObject(): object {
      return { [name]: {} };
    }
    static createFromJson(): grpc.experimental.TypedLoadBalancingConfig {
      return new this();
    }
  };
}
