import * as grpc from '@grpc/grpc-js';
import { emptyConfigClass, ReplicaBalancer, type ReplicaView } from './replica-balancer.js';

/** Not grpc-js's own `weighted_round_robin`, which weighs replicas by their ORCA load reports. */
export const weightedRoundRobinPolicy = 'portico_weighted_round_robin';

const WeightedRoundRobinConfig = emptyConfigClass(weightedRoundRobinPolicy);

/**
 * Smooth weighted round robin (nginx's): each pick adds every replica's weight to its credit,
 * takes the replica with the most credit and charges it the total. Over any run of
 * sum(weights) picks each replica gets exactly its weight, interleaved rather than in bursts
 * (weights 3 and 1 give a a b a, not a a a b).
 */
class SmoothWeightedPicker implements grpc.experimental.Picker {
  readonly #credit: number[];
  readonly #total: number;

  constructor(private readonly replicas: readonly ReplicaView[]) {
    this.#credit = replicas.map(() => 0);
    this.#total = replicas.reduce((sum, view) => sum + view.replica.weight, 0);
  }

  pick(args: grpc.experimental.PickArgs): grpc.experimental.PickResult {
    let best = 0;
    for (let i = 0; i < this.replicas.length; i++) {
      this.#credit[i]! += this.replicas[i]!.replica.weight;
      if (this.#credit[i]! > this.#credit[best]!) best = i;
    }
    this.#credit[best]! -= this.#total;
    return this.replicas[best]!.picker.pick(args);
  }
}

/** `balancing: weighted_round_robin`: round robin in proportion to `services[].endpoints[].weight`. */
export class WeightedRoundRobinBalancer extends ReplicaBalancer<InstanceType<typeof WeightedRoundRobinConfig>> {
  getTypeName(): string {
    return weightedRoundRobinPolicy;
  }

  protected accepts(config: grpc.experimental.TypedLoadBalancingConfig): config is InstanceType<typeof WeightedRoundRobinConfig> {
    return config instanceof WeightedRoundRobinConfig;
  }

  protected readyPicker(replicas: readonly ReplicaView[]): grpc.experimental.Picker {
    return new SmoothWeightedPicker(replicas.filter((view) => view.ready));
  }
}

export function registerWeightedRoundRobin(): void {
  grpc.experimental.registerLoadBalancerType(weightedRoundRobinPolicy, WeightedRoundRobinBalancer, WeightedRoundRobinConfig);
}
