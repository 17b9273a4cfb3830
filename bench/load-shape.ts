/*
 * The load every case applies, shared by the HTTP side and the direct client so both see the
 * same arrival pattern.
 *
 * `closed`: `workers` loops, each with one request in flight, as fast as answers come back
 * (autocannon with `workers` connections).
 * `paced`: an open loop starting `rate` requests per second, evenly spaced (./paced-load.ts).
 * `rate`: autocannon's `overallRate`: the closed loops again, but each connection may send only
 * its share of `rate` per second, back to back, then waits for the next second. The direct
 * client mimics that exactly, so the two are compared on identical bursts.
 */

export type LoadShape =
  | { kind: 'closed'; workers: number }
  | { kind: 'paced'; rate: number }
  | { kind: 'rate'; workers: number; rate: number };

/** autocannon's split of an overall rate over its connections (lib/run.js distributeNums). */
export function quotaOf(rate: number, workers: number, index: number): number {
  return Math.floor(rate / workers) + (index + 1 <= rate % workers ? 1 : 0);
}

/** autocannon never opens more connections than the overall rate. */
export function effectiveWorkers(shape: Exclude<LoadShape, { kind: 'paced' }>): number {
  return shape.kind === 'rate' ? Math.max(1, Math.min(shape.workers, shape.rate)) : shape.workers;
}

export function describeLoad(shape: LoadShape): string {
  switch (shape.kind) {
    case 'closed':
      return `${shape.workers} connections`;
    case 'paced':
      return `${shape.rate} req/s paced`;
    case 'rate':
      return `${shape.rate} req/s in bursts, ${shape.workers} conn`;
  }
}
