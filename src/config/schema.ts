import Type, { type Static } from 'typebox';
import {
  healthCheckDefaults,
  outlierDetectionDefaults,
  type AllUnhealthy,
  type HealthCheckSettings,
  type OutlierDetectionSettings,
} from '../upstreams/health/service-health.js';

/*
 * The one schema of Portico's configuration: it gives the TypeScript types, the start-up
 * validation (with the key and the reason in every message) and the README's table of keys
 * (scripts/config-docs.ts renders it).
 */

const Port = Type.Integer({ minimum: 0, maximum: 65535 });

/** 1-65535 as a pattern, for the port an upstream address must carry. */
const upstreamPort = '([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';

/** host:port or [IPv6]:port, the port required. */
const hostPort = `([^\\s/:\\[\\]=,]+|\\[[0-9a-fA-F:.]+\\]):${upstreamPort}`;

/** The pino levels logging.level and LOG_LEVEL accept. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Load shedding of the whole process (@fastify/under-pressure); every threshold 0 = off. */
const Overload = Type.Object(
  {
    maxEventLoopDelayMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 0,
        description:
          'Past this mean event-loop delay (sampled every second), requests get 503 OVERLOADED at once; /healthz, /readyz and /metrics still answer. 0 = off.',
      }),
    ),
    maxHeapUsedBytes: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Past this V8 heap in use, requests get 503 OVERLOADED at once (same exemptions). 0 = off.' })),
    maxRssBytes: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Past this resident set size, requests get 503 OVERLOADED at once (same exemptions). 0 = off.' })),
  },
  { additionalProperties: false, default: {} },
);

const Server = Type.Object(
  {
    port: Type.Optional({ ...Port, default: 8080, description: 'Listen port. The PORT environment variable overrides it (an empty PORT counts as unset).' }),
    host: Type.Optional(
      Type.String({ minLength: 1, default: '0.0.0.0', description: 'Listen address. The HOST environment variable and --host override it (the demo binds 127.0.0.1).' }),
    ),
    bodyLimit: Type.Optional(
      Type.Integer({ minimum: 1, default: 1048576, description: 'Largest request body in bytes (Content-Length and chunked alike); larger is a 413.' }),
    ),
    sseHeartbeatMs: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 15000, default: 15000, description: 'Interval of the comment lines that keep Server-Sent Events streams alive through proxies.' }),
    ),
    headersTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 10000,
        description: 'Time a client has to send the request line and headers; slower is a 408 and the connection is closed. At most requestTimeoutMs.',
      }),
    ),
    requestTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 30000,
        description: 'Time a client has to send a whole request, body included (a 1 MiB body at 35 KiB/s); slower is a 408 and the connection is closed. Responses and streams are not limited by it.',
      }),
    ),
    keepAliveTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 65000,
        description: 'How long an idle keep-alive connection stays open. Above the 60 s idle timeout of common load balancers (AWS ALB, nginx ingress), so the gateway never closes a connection they are about to reuse.',
      }),
    ),
    streamIdleTimeoutMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 60000,
        description: 'A streaming response whose client has read nothing for this long (the socket cannot take more) is cut and its upstream call cancelled; 0 never cuts.',
      }),
    ),
    overload: Type.Optional(Overload),
    trustedProxies: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        default: [],
        description:
          'Proxies (IP addresses or CIDRs such as 10.0.0.0/8, IPv4 or IPv6; loopback, linklocal and uniquelocal name the usual ranges) whose X-Forwarded-For is believed: behind one, the client address is the right-most X-Forwarded-For entry that is not one of them; otherwise it is the connection\'s peer. Default none: any client can write that header.',
      }),
    ),
    maxJsonDepth: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000,
        default: 64,
        description: 'Deepest nesting of objects and arrays a JSON request body, or the JSON of a Struct, Value or ListValue query parameter, may have; deeper is a 400 before it is parsed.',
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);

const Shutdown = Type.Object(
  {
    delayMs: Type.Optional(
      Type.Integer({ minimum: 0, default: 0, description: 'After SIGTERM, keep serving this long with /readyz at 503 so load balancers notice first.' }),
    ),
    graceMs: Type.Optional(
      Type.Integer({ minimum: 0, default: 10000, description: 'How long in-flight requests may take to finish after the listener closes; open streams are ended then.' }),
    ),
  },
  { additionalProperties: false, default: {} },
);

