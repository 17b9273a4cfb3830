import http from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { effectiveWorkers, type LoadShape } from './load-shape.js';
import { runPaced } from './paced-load.js';
import { Samples, summarise, type LatencySummary } from './stats.js';

/*
 * HTTP load against the gateway, from the benchmark's own process: autocannon's programmatic
 * API for closed loops and rate quotas, node:http for the paced open loop (./paced-load.ts).
 * Latencies come from autocannon's per-response event (float milliseconds) because its result
 * histogram keeps whole milliseconds only, too coarse for a loopback hop.
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
}

export async function runHttpLoad(baseUrl: string, request: HttpRequestSpec, shape: LoadShape, seconds: number): Promise<HttpLoadResult> {
  return shape.kind === 'paced' ? pacedLoad(baseUrl, request, shape.rate, seconds) : autocannonLoad(baseUrl, request, shape, seconds);
}

async function autocannonLoad(baseUrl: string, request: HttpRequestSpec, shape: Exclude<LoadShape, { kind: 'paced' }>, seconds: number): Promise<HttpLoadResult> {
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
  };
}

async function pacedLoad(baseUrl: string, request: HttpRequestSpec, rate: number, seconds: number): Promise<HttpLoadResult> {
  // Keep-alive sockets, opened as the open loop needs them, as a browser-facing proxy would.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const url = new URL(request.path, baseUrl);
  const statusCodes: Record<string, number> = {};
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const headers = body ? { ...request.headers, 'content-length': String(body.length) } : request.headers;
  const call = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request(url, { method: request.method, headers, agent }, (res) => {
        const code = String(res.statusCode);
        statusCodes[code] = (statusCodes[code] ?? 0) + 1;
        res.resume();
        res.once('end', () => (res.statusCode! < 300 ? resolve() : reject(new Error(`HTTP ${code}`))));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end(body);
    });
  try {
    const result = await runPaced(rate, seconds, call);
    return { completed: result.completed, errors: result.errors, statusCodes, seconds: result.seconds, latency: summarise(result.latencies.values()) };
  } finally {
    agent.destroy();
  }
}
