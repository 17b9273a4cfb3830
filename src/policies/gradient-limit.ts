/** An exponential moving average over about `window` samples, a plain average until it has them. */
class MovingAverage {
  #value = 0;
  #count = 0;

  constructor(private readonly window: number) {}

  get value(): number {
    return this.#value;
  }

  add(sample: number): void {
    if (this.#count < this.window) {
      this.#count++;
      this.#value += (sample - this.#value) / this.#count;
    } else {
      this.#value += (sample - this.#value) * (2 / (this.window + 1));
    }
  }

  scale(factor: number): void {
    this.#value *= factor;
  }
}

/** Up to this factor of RTT growth is taken as noise, not queueing. */
const tolerance = 1.5;
/** Share of each new estimate taken into the limit: smooths one-off samples. */
const smoothing = 0.2;

/**
 * A concurrency limit that follows the upstream's latency, after the Gradient2 algorithm of
 * Netflix's concurrency-limits (also the idea of Envoy's adaptive concurrency filter): the
 * gradient between the long-term RTT (the service's normal) and the short-term RTT (now) says
 * whether calls queue up. Each sample moves the limit towards
 * `limit × gradient + √limit`, the square root being headroom to discover more capacity:
 * when the upstream slows down (short RTT above the long one), the limit falls and the
 * calls past it are refused fast instead of piling up; when it recovers, the limit grows back.
 */
export class GradientLimit {
  readonly #shortRtt = new MovingAverage(10);
  readonly #longRtt = new MovingAverage(600);
  #limit: number;

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    this.#limit = max;
  }

  /** The whole calls allowed in flight now. */
  get current(): number {
    return Math.floor(this.#limit);
  }

  /** A call's round-trip time, with the calls in flight when it started. */
  sample(rttMs: number, inFlight: number): void {
    this.#shortRtt.add(rttMs);
    this.#longRtt.add(rttMs);
    const shortRtt = this.#shortRtt.value;
    const longRtt = this.#longRtt.value;
    // Latency well below its long-term average: that average is stale (the upstream recovered), so let it catch up fast.
    if (longRtt / shortRtt > 2) this.#longRtt.scale(0.95);
    // A service far from its limit says nothing about more capacity: do not grow on it.
    if (inFlight < this.#limit / 2) return;
    const gradient = Math.max(0.5, Math.min(1, (tolerance * longRtt) / shortRtt));
    const estimate = this.#limit * gradient + Math.sqrt(this.#limit);
    this.#limit = Math.min(this.max, Math.max(this.min, this.#limit * (1 - smoothing) + estimate * smoothing));
  }
}