const Reload = Type.Object(
  {
    allowBreaking: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'Apply a reload that would break clients of the routes in force (a binding removed or remapped, a field of a served message removed, renumbered or retyped, a request field made REQUIRED); false refuses it and names each break. Read from the new file.',
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);

const Protos = Type.Object(
  {
    includeDirs: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        default: [],
        description: 'Import roots for .proto files (relative paths are resolved from the config file). google/api and google/protobuf resolve without being listed.',
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);

/** HTTP/2 keepalive of a channel; with the built-in defaults in upstreamDefaults only (see upstreamPolicyKeys). */
function keepalive(withDefaults: boolean) {
  const fallback = (value: unknown) => (withDefaults ? { default: value } : {});
  return Type.Object(
    {
      timeMs: Type.Optional(
        Type.Integer({
          minimum: 1000,
          ...fallback(300000),
          description:
            'Interval of HTTP/2 keepalive pings while calls are open. gRPC servers refuse pings more often than every 5 minutes by default (grpc-go and grpc-js close the connection with GOAWAY too_many_pings), so go lower only when the upstream allows it (grpc-go: keepalive.EnforcementPolicy MinTime).',
        }),
      ),
      timeoutMs: Type.Optional(Type.Integer({ minimum: 1000, ...fallback(20000), description: 'How long a keepalive ping may go unanswered before the connection is dropped.' })),
    },
    { additionalProperties: false, ...fallback({}), description: 'HTTP/2 keepalive of the channel to a service; a service\'s keys win over upstreamDefaults\' one by one.' },
  );
}

/**
 * Active health checks of each replica; absent: none. Its keys carry the built-in values in
 * upstreamDefaults only, as keepalive's do, so that a service's unset key falls back to
 * upstreamDefaults'; a service that alone sets healthCheck gets the built-in values in load.ts.
 */
function healthCheck(withDefaults: boolean) {
  const fallback = (value: unknown) => (withDefaults ? { default: value } : {});
  return Type.Object(
    {
      intervalMs: Type.Optional(Type.Integer({ minimum: 100, ...fallback(healthCheckDefaults.intervalMs), description: 'Time between two checks of a replica.' })),
      timeoutMs: Type.Optional(Type.Integer({ minimum: 1, ...fallback(healthCheckDefaults.timeoutMs), description: 'How long a check may take; slower counts as failed.' })),
      unhealthyThreshold: Type.Optional(
        Type.Integer({
          minimum: 1,
          ...fallback(healthCheckDefaults.unhealthyThreshold),
          description: 'Failed checks in a row (NOT_SERVING, an error, no answer in time, no connection) that make a replica unhealthy.',
        }),
      ),
      healthyThreshold: Type.Optional(
        Type.Integer({ minimum: 1, ...fallback(healthCheckDefaults.healthyThreshold), description: 'Passed checks in a row that make an unhealthy replica healthy again.' }),
      ),
      serviceName: Type.Optional(
        Type.String({ ...fallback(healthCheckDefaults.serviceName), description: 'The service named in grpc.health.v1.HealthCheckRequest; "" asks about the server as a whole.' }),
      ),
    },
    {
      additionalProperties: false,
      description:
        "Active checks of every replica with the gRPC health protocol (grpc.health.v1.Health/Check) over the replica's own connection; an unhealthy replica gets no calls until it passes again. Absent: no active checks. Keys merge one by one with upstreamDefaults'.",
    },
  );
}

/** Ejection of replicas whose calls fail in a row; absent: off. Built-in values as for healthCheck. */
function outlierDetection(withDefaults: boolean) {
  const fallback = (value: unknown) => (withDefaults ? { default: value } : {});
  return Type.Object(
    {
      consecutiveFailures: Type.Optional(
        Type.Integer({
          minimum: 1,
          ...fallback(outlierDetectionDefaults.consecutiveFailures),
          description: 'Calls in a row ending UNAVAILABLE, DEADLINE_EXCEEDED or INTERNAL that eject a replica.',
        }),
      ),
      ejectionMs: Type.Optional(
        Type.Integer({
          minimum: 1,
          ...fallback(outlierDetectionDefaults.ejectionMs),
          description: 'How long a first ejection lasts; a repeat offender stays out this times its recent ejections, at most 300000 (or ejectionMs if longer).',
        }),
      ),
      maxEjectionPercent: Type.Optional(
        Type.Integer({
          minimum: 0,
          maximum: 100,
          ...fallback(outlierDetectionDefaults.maxEjectionPercent),
          description: 'Never eject more than this share of the replicas (of 3 replicas, 50 ejects one at most, 33 none).',
        }),
      ),
    },
    {
      additionalProperties: false,
      description: "Ejects a replica whose calls fail in a row (outlier detection, as Envoy's consecutive_5xx). Absent: off. Keys merge one by one with upstreamDefaults'.",
    },
  );
}

const AllUnhealthy = Type.Union([Type.Literal('fail_open'), Type.Literal('fail_closed')]);

/** gRPC codes by name, as `retry.codes` lists them. */
export const retryableCodeNames = ['CANCELLED', 'UNKNOWN', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'ABORTED', 'INTERNAL', 'UNAVAILABLE'] as const;

/**
 * Retries of idempotent calls; with the built-in defaults in upstreamDefaults only. The budget
 * is the service's, so an RPC (`perRpc`) cannot set its own.
 */
function retry(withDefaults: boolean, perRpc = false) {
  const fallback = (value: unknown) => (withDefaults ? { default: value } : {});
  return Type.Object(
    {
      maxAttempts: Type.Optional(
        Type.Integer({ minimum: 1, maximum: 10, ...fallback(1), description: 'Attempts per call, the first included; 1 = no retry. Only idempotent RPCs are retried.' }),
      ),
      initialBackoffMs: Type.Optional(
        Type.Integer({ minimum: 1, ...fallback(25), description: 'Upper bound of the first backoff; it doubles per retry (full jitter: a random wait from 0 to the bound).' }),
      ),
      maxBackoffMs: Type.Optional(Type.Integer({ minimum: 1, ...fallback(250), description: 'Largest backoff bound. A retry that would start past the deadline is not made.' })),
      codes: Type.Optional(
        Type.Array(Type.Union(retryableCodeNames.map((code) => Type.Literal(code))), {
          minItems: 1,
          ...fallback(['UNAVAILABLE']),
          description: 'gRPC codes of an upstream answer that are retried; refusals of the gateway itself never are.',
        }),
      ),
      ...(!perRpc && {
        budgetPercent: Type.Optional(
          Type.Number({
          minimum: 0,
          maximum: 100,
          ...fallback(20),
            description:
              'Retries add at most this share of calls per service (over 10 s, with a floor of 3 retries/s), so an outage never multiplies the load on the upstream. Per service only.',
          }),
        ),
      }),
    },
    { additionalProperties: false, ...fallback({}), description: 'Retries of idempotent calls, by our own retry layer (grpc-js retries are off); keys merge one by one across upstreamDefaults, the service and the RPC.' },
  );
}

const CircuitBreaker = Type.Object(
  {
    failureRatio: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'Share of failed calls in the window that opens the breaker (default: 0.5).' }),
    ),
    minimumCalls: Type.Optional(Type.Integer({ minimum: 1, description: 'Calls the window must hold before the ratio counts (default: 20).' })),
    windowMs: Type.Optional(Type.Integer({ minimum: 1000, description: 'Sliding window of calls the ratio is computed over (default: 10000).' })),
    openMs: Type.Optional(Type.Integer({ minimum: 1, description: 'How long an open breaker refuses calls (503 CIRCUIT_OPEN) before it half-opens (default: 5000).' })),
    halfOpenCalls: Type.Optional(Type.Integer({ minimum: 1, description: 'Probe calls let through when half-open; all succeeding closes the breaker, one failing opens it again (default: 3).' })),
  },
  {
    additionalProperties: false,
    description: 'Circuit breaker of the service (default: none); keys merge one by one with upstreamDefaults\'. Failures: UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, RESOURCE_EXHAUSTED; client cancellations do not count.',
  },
);

