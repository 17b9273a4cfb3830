import crypto from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { emptyConfigClass, ReplicaBalancer, type Replica, type ReplicaView } from './replica-balancer.js';

export const ringHashPolicy = 'portico_ring_hash';

/**
 * The call metadata entry that carries a request's hash (hashOn's value, hashed) to the
 * picker, the only place grpc-js lets a policy see a call. The picker removes it from the
 * metadata it is handed, which is the very object grpc-js then sends: the upstream never sees it.
 */
export const hashKeyMetadata = 'x-portico-hash-key';

/** Points on the ring over all replicas, shared out by weight (Envoy's minimum_ring_size). */
const ringSize = 1024;

/** A text's place on the ring: the first 32 bits of its SHA-256, so points spread evenly. */
export function ringPosition(text: string): number {
  return crypto.createHash('sha256').update(text).digest().readUInt32BE(0);
}

const RingHashConfig = emptyConfigClass(ringHashPolicy);

interface Point {
  readonly position: number;
  /** Index of the replica in resolver order. */
  readonly replica: number;
}

/** Each replica's points, `address_n`, sorted by position: the same list of replicas always gives the same ring. */
function buildRing(replicas: readonly Replica[]): Point[] {
  const total = replicas.reduce((sum, replica) => sum + replica.weight, 0);
  const points: Point[] = [];
  replicas.forEach((replica, index) => {
    const count = Math.max(1, Math.round((ringSize * replica.weight) / total));
    for (let n = 0; n < count; n++) points.push({ position: ringPosition(`${replica.key}_${n}`), replica: index });
  });
  return points.sort((a, b) => a.position - b.position);
}

/**
 * Consistent hashing: a call goes to the replica owning the first point at or after its hash,
 * walking on past replicas that are not ready. A replica that leaves (or fails) moves only the
 * keys it owned, about 1/N of them; the rest stay where they were. A call without a key
 * (hashOn found nothing in the request) lands at a random point.
 */
class RingPicker implements grpc.experimental.Picker {
  constructor(
    private readonly ring: readonly Point[],
    private readonly replicas: readonly ReplicaView[],
  ) {}

  pick(args: grpc.experimental.PickArgs): grpc.experimental.PickResult {
    const [value] = args.metadata.get(hashKeyMetadata);
    args.metadata.remove(hashKeyMetadata);
    const hash = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Math.floor(Math.random() * 2 ** 32);
    const ring = this.ring;
    let index = firstAtOrAfter(ring, hash);
    for (let step = 0; step < ring.length; step++, index++) {
      const view = this.replicas[ring[index % ring.length]!.replica]!;
      if (view.ready) return view.picker.pick(args);
    }
    return new grpc.experimental.UnavailablePicker({ details: `${ringHashPolicy}: no replica is ready` }).pick(args);
  }
}

function firstAtOrAfter(ring: readonly Point[], hash: number): number {
  let low = 0;
  let high = ring.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ring[middle]!.position < hash) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** `balancing: ring_hash`, keyed by `hashOn`. */
export class RingHashBalancer extends ReplicaBalancer<InstanceType<typeof RingHashConfig>> {
  #ring: Point[] = [];

  getTypeName(): string {
    return ringHashPolicy;
  }

  protected accepts(config: grpc.experimental.TypedLoadBalancingConfig): config is InstanceType<typeof RingHashConfig> {
    return config instanceof RingHashConfig;
  }

  protected override replicasChanged(replicas: readonly Replica[]): void {
    this.#ring = buildRing(replicas);
  }

  protected readyPicker(replicas: readonly ReplicaView[]): grpc.experimental.Picker {
    return new RingPicker(this.#ring, replicas);
  }
}

export function registerRingHash(): void {
  grpc.experimental.registerLoadBalancerType(ringHashPolicy, RingHashBalancer, RingHashConfig);
}
