/** Buckets one limit keeps in memory at most, by default: about 10 MB of addresses and TATs. */
const defaultMaxBuckets = 100_000;

/**
 * The buckets of one limit in this process: client key → TAT (token-bucket.ts), in
 * performance.now() milliseconds. Memory is bounded: past `maxBuckets` the full buckets go
 * first (forgetting them changes nothing), then the oldest, down to 90 % so that the sweep is
 * paid once per tenth of the entries. A client rotating addresses can make the oldest clients'
 * buckets be forgotten (they start full again), never the process grow.
 */
export class MemoryBuckets {
  readonly #tats = new Map<string, number>();

  constructor(private readonly maxBuckets = defaultMaxBuckets) {}

  get size(): number {
    return this.#tats.size;
  }

  tat(key: string): number | undefined {
    return this.#tats.get(key);
  }

  set(key: string, tat: number, now: number): void {
    const tats = this.#tats;
    if (tats.size >= this.maxBuckets && !tats.has(key)) this.#evict(now);
    tats.set(key, tat);
  }

  #evict(now: number): void {
    const tats = this.#tats;
    for (const [key, tat] of tats) if (tat <= now) tats.delete(key);
    const target = Math.floor(this.maxBuckets * 0.9);
    for (const key of tats.keys()) {
      if (tats.size <= target) break;
      tats.delete(key);
    }
  }
}

/**
 * Every limit's in-memory buckets by limit identity (Limit#identity), kept across reloads: a
 * generation whose limit is unchanged finds the buckets of the one before.
 */
export class MemoryStore {
  readonly #limits = new Map<string, MemoryBuckets>();

  bucketsOf(identity: string): MemoryBuckets {
    let buckets = this.#limits.get(identity);
    if (!buckets) this.#limits.set(identity, (buckets = new MemoryBuckets()));
    return buckets;
  }

  /** Forgets the buckets of every limit the generation in force no longer has. */
  retainOnly(identities: ReadonlySet<string>): void {
    for (const identity of this.#limits.keys()) if (!identities.has(identity)) this.#limits.delete(identity);
  }
}