const Concurrency = Type.Object(
  {
    max: Type.Integer({ minimum: 1, description: 'Unary calls in flight to the service at most; the next is a 503 CONCURRENCY_LIMIT at once (no queue).' }),
    adaptive: Type.Optional(
      Type.Boolean({ description: 'Move the limit between min and max from the latency the service shows (gradient method): slower upstream, fewer calls let through (default: false).' }),
    ),
    min: Type.Optional(Type.Integer({ minimum: 1, description: 'Lowest adaptive limit (default: 1).' })),
  },
  { additionalProperties: false, description: 'Cap on unary calls in flight to the service (default: none); streams have maxOpenStreams.' },
);

export const AuthMode = Type.Union([Type.Literal('none'), Type.Literal('optional'), Type.Literal('required')]);

/** How a limit's requests are grouped into buckets (policies/rate-limit/). */
export const rateLimitKeys = ['ip', 'user', 'global'] as const;

/** A token bucket: `burst` requests at once, refilled at `rps` per second. */
function rateLimit(scope: string, beforeRouting = false) {
  return Type.Object(
    {
      rps: Type.Number({ exclusiveMinimum: 0, description: 'Requests per second sustained: the rate the bucket refills at (fractions allowed, e.g. 0.5 = one every 2 s).' }),
      burst: Type.Optional(
        Type.Integer({ minimum: 1, description: 'Requests a full bucket lets through at once, before the rps pace applies (default: rps rounded up).' }),
      ),
      key: Type.Optional(
        Type.Union(rateLimitKeys.map((key) => Type.Literal(key)), {
          description:
            'One bucket per client address (ip), per JWT subject (user: the verified token\'s sub claim, the address for anonymous calls), or one for everyone (global)' +
            (beforeRouting ? '. Before routing no token is verified yet, so here only ip or global (default: global).' : ' (default: ip).'),
        }),
      ),
    },
    { additionalProperties: false, description: `Rate limit ${scope}; over it a request is a 429 RESOURCE_EXHAUSTED (reason RATE_LIMITED) with Retry-After. See "Rate limits".` },
  );
}

