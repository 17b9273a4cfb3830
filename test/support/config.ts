import assert from 'node:assert/strict';
import { ConfigError, normaliseConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/schema.js';

/** A raw config as the loader normalises it, relative paths from /etc/portico. */
export function normaliseRaw(raw: unknown, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  return normaliseConfig(raw, { baseDir: '/etc/portico', env });
}

/** The problems the ConfigError `build` throws names; none when it does not throw. */
export function problemsThrownBy(build: () => unknown): readonly string[] {
  try {
    build();
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

/** The problems normaliseRaw finds in `raw`. */
export function configProblems(raw: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  return problemsThrownBy(() => normaliseRaw(raw, env));
}
