import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfigFile } from '../config/load.js';
import { boundedContexts } from '../contexts/index.js';
import { LiveRoutes } from '../lifecycle/live-routes.js';

/*
 * `npm run routes -- --config <file>`: every exposed binding with its RPC, the hand-written
 * routes, and the RPCs that are not exposed with the reason. Channels are created but never
 * used (grpc-js connects lazily), so no upstream needs to be up.
 */
const { values } = parseArgs({ options: { config: { type: 'string' } } });
if (!values.config) {
  console.error('usage: npm run routes -- --config <file.yaml>');
  process.exit(2);
}
try {
  const config = loadConfigFile(values.config);
  const live = new LiveRoutes(config, { callFinished: () => {} }, pino({ level: 'silent' }));
  const { routes } = live.current;
  const handWritten = new Map<string, string>();
  for (const context of boundedContexts) {
    if (!config.services.some((s) => s.name === context.service)) continue;
    for (const route of context.routes) {
      const url = `${context.prefix}${route.url === '/' ? '' : route.url}`;
      handWritten.set(route.rpc.parent.typeName + '.' + route.rpc.name, `${route.method} ${url}`);
      console.log(`${route.method.padEnd(7)} ${url.padEnd(48)} ${route.rpc.parent.typeName}.${route.rpc.name} (route module ${context.name})`);
    }
  }
  for (const entry of routes.table.entries) {
    const rpc = `${entry.value.rpc.method.parent.typeName}.${entry.value.rpc.name}`;
    const kind = entry.value.streaming ? ' (server stream)' : '';
    console.log(`${entry.method.padEnd(7)} ${entry.template.text.padEnd(48)} ${rpc}${kind}`);
  }
  for (const { rpc, reason } of routes.unexposed) {
    if (!handWritten.has(rpc)) console.log(`-       ${'(not exposed)'.padEnd(48)} ${rpc}: ${reason}`);
  }
  live.close();
} catch (err) {
  console.error(`portico: ${(err as Error).message}`);
  process.exit(1);
}