/** OAuth 2.0 scope tokens (RFC 6749 section 3.3): printable ASCII without space, quote or backslash. */
function scopeList(description: string) {
  return Type.Array(Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' }), { uniqueItems: true, description });
}

/** A per-RPC setting in `services[].methods.<RpcName>`. */
const Method = Type.Object(
  {
    rateLimit: Type.Optional(rateLimit("of this RPC's requests, on top of the service's and the global one")),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, description: "gRPC deadline of this RPC's unary calls (default: the service's timeoutMs)." })),
    idempotent: Type.Optional(
      Type.Boolean({ description: 'Whether the RPC may be called twice for one request (e.g. retried). Default: true when every binding of the RPC is a GET.' }),
    ),
    retry: Type.Optional(retry(false, true)),
    scopes: Type.Optional(scopeList('Scopes a token needs for this RPC, on top of the service\'s scopes; every one is required. A route with scopes requires a token whatever `auth` says.')),
  },
  { additionalProperties: false },
);

/** How calls spread over a service's replicas (src/upstreams/balancing/). */
export const balancingPolicies = ['round_robin', 'weighted_round_robin', 'least_request', 'ring_hash'] as const;

/** Where ring_hash finds a request's key: exactly one of the three (checked in load.ts, with a clearer message than a union's). */
const HashOn = Type.Object(
  {
    header: Type.Optional(
      Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'ring_hash only: hash on this request header (lower-case), e.g. x-tenant-id. Set one of header, claim or query.' }),
    ),
    claim: Type.Optional(
      Type.String({ minLength: 1, description: "ring_hash only: hash on this claim of the verified JWT (the route must authenticate: auth optional or required); forwarded or not." }),
    ),
    query: Type.Optional(Type.String({ minLength: 1, description: 'ring_hash only: hash on this query parameter, e.g. tenant.' })),
  },
  { additionalProperties: false },
);

/**
 * The upstream policies: set once in `upstreamDefaults` (which holds the built-in defaults),
 * per service (each key wins over upstreamDefaults'), and some per RPC (`services[].methods`).
 * `withDefaults` is true for upstreamDefaults only, so that a service's unset key falls back
 * to upstreamDefaults' instead of a schema default.
 */
function upstreamPolicyKeys(withDefaults = false) {
  const fallback = (value: unknown) => (withDefaults ? { default: value } : {});
  const ofService = withDefaults ? '' : ' (default: upstreamDefaults\')';
  return {
    timeoutMs: Type.Optional(
      Type.Integer({ minimum: 1, ...fallback(5000), description: `gRPC deadline of each unary call; a client grpc-timeout header can only shorten it${ofService}.` }),
    ),
    maxOpenStreams: Type.Optional(
      Type.Integer({
        minimum: 1,
        ...fallback(50),
        description: `Server streams open at once to a service; past it a new stream is a 503. Keep it below the upstream's max_concurrent_streams (HTTP/2 servers commonly allow 100), so streams never hold every slot of a connection and starve the unary calls${ofService}.`,
      }),
    ),
    keepalive: Type.Optional(keepalive(withDefaults)),
    balancing: Type.Optional(
      Type.Union(
        balancingPolicies.map((policy) => Type.Literal(policy)),
        {
          ...fallback('round_robin'),
          description: `How calls spread over the replicas: round_robin; weighted_round_robin (in proportion to endpoints[].weight); least_request (the fewer calls in flight of two random replicas); ring_hash (consistent hashing on hashOn: one key, one replica)${ofService}. See "Replicas and balancing".`,
        },
      ),
    ),
    hashOn: Type.Optional(HashOn),
    healthCheck: Type.Optional(healthCheck(withDefaults)),
    outlierDetection: Type.Optional(outlierDetection(withDefaults)),
    allUnhealthy: Type.Optional({
      ...AllUnhealthy,
      ...fallback('fail_open'),
      description: `When no replica is usable (every one unhealthy or ejected): fail_open spreads calls over all of them, fail_closed answers 503 NO_HEALTHY_UPSTREAM at once${ofService}.`,
    }),
    retry: Type.Optional(retry(withDefaults)),
    circuitBreaker: Type.Optional(CircuitBreaker),
    concurrency: Type.Optional(Concurrency),
  };
}

const UpstreamDefaults = Type.Object(upstreamPolicyKeys(true), {
  additionalProperties: false,
  default: {},
  description: 'Upstream policies for every service; a service (and an RPC, for per-RPC keys) overrides them key by key.',
});

