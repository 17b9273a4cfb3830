/** Seconds of history the budget looks at, one bucket a second. */
const windowSeconds = 10;

/** Retries allowed per second whatever the traffic, so a quiet service can still retry. */
const minRetriesPerSecond = 3;

/**
 * The retry budget of one service (Finagle's RetryBudget, Envoy's retry_budget): over the last
 * 10 s, retries may add at most `percent`% to the calls made, with a floor of 3 retries a
 * second. When every replica fails, upstream load grows by that share at most, instead of
 * by the number of attempts.
 */
export class RetryBudget {
  readonly #calls = new Array<number>(windowSeconds).fill(0);
  readonly #retries = new Array<number>(windowSeconds).fill(0);
  #second = 0;

  constructor(public percent: number) {}

  /** A call made for a request (its first attempt). */
  called(): void {
    this.#calls[this.#bucket()]!++;
  }

  /** Takes a retry from the budget; false when it is spent. */
  tryRetry(): boolean {
    const bucket = this.#bucket();
    const allowed = Math.max((sum(this.#calls) * this.percent) / 100, minRetriesPerSecond * windowSeconds);
    if (sum(this.#retries) + 1 > allowed) return false;
    this.#retries[bucket]!++;
    return true;
  }

  /** The bucket of the current second, after clearing those of the seconds that went by. */
  #bucket(): number {
    const second = Math.floor(Date.now() / 1000);
    const elapsed = second - this.#second;
    if (elapsed > 0) {
      for (let i = 1; i <= Math.min(elapsed, windowSeconds); i++) {
        const index = (this.#second + i) % windowSeconds;
        this.#calls[index] = 0;
        this.#retries[index] = 0;
      }
      this.#second = second;
    }
    return second % windowSeconds;
  }
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
