import * as grpc from '@grpc/grpc-js';
import type { LoadBalancingConfig } from '@grpc/grpc-js';
import { HealthChecker } from './health-check.js';
import { serviceHealthById, type ServiceHealth } from './service-health.js';

type ChannelControlHelper = grpc.experimental.ChannelControlHelper;
type Endpoint = grpc.experimental.Endpoint;
type Picker = grpc.experimental.Picker;
type PickArgs = grpc.experimental.PickArgs;
type PickResult = grpc.experimental.PickResult;
type SubchannelInterface = grpc.experimental.SubchannelInterface;
type TypedLoadBalancingConfig = grpc.experimental.TypedLoadBalancingConfig;

const { BaseSubchannelWrapper, ChildLoadBalancerHandler, PickResultType } = grpc.experimental;
const { READY, TRANSIENT_FAILURE } = grpc.connectivityState;

/*
 * Health, outlier ejection and allUnhealthy for the replicas of one service, as a grpc-js
 * load-balancing policy (`portico_health`) that wraps the balancing policy (round_robin and
 * the others: its child). grpc-js has no client-side health checking (gRFC A17), and its
 * outlier_detection ejects by success rate or failure percentage per interval, not by failures
 * in a row, and counts every non-OK code; so this policy does both, the way its
 * outlier_detection wraps subchannels: each subchannel the child creates is wrapped, and a
 * wrapper reports itself unhealthy while its replica is excluded, which the child's leaves
 * (pick_first) turn into TRANSIENT_FAILURE: the child stops picking it until it recovers.
 * The state lives in the service's ServiceHealth (found by id in the config), so it survives
 * the balancer (a channel gone idle rebuilds it) and reloads.
 */
const policyName = 'portico_health';

/** The loadBalancingConfig entry that puts `portico_health`, acting on `health`, around the balancing policy `child`. */
export function withHealth(child: LoadBalancingConfig, health: ServiceHealth): LoadBalancingConfig {
  return { [policyName]: { service: health.id, child_policy: [child] } };
}

/** The status of a call refused because no replica is usable under fail_closed: recognised by identity. */
const noHealthyUpstreamMetadata = new grpc.Metadata();

export function isNoHealthyUpstream(status: grpc.StatusObject): boolean {
  return status.metadata === noHealthyUpstreamMetadata;
}

class HealthLoadBalancingConfig implements TypedLoadBalancingConfig {
  constructor(
    readonly id: string,
    readonly child: TypedLoadBalancingConfig,
  ) {}

  getLoadBalancerName(): string {
    return policyName;
  }

  toJsonObject(): object {
    return { [policyName]: { service: this.id, child_policy: [this.child.toJsonObject()] } };
  }

  static createFromJson(json: { service?: unknown; child_policy?: unknown }): HealthLoadBalancingConfig {
    if (typeof json.service !== 'string') throw new Error(`${policyName}: service must be a string`);
    const child = Array.isArray(json.child_policy) ? grpc.experimental.selectLbConfigFromList(json.child_policy) : null;
    if (!child) throw new Error(`${policyName}: child_policy names no registered policy`);
    return new HealthLoadBalancingConfig(json.service, child);
  }
}

/** A subchannel as the child policy sees it: unhealthy while its replica is excluded. */
class HealthSubchannel extends BaseSubchannelWrapper {
  #refs = 0;

  /** `inUse`: told when the child first refs it (true) and when it lets go of it (false). */
  constructor(
    child: SubchannelInterface,
    readonly address: string,
    private readonly inUse: (wrapper: HealthSubchannel, inUse: boolean) => void,
  ) {
    super(child);
  }

  override ref(): void {
    super.ref();
    if (++this.#refs === 1) this.inUse(this, true);
  }

  protected override destroy(): void {
    super.destroy();
    this.#refs = 0;
    this.inUse(this, false);
  }

  setUsable(usable: boolean): void {
    this.setHealthy(usable);
  }

  unwrapped(): SubchannelInterface {
    return this.child;
  }
}

/** The child's picker, with the subchannel unwrapped and each call counted in its replica's inFlight and outcomes (outlier detection). */
class HealthPicker implements Picker {
  constructor(
    private readonly child: Picker,
    private readonly health: ServiceHealth,
  ) {}

  pick(args: PickArgs): PickResult {
    const result = this.child.pick(args);
    const subchannel = result.subchannel;
    if (result.pickResultType !== PickResultType.COMPLETE || !(subchannel instanceof HealthSubchannel)) return result;
    const { onCallStarted: childStarted, onCallEnded: childEnded } = result;
    let release: (() => void) | undefined;
    return {
      ...result,
      subchannel: subchannel.unwrapped(),
      onCallStarted: () => {
        release = this.health.callStarted(subchannel.address);
        childStarted?.();
      },
      onCallEnded: (code, details, metadata) => {
        release?.();
        this.health.callEnded(subchannel.address, code);
        childEnded?.(code, details, metadata);
      },
    };
  }
}

/** Under fail_closed with no usable replica: every call ends at once, marked for the gateway's refusal. */
const noHealthyUpstreamPicker: Picker = {
  pick: () => ({
    pickResultType: PickResultType.DROP,
    subchannel: null,
    status: { code: grpc.status.UNAVAILABLE, details: 'no healthy upstream', metadata: noHealthyUpstreamMetadata },
    onCallStarted: null,
    onCallEnded: null,
  }),
};

class HealthLoadBalancer implements grpc.experimental.LoadBalancer {
  readonly #child: grpc.experimental.ChildLoadBalancerHandler;
  /** The subchannels the child uses, each with its connectivity listener (one per wrapper, as grpc-js keys listeners by identity). */
  readonly #subchannels = new Map<HealthSubchannel, grpc.experimental.ConnectivityStateListener>();
  readonly #checkers = new Map<string, HealthChecker>();
  #health: ServiceHealth | undefined;
  #unfollow: (() => void) | undefined;
  #childState: grpc.connectivityState = grpc.connectivityState.IDLE;
  #childPicker: Picker | undefined;
  #childError: string | null = null;

