#!/usr/bin/env node
// Regenerates the TypeScript for proto/ with buf and the protoc-gen-es from node_modules.
//
//   node scripts/generate-types.mjs              writes the out dir of buf.gen.yaml (src/gen)
//   node scripts/generate-types.mjs --out <dir>  writes <dir> instead, e.g. to compare with src/gen
//
// The out dir is emptied first so that code for a deleted .proto file does not linger.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'node_modules', '.bin');

const { values } = parseArgs({ options: { out: { type: 'string' } } });

const template = parse(fs.readFileSync(path.join(root, 'buf.gen.yaml'), 'utf8'));
const configuredOuts = new Set(template.plugins.map((plugin) => plugin.out));
if (configuredOuts.size !== 1) {
  throw new Error('buf.gen.yaml: every plugin must write to the same out dir');
}
const outDir = path.resolve(root, values.out ?? [...configuredOuts][0]);
// buf takes the template inline, so buf.gen.yaml stays the one place that names the plugins.
for (const plugin of template.plugins) plugin.out = outDir;

fs.rmSync(outDir, { recursive: true, force: true });
const result = spawnSync(path.join(bin, 'buf'), ['generate', '--template', JSON.stringify(template)], {
  cwd: root,
  stdio: 'inherit',
  // protoc-gen-es is looked up on PATH and runs on the node found there.
  env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` },
});
if (result.error) throw result.error;
process.exitCode = result.status ?? 1;
