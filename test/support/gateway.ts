import { Writable } from 'node:stream';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSigner } from 'fast-jwt';
import { buildApp, type BuildOptions, type Gateway } from '../../src/app.js';
import { normaliseConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/schema.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The HMAC secret test configs use for auth.jwt. */
export const testJwtSecret = 'test-secret-at-least-sixteen-chars';

/** A config built in code, validated exactly as a YAML file would be (relative paths from the repo root). */
export function testConfig(raw: Record<string, unknown>): GatewayConfig {
  return normaliseConfig({ logging: { level: 'debug' }, ...raw }, { baseDir: repoRoot, env: {} });
}

export interface RunningGateway {
  /** Base URL such as http://127.0.0.1:40123 */
  url: string;
  port: number;
  gateway: Gateway;
  /** Every log line the gateway wrote, parsed. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A stream for a pino logger and the JSON lines written to it, parsed. */
export function jsonLogCapture(): { logs: Record<string, unknown>[]; stream: Writable } {
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logs, stream };
}

/**
 * Builds the real app and listens on a loopback port, capturing its JSON log lines. `host`
 * (default 127.0.0.1) may be `::1`, or `::` for a dual-stack listener (its url is then [::1]).
 */
export async function startGateway(config: GatewayConfig, { host = '127.0.0.1', ...options }: Omit<BuildOptions, 'logger'> & { host?: string } = {}): Promise<RunningGateway> {
  const { logs, stream } = jsonLogCapture();
  const gateway = await buildApp(config, { ...options, logger: { level: config.logging.level, stream } });
  await gateway.app.listen({ port: 0, host });
  const address = gateway.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const urlHost = host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return { url: `http://${urlHost}:${port}`, port, gateway, logs, close: () => gateway.app.close() };
}

/** Signs a JWT for testJwtSecret, expiring after `expiresIn` ms (default 10 minutes) unless the claims carry an exp. */
export function signToken(claims: Record<string, unknown> = { sub: 'alice' }, options: { expiresIn?: number; key?: string; algorithm?: 'HS256' | 'HS384' } = {}): string {
  const expiresIn = 'exp' in claims ? undefined : (options.expiresIn ?? 600_000);
  const sign = createSigner({ key: options.key ?? testJwtSecret, algorithm: options.algorithm ?? 'HS256', ...(expiresIn !== undefined && { expiresIn }) });
  return sign(claims);
}
