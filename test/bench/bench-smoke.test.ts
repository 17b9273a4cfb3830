import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { it } from 'node:test';
import type { BenchResults } from '../../bench/results.js';
import type { SideBySideCaseResult } from '../../bench/side-by-side.js';

interface SideBySideReport {
  against: string;
  cases: SideBySideCaseResult[];
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/*
 * The benchmark itself never runs in `npm test`; this only checks that `npm run bench` still
 * works end to end (backend, gateway from source, autocannon, reference minimal gateway, direct
 * client), in two rounds with a short warm-up, and writes the files the README shows, in about 15 s. No figure is asserted: they depend on the machine.
 */

it('npm run bench runs one short case twice and writes results.json and the chart', { timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-bench-smoke-'));
  const out = path.join(dir, 'results.json');
  const chart = path.join(dir, 'latency.svg');
  try {
    const args = ['--import', 'tsx', 'bench/run.ts', '--case', 'small-get', '--rounds', '2', '--duration', '1', '--warmup', '0.5', '--connections', '4', '--source', '--out', out, '--chart', chart];
    await promisify(execFile)(process.execPath, args, { cwd: repoRoot, timeout: 55_000 });

    const results = JSON.parse(fs.readFileSync(out, 'utf8')) as BenchResults;
    assert.deepEqual(results.cases.map((c) => c.name), ['small-get']);
    const [small] = results.cases;
    assert.ok(small!.gateway.completed > 0, 'the gateway answered');
    assert.equal(small!.gateway.errors, 0);
    assert.ok(small!.gateway.cpuMicrosPerRequest > 0 && small!.gateway.peakRssMiB > 0);
    assert.ok(small!.direct && small!.direct.completed > 0 && small!.direct.errors === 0, 'the direct client answered');
    assert.ok(small!.ratios && Number.isFinite(small!.ratios.rps));
    const reference = small!.reference;
    assert.ok(reference && reference.completed > 0 && reference.errors === 0, 'the minimal gateway answered');
    assert.equal(reference.reusedFrom, undefined);
    for (const figure of [reference.rps, reference.latencyMs.p50, reference.cpuMicrosPerRequest, reference.backendCpuMicrosPerRequest, reference.startRssMiB, reference.peakRssMiB]) {
      assert.ok(Number.isFinite(figure) && figure > 0, `minimal gateway figure ${figure}`);
    }
    assert.ok(small!.referenceRatios && Object.values(small!.referenceRatios).every((r) => Number.isFinite(r) && r > 0));
    // Two rounds of each side; the figures above are each side's median round, the peak the highest.
    const rounds = small!.roundsCpuMicrosPerRequest;
    assert.deepEqual([rounds.gateway.length, rounds.reference.length, rounds.direct.length], [2, 2, 2]);
    assert.equal(small!.gateway.cpuMicrosPerRequest, Math.min(...rounds.gateway));
    assert.equal(results.options.rounds, 2);
    assert.equal(results.targets.length, 4);
    assert.match(fs.readFileSync(chart, 'utf8'), /^<svg [^>]*>[\s\S]*small-get[\s\S]*<\/svg>\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('npm run bench --against refuses a checkout that is not built, in one line', { timeout: 30_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-bench-against-'));
  try {
    const args = ['--import', 'tsx', 'bench/run.ts', '--against', dir, '--no-build'];
    const failure = await promisify(execFile)(process.execPath, args, { cwd: repoRoot, timeout: 25_000 }).then(
      () => assert.fail('the bench ran against a checkout without dist/'),
      (err: { code?: number; stderr?: string }) => err,
    );
    assert.equal(failure.code, 1);
    assert.equal(failure.stderr, `bench: ${dir} has no dist/server.js: run npm ci and npm run build there first\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('npm run bench --against runs two builds side by side in two phases and writes the report', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-bench-side-by-side-'));
  const out = path.join(dir, 'side-by-side.json');
  try {
    // This checkout against itself: what is checked is the harness, not a figure (dist/ is built first when stale).
    const args = ['--import', 'tsx', 'bench/run.ts', '--against', repoRoot, '--windows', '2', '--window', '0.5', '--warmup', '0.5', '--rate', '100', '--out', out];
    await promisify(execFile)(process.execPath, args, { cwd: repoRoot, timeout: 110_000 });
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as SideBySideReport;
    assert.equal(report.against, repoRoot);
    assert.deepEqual(report.cases.map((c) => c.name), ['small-get']);
    const [small] = report.cases;
    assert.deepEqual(small!.phases.map((phase) => phase.firstStarted), ['this', 'other']);
    for (const phase of small!.phases) {
      assert.equal(phase.thisMicros.length, 2);
      assert.equal(phase.otherMicros.length, 2);
      for (const micros of [...phase.thisMicros, ...phase.otherMicros]) assert.ok(Number.isFinite(micros) && micros > 0, `CPU per request ${micros}`);
    }
    assert.ok(Number.isFinite(small!.cpuRatio) && small!.cpuRatio > 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
