import { createItemBody } from './bench-proto.js';
import type { DirectOp } from './direct-load.js';
import type { HttpRequestSpec } from './http-load.js';
import type { LoadShape } from './load-shape.js';

/*
 * The benchmark cases. Each names the HTTP request sent to the gateway, the equivalent gRPC
 * call of the direct client, the gateway config (JWT and metrics on, or no auth) and the load.
 */

export interface CaseOptions {
  connections: number;
  rate: number;
  lightConnections: number;
  /** Bearer token accepted by the `jwt` gateway config. */
  token: string;
  /** Page size whose ListItemsResponse is 64 KiB of protobuf. */
  pageSize: number;
}

export interface BenchCase {
  readonly name: string;
  readonly title: string;
  /** The policy chain: JWT (the service requires a bearer token) and metrics, each on or off. */
  readonly policy: Policy;
  /** Messages in one response stream; set for streaming cases, whose unit is a whole stream. */
  readonly messagesPerCall?: number;
  /** Run only when named with --case. */
  readonly optIn?: boolean;
  /**
   * A case whose direct-client figures this one reuses (same gRPC call and load), and its
   * reference minimal gateway figures when it has them (that gateway ignores auth headers).
   */
  readonly directFrom?: string;
  /** Measure this many times --duration: a p99 of a paced case needs more samples than a closed loop gives it. */
  readonly durationFactor?: number;
  /** Also measure the reference minimal gateway (bench/minimal-gateway.ts, which answers GET /v1/items/{id} only). */
  readonly reference?: boolean;
  request(options: CaseOptions): HttpRequestSpec;
  direct(options: CaseOptions): DirectOp;
  shape(options: CaseOptions): LoadShape;
  /** Checks one response body before the load starts; returns a problem or undefined. */
  check(body: string, options: CaseOptions): string | undefined;
}

export interface Policy {
  readonly jwt: boolean;
  readonly metrics: boolean;
  /** Retries, a circuit breaker and a concurrency cap configured on the (healthy) service. */
  readonly resilience?: boolean;
  /** Tracing on at this tracing.sampleRatio, exporting to the bench's OTLP sink (bench/otlp-sink.ts). */
  readonly tracing?: number;
  /** A global and a service rate limit far above the load (never a 429), their buckets in this store. */
  readonly rateLimit?: 'memory' | 'redis';
}

const allOn: Policy = { jwt: true, metrics: true };

const bearer = (options: CaseOptions): Record<string, string> => ({ authorization: `Bearer ${options.token}` });
const closed = (options: CaseOptions): LoadShape => ({ kind: 'closed', workers: options.connections });
const streamLength = 100;

const smallGet = (name: string, title: string, policy: Policy, directFrom?: string): BenchCase => ({
  name,
  title,
  policy,
  ...(directFrom !== undefined && { directFrom }),
  request: (options) => ({ method: 'GET', path: '/v1/items/item-42', headers: policy.jwt ? bearer(options) : {} }),
  direct: () => ({ kind: 'get' }),
  shape: closed,
  check: (body) => ((JSON.parse(body) as { id?: string }).id === 'item-42' ? undefined : `expected item-42, got ${body.slice(0, 200)}`),
});

export const benchCases: readonly BenchCase[] = [
  { ...smallGet('small-get', 'GET /v1/items/{id} (JWT + metrics)', allOn), reference: true },
  // The same request with each policy off, then both: what each costs.
  smallGet('no-jwt', 'GET /v1/items/{id} (metrics, no JWT)', { jwt: false, metrics: true }, 'small-get'),
  smallGet('no-metrics', 'GET /v1/items/{id} (JWT, no metrics)', { jwt: true, metrics: false }, 'small-get'),
  smallGet('policy-off', 'GET /v1/items/{id} (no JWT, no metrics)', { jwt: false, metrics: false }, 'small-get'),
  // small-get plus the resilience policies, which a healthy upstream never trips: their cost per call.
  smallGet('resilience', 'GET /v1/items/{id} (JWT + metrics + retry, breaker, concurrency cap)', { ...allOn, resilience: true }, 'small-get'),
  // small-get traced: every request sampled (two spans each, batched to a local OTLP sink), then 1 %.
  smallGet('tracing-all', 'GET /v1/items/{id} (JWT + metrics + tracing, sampleRatio 1)', { ...allOn, tracing: 1 }, 'small-get'),
  smallGet('tracing-1pct', 'GET /v1/items/{id} (JWT + metrics + tracing, sampleRatio 0.01)', { ...allOn, tracing: 0.01 }, 'small-get'),
  // small-get plus rate limits that never trigger: the cost of the check on every request.
  smallGet('rate-limit', 'GET /v1/items/{id} (JWT + metrics + global and per-user rate limits in memory)', { ...allOn, rateLimit: 'memory' }, 'small-get'),
  {
    ...smallGet('rate-limit-redis', 'GET /v1/items/{id} (JWT + metrics + the same rate limits in Redis)', { ...allOn, rateLimit: 'redis' }, 'small-get'),
    // Needs a Redis at 127.0.0.1:6379.
    optIn: true,
  },
  {
    name: 'post-1k',
    title: 'POST /v1/items, 1 KiB JSON body',
    policy: allOn,
    request: (options) => ({
      method: 'POST',
      path: '/v1/items',
      headers: { ...bearer(options), 'content-type': 'application/json' },
      body: createItemBody(),
    }),
    direct: () => ({ kind: 'post' }),
    shape: closed,
    check: (body) => ((JSON.parse(body) as { created?: boolean }).created === true ? undefined : `expected created: true, got ${body.slice(0, 200)}`),
  },
  {
    name: 'response-64k',
    title: 'GET /v1/items, 64 KiB protobuf response',
    policy: allOn,
    request: (options) => ({ method: 'GET', path: `/v1/items?page_size=${options.pageSize}`, headers: bearer(options) }),
    direct: (options) => ({ kind: 'list', pageSize: options.pageSize }),
    shape: closed,
    check: (body, options) => {
      const items = (JSON.parse(body) as { items?: unknown[] }).items;
      return items?.length === options.pageSize ? undefined : `expected ${options.pageSize} items, got ${items?.length}`;
    },
  },
  {
    name: 'stream-100',
    title: `GET /v1/items:stream, ${streamLength} NDJSON messages`,
    policy: allOn,
    messagesPerCall: streamLength,
    request: (options) => ({ method: 'GET', path: `/v1/items:stream?count=${streamLength}`, headers: bearer(options) }),
    direct: () => ({ kind: 'stream', count: streamLength }),
    shape: closed,
    check: (body) => {
      const lines = body.trimEnd().split('\n');
      return lines.length === streamLength && lines.every((line) => line.startsWith('{"id":"item-'))
        ? undefined
        : `expected ${streamLength} NDJSON items, got ${lines.length} lines starting ${body.slice(0, 120)}`;
    },
  },
  {
    ...smallGet('light-load', 'GET /v1/items/{id} paced (JWT + metrics)', allOn),
    // The bare hop's p99 at the same rate: what the extra process on the path costs by itself.
    reference: true,
    // 7,200 samples in 8 s: their p99 (the 72nd worst) swung 2x from run to run on this VM.
    durationFactor: 3,
    shape: (options) => ({ kind: 'paced', rate: options.rate }),
  },
  {
    ...smallGet('light-load-burst', 'GET /v1/items/{id}, autocannon overallRate', allOn),
    optIn: true,
    shape: (options) => ({ kind: 'rate', workers: options.lightConnections, rate: options.rate }),
  },
];
