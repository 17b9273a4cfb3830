import fs from 'node:fs';
import path from 'node:path';
import Value from 'typebox/value';
import YAML from 'yaml';
import { ConfigSchema, logLevels, type GatewayConfig, type JwtConfig, type RawConfig } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Reads, validates and normalises a YAML config file; throws ConfigError naming each bad key. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${absolute}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => `${absolute}: ${e.message}`));
  const config = normaliseConfig(doc.toJS() ?? {}, { baseDir: path.dirname(absolute), env });
  config.source = absolute;
  return config;
}

/** Validates a config object (from YAML or built in code) and applies defaults and overrides. */
export function normaliseConfig(raw: unknown, { baseDir, env }: { baseDir: string; env: NodeJS.ProcessEnv }): GatewayConfig {
  const problems = [...Value.Errors(ConfigSchema, raw)].filter((e) => e.keyword !== 'boolean').map(describeSchemaError);
  if (problems.length > 0) throw new ConfigError(problems);
  const input = Value.Default(ConfigSchema, structuredClone(raw)) as RawConfig;

  const server = input.server!;
  const config: GatewayConfig = {
    server: { port: server.port!, host: server.host!, bodyLimit: server.bodyLimit!, sseHeartbeatMs: server.sseHeartbeatMs! },
    shutdown: { delayMs: input.shutdown!.delayMs!, graceMs: input.shutdown!.graceMs! },
    protos: { includeDirs: input.protos!.includeDirs!.map((dir) => path.resolve(baseDir, dir)) },
    services: input.services!.map((s) => ({
      name: s.name,
      protoFiles: s.protoFiles,
      service: s.service,
      address: s.address,
      timeoutMs: s.timeoutMs!,
      ...(s.streamTimeoutMs !== undefined && { streamTimeoutMs: s.streamTimeoutMs }),
      auth: s.auth!,
      allowUnknownFields: s.allowUnknownFields!,
    })),
    cors: {
      origins: input.cors!.origins!,
      credentials: input.cors!.credentials!,
      maxAgeSeconds: input.cors!.maxAgeSeconds!,
      allowedHeaders: input.cors!.allowedHeaders!,
    },
    auth: {},
    logging: { level: input.logging!.level! },
    metrics: { enabled: input.metrics!.enabled! },
    openapi: { enabled: input.openapi!.enabled! },
    metadata: { forwardHeaders: input.metadata!.forwardHeaders! },
  };

  applyEnvironment(config, env, problems);

  const names = new Set<string>();
  config.services.forEach((s, i) => {
    if (names.has(s.name)) problems.push(`services[${i}].name: "${s.name}" is used by another service`);
    names.add(s.name);
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
  config.services.forEach((s, i) => {
    if (s.auth !== 'none' && !jwt) problems.push(`services[${i}].auth: "${s.auth}" needs auth.jwt to be configured`);
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

function resolveJwt(jwt: NonNullable<NonNullable<RawConfig['auth']>['jwt']>, baseDir: string, env: NodeJS.ProcessEnv, problems: string[]): JwtConfig | undefined {
  const secret = env['PORTICO_JWT_SECRET'] || jwt.secret;
  const resolved: JwtConfig = {
    algorithms: jwt.algorithms!,
    forwardClaims: jwt.forwardClaims!,
    ...(jwt.issuer !== undefined && { issuer: jwt.issuer }),
    ...(jwt.audience !== undefined && { audience: jwt.audience }),
  };
  if (jwt.publicKeyFile) {
    const keyFile = path.resolve(baseDir, jwt.publicKeyFile);
    try {
      resolved.publicKey = fs.readFileSync(keyFile, 'utf8');
    } catch {
      problems.push(`auth.jwt.publicKeyFile: cannot read ${keyFile}`);
    }
  }
  if (secret) {
    if (secret.length < 16) problems.push('auth.jwt.secret: must be at least 16 characters (PORTICO_JWT_SECRET included)');
    resolved.secret = secret;
  }
  if (!resolved.secret && !resolved.publicKey) problems.push('auth.jwt: needs secret (or PORTICO_JWT_SECRET) or publicKeyFile');
  const hmac = resolved.algorithms.some((a) => a.startsWith('HS'));
  if (hmac && !resolved.secret && resolved.publicKey) problems.push('auth.jwt.algorithms: HS* algorithms need auth.jwt.secret');
  if (!hmac && resolved.secret && !resolved.publicKey) problems.push('auth.jwt.algorithms: a secret only verifies HS* algorithms');
  return problems.length > 0 ? undefined : resolved;
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
  if (key.endsWith('.address')) return 'expected host:port, [IPv6]:port or dns:///host:port, with a port from 1 to 65535';
  if (key.endsWith('.service')) return 'expected a fully-qualified service such as acme.v1.EchoService';
  if (key.endsWith('.name')) return 'expected lower-case letters, digits and dashes';
  if (key.includes('algorithms')) return 'expected HS256/384/512, RS*, PS*, ES* or EdDSA';
  return 'expected a lower-case header or metadata name';
}

/** "/services/0/address" → "services[0].address" */
function keyPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}
