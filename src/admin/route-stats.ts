import type { Registry } from 'prom-client';
import { httpRequestSecondsName } from '../observability/metrics.js';

/** One route template and method as GET /admin/routes lists it: counts since start. */
export interface RouteStats {
  readonly route: string;
  readonly method: string;
  readonly requests: number;
  /** Answers with a 5xx status: the gateway's or an upstream's failure, not the client's. */
  readonly errors: number;
  /** From the latency histogram since start; null before the first request. */
  readonly p99Seconds: number | null;
  /** The histogram's cumulative counts by upper bound, so a reader can take the difference of two readings. */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
}

interface Totals {
  route: string;
  method: string;
  requests: number;
  errors: number;
  buckets: Map<number, number>;
}

/**
 * Every route and method the request histogram has seen, read from the gateway's own
 * registry: one reading, no state, so any number of status pages can poll it.
 */
export async function readRouteStats(registry: Registry): Promise<RouteStats[]> {
  const histogram = registry.getSingleMetric(httpRequestSecondsName);
  if (!histogram) return [];
  const byRoute = new Map<string, Totals>();
  for (const { value, labels, metricName } of (await histogram.get()).values as { value: number; labels: Record<string, string | number>; metricName?: string }[]) {
    const route = String(labels['route']);
    const method = String(labels['method']);
    const key = `${method} ${route}`;
    let totals = byRoute.get(key);
    if (!totals) byRoute.set(key, (totals = { route, method, requests: 0, errors: 0, buckets: new Map() }));
    if (metricName?.endsWith('_count')) {
      totals.requests += value;
      if (Number(labels['status']) >= 500) totals.errors += value;
    } else if (metricName?.endsWith('_bucket') && labels['le'] !== '+Inf') {
      const le = Number(labels['le']);
      totals.buckets.set(le, (totals.buckets.get(le) ?? 0) + value);
    }
  }
  return [...byRoute.values()]
    .sort((a, b) => a.route.localeCompare(b.route) || a.method.localeCompare(b.method))
    .map(({ route, method, requests, errors, buckets }) => {
      const sorted = [...buckets].sort(([a], [b]) => a - b).map(([le, count]) => ({ le, count }));
      return { route, method, requests, errors, p99Seconds: quantile(0.99, sorted, requests), buckets: sorted };
    });
}

/**
 * Prometheus's histogram_quantile: the bucket holding the rank, interpolated linearly within
 * it; past the last finite bound, that bound. The status page does the same over two readings.
 */
export function quantile(q: number, buckets: readonly { le: number; count: number }[], total: number): number | null {
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) return count === below ? le : lower + ((le - lower) * (rank - below)) / (count - below);
    lower = le;
    below = count;
  }
  return buckets.at(-1)?.le ?? null;
}
