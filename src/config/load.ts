import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Value from 'typebox/value';
import YAML from 'yaml';
import {
  ConfigSchema,
  isHmacAlgorithm,
  logLevels,
  type CircuitBreakerConfig,
  type GatewayConfig,
  type HashOn,
  type IssuerConfig,
  type JwtConfig,
  type RateLimitConfig,
  type RateLimitsConfig,
  type RawConfig,
  type RetryConfig,
  type ServiceConfig,
} from './schema.js';
import { trustedProxyProblem } from '../policies/client-address.js';
import { healthCheckDefaults, outlierDetectionDefaults } from '../upstreams/health/service-health.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Reads, validates and normalises a YAML config file; throws ConfigError naming each bad key. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const absolute = path.resolve(file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(absolute);
  } catch (err) {
    throw new ConfigError([`cannot read ${absolute}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const doc = YAML.parseDocument(bytes.toString('utf8'), { prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => `${absolute}: ${e.message}`));
  const config = normaliseConfig(doc.toJS() ?? {}, { baseDir: path.dirname(absolute), env });
  config.source = absolute;
  config.sourceHash = `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
  return config;
}

/** Validates a config object (from YAML or built in code) and applies defaults and overrides. */
export function normaliseConfig(raw: unknown, { baseDir, env }: { baseDir: string; env: NodeJS.ProcessEnv }): GatewayConfig {
  const problems = [...Value.Errors(ConfigSchema, raw)].filter((e) => e.keyword !== 'boolean').map(describeSchemaError);
  if (problems.length > 0) throw new ConfigError(problems);
  const input = Value.Default(ConfigSchema, structuredClone(raw)) as RawConfig;

  const server = input.server!;
  const defaults = input.upstreamDefaults!;
  const config: GatewayConfig = {
    server: {
      port: server.port!,
      host: server.host!,
      bodyLimit: server.bodyLimit!,
      sseHeartbeatMs: server.sseHeartbeatMs!,
      headersTimeoutMs: server.headersTimeoutMs!,
      requestTimeoutMs: server.requestTimeoutMs!,
      keepAliveTimeoutMs: server.keepAliveTimeoutMs!,
      streamIdleTimeoutMs: server.streamIdleTimeoutMs!,
      overload: {
        maxEventLoopDelayMs: server.overload!.maxEventLoopDelayMs!,
        maxHeapUsedBytes: server.overload!.maxHeapUsedBytes!,
        maxRssBytes: server.overload!.maxRssBytes!,
      },
      trustedProxies: server.trustedProxies!,
      maxJsonDepth: server.maxJsonDepth!,
    },
    shutdown: { delayMs: input.shutdown!.delayMs!, graceMs: input.shutdown!.graceMs! },
    reload: { allowBreaking: input.reload!.allowBreaking! },
    protos: { includeDirs: input.protos!.includeDirs!.map((dir) => path.resolve(baseDir, dir)) },
    services: input.services!.map((s) => ({
      name: s.name,
      protoFiles: s.protoFiles,
      service: s.service,
      ...(s.address !== undefined && { address: s.address }),
      ...(s.endpoints !== undefined && { endpoints: s.endpoints.map((e) => ({ address: e.address, weight: e.weight ?? 1 })) }),
      ...(s.streamTimeoutMs !== undefined && { streamTimeoutMs: s.streamTimeoutMs }),
      auth: s.auth!,
      scopes: s.scopes ?? [],
      allowUnknownFields: s.allowUnknownFields!,
      ...upstreamPolicies(defaults, s),
      ...(s.rateLimit && { rateLimit: rateLimitOf(s.rateLimit, 'ip') }),
      methods: Object.fromEntries(
        Object.entries(s.methods ?? {}).map(([rpc, { rateLimit, ...method }]) => [rpc, { ...method, ...(rateLimit && { rateLimit: rateLimitOf(rateLimit, 'ip') }) }]),
      ),
    })),
    cors: {
      origins: input.cors!.origins!,
      credentials: input.cors!.credentials!,
      maxAgeSeconds: input.cors!.maxAgeSeconds!,
      allowedHeaders: input.cors!.allowedHeaders!,
    },
    auth: {},
    logging: { level: input.logging!.level! },
    tracing: {
      enabled: input.tracing!.enabled!,
      exporter: input.tracing!.exporter!,
      ...(input.tracing!.endpoint !== undefined && { endpoint: input.tracing!.endpoint }),
      sampleRatio: input.tracing!.sampleRatio!,
      serviceName: input.tracing!.serviceName!,
    },
    metrics: { enabled: input.metrics!.enabled! },
    openapi: { enabled: input.openapi!.enabled! },
    metadata: { forwardHeaders: input.metadata!.forwardHeaders! },
    rateLimit: rateLimitsOf(input.rateLimit!, problems),
    ...(input.admin && { admin: { port: input.admin.port, host: input.admin.host! } }),
  };

  applyEnvironment(config, env, problems);

  // Node refuses to start a server whose headers timeout outlasts its request timeout.
  if (config.server.headersTimeoutMs > config.server.requestTimeoutMs) {
    problems.push(`server.headersTimeoutMs: must be at most server.requestTimeoutMs (${config.server.requestTimeoutMs}), got ${config.server.headersTimeoutMs}`);
  }

  config.server.trustedProxies.forEach((entry, i) => {
    const problem = trustedProxyProblem(entry);
    if (problem) problems.push(`server.trustedProxies[${i}]: ${problem}`);
  });

  // Port 0 asks the system for a free port, so two zeros never collide.
  if (config.admin && config.admin.port !== 0 && config.admin.port === config.server.port) {
    problems.push(`admin.port: must differ from server.port (${config.server.port}); the admin listener never shares the public port`);
  }

  const names = new Set<string>();
  config.services.forEach((s, i) => {
    if (names.has(s.name)) problems.push(`services[${i}].name: "${s.name}" is used by another service`);
    names.add(s.name);
    if (s.concurrency?.adaptive && s.concurrency.min > s.concurrency.max) {
      problems.push(`services[${i}].concurrency.min: must be at most concurrency.max (${s.concurrency.max}), got ${s.concurrency.min}`);
    }
  });

  const jwt = input.auth!.jwt;
  if (jwt) {
    // Its own list: resolveJwt gives up when the list it is handed holds any problem, and an
    // unrelated one (a bad PORT) must not make a valid auth.jwt look missing.
    const jwtProblems: string[] = [];
    const resolved = resolveJwt(jwt, baseDir, env, jwtProblems);
    problems.push(...jwtProblems);
    if (resolved) config.auth.jwt = resolved;
  }
  problems.push(...replicaProblems(input));
  config.services.forEach((s, i) => {
    if ('claim' in (s.hashOn ?? {}) && !jwt) problems.push(`services[${i}].hashOn.claim: needs auth.jwt to be configured`);
    if (s.auth !== 'none' && !jwt) problems.push(`services[${i}].auth: "${s.auth}" needs auth.jwt to be configured`);
    const scoped = s.scopes.length > 0 ? 'scopes' : Object.keys(s.methods).find((rpc) => (s.methods[rpc]!.scopes ?? []).length > 0);
    if (scoped && !jwt) problems.push(`services[${i}].${scoped === 'scopes' ? scoped : `methods.${scoped}.scopes`}: scopes are read from a verified token and need auth.jwt to be configured`);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * PORT, HOST and LOG_LEVEL override the file. An empty variable counts as unset, as shells and
 * Kubernetes manifests often leave one empty to mean "not set".
 */
function applyEnvironment(config: GatewayConfig, env: NodeJS.ProcessEnv, problems: string[]): void {
  const port = env['PORT']?.trim();
  if (port) {
    // Digits only: Number() would read " ", "0x50" or "1e3" as ports.
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) problems.push(`PORT: must be an integer from 0 to 65535, got "${env['PORT']}"`);
    else config.server.port = Number(port);
  }
  const host = env['HOST']?.trim();
  if (host) config.server.host = host;
  const level = env['LOG_LEVEL']?.trim();
  if (level) {
    if ((logLevels as readonly string[]).includes(level)) config.logging.level = level;
    else problems.push(`LOG_LEVEL: must be one of ${logLevels.join(', ')}, got "${env['LOG_LEVEL']}"`);
  }
}

type RawJwt = NonNullable<NonNullable<RawConfig['auth']>['jwt']>;
type RawIssuer = NonNullable<RawJwt['issuers']>[number];

function resolveJwt(jwt: RawJwt, baseDir: string, env: NodeJS.ProcessEnv, problems: string[]): JwtConfig | undefined {
  const shared = { jwksRefreshSec: jwt.jwksRefreshSec!, clockToleranceSec: jwt.clockToleranceSec! };
  const implicit = resolveIssuer('auth.jwt', { ...jwt, secret: env['PORTICO_JWT_SECRET'] || jwt.secret }, shared, baseDir, problems);
  const issuers = (jwt.issuers ?? []).map((entry, i) => resolveIssuer(`auth.jwt.issuers[${i}]`, entry, shared, baseDir, problems) as JwtConfig['issuers'][number]);
  const hasKeys = implicit.secret !== undefined || implicit.publicKey !== undefined || implicit.jwksUrl !== undefined || jwt.publicKeyFile !== undefined;
  if (!hasKeys && issuers.length === 0) problems.push('auth.jwt: needs secret (or PORTICO_JWT_SECRET), publicKeyFile or jwksUrl, or an issuers list');
  // jwksRefreshSec and clockToleranceSec are inherited by the entries; these three would apply to no issuer.
  for (const unused of ['algorithms', 'issuer', 'audience'] as const) {
    if (!hasKeys && issuers.length > 0 && jwt[unused] !== undefined) {
      problems.push(`auth.jwt.${unused}: auth.jwt itself has no key (secret, publicKeyFile or jwksUrl), so this applies to nothing; set it in the issuers[] entries`);
    }
  }
  const seen = new Map<string, string>();
  for (const { key, issuer } of hasKeys ? [implicit, ...issuers] : issuers) {
    if (issuer === undefined) continue;
    const first = seen.get(issuer);
    if (first !== undefined) problems.push(`${key}.issuer: "${issuer}" is already the issuer of ${first}; each issuer has one entry`);
    else seen.set(issuer, key);
  }
  if (problems.length > 0) return undefined;
  return { ...implicit, issuers, forwardClaims: jwt.forwardClaims!, maxTokenBytes: jwt.maxTokenBytes!, cacheBytes: jwt.cacheBytes! };
}

/** One issuer's keys, checked: a key at all, a known key file, the algorithms of each key's family. */
function resolveIssuer(
  key: string,
  raw: Omit<RawIssuer, 'issuer'> & { issuer?: string | undefined },
  shared: Pick<IssuerConfig, 'jwksRefreshSec' | 'clockToleranceSec'>,
  baseDir: string,
  problems: string[],
): IssuerConfig {
  const resolved: IssuerConfig = {
    key,
    algorithms: raw.algorithms ?? [raw.secret ? 'HS256' : 'RS256'],
    jwksRefreshSec: raw.jwksRefreshSec ?? shared.jwksRefreshSec,
    clockToleranceSec: raw.clockToleranceSec ?? shared.clockToleranceSec,
    ...(raw.issuer !== undefined && { issuer: raw.issuer }),
    ...(raw.audience !== undefined && { audience: raw.audience }),
    ...(raw.jwksUrl !== undefined && { jwksUrl: raw.jwksUrl }),
  };
  const own: string[] = [];
  let keyAlgorithms: readonly string[] | undefined;
  if (raw.publicKeyFile) {
    const keyFile = path.resolve(baseDir, raw.publicKeyFile);
    try {
      resolved.publicKey = fs.readFileSync(keyFile, 'utf8');
      keyAlgorithms = algorithmsOfKey(resolved.publicKey);
      if (!keyAlgorithms) own.push(`${key}.publicKeyFile: ${keyFile} is not an RSA, EC (P-256/384/521) or Ed25519/Ed448 public key in PEM`);
    } catch {
      own.push(`${key}.publicKeyFile: cannot read ${keyFile}`);
    }
  }
  if (raw.publicKeyFile && raw.jwksUrl) own.push(`${key}.jwksUrl: cannot be set together with ${key}.publicKeyFile; keep one of them`);
  if (raw.secret) {
    if (raw.secret.length < 16) own.push(`${key}.secret: must be at least 16 characters${key === 'auth.jwt' ? ' (PORTICO_JWT_SECRET included)' : ''}`);
    resolved.secret = raw.secret;
  }
  const keyed = resolved.secret !== undefined || resolved.publicKey !== undefined || resolved.jwksUrl !== undefined;
  // auth.jwt without keys is no issuer (resolveJwt says what is missing); an entry of issuers must have one.
  if (!keyed && key !== 'auth.jwt') own.push(`${key}: needs secret, publicKeyFile or jwksUrl`);
  else if (keyed && own.length === 0) own.push(...algorithmFamilyProblems(resolved, keyAlgorithms));
  problems.push(...own);
  return resolved;
}

/**
 * Each algorithm is verified only with the key of its family, and each configured key must be
 * used: a public key next to `algorithms: [HS256]` is the set-up of algorithm confusion, where
 * a token HMAC-signed with the (public) PEM text passes as genuine.
 */
function algorithmFamilyProblems(jwt: IssuerConfig, keyAlgorithms: readonly string[] | undefined): string[] {
  const problems: string[] = [];
  const { key } = jwt;
  const secretName = key === 'auth.jwt' ? 'auth.jwt.secret (or PORTICO_JWT_SECRET)' : `${key}.secret`;
  const hmac = jwt.algorithms.filter(isHmacAlgorithm);
  const asymmetric = jwt.algorithms.filter((a) => !isHmacAlgorithm(a));
  const publicKeys = jwt.publicKey !== undefined || jwt.jwksUrl !== undefined;
  const publicKeyName = jwt.jwksUrl !== undefined ? 'jwksUrl' : 'publicKeyFile';
  if (hmac.length > 0 && !jwt.secret) problems.push(`${key}.algorithms: ${hmac.join(', ')} ${hmac.length === 1 ? 'needs' : 'need'} ${secretName}`);
  if (asymmetric.length > 0 && !publicKeys) problems.push(`${key}.algorithms: ${asymmetric.join(', ')} ${asymmetric.length === 1 ? 'needs' : 'need'} ${key}.publicKeyFile or ${key}.jwksUrl`);
  if (jwt.secret && hmac.length === 0) problems.push(`${key}.algorithms: a secret is configured (${key === 'auth.jwt' ? 'auth.jwt.secret or PORTICO_JWT_SECRET' : secretName}) but no HS256/384/512 algorithm is listed`);
  if (publicKeys && asymmetric.length === 0) problems.push(`${key}.algorithms: ${publicKeyName} is configured but no RS*, PS*, ES* or EdDSA algorithm is listed`);
  const unsuited = keyAlgorithms ? asymmetric.filter((a) => !keyAlgorithms.includes(a)) : [];
  if (unsuited.length > 0) problems.push(`${key}.algorithms: ${unsuited.join(', ')} cannot be verified with the key in publicKeyFile (it suits ${keyAlgorithms!.join(', ')})`);
  return problems;
}

const curveAlgorithms: Readonly<Record<string, string>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/** The JWT algorithms a PEM public key can verify, or undefined when it is no usable public key. */
function algorithmsOfKey(pem: string): readonly string[] | undefined {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey(pem);
  } catch {
    return undefined;
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'ec': {
      const algorithm = curveAlgorithms[key.asymmetricKeyDetails?.namedCurve ?? ''];
      return algorithm ? [algorithm] : undefined;
    }
    case 'ed25519':
    case 'ed448':
      return ['EdDSA'];
    default:
      return undefined;
  }
}

type UpstreamPolicyInput = NonNullable<RawConfig['upstreamDefaults']>;

/**
 * A service's upstream policies: each key its own, else upstreamDefaults' (which carry the
 * built-in defaults); objects merge key by key. upstreamDefaults' hashOn goes with its
 * ring_hash: a service that balances otherwise does not inherit it. Policies that are off
 * unless configured (health checks, outlier detection, the breaker, the concurrency cap) are
 * on when either layer sets them.
 */
function upstreamPolicies(
  defaults: UpstreamPolicyInput,
  service: UpstreamPolicyInput,
): Pick<
  ServiceConfig,
  'timeoutMs' | 'maxOpenStreams' | 'keepalive' | 'balancing' | 'hashOn' | 'healthCheck' | 'outlierDetection' | 'allUnhealthy' | 'retry' | 'circuitBreaker' | 'concurrency'
> {
  const balancing = service.balancing ?? defaults.balancing!;
  const hashOn = service.hashOn ?? (balancing === 'ring_hash' ? defaults.hashOn : undefined);
  const healthCheck = enabledPolicy(healthCheckDefaults, defaults.healthCheck, service.healthCheck);
  const outlierDetection = enabledPolicy(outlierDetectionDefaults, defaults.outlierDetection, service.outlierDetection);
  const breaker = enabledPolicy(circuitBreakerDefaults, defaults.circuitBreaker, service.circuitBreaker);
  const concurrency = defaults.concurrency || service.concurrency ? { ...defaults.concurrency, ...service.concurrency } : undefined;
  return {
    ...(healthCheck && { healthCheck }),
    ...(outlierDetection && { outlierDetection }),
    allUnhealthy: service.allUnhealthy ?? defaults.allUnhealthy!,
    timeoutMs: service.timeoutMs ?? defaults.timeoutMs!,
    maxOpenStreams: service.maxOpenStreams ?? defaults.maxOpenStreams!,
    keepalive: { timeMs: service.keepalive?.timeMs ?? defaults.keepalive!.timeMs!, timeoutMs: service.keepalive?.timeoutMs ?? defaults.keepalive!.timeoutMs! },
    balancing,
    ...(hashOn !== undefined && { hashOn: hashOn as HashOn }),
    retry: { ...(defaults.retry as RetryConfig), ...(service.retry as Partial<RetryConfig> | undefined) },
    ...(breaker && { circuitBreaker: breaker }),
    ...(concurrency && {
      concurrency: concurrency.adaptive ? { adaptive: true, min: concurrency.min ?? 1, max: concurrency.max! } : { adaptive: false, max: concurrency.max! },
    }),
  };
}

type RateLimitInput = NonNullable<NonNullable<RawConfig['rateLimit']>['global']>;

/** A limit with its defaults: burst = rps rounded up, so a bucket holds at least one request. */
function rateLimitOf(limit: RateLimitInput, defaultKey: RateLimitConfig['key']): RateLimitConfig {
  return { rps: limit.rps, burst: limit.burst ?? Math.ceil(limit.rps), key: limit.key ?? defaultKey };
}

function rateLimitsOf(input: NonNullable<RawConfig['rateLimit']>, problems: string[]): RateLimitsConfig {
  const limits: RateLimitsConfig = { store: input.store! };
  if (input.global) {
    limits.global = rateLimitOf(input.global, 'global');
    if (limits.global.key === 'user') problems.push('rateLimit.global.key: "user" cannot apply before routing, where no token is verified yet; use ip or global (a service\'s or an RPC\'s limit can key on user)');
  }
  if (input.redis) limits.redis = { url: input.redis.url, onError: input.redis.onError!, keyPrefix: input.redis.keyPrefix! };
  if (limits.store === 'redis' && !limits.redis) problems.push('rateLimit.redis.url: is required with rateLimit.store redis');
  return limits;
}

/** The circuit breaker's settings where `circuitBreaker` is set without them. */
const circuitBreakerDefaults: CircuitBreakerConfig = { failureRatio: 0.5, minimumCalls: 20, windowMs: 10_000, openMs: 5_000, halfOpenCalls: 3 };

/** The replica settings the schema cannot express: address or endpoints, and hashOn with ring_hash only. */
function replicaProblems(input: RawConfig): string[] {
  const problems: string[] = [];
  const defaults = input.upstreamDefaults!;
  problems.push(...hashOnProblems('upstreamDefaults', defaults.hashOn, defaults.balancing!, false));
  input.services!.forEach((s, i) => {
    const key = `services[${i}]`;
    if (s.address === undefined && s.endpoints === undefined) problems.push(`${key}.address: is required (or ${key}.endpoints, a static list of replicas)`);
    if (s.address !== undefined && s.endpoints !== undefined) problems.push(`${key}.endpoints: cannot be set together with ${key}.address; keep one of them`);
    const seen = new Set<string>();
    s.endpoints?.forEach((endpoint, j) => {
      if (seen.has(endpoint.address)) problems.push(`${key}.endpoints[${j}].address: "${endpoint.address}" is listed twice`);
      seen.add(endpoint.address);
    });
    const balancing = s.balancing ?? defaults.balancing!;
    const inherited = balancing === 'ring_hash' && s.hashOn === undefined && defaults.hashOn !== undefined;
    if (!inherited) problems.push(...hashOnProblems(key, s.hashOn, balancing, true));
  });
  return problems;
}

function hashOnProblems(key: string, hashOn: object | undefined, balancing: string, isService: boolean): string[] {
  if (hashOn === undefined) return balancing === 'ring_hash' && isService ? [`${key}.hashOn: is required with balancing ring_hash ({ header: NAME }, { claim: NAME } or { query: NAME })`] : [];
  if (balancing !== 'ring_hash') return [`${key}.hashOn: only ring_hash balancing hashes, and ${key}'s balancing is ${balancing}`];
  if (Object.keys(hashOn).length !== 1) return [`${key}.hashOn: set exactly one of header, claim or query`];
  return [];
}

/** A policy that is off unless configured: on when upstreamDefaults or the service sets it, each key the narrowest one set. */
function enabledPolicy<T extends object>(builtIn: T, defaults: Partial<T> | undefined, service: Partial<T> | undefined): T | undefined {
  if (!defaults && !service) return undefined;
  return { ...builtIn, ...defaults, ...service };
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function describeSchemaError(error: SchemaError): string {
  const key = keyPath(error.instancePath);
  switch (error.keyword) {
    case 'additionalProperties':
      return `${key ? `${key}.` : ''}${String((error.params['additionalProperties'] as string[])[0])}: unknown key`;
    case 'required':
      return `${key ? `${key}.` : ''}${String((error.params['requiredProperties'] as string[])[0])}: is required`;
    case 'pattern':
      return `${key}: has an invalid format (${describePattern(key)})`;
    default:
      return `${key || '(root)'}: ${error.message}`;
  }
}

function describePattern(key: string): string {
  if (/\.endpoints\[\d+\]\.address$/.test(key)) return 'expected host:port or [IPv6]:port, with a port from 1 to 65535';
  if (key.endsWith('.address')) return 'expected host:port, [IPv6]:port or dns:///host:port, with a port from 1 to 65535';
  if (key.endsWith('.service')) return 'expected a fully-qualified service such as acme.v1.EchoService';
  if (key.endsWith('.name')) return 'expected lower-case letters, digits and dashes';
  if (key.includes('scopes')) return 'expected an OAuth scope: printable ASCII without spaces, quotes or backslashes';
  if (key.endsWith('.jwksUrl')) return 'expected an https:// URL, or http:// to 127.0.0.1, localhost or [::1]';
  if (key.includes('algorithms')) return 'expected HS256/384/512, RS*, PS*, ES* or EdDSA';
  return 'expected a lower-case header or metadata name, neither grpc-* (reserved by gRPC) nor *-bin (binary)';
}

/** "/services/0/address" → "services[0].address" */
function keyPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}