const Service = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: '^[a-z0-9][a-z0-9-]*$', description: 'Unique name; metrics, logs and route modules refer to it.' }),
    protoFiles: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Proto files relative to an include dir; services may share files.' }),
    service: Type.String({ pattern: '^[A-Za-z_][\\w]*(\\.[A-Za-z_][\\w]*)+$', description: 'Fully-qualified gRPC service, e.g. acme.v1.EchoService.' }),
    address: Type.Optional(
      Type.String({
        pattern: `^(dns:///)?${hostPort}$`,
        description: 'host:port, [IPv6]:port or dns:///host:port; the port is required (dns:/// makes every resolved address a replica). Either address or endpoints is required.',
      }),
    ),
    endpoints: Type.Optional(
      Type.Array(
        Type.Object(
          {
            address: Type.String({ pattern: `^${hostPort}$`, description: 'host:port or [IPv6]:port of one replica.' }),
            weight: Type.Optional(
              Type.Integer({ minimum: 1, maximum: 100, default: 1, description: 'The replica\'s share of the calls, relative to the others\' weights: under weighted_round_robin exactly, under ring_hash (share of the ring) and least_request (calls in flight per unit of weight) in proportion.' }),
            ),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, description: 'The replicas as a static list, instead of address (not with it).' },
      ),
    ),
    streamTimeoutMs: Type.Optional(Type.Integer({ minimum: 1, description: 'Deadline of server-streaming calls (default: none).' })),
    auth: Type.Optional({ ...AuthMode, default: 'none', description: 'JWT requirement for the declarative routes of this service: none, optional or required.' }),
    scopes: Type.Optional(
      scopeList(
        'Scopes a token needs for every route of this service (declarative bindings and route modules); every one is required, read from the token\'s `scope` claim (space-separated) or `scp` (a list or a string). A route with scopes requires a token whatever `auth` says; a valid token lacking one is a 403 INSUFFICIENT_SCOPE.',
      ),
    ),
    allowUnknownFields: Type.Optional(
      Type.Boolean({ default: false, description: 'Ignore unknown JSON fields and query parameters instead of answering 400.' }),
    ),
    ...upstreamPolicyKeys(),
    rateLimit: Type.Optional(rateLimit("of the service's routes (every RPC together), on top of the global one")),
    methods: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Method, {
        description: 'Per-RPC settings by RPC name as in the proto (e.g. GetOrder); each key wins over the service\'s and upstreamDefaults\'.',
      }),
    ),
  },
  { additionalProperties: false },
);

