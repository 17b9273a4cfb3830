import fs from 'node:fs';
import path from 'node:path';
import type { BenchCase } from './cases.js';
import { runHttpLoad, type HttpRequestSpec } from './http-load.js';
import { cpuMicros, freePort, startGateway, type GatewayProcess } from './processes.js';

/*
 * `npm run bench -- --against <checkout>`: this build and another checkout's build (its own
 * dist/ and node_modules/) in front of one backend, both loaded at once at the same rate, in
 * windows of a few seconds. Run one after the other, the two builds land in different spells
 * of a shared machine: one build's CPU per request moved ±20 % between runs minutes apart.
 * Loaded at once, both see the same spell, and a window's ratio moved ±3 %. Each gateway
 * process also keeps a bias of its own (the same build against itself measured 0.97 to 1.05),
 * so the run has two phases with fresh processes, started in the opposite order, and reports
 * the geometric mean of the two phases' median ratios.
 */

export interface SideBySideOptions {
  /** The other checkout, built: <against>/dist/server.js and <against>/node_modules. */
  against: string;
  cases: readonly BenchCase[];
  /** The gateway config of a case, listening on `port`. */
  configYaml(c: BenchCase, port: number): string;
  request(c: BenchCase): HttpRequestSpec;
  /** Requests per second each gateway gets: below saturation, so both are served alike. */
  rate: number;
  windows: number;
  windowSeconds: number;
  warmupSeconds: number;
  nodeFlags: readonly string[];
}

export interface SideBySidePhase {
  /** Which build was started first in this phase. */
  firstStarted: 'this' | 'other';
  /** Gateway CPU µs per request of each window, per build. */
  thisMicros: number[];
  otherMicros: number[];
  /** Median of the windows' this ÷ other ratios. */
  medianRatio: number;
}

export interface SideBySideCaseResult {
  name: string;
  title: string;
  phases: SideBySidePhase[];
  /** Geometric mean of the phases' median ratios: this build's CPU per request ÷ the other's. */
  cpuRatio: number;
  thisMedianMicros: number;
  otherMedianMicros: number;
}

/** Why `dir` cannot be run as the other build, if it cannot. */
export function checkoutProblem(dir: string): string | undefined {
  if (!fs.existsSync(path.join(dir, 'dist/server.js'))) return `${dir} has no dist/server.js: run npm ci and npm run build there first`;
  if (!fs.existsSync(path.join(dir, 'node_modules'))) return `${dir} has no node_modules: run npm ci there first`;
  return undefined;
}

export async function runSideBySide(options: SideBySideOptions, log: (line: string) => void): Promise<SideBySideCaseResult[]> {
  const results: SideBySideCaseResult[] = [];
  for (const c of options.cases) {
    const phases: SideBySidePhase[] = [];
    for (const firstStarted of ['this', 'other'] as const) {
      log(`- ${c.name}, ${firstStarted === 'this' ? 'this build' : 'the other build'} started first: ${options.windows} windows of ${options.windowSeconds} s at ${options.rate} req/s each`);
      phases.push(await runPhase(c, options, firstStarted));
      const phase = phases.at(-1)!;
      log(`  this ${median(phase.thisMicros).toFixed(0)} µs, other ${median(phase.otherMicros).toFixed(0)} µs per request; median ratio ${phase.medianRatio.toFixed(3)}`);
    }
    results.push({
      name: c.name,
      title: c.title,
      phases,
      cpuRatio: Math.sqrt(phases.reduce((product, phase) => product * phase.medianRatio, 1)),
      thisMedianMicros: median(phases.flatMap((phase) => phase.thisMicros)),
      otherMedianMicros: median(phases.flatMap((phase) => phase.otherMicros)),
    });
  }
  return results;
}

async function runPhase(c: BenchCase, options: SideBySideOptions, firstStarted: 'this' | 'other'): Promise<SideBySidePhase> {
  const start = async (checkout: string | undefined): Promise<GatewayProcess> => {
    const port = await freePort();
    return startGateway({ configYaml: options.configYaml(c, port), port, fromSource: false, nodeFlags: options.nodeFlags, ...(checkout && { checkout }) });
  };
  const first = await start(firstStarted === 'this' ? undefined : options.against);
  let second: GatewayProcess | undefined;
  try {
    second = await start(firstStarted === 'this' ? options.against : undefined);
    const [mine, other] = firstStarted === 'this' ? [first, second] : [second, first];
    const request = options.request(c);
    // Closed loops first, one build at a time, as the main benchmark warms up.
    for (const gateway of [first, second]) await runHttpLoad(gateway.url, request, { kind: 'closed', workers: 50 }, options.warmupSeconds);
    const shape = { kind: 'rate', workers: 10, rate: options.rate } as const;
    // Then one unmeasured window of the measured load on both.
    await Promise.all([mine, other].map((gateway) => runHttpLoad(gateway.url, request, shape, options.windowSeconds)));
    const thisMicros: number[] = [];
    const otherMicros: number[] = [];
    for (let i = 0; i < options.windows; i++) {
      const [a, b] = await Promise.all([mine, other].map((gateway) => window(gateway, request, shape, options.windowSeconds)));
      thisMicros.push(a!);
      otherMicros.push(b!);
    }
    return { firstStarted, thisMicros, otherMicros, medianRatio: median(thisMicros.map((micros, i) => micros / otherMicros[i]!)) };
  } finally {
    await second?.stop();
    await first.stop();
  }
}

/** The gateway's CPU µs per answered request over one window of load. */
async function window(gateway: GatewayProcess, request: HttpRequestSpec, shape: { kind: 'rate'; workers: number; rate: number }, seconds: number): Promise<number> {
  const before = cpuMicros(gateway.pid);
  const result = await runHttpLoad(gateway.url, request, shape, seconds);
  const used = cpuMicros(gateway.pid) - before;
  if (result.errors > 0 || result.completed === 0) throw new Error(`${gateway.url}: ${result.errors} errors, ${result.completed} answered (${JSON.stringify(result.statusCodes)})`);
  return used / result.completed;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The report's lines. */
export function formatSideBySide(results: readonly SideBySideCaseResult[], against: string): string {
  const lines = [`CPU per request, this build ÷ ${against} (both loaded at once; < 1: this build is cheaper)`];
  for (const r of results) {
    const phases = r.phases.map((phase) => `${phase.medianRatio.toFixed(3)} (${phase.firstStarted} first)`).join(', ');
    lines.push(`${r.name.padEnd(14)} ${r.cpuRatio.toFixed(3)}  this ${r.thisMedianMicros.toFixed(0)} µs, other ${r.otherMedianMicros.toFixed(0)} µs; phases ${phases}`);
  }
  return lines.join('\n');
}
