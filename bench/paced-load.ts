import { performance } from 'node:perf_hooks';
import { Samples } from './stats.js';

/*
 * An open loop at a fixed rate: call i starts at start + i / rate whether or not earlier calls
 * have answered, which is what "light load at N req/s" means. autocannon cannot do this (its
 * overallRate lets each connection send its per-second quota back to back, then wait for the
 * next second), so the light-load case uses this loop on both sides: node:http against the
 * gateway, grpc-js against the backend.
 */

export interface PacedResult {
  completed: number;
  errors: number;
  firstError?: string;
  seconds: number;
  /** Milliseconds from each call's start to its answer. */
  latencies: Samples;
}

export async function runPaced(rate: number, seconds: number, call: () => Promise<unknown>): Promise<PacedResult> {
  const latencies = new Samples();
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  let inFlight = 0;
  const interval = 1000 / rate;
  const started = performance.now();
  const end = started + seconds * 1000;
  let due = started;

  const fire = (): void => {
    const begun = performance.now();
    inFlight++;
    call().then(
      () => {
        inFlight--;
        if (performance.now() <= end) {
          latencies.push(performance.now() - begun);
          completed++;
        }
      },
      (err: unknown) => {
        inFlight--;
        errors++;
        firstError ??= (err as Error).message;
      },
    );
  };

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (now >= end) return resolve();
      // Catch up after a stall (a GC pause, a busy core) as an open loop must: the calls were due.
      while (due <= now) {
        fire();
        due += interval;
      }
      setTimeout(tick, Math.max(0, Math.min(due, end) - performance.now()));
    };
    tick();
  });
  const elapsed = (performance.now() - started) / 1000;
  // Let the last calls finish so the next phase starts from a quiet connection.
  for (let waited = 0; inFlight > 0 && waited < 5000; waited += 5) await new Promise((r) => setTimeout(r, 5));
  return { completed, errors, ...(firstError !== undefined && { firstError }), seconds: elapsed, latencies };
}