const Cors = Type.Object(
  {
    origins: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Allowed origins (exact match); empty disables CORS.' })),
    credentials: Type.Optional(Type.Boolean({ default: false, description: 'Send Access-Control-Allow-Credentials.' })),
    maxAgeSeconds: Type.Optional(Type.Integer({ minimum: 0, default: 600, description: 'How long browsers may cache a preflight.' })),
    allowedHeaders: Type.Optional(
      Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$' }), {
        default: ['content-type', 'authorization', 'x-request-id', 'accept-language', 'traceparent', 'tracestate', 'grpc-timeout'],
        description: 'Request headers (lower-case) a preflight allows; a preflight asking for others gets this list and the browser blocks the call.',
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);

const RateLimits = Type.Object(
  {
    global: Type.Optional(rateLimit('of every request to the API routes, checked before routing (/healthz, /readyz and /metrics are exempt)', true)),
    store: Type.Optional(
      Type.Union([Type.Literal('memory'), Type.Literal('redis')], {
        default: 'memory',
        description: 'Where buckets live: memory (each gateway process limits on its own) or redis (every replica shares one limit; needs redis.url).',
      }),
    ),
    redis: Type.Optional(
      Type.Object(
        {
          url: Type.String({ pattern: '^rediss?://', description: 'Redis of the shared buckets, e.g. redis://127.0.0.1:6379 (rediss:// for TLS; user, password and db number in the URL).' }),
          onError: Type.Optional(
            Type.Union([Type.Literal('fail_open'), Type.Literal('fail_closed')], {
              default: 'fail_open',
              description: 'When Redis does not answer within 100 ms or is down: fail_open serves without limits, fail_closed answers 503 RATE_LIMIT_UNAVAILABLE.',
            }),
          ),
          keyPrefix: Type.Optional(
            Type.String({ default: 'portico:rl:', description: 'Prefix of the bucket keys, so gateways of several environments can share one Redis.' }),
          ),
        },
        { additionalProperties: false, description: 'The Redis of store: redis.' },
      ),
    ),
  },
  { additionalProperties: false, default: {} },
);

/** gRPC reserves grpc-* names, and -bin keys carry bytes, not text: neither may be configured. */
const MetadataKey = Type.String({ pattern: '^(?!grpc-)[a-z0-9][a-z0-9._-]*(?<!-bin)$' });

/** A URL with a host: https, or http to a loopback host (a sidecar, a test). */
const jwksUrlPattern = '^(https://[^/?#\\s]+|http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:\\d+)?)(/\\S*)?$';

/** The keys of one token issuer: in auth.jwt (the implicit issuer) and in each auth.jwt.issuers[] entry. */
function issuerKeys(topLevel: boolean) {
  const inherited = topLevel ? '' : ' (default: auth.jwt\'s)';
  return {
    secret: Type.Optional(
      Type.String({ minLength: 16, description: `HMAC secret for the HS256/384/512 algorithms (and only those).${topLevel ? ' PORTICO_JWT_SECRET overrides it.' : ''}` }),
    ),
    publicKeyFile: Type.Optional(
      Type.String({ minLength: 1, description: 'PEM public key file for the RS*/PS*/ES*/EdDSA algorithms (and only those); the key type must suit every one listed.' }),
    ),
    jwksUrl: Type.Optional(
      Type.String({
        pattern: jwksUrlPattern,
        description:
          'JWKS endpoint whose keys verify the RS*/PS*/ES*/EdDSA algorithms (instead of publicKeyFile): fetched at start-up, chosen by the token\'s kid, refetched every jwksRefreshSec and on an unknown kid (at most once per 30 s). https, or http to a loopback host. The jku, x5u and jwk headers of a token are never followed.',
      }),
    ),
    jwksRefreshSec: Type.Optional(
      Type.Integer({
        minimum: 1,
        ...(topLevel && { default: 300 }),
        description: `How often the JWKS is refetched, in seconds: a key removed from it stops verifying within this time, cached tokens included${inherited}.`,
      }),
    ),
    clockToleranceSec: Type.Optional(
      Type.Integer({ minimum: 0, ...(topLevel && { default: 0 }), description: `Leeway in seconds for exp, nbf and iat against the gateway's clock${inherited}.` }),
    ),
    algorithms: Type.Optional(
      Type.Array(Type.String({ pattern: '^(HS|RS|PS|ES)(256|384|512)$|^EdDSA$' }), {
        minItems: 1,
        description:
          'Accepted algorithms; "none" is never accepted, nor any algorithm not listed. HS* need secret, the others publicKeyFile or jwksUrl, and each configured key needs an algorithm of its family. Default: HS256 with a secret, else RS256.',
      }),
    ),
    audience: Type.Optional(Type.String({ description: 'Required aud claim: a token without it, or without this value, is a 401.' })),
  };
}

const Issuer = Type.Object(
  {
    issuer: Type.String({ minLength: 1, description: 'The iss claim of this issuer\'s tokens: a token is verified with the keys of the issuer its iss names, and only those.' }),
    ...issuerKeys(false),
  },
  { additionalProperties: false },
);

const Jwt = Type.Object(
  {
    ...issuerKeys(true),
    issuer: Type.Optional(
      Type.String({ description: 'Required iss claim of the implicit issuer (the keys of auth.jwt itself): a token without it, or with another value, is a 401.' }),
    ),
    issuers: Type.Optional(
      Type.Array(Issuer, {
        description:
          'Further token issuers, each with its own keys and algorithms (secret, publicKeyFile or jwksUrl; algorithms, audience, jwksRefreshSec, clockToleranceSec). A token goes to the issuer its (unverified) iss names, else to the implicit issuer of auth.jwt\'s own keys, if any.',
      }),
    ),
    forwardClaims: Type.Optional(
      Type.Record(Type.String(), MetadataKey, {
        default: { sub: 'x-user-id' },
        description: 'Verified claims forwarded to upstreams: claim name → gRPC metadata key (not grpc-*, not -bin). Values are percent-encoded, see "Headers and metadata".',
      }),
    ),
    maxTokenBytes: Type.Optional(
      Type.Integer({ minimum: 1, default: 8192, description: 'Longest bearer token accepted, in bytes; a longer one is a 401 before it is parsed.' }),
    ),
    cacheBytes: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 8388608,
        description:
          'Memory budget in bytes of the verified-token cache (token text and forwarded claims); 0 turns it off. Only valid tokens are cached, never past their exp, nor past a change of the JWKS that verified them.',
      }),
    ),
  },
  { additionalProperties: false },
);

const Auth = Type.Object({ jwt: Type.Optional(Jwt) }, { additionalProperties: false, default: {} });

