import type { RateLimitConfig } from '../../config/schema.js';

/*
 * A token bucket kept as GCRA (the generic cell rate algorithm): instead of a token count and
 * a refill time, one number per bucket, its theoretical arrival time (TAT): the moment the
 * bucket would be full again. Each request moves it one emission interval (1/rps) later; a
 * request is allowed while the TAT stays within `burst` intervals of now. Same behaviour as a
 * bucket of `burst` tokens refilled at `rps` per second, with nothing to refill on a timer,
 * and a bucket whose TAT has passed is full: it can be forgotten without changing anything.
 * The memory store runs these functions; the Redis store runs the same arithmetic in Lua
 * (redis-store.ts).
 */

/** A limit's bucket in the units GCRA works in, milliseconds. */
export interface BucketShape {
  /** Time one request's token takes to come back: 1000 / rps. */
  readonly intervalMs: number;
  /** How far ahead of now the TAT may run: burst intervals. */
  readonly toleranceMs: number;
}

export function bucketShape({ rps, burst }: RateLimitConfig): BucketShape {
  const intervalMs = 1000 / rps;
  return { intervalMs, toleranceMs: burst * intervalMs };
}

/** The TAT after one more request, from the stored one (undefined: a full bucket). */
export function nextArrival(shape: BucketShape, storedTat: number | undefined, now: number): number {
  return (storedTat === undefined || storedTat < now ? now : storedTat) + shape.intervalMs;
}

/** How long the request that would move the TAT to `tat` must wait; ≤ 0 when it is allowed now. */
export function waitFor(shape: BucketShape, tat: number, now: number): number {
  return tat - now - shape.toleranceMs;
}

/** Requests the bucket still lets through at once when its TAT is `tat`. */
export function remainingAt(shape: BucketShape, tat: number, now: number): number {
  // The epsilon keeps 36.999999 (float arithmetic of 1000/rps) from reading as 36.
  return Math.max(0, Math.floor((shape.toleranceMs - (tat - now)) / shape.intervalMs + 1e-9));
}
