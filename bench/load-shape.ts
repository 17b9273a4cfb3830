/*
 * The load every case applies, shared by the HTTP side (autocannon) and the direct client so
 * both see the same arrival pattern.
 *
 * `closed`: `workers` loops, each with one request in flight, as fast as answers come back.
 * `rate`: the same loops, but each may start at most its share of `rate` requests per second.
 * This mirrors autocannon's `overallRate`, which is a per-connection quota reset every second
 * (not an evenly spaced open loop), so that the direct client and the gateway are compared on
 * identical bursts.
 */

export type LoadShape = { kind: 'closed'; workers: number } | { kind: 'rate'; workers: number; rate: number };

/** autocannon's split of an overall rate over its connections (lib/run.js distributeNums). */
export function quotaOf(rate: number, workers: number, index: number): number {
  return Math.floor(rate / workers) + (index + 1 <= rate % workers ? 1 : 0);
}

/** autocannon never opens more connections than the overall rate. */
export function effectiveWorkers(shape: LoadShape): number {
  return shape.kind === 'rate' ? Math.max(1, Math.min(shape.workers, shape.rate)) : shape.workers;
}
