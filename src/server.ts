import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildAdminApp } from './admin/admin-listener.js';
import { buildApp } from './app.js';
import { parseCommandLine, UsageError } from './cli/command-line.js';
import { loadConfigFile } from './config/load.js';
import { watchConfig } from './config/watch.js';
import type { GatewayConfig } from './config/schema.js';
import { boundedContexts } from './contexts/index.js';
import { demoConfig } from './demo/demo-config.js';
import { drainOnSignals } from './lifecycle/shutdown.js';
import { describeRoutes } from './transcoding/route-set.js';

/*
 * The only file that listens. With --config (or PORTICO_CONFIG, which the container image
 * sets) it serves the upstreams of that file. Otherwise, or with --demo, it starts the demo:
 * one embedded gRPC backend per demo bounded context on loopback, and the gateway in front of
 * them, listening on 127.0.0.1 unless --host or HOST says otherwise.
 */

const usage = `usage: portico [--config <file.yaml> | --demo] [--host <address>] [--check-config]
  --config <file>   serve the upstreams in this YAML file (default: $PORTICO_CONFIG)
  --demo            serve the embedded demo (the default without --config and PORTICO_CONFIG)
  --host <address>  listen address; overrides server.host and HOST (the demo's is 127.0.0.1)
  --check-config    validate the config (and its protos) and exit`;

/** Why listen() fails when the mistake is the operator's, not the gateway's, and which setting fixes it. */
const listenProblems: Record<string, { problem: string; setting: 'port' | 'host' | undefined }> = {
  EADDRINUSE: { problem: 'the port is in use by another process', setting: 'port' },
  EACCES: { problem: 'permission denied (ports below 1024 need privileges)', setting: undefined },
  EADDRNOTAVAIL: { problem: 'this machine has no such address', setting: 'host' },
  ENOTFOUND: { problem: 'the host name does not resolve', setting: 'host' },
};

const publicSettings = { port: 'PORT or server.port', host: 'HOST, --host or server.host' };
const adminSettings = { port: 'admin.port', host: 'admin.host' };

/** Listens, or throws a UsageError saying what to change; the origin it listens on. */
async function listen(app: FastifyInstance, { port, host }: { port: number; host: string }, settings: typeof publicSettings): Promise<string> {
  try {
    await app.listen({ port, host });
  } catch (err) {
    const known = listenProblems[(err as NodeJS.ErrnoException).code ?? ''];
    if (!known) throw err;
    const hint = known.setting ? ` (set ${settings[known.setting]})` : '';
    throw new UsageError(`cannot listen on ${host}:${port}: ${known.problem}${hint}`);
  }
  return `http://${host.includes(':') ? `[${host}]` : host}:${(app.server.address() as AddressInfo).port}`;
}

async function main(): Promise<void> {
  const { values } = parseCommandLine({
    options: {
      config: { type: 'string' },
      demo: { type: 'boolean', default: false },
      host: { type: 'string' },
      'check-config': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  if (values.demo && values.config) throw new UsageError('--demo and --config exclude each other');
  const configFile = values.demo ? undefined : (values.config ?? (process.env['PORTICO_CONFIG'] || undefined));
  if (values['check-config'] && configFile === undefined) throw new UsageError('--check-config needs --config <file>');
  // The container image sets PORTICO_CONFIG: say what to do when nothing is mounted there.
  if (values.config === undefined && configFile !== undefined && !fs.existsSync(configFile)) {
    throw new UsageError(`no config file at ${configFile} (PORTICO_CONFIG): mount one there, pass --config <file>, or --demo for the embedded demo`);
  }

  let config: GatewayConfig;
  let closeDemo: (() => Promise<void>) | undefined;
  if (configFile !== undefined) {
    config = loadConfigFile(configFile);
  } else {
    // Loaded only for the demo: the gateway proper does not need the demo's backends.
    const { startDemoBackends } = await import('./demo/backends.js');
    const demo = await startDemoBackends();
    closeDemo = demo.close;
    try {
      config = demoConfig(demo.addresses);
    } catch (err) {
      await demo.close();
      throw err;
    }
  }
  if (values.host) config.server.host = values.host;

  const gateway = await buildApp(config, { contexts: boundedContexts });
  if (closeDemo) gateway.app.addHook('onClose', closeDemo);
  if (values['check-config']) {
    console.log(`config OK: ${config.services.length} services, ${describeRoutes(gateway.live.current.routes)}`);
    await gateway.app.close();
    return;
  }
  drainOnSignals(gateway);
  const reloader = config.source ? watchConfig(config.source, gateway) : undefined;
  // Read at start only, like server.port: a reload never moves or opens the admin listener.
  const admin = config.admin && { app: buildAdminApp(gateway, reloader), at: config.admin };
  let origin: string;
  try {
    if (admin) gateway.app.log.info(`admin listener on ${await listen(admin.app, admin.at, adminSettings)}/admin/`);
    origin = await listen(gateway.app, config.server, publicSettings);
  } catch (err) {
    await gateway.app.close();
    throw err;
  }
  const docs = config.openapi.enabled ? `; OpenAPI at ${origin}/docs` : '';
  gateway.app.log.info(`serving ${describeRoutes(gateway.live.current.routes)} of ${config.services.length} services on ${origin}${docs}`);
  if (configFile === undefined) gateway.app.log.info('demo mode: get a token with `npm run token -- --sub alice`, then see README.md for curl examples');
}

/** Errors that describe a mistake in the command line, the config or the protos: their message is the whole story. */
const userErrors = new Set(['UsageError', 'ConfigError', 'ProtoLoadError', 'RouteConflictError']);

main().catch((err: unknown) => {
  if (err instanceof Error && userErrors.has(err.name)) {
    console.error(`portico: ${err.message}`);
  } else {
    console.error('portico: failed to start:', err);
  }
  process.exit(1);
});
