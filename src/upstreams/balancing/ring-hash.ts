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

/**
 * Points on the ring per unit of weight. A replica's points depend on nothing but its address
 * and weight, so a replica that joins or leaves moves only the keys of its own points. 256
 * points keep each replica's share of the ring within a few percent of its weight's.
 */
const pointsPerWeight = 256;

/** A text's place on the ring: the first 32 bits of its SHA-256, so places spread evenly. */
export function ringPosition(text: string): number {
  return crypto.createHash('sha256').update(text).digest().readUInt32BE(0);
}

const RingHashConfig = emptyConfigClass(ringHashPolicy);

interface Point {
  readonly position: number;
  /** Index of the replica in resolver order. */
  readonly replica: number;
}

/**
 * Each replica's points, sorted by position: the eight 32-bit words of the SHA-256 of
 * `address_n`, for n from 0, until weight × pointsPerWeight. The same replicas always give the same ring.
 */
function buildRing(replicas: readonly Replica[]): Point[] {
  const points: Point[] = [];
  replicas.forEach((replica, index) => {
    const count = replica.weight * pointsPerWeight;
    for (let n = 0; n * 8 < count; n++) {
      const digest = crypto.createHash('sha256').update(`${replica.key}_${n}`).digest();
      for (let word = 0; word < 8 && n * 8 + word < count; word++) points.push({ position: digest.readUInt32BE(word * 4), replica: index });
    }
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