const Logging = Type.Object(
  {
    level: Type.Optional(
      Type.Union(logLevels.map((level) => Type.Literal(level)), {
        default: 'info',
        description: 'pino level. LOG_LEVEL overrides it.',
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);

const Metrics = Type.Object(
  {
    enabled: Type.Optional(
      Type.Boolean({ default: true, description: 'Serve /metrics; false answers 404 there. Recording goes on (it is cheap), so a reload that turns it back on loses no counts.' }),
    ),
  },
  { additionalProperties: false, default: {} },
);

const Tracing = Type.Object(
  {
    enabled: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'OpenTelemetry traces: a server span per request and a client span per upstream call attempt, exported over OTLP. Off, the request path does no tracing work and a client\'s traceparent reaches the upstream as it came. Takes effect at restart (not reloadable), like every tracing key.',
      }),
    ),
    exporter: Type.Optional(
      Type.Union([Type.Literal('otlp-http'), Type.Literal('otlp-grpc')], {
        default: 'otlp-http',
        description: 'otlp-http posts protobuf to the endpoint + /v1/traces; otlp-grpc calls the collector\'s TraceService at the endpoint. Restart only.',
      }),
    ),
    endpoint: Type.Optional(
      Type.String({
        pattern: '^https?://',
        description:
          'The collector\'s base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is (e.g. http://otel-collector:4318). Unset: the exporter\'s OTEL_EXPORTER_OTLP_* variables, else http://localhost:4318 (otlp-http) or http://localhost:4317 (otlp-grpc). Restart only.',
      }),
    ),
    sampleRatio: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        default: 1,
        description: 'Share of new traces recorded (ParentBased(TraceIdRatioBased)); a request with a traceparent follows its sampled flag. Restart only.',
      }),
    ),
    serviceName: Type.Optional(Type.String({ minLength: 1, default: 'portico', description: 'The service.name resource attribute of every span. Restart only.' })),
  },
  { additionalProperties: false, default: {} },
);

const OpenApi = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ default: true, description: 'Serve /openapi.json and the Swagger UI at /docs; false answers 404 on both.' })),
  },
  { additionalProperties: false, default: {} },
);

const Metadata = Type.Object(
  {
    forwardHeaders: Type.Optional(
      Type.Array(MetadataKey, {
        default: ['accept-language', 'traceparent', 'tracestate', 'x-forwarded-for'],
        description:
          'Request headers (lower-case; not grpc-*, not -bin) copied into gRPC metadata. Hop-by-hop headers never are; x-request-id always is. x-forwarded-for means the client address the gateway saw, never the header a client wrote.',
      }),
    ),
  },
  { additionalProperties: false, default: {} },
);

const Admin = Type.Object(
  {
    port: { ...Port, description: 'Port of the admin listener (/admin/: config, reload, log level, upstreams, status page). Setting it turns the listener on; it must differ from server.port. Read at start only.' },
    host: Type.Optional(
      Type.String({
        minLength: 1,
        default: '127.0.0.1',
        description: 'Address of the admin listener. It has no authentication: keep it on loopback or a private network. Read at start only.',
      }),
    ),
  },
  { additionalProperties: false, description: 'A second listener for operators; off unless configured.' },
);

export const ConfigSchema = Type.Object(
  {
    server: Type.Optional(Server),
    shutdown: Type.Optional(Shutdown),
    reload: Type.Optional(Reload),
    protos: Type.Optional(Protos),
    upstreamDefaults: Type.Optional(UpstreamDefaults),
    services: Type.Optional(Type.Array(Service, { default: [], description: 'Upstream gRPC services.' })),
    cors: Type.Optional(Cors),
    auth: Type.Optional(Auth),
    logging: Type.Optional(Logging),
    metrics: Type.Optional(Metrics),
    tracing: Type.Optional(Tracing),
    openapi: Type.Optional(OpenApi),
    metadata: Type.Optional(Metadata),
    rateLimit: Type.Optional(RateLimits),
    admin: Type.Optional(Admin),
  },
  { additionalProperties: false },
);

export type RawConfig = Static<typeof ConfigSchema>;
export type AuthModeName = Static<typeof AuthMode>;

/** The configuration after defaults, environment overrides and path resolution. */
export interface GatewayConfig {
  server: {
    port: number;
    host: string;
    bodyLimit: number;
    sseHeartbeatMs: number;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    /** 0 when streams are never cut for an unread client. */
    streamIdleTimeoutMs: number;
    overload: OverloadConfig;
    /** Addresses and CIDRs whose X-Forwarded-For is believed (policies/client-address.ts). */
    trustedProxies: string[];
    maxJsonDepth: number;
  };
  shutdown: { delayMs: number; graceMs: number };
  reload: { allowBreaking: boolean };
  protos: { includeDirs: string[] };
  services: ServiceConfig[];
  cors: { origins: string[]; credentials: boolean; maxAgeSeconds: number; allowedHeaders: string[] };
  auth: { jwt?: JwtConfig };
  logging: { level: string };
  tracing: TracingConfig;
  metrics: { enabled: boolean };
  openapi: { enabled: boolean };
  metadata: { forwardHeaders: string[] };
  rateLimit: RateLimitsConfig;
  /** Absent: no admin listener. */
  admin?: { port: number; host: string };
  /** Absolute path of the file it came from, when it came from one (used by reload). */
  source?: string;
  /** "sha256:<hex>" of that file's bytes. */
  sourceHash?: string;
}