  constructor(private readonly helper: ChannelControlHelper) {
    this.#child = new ChildLoadBalancerHandler(
      grpc.experimental.createChildChannelControlHelper(helper, {
        createSubchannel: (address, options) => this.#wrap(helper.createSubchannel(address, options)),
        updateState: (state, picker, error) => {
          this.#childState = state;
          this.#childPicker = picker;
          this.#childError = error;
          this.#report();
        },
      }),
    );
  }

  updateAddressList(endpoints: grpc.experimental.StatusOr<Endpoint[]>, config: TypedLoadBalancingConfig, options: grpc.ChannelOptions, note: string): boolean {
    if (!(config instanceof HealthLoadBalancingConfig)) return false;
    const health = serviceHealthById(config.id);
    if (!health) return false;
    if (health !== this.#health) {
      this.#unfollow?.();
      this.#health = health;
      this.#unfollow = health.follow(() => this.#apply());
    }
    if (endpoints.ok) {
      const addresses = endpoints.value.flatMap((endpoint) => endpoint.addresses.map((address) => grpc.experimental.subchannelAddressToString(address)));
      health.setAddresses(addresses);
      for (const [address, checker] of this.#checkers) {
        if (addresses.includes(address)) continue;
        checker.stop();
        this.#checkers.delete(address);
      }
    }
    return this.#child.updateAddressList(endpoints, config.child, options, note);
  }

  exitIdle(): void {
    this.#child.exitIdle();
  }

  resetBackoff(): void {
    this.#child.resetBackoff();
  }

  destroy(): void {
    for (const checker of this.#checkers.values()) checker.stop();
    this.#checkers.clear();
    this.#unfollow?.();
    this.#child.destroy();
  }

  getTypeName(): string {
    return policyName;
  }

  #wrap(subchannel: SubchannelInterface): HealthSubchannel {
    const address = subchannel.getAddress();
    const wrapper = new HealthSubchannel(subchannel, address, (w, inUse) => (inUse ? this.#adopt(w) : this.#release(w)));
    wrapper.setUsable(this.#usable(address));
    return wrapper;
  }

  /** The child uses the subchannel: its connectivity and its checks now speak for the replica. */
  #adopt(wrapper: HealthSubchannel): void {
    const { address } = wrapper;
    const health = this.#health!;
    const listener: grpc.experimental.ConnectivityStateListener = (_subchannel, _previous, state) => {
      this.#connectivityChanged(address);
      if (state === READY) this.#checkers.get(address)?.checkNow();
    };
    this.#subchannels.set(wrapper, listener);
    wrapper.addConnectivityStateListener(listener);
    wrapper.setUsable(this.#usable(address));
    if (!this.#checkers.has(address)) {
      const checker = new HealthChecker(
        () => this.#subchannelOf(address),
        () => health.settings.healthCheck,
        (serving) => health.checked(address, serving),
      );
      this.#checkers.set(address, checker);
    }
    this.#connectivityChanged(address);
  }

  #release(wrapper: HealthSubchannel): void {
    const listener = this.#subchannels.get(wrapper);
    if (!listener) return;
    this.#subchannels.delete(wrapper);
    wrapper.removeConnectivityStateListener(listener);
    this.#connectivityChanged(wrapper.address);
  }

  #subchannelOf(address: string): SubchannelInterface | undefined {
    for (const wrapper of this.#subchannels.keys()) if (wrapper.address === address) return wrapper;
    return undefined;
  }

  #connectivityChanged(address: string): void {
    let connected = false;
    for (const wrapper of this.#subchannels.keys()) {
      if (wrapper.address === address && wrapper.getConnectivityState() === READY) connected = true;
    }
    this.#health?.connectivityChanged(address, connected);
  }

  #usable(address: string): boolean {
    const health = this.#health!;
    return !health.excluded(address) || health.failingOpen();
  }

  /** The health state changed: subchannels follow it, then the picker. */
  #apply(): void {
    for (const wrapper of this.#subchannels.keys()) wrapper.setUsable(this.#usable(wrapper.address));
    this.#report();
  }

  #report(): void {
    const health = this.#health;
    if (!health || !this.#childPicker) return;
    if (this.#childState === READY) {
      this.helper.updateState(READY, new HealthPicker(this.#childPicker, health), null);
    } else if (this.#childState === TRANSIENT_FAILURE && health.settings.allUnhealthy === 'fail_closed') {
      this.helper.updateState(TRANSIENT_FAILURE, noHealthyUpstreamPicker, this.#childError);
    } else {
      this.helper.updateState(this.#childState, this.#childPicker, this.#childError);
    }
  }
}

grpc.experimental.registerLoadBalancerType(policyName, HealthLoadBalancer, HealthLoadBalancingConfig);
