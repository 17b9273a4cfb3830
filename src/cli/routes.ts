import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfigFile } from '../config/load.js';
import { boundedContexts } from '../contexts/index.js';
import { LiveRoutes } from '../lifecycle/live-routes.js';
import { noMetrics } from '../observability/metrics.js';

/*
 * `npm run routes -- --config <file>`: every route with its RPC (declarative bindings and route
 * modules alike, by path template), then the RPCs that are not exposed and the contexts not
 * mounted, with the reason. Channels are created but never used (grpc-js connects lazily), so
 * no upstream needs to be up.
 */
const { values } = parseArgs({ options: { config: { type: 'string' } } });
if (!values.config) {
  console.error('usage: npm run routes -- --config <file.yaml>');
  process.exit(2);
}
try {
  const config = loadConfigFile(values.config);
  const live = new LiveRoutes(config, noMetrics, pino({ level: 'silent' }), boundedContexts);
  const { routes } = live.current;
  for (const { method, template, value: route } of routes.table.entries) {
    const rpc = `${route.rpc.method.parent.typeName}.${route.rpc.name}`;
    const kind = route.kind === 'route-module' ? ` (route module ${route.context})` : route.streaming ? ' (server stream)' : '';
    console.log(`${method.padEnd(7)} ${template.text.padEnd(48)} ${rpc}${kind}`);
  }
  for (const { rpc, reason } of routes.unexposed) console.log(`-       ${'(not exposed)'.padEnd(48)} ${rpc}: ${reason}`);
  for (const { context, reason } of routes.unmounted) console.log(`-       ${'(not mounted)'.padEnd(48)} route modules of ${context}: ${reason}`);
  live.close();
} catch (err) {
  console.error(`portico: ${(err as Error).message}`);
  process.exit(1);
}
