import * as grpc from '@grpc/grpc-js';
import { emptyConfigClass, ReplicaBalancer, type Replica, type ReplicaView } from './replica-balancer.js';

export const leastRequestPolicy = 'portico_least_request';

const LeastRequestConfig = emptyConfigClass(leastRequestPolicy);

/** Calls in flight on one replica: an object, so a call that ends after a re-resolution still finds its own. */
interface InFlight {
  calls: number;
}

interface Choice {
  readonly view: ReplicaView;
  readonly inFlight: InFlight;
}

/**
 * The power of two choices, as Envoy's least_request: two distinct replicas at random, the
 * call goes to the one with fewer calls in flight. With unequal weights the comparison is of
 * (calls + 1) / weight, so a replica of weight 2 takes about twice the calls of one of weight 1.
 */
class TwoChoicesPicker implements grpc.experimental.Picker {
  constructor(private readonly choices: readonly Choice[]) {}

  pick(args: grpc.experimental.PickArgs): grpc.experimental.PickResult {
    const count = this.choices.length;
    let chosen = this.choices[Math.floor(Math.random() * count)]!;
    if (count > 1) {
      const first = this.choices.indexOf(chosen);
      let second = Math.floor(Math.random() * (count - 1));
      if (second >= first) second++;
      const other = this.choices[second]!;
      if (load(other) < load(chosen)) chosen = other;
    }
    const result = chosen.view.picker.pick(args);
    if (result.pickResultType !== grpc.experimental.PickResultType.COMPLETE) return result;
    const inFlight = chosen.inFlight;
    // Counted from the call's start on the connection to its end, around what the leaf (or a wrapping policy) watches.
    return {
      ...result,
      onCallStarted: () => {
        inFlight.calls++;
        result.onCallStarted?.();
      },
      onCallEnded: (code, details, metadata) => {
        inFlight.calls--;
        result.onCallEnded?.(code, details, metadata);
      },
    };
  }
}

function load(choice: Choice): number {
  return (choice.inFlight.calls + 1) / choice.view.replica.weight;
}

/** `balancing: least_request`. */
export class LeastRequestBalancer extends ReplicaBalancer<InstanceType<typeof LeastRequestConfig>> {
  /** By replica key; kept across resolutions for the replicas that stay. */
  #inFlight = new Map<string, InFlight>();

  getTypeName(): string {
    return leastRequestPolicy;
  }

  protected accepts(config: grpc.experimental.TypedLoadBalancingConfig): config is InstanceType<typeof LeastRequestConfig> {
    return config instanceof LeastRequestConfig;
  }

  protected override replicasChanged(replicas: readonly Replica[]): void {
    this.#inFlight = new Map(replicas.map((replica) => [replica.key, this.#inFlight.get(replica.key) ?? { calls: 0 }]));
  }

  protected readyPicker(replicas: readonly ReplicaView[]): grpc.experimental.Picker {
    return new TwoChoicesPicker(replicas.filter((view) => view.ready).map((view) => ({ view, inFlight: this.#inFlight.get(view.replica.key)! })));
  }
}

export function registerLeastRequest(): void {
  grpc.experimental.registerLoadBalancerType(leastRequestPolicy, LeastRequestBalancer, LeastRequestConfig);
}