/** OpenTelemetry tracing, read once at start (observability/tracing/). */
export interface TracingConfig {
  enabled: boolean;
  exporter: 'otlp-http' | 'otlp-grpc';
  /** The collector's base URL; unset, the exporter's own OTEL_EXPORTER_OTLP_* variables and default. */
  endpoint?: string;
  sampleRatio: number;
  serviceName: string;
}

/** Thresholds of load shedding; 0 turns one off. */
export interface OverloadConfig {
  maxEventLoopDelayMs: number;
  maxHeapUsedBytes: number;
  maxRssBytes: number;
}

export type BalancingPolicy = (typeof balancingPolicies)[number];

/** Exactly one key set. */
export type HashOn = { header: string } | { claim: string } | { query: string };

export interface EndpointConfig {
  address: string;
  weight: number;
}

export interface ServiceConfig {
  name: string;
  protoFiles: string[];
  service: string;
  /** Exactly one of address and endpoints is set. */
  address?: string;
  endpoints?: EndpointConfig[];
  balancing: BalancingPolicy;
  /** Set with ring_hash only (required then). */
  hashOn?: HashOn;
  timeoutMs: number;
  streamTimeoutMs?: number;
  auth: AuthModeName;
  /** Scopes every route of the service requires (a route with scopes requires a token). */
  scopes: string[];
  allowUnknownFields: boolean;
  maxOpenStreams: number;
  keepalive: { timeMs: number; timeoutMs: number };
  /** Absent: no active health checks. */
  healthCheck?: HealthCheckSettings;
  /** Absent: no outlier detection. */
  outlierDetection?: OutlierDetectionSettings;
  allUnhealthy: AllUnhealthy;
  retry: RetryConfig;
  circuitBreaker?: CircuitBreakerConfig;
  concurrency?: ConcurrencyConfig;
  /** Absent: no limit of the service's own. */
  rateLimit?: RateLimitConfig;
  /** Per-RPC overrides by RPC name, as configured (the effective values: methodPolicy()). */
  methods: Record<string, MethodConfig>;
}

export type RateLimitKey = (typeof rateLimitKeys)[number];

export interface RateLimitConfig {
  rps: number;
  burst: number;
  key: RateLimitKey;
}

export interface RateLimitsConfig {
  global?: RateLimitConfig;
  store: 'memory' | 'redis';
  /** Set when store is redis (required then). */
  redis?: { url: string; onError: 'fail_open' | 'fail_closed'; keyPrefix: string };
}

export interface MethodConfig {
  rateLimit?: RateLimitConfig;
  timeoutMs?: number;
  scopes?: string[];
  idempotent?: boolean;
  retry?: Partial<Omit<RetryConfig, 'budgetPercent'>>;
}

export type RetryCodeName = (typeof retryableCodeNames)[number];

export interface RetryConfig {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  codes: RetryCodeName[];
  budgetPercent: number;
}

export interface CircuitBreakerConfig {
  failureRatio: number;
  minimumCalls: number;
  windowMs: number;
  openMs: number;
  halfOpenCalls: number;
}

export type ConcurrencyConfig = { adaptive: false; max: number } | { adaptive: true; min: number; max: number };

/** One token issuer: its keys, the algorithms they verify and the claims its tokens must carry. */
export interface IssuerConfig {
  /** Where it is configured ("auth.jwt", "auth.jwt.issuers[1]"), for messages. */
  key: string;
  secret?: string;
  publicKey?: string;
  jwksUrl?: string;
  jwksRefreshSec: number;
  clockToleranceSec: number;
  algorithms: string[];
  issuer?: string;
  audience?: string;
}

/** auth.jwt: its own keys form the implicit issuer (when any key is set), `issuers` the others. */
export interface JwtConfig extends IssuerConfig {
  issuers: (IssuerConfig & { issuer: string })[];
  forwardClaims: Record<string, string>;
  maxTokenBytes: number;
  cacheBytes: number;
}

/** The issuers tokens are verified against: the implicit one (auth.jwt's own keys) first, when it has keys. */
export function issuersOf(jwt: JwtConfig): IssuerConfig[] {
  const implicit = jwt.secret !== undefined || jwt.publicKey !== undefined || jwt.jwksUrl !== undefined;
  return implicit ? [jwt, ...jwt.issuers] : [...jwt.issuers];
}

/** HS256/384/512 verify with the shared secret; every other algorithm with the public key. */
export function isHmacAlgorithm(algorithm: string): boolean {
  return algorithm.startsWith('HS');
}
