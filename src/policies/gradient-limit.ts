/** An exponential moving average over about `window` samples, a plain average of the first `warmup`. */
class MovingAverage {
  #value = 0;
  #count = 0;

  constructor(
    private readonly window: number,
    private readonly warmup: number,
  ) {}

  get value(): number {
    return this.#value;
  }

  add(sample: number): void {
    if (this.#count < this.warmup) {
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
/** Share of each new estimate taken into the limit: smooths one-off windows. */
const smoothing = 0.2;
/** A sample window closes after this long and this many calls, whichever comes last. */
const windowMs = 50;
const windowSamples = 10;

/**
 * A concurrency limit that follows the upstream's latency, after the Gradient2 algorithm of
 * Netflix's concurrency-limits (also the idea of Envoy's adaptive concurrency filter). Calls
 * are sampled in short windows; the gradient between the long-term RTT (the service's normal,
 * averaged over many windows) and the window's average RTT (now) says whether calls queue up.
 * Each window moves the limit towards `limit × gradient + √limit`, the square root being
 * headroom to discover more capacity: when the upstream slows down, the limit falls and the
 * calls past it are refused fast instead of piling up; when it recovers, the limit grows back.
 */
export class GradientLimit {
  readonly #longRtt = new MovingAverage(600, 10);
  #limit: number;
  #windowStart = performance.now();
  #windowRttSum = 0;
  #windowSamples = 0;
  #windowMaxInFlight = 0;

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
    this.#windowRttSum += rttMs;
    this.#windowSamples++;
    this.#windowMaxInFlight = Math.max(this.#windowMaxInFlight, inFlight);
    const now = performance.now();
    if (this.#windowSamples < windowSamples || now - this.#windowStart < windowMs) return;
    const shortRtt = this.#windowRttSum / this.#windowSamples;
    const inFlightPeak = this.#windowMaxInFlight;
    this.#windowStart = now;
    this.#windowRttSum = 0;
    this.#windowSamples = 0;
    this.#windowMaxInFlight = 0;
    this.#update(shortRtt, inFlightPeak);
  }

  #update(shortRtt: number, inFlight: number): void {
    this.#longRtt.add(shortRtt);
    const longRtt = this.#longRtt.value;
    // Latency well below its long-term average: that average is stale (the upstream recovered), so let it catch up fast.
    if (longRtt / shortRtt > 2) this.#longRtt.scale(0.95);
    const gradient = Math.max(0.5, Math.min(1, (tolerance * longRtt) / shortRtt));
    const estimate = this.#limit * gradient + Math.sqrt(this.#limit);
    const next = Math.min(this.max, Math.max(this.min, this.#limit * (1 - smoothing) + estimate * smoothing));
    // A service far below its limit says nothing about more capacity: grow only on one that uses it (falling is always right).
    if (next > this.#limit && inFlight < this.#limit / 2) return;
    this.#limit = next;
  }
}
