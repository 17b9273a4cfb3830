import fs from 'node:fs';
import type { Gateway } from '../app.js';
import { findProtoFile } from '../descriptors/proto-files.js';
import { applyConnectionTimeouts } from '../lifecycle/connection-timeouts.js';
import type { RouteGeneration } from '../lifecycle/live-routes.js';
import { BreakingReloadError } from '../transcoding/breaking-changes.js';
import { loadConfigFile } from './load.js';
import type { GatewayConfig } from './schema.js';

/** A reload that failed; the generation in force kept serving. */
export interface RejectedReload {
  readonly at: Date;
  readonly reason: string;
}

export type ReloadOutcome = { readonly applied: RouteGeneration } | { readonly rejected: RejectedReload };

/** The one way the config is reloaded: the file watcher, SIGHUP and POST /admin/reload all call it. */
export interface ConfigReloader {
  /** Re-reads the file now, changed on disk or not. */
  reload(trigger: string): ReloadOutcome;
  /** The most recent rejected reload, if any since start. */
  readonly lastRejected: RejectedReload | undefined;
}

/**
 * Reloads the whole config (every key but server.port, server.host and admin) when the config
 * file or one of its .proto files changes
 * (polled, because Kubernetes ConfigMap updates swap a symlink that fs.watch misses), on
 * SIGHUP, and when the returned reloader is asked (POST /admin/reload). An invalid file is
 * logged, remembered as lastRejected, and the routes in force keep serving.
 */
export function watchConfig(file: string, gateway: Gateway, pollMs = 2000): ConfigReloader {
  let lastRejected: RejectedReload | undefined;
  const watched = new Map<string, (curr: fs.Stats, prev: fs.Stats) => void>();

  /** Polls exactly `files`: new ones start, ones no longer listed stop. */
  const watchOnly = (files: ReadonlySet<string>): void => {
    for (const [watchedFile, listener] of watched) {
      if (files.has(watchedFile)) continue;
      fs.unwatchFile(watchedFile, listener);
      watched.delete(watchedFile);
    }
    for (const changedFile of files) {
      if (watched.has(changedFile)) continue;
      const listener = (curr: fs.Stats, prev: fs.Stats): void => {
        if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) reload(`${changedFile} changed`);
      };
      fs.watchFile(changedFile, { interval: pollMs, persistent: false }, listener);
      watched.set(changedFile, listener);
    }
  };

  /**
   * The config file, the protos the latest config lists (even when they failed to compile, so
   * that fixing them reloads) and every proto the routes in force were built from (imports too).
   */
  const watchFor = (latest: GatewayConfig): void => {
    const current = gateway.live.current;
    const inForce = [...current.catalog.registry.files].map((f) => findProtoFile(current.config.protos.includeDirs, f.proto.name));
    const listed = latest.services.flatMap((s) => s.protoFiles).map((name) => findProtoFile(latest.protos.includeDirs, name));
    watchOnly(new Set([file, ...[...inForce, ...listed].filter((f) => f !== undefined)]));
  };

  const reload = (reason: string): ReloadOutcome => {
    let config: GatewayConfig | undefined;
    let outcome: ReloadOutcome;
    try {
      config = loadConfigFile(file);
      const generation = gateway.live.reload(config);
      applyConnectionTimeouts(gateway.app.server, config.server);
      gateway.metrics.configReloaded('applied');
      gateway.app.log.info(
        { reason, version: generation.version, hash: generation.hash, bindings: generation.routes.table.entries.length },
        `config version ${generation.version} (${generation.hash}) in force`,
      );
      outcome = { applied: generation };
    } catch (err) {
      gateway.metrics.configReloaded('rejected');
      const { version, hash } = gateway.live.current;
      const breaks = err instanceof BreakingReloadError ? { breaks: err.breaks } : {};
      gateway.app.log.error({ reason, version, hash, ...breaks }, `config reload rejected, version ${version} keeps serving: ${(err as Error).message}`);
      lastRejected = { at: new Date(), reason: (err as Error).message };
      outcome = { rejected: lastRejected };
    }
    if (config) watchFor(config);
    return outcome;
  };

  watchFor(gateway.live.current.config);
  const onHangup = (): void => {
    reload('SIGHUP');
  };
  process.on('SIGHUP', onHangup);
  gateway.app.addHook('onClose', async () => {
    watchOnly(new Set());
    process.off('SIGHUP', onHangup);
  });
  return {
    reload,
    get lastRejected() {
      return lastRejected;
    },
  };
}
