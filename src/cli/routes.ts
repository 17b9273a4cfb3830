import pino from 'pino';
import { loadConfigFile } from '../config/load.js';
import { parseCommandLine } from './command-line.js';
import { boundedContexts } from '../contexts/index.js';
import { LiveRoutes } from '../lifecycle/live-routes.js';
import { noMetrics } from '../observability/metrics.js';
import { breakingChanges } from '../transcoding/breaking-changes.js';

/*
 * `npm run routes -- --config <file>`: every route with its RPC (declarative bindings and route
 * modules alike, by path template), then the RPCs that are not exposed and the contexts not
 * mounted, with the reason. Channels are created but never used (grpc-js connects lazily), so
 * no upstream needs to be up.
 *
 * `npm run routes -- --diff <old> <new>`: what a reload from the first config to the second
 * would break for clients, one line each, as a refused reload names them; exits 1 when there
 * is any.
 */
const usage = 'usage: npm run routes -- --config <file.yaml> | --diff <old.yaml> <new.yaml>';
try {
  const { values, positionals } = parseCommandLine({ options: { config: { type: 'string' }, diff: { type: 'boolean' } }, allowPositionals: true });
  if (values.diff && positionals.length === 2 && !values.config) {
    process.exitCode = diff(positionals[0]!, positionals[1]!);
  } else if (values.config && !values.diff && positionals.length === 0) {
    list(values.config);
  } else {
    console.error(usage);
    process.exit(2);
  }
} catch (err) {
  console.error(`portico: ${(err as Error).message}`);
  process.exit(1);
}

function compile(file: string): LiveRoutes {
  return new LiveRoutes(loadConfigFile(file), noMetrics, pino({ level: 'silent' }), boundedContexts);
}

function list(file: string): void {
  const live = compile(file);
  const { routes } = live.current;
  for (const { method, template, value: route } of routes.table.entries) {
    const rpc = `${route.rpc.method.parent.typeName}.${route.rpc.name}`;
    const kind = route.kind === 'route-module' ? ` (route module ${route.context})` : route.streaming ? ' (server stream)' : '';
    console.log(`${method.padEnd(7)} ${template.text.padEnd(48)} ${rpc}${kind}`);
  }
  for (const { rpc, reason } of routes.unexposed) console.log(`-       ${'(not exposed)'.padEnd(48)} ${rpc}: ${reason}`);
  for (const { context, reason } of routes.unmounted) console.log(`-       ${'(not mounted)'.padEnd(48)} route modules of ${context}: ${reason}`);
  live.close();
}

/** The exit code: 1 when the reload would break clients. */
function diff(oldFile: string, newFile: string): number {
  const [before, after] = [compile(oldFile), compile(newFile)];
  const breaks = breakingChanges(before.current.routes, after.current.routes);
  before.close();
  after.close();
  for (const line of breaks) console.log(line);
  if (breaks.length === 0) {
    console.log('no breaking changes');
    return 0;
  }
  const verdict = after.current.config.reload.allowBreaking ? 'applies them, as it sets reload.allowBreaking: true' : 'is refused unless it sets reload.allowBreaking: true';
  console.log(`${breaks.length} breaking change${breaks.length === 1 ? '' : 's'}: a reload to ${newFile} ${verdict}`);
  return 1;
}
