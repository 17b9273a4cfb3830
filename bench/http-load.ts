import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { effectiveWorkers, type LoadShape } from './load-shape.js';
import { Samples, summarise, type LatencySummary } from './stats.js';

/*
 * HTTP load with autocannon's programmatic API, in the benchmark's own process. Latencies are
 * taken from its per-response event (float milliseconds) because its result histogram keeps
 * whole milliseconds only.
 */

export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpLoadResult {
  /** 2xx responses (whole streams for a streaming route). */
  completed: number;
  /** Connection errors, timeouts and non-2xx responses. */
  errors: number;
  statusCodes: Record<string, number>;
  seconds: number;
  latency: LatencySummary;
  bytes: number;
}

export async function runHttpLoad(baseUrl: string, request: HttpRequestSpec, shape: LoadShape, seconds: number): Promise<HttpLoadResult> {
  const latencies = new Samples();
  const started = performance.now();
  const instance = autocannon({
    url: `${baseUrl}${request.path}`,
    method: request.method,
    headers: request.headers,
    ...(request.body !== undefined && { body: request.body }),
    connections: effectiveWorkers(shape),
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    ...(shape.kind === 'rate' && { overallRate: shape.rate }),
  });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await instance;
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]));
  return {
    completed: latencies.length,
    errors: result.errors + result.non2xx,
    statusCodes,
    seconds: (performance.now() - started) / 1000,
    latency: summarise(latencies.values()),
    bytes: result.totalBytes,
  };
}
