import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const committed = path.join(root, 'src/gen');

const leftOver = 'left-over_pb.ts';

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

describe('generated types', () => {
  let fresh: string;

  before(() => {
    fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-gen-'));
    fs.writeFileSync(path.join(fresh, leftOver), '// from a deleted proto\n');
    execFileSync(process.execPath, ['scripts/generate-types.mjs', '--out', fresh], { cwd: root, stdio: 'pipe' });
  });

  after(() => fs.rmSync(fresh, { recursive: true, force: true }));

  it('are committed exactly as the protos generate them, so stale code fails CI', () => {
    const hint = 'src/gen is stale: run `npm run generate` and commit the result';
    assert.deepEqual(filesUnder(committed), filesUnder(fresh), hint);
    for (const file of filesUnder(fresh)) {
      assert.equal(
        fs.readFileSync(path.join(committed, file), 'utf8'),
        fs.readFileSync(path.join(fresh, file), 'utf8'),
        `${file}: ${hint}`,
      );
    }
  });

  it('replace whatever was in the output directory, so code of deleted protos does not linger', () => {
    assert.ok(!filesUnder(fresh).includes(leftOver));
  });
});
