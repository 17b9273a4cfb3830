import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { updateReadme } from '../../scripts/config-docs.js';
import { repoRoot } from '../support/gateway.js';

test("the README's table of config keys is the one the config schema renders", () => {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  assert.equal(readme, updateReadme(readme), 'README.md is stale: run `npm run docs:config`');
  for (const key of ['server.port', 'protos.includeDirs', 'services[].address', 'services[].timeoutMs', 'auth.jwt.secret', 'cors.origins', 'shutdown.graceMs']) {
    assert.ok(readme.includes(`\`${key}\``), `README lists ${key}`);
  }
});
