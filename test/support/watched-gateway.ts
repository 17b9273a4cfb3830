import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { buildApp, type Gateway } from '../../src/app.js';
import { loadConfigFile } from '../../src/config/load.js';
import { watchConfig } from '../../src/config/watch.js';
import { acceptanceProtoDir } from '../fixtures/echo-upstream.js';

/** A temporary folder with a copy of the acceptance protos, which a test may edit, and a config file path in it. */
export interface ReloadWorkspace {
  dir: string;
  configFile: string;
  /** protos/acceptance/v1/echo.proto in the folder, and its text as copied. */
  protoFile: string;
  originalProto: string;
  remove(): void;
}

export function reloadWorkspace(prefix: string): ReloadWorkspace {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.cpSync(path.join(acceptanceProtoDir, 'acceptance'), path.join(dir, 'protos/acceptance'), { recursive: true });
  const protoFile = path.join(dir, 'protos/acceptance/v1/echo.proto');
  return {
    dir,
    configFile: path.join(dir, 'config.yaml'),
    protoFile,
    originalProto: fs.readFileSync(protoFile, 'utf8'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The real app built from `configFile` (already written), watching it and its protos every
 * `pollMs` as server.ts does, listening on a loopback port; its log lines go to `stream`.
 */
export async function startWatchedGateway(configFile: string, stream: Writable, pollMs: number): Promise<{ gateway: Gateway; url: string }> {
  const gateway = await buildApp(loadConfigFile(configFile, {}), { logger: { level: 'info', stream } });
  watchConfig(configFile, gateway, pollMs);
  return { gateway, url: await gateway.app.listen({ port: 0, host: '127.0.0.1' }) };
}
