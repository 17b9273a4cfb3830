import fs from 'node:fs';
import type { Gateway } from '../app.js';
import { loadConfigFile } from './load.js';

/**
 * Reloads services and protos when the config file changes (polled, because Kubernetes
 * ConfigMap updates swap a symlink that fs.watch misses) or on SIGHUP. An invalid file is
 * logged and the routes in force keep serving.
 */
export function watchConfig(file: string, gateway: Gateway, pollMs = 2000): void {
  const reload = (reason: string): void => {
    try {
      const generation = gateway.live.reload(loadConfigFile(file));
      gateway.app.log.info({ reason, version: generation.version, bindings: generation.routes.table.entries.length }, 'config reloaded');
    } catch (err) {
      gateway.app.log.error({ reason, err }, `config reload rejected, the previous routes keep serving: ${(err as Error).message}`);
    }
  };
  fs.watchFile(file, { interval: pollMs, persistent: false }, (curr, prev) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) reload('file changed');
  });
  const onHangup = (): void => reload('SIGHUP');
  process.on('SIGHUP', onHangup);
  gateway.app.addHook('onClose', async () => {
    fs.unwatchFile(file);
    process.off('SIGHUP', onHangup);
  });
}
