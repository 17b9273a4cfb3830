import { parseArgs } from 'node:util';
import { buildApp } from './app.js';
import { ConfigError, loadConfigFile } from './config/load.js';
import { watchConfig } from './config/watch.js';
import type { GatewayConfig } from './config/schema.js';
import { boundedContexts } from './contexts/index.js';
import { startDemoBackends } from './demo/backends.js';
import { demoConfig } from './demo/demo-config.js';
import { drainOnSignals } from './lifecycle/shutdown.js';

/*
 * The only file that listens. Without --config it starts the demo: one embedded gRPC backend
 * per demo bounded context on loopback, and the gateway in front of them.
 */

const usage = `usage: portico [--config <file.yaml>] [--check-config]
  --config <file>   run against the upstreams in this YAML file (default: the embedded demo)
  --check-config    validate the config (and its protos) and exit`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, 'check-config': { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  if (values['check-config'] && !values.config) throw new ConfigError(['--check-config needs --config <file>']);

  let config: GatewayConfig;
  let closeDemo: (() => Promise<void>) | undefined;
  if (values.config) {
    config = loadConfigFile(values.config);
  } else {
    const demo = await startDemoBackends();
    closeDemo = demo.close;
    config = demoConfig(demo.addresses);
  }

  const gateway = await buildApp(config, { contexts: boundedContexts });
  if (values['check-config']) {
    const routes = gateway.live.current.routes.table.entries.length;
    console.log(`config OK: ${config.services.length} services, ${routes} HTTP bindings`);
    await gateway.app.close();
    return;
  }
  if (closeDemo) gateway.app.addHook('onClose', closeDemo);
  drainOnSignals(gateway, config.shutdown);
  if (config.source) watchConfig(config.source, gateway);
  await gateway.app.listen({ port: config.server.port, host: config.server.host });
  if (!values.config) gateway.app.log.info('demo mode: get a token with `npm run token -- --sub alice`, then see README.md for curl examples');
}

/** Errors that describe a bad config or bad protos: their message is the whole story. */
const configurationErrors = new Set(['ConfigError', 'ProtoLoadError', 'RouteConflictError']);

main().catch((err: unknown) => {
  if (err instanceof Error && configurationErrors.has(err.name)) {
    console.error(`portico: ${(err as Error).message}`);
  } else {
    console.error('portico: failed to start:', err);
  }
  process.exit(1);
});
