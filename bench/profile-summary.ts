import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

/*
 * Summarises a V8 .cpuprofile written by `npm run bench -- --profile`: self time per function
 * and per origin (Portico's src/, each npm package, Node internals, GC), counting only the
 * samples inside the measured window when bench/profiles/<case>.window.json is present, so
 * start-up and warm-up do not dilute the request path.
 *
 *   node --import tsx bench/profile-summary.ts bench/profiles/small-get.cpuprofile [--top 30]
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  name: string;
  origin: string;
  location: string;
  selfMicros: number;
}

/** Where a frame comes from: "portico src/…", "npm:<package>", "node:…", or a V8 pseudo-frame. */
export function originOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const nodeModules = url.lastIndexOf('/node_modules/');
  if (nodeModules >= 0) {
    const rest = url.slice(nodeModules + '/node_modules/'.length).split('/');
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (/\/(dist|src)\//.test(url)) return 'portico';
  return url;
}

function shortLocation(url: string, line: number): string {
  if (!url) return '';
  const nodeModules = url.lastIndexOf('/node_modules/');
  const tail = nodeModules >= 0 ? url.slice(nodeModules + '/node_modules/'.length) : url.replace(/^file:\/\/.*?\/(dist|src)\//, '$1/');
  return `${tail}:${line + 1}`;
}

export interface ProfileWindow {
  startMicros: number;
  endMicros: number;
  /** Requests (or streams) handled in the window, to express costs per request. */
  requests?: number;
}

export function summariseProfile(profile: CpuProfile, window?: ProfileWindow) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const self = new Map<number, number>();
  let time = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i]!;
    // A sample's cost is the time until the next one.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    if (window && (time < window.startMicros || time > window.endMicros)) continue;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + delta);
    total += delta;
  }
  const functions = new Map<string, FunctionCost & { inclusiveMicros: number }>();
  const origins = new Map<string, number>();
  const entryOf = (id: number) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const name = functionName || '(anonymous)';
    const location = shortLocation(url, lineNumber);
    const key = `${name}\u0000${location}`;
    let entry = functions.get(key);
    if (!entry) {
      entry = { name, origin: originOf(url, name), location, selfMicros: 0, inclusiveMicros: 0 };
      functions.set(key, entry);
    }
    return entry;
  };
  for (const [id, micros] of self) {
    const entry = entryOf(id);
    entry.selfMicros += micros;
    origins.set(entry.origin, (origins.get(entry.origin) ?? 0) + micros);
    // Inclusive time: once per distinct function on the stack, so recursion is not counted twice.
    const seen = new Set<object>();
    for (let cursor: number | undefined = id; cursor !== undefined; cursor = parentOf.get(cursor)) {
      const frame = entryOf(cursor);
      if (seen.has(frame)) continue;
      seen.add(frame);
      frame.inclusiveMicros += micros;
    }
  }
  const list = [...functions.values()];
  return {
    totalMicros: total,
    functions: list.filter((f) => f.selfMicros > 0).sort((a, b) => b.selfMicros - a.selfMicros),
    inclusive: list.sort((a, b) => b.inclusiveMicros - a.inclusiveMicros),
    origins: [...origins.entries()].sort((a, b) => b[1] - a[1]),
  };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' } } });
  const file = positionals[0];
  if (!file) {
    console.error('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [--top N]');
    process.exit(2);
  }
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const windowFile = path.join(path.dirname(file), `${path.basename(file, '.cpuprofile')}.window.json`);
  const window = fs.existsSync(windowFile) ? (JSON.parse(fs.readFileSync(windowFile, 'utf8')) as ProfileWindow) : undefined;
  const { totalMicros, functions, inclusive, origins } = summariseProfile(profile, window);
  if (totalMicros === 0) {
    console.error('no samples in the measured window (was the profile written by this run?)');
    process.exit(1);
  }
  const requests = window?.requests;
  // Samples are wall-clock time on the main thread, idle included; per request they read as
  // "main-thread microseconds per request".
  const cost = (micros: number): string =>
    `${((100 * micros) / totalMicros).toFixed(1).padStart(5)} %` + (requests ? ` ${(micros / requests).toFixed(1).padStart(7)} µs/req` : '');
  console.log(
    `${file}: ${(totalMicros / 1e6).toFixed(2)} s of samples${window ? ' in the measured window' : ' (whole process: no window file)'}` +
      (requests ? `, ${requests} requests` : '') +
      '\n',
  );
  console.log('self time by origin:');
  for (const [origin, micros] of origins.slice(0, 20)) console.log(`  ${cost(micros)}  ${origin}`);
  const top = Number(values.top);
  console.log(`\ntop ${top} functions by self time:`);
  for (const f of functions.slice(0, top)) console.log(`  ${cost(f.selfMicros)}  ${f.name.padEnd(36)} ${f.origin.padEnd(24)} ${f.location}`);
  console.log('\nPortico (src/) functions by self time:');
  for (const f of functions.filter((fn) => fn.origin === 'portico').slice(0, top)) console.log(`  ${cost(f.selfMicros)}  ${f.name.padEnd(36)} ${f.location}`);
  console.log('\nPortico (src/) functions by inclusive time (self + callees):');
  for (const f of inclusive.filter((fn) => fn.origin === 'portico').slice(0, top)) console.log(`  ${cost(f.inclusiveMicros)}  ${f.name.padEnd(36)} ${f.location}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main();
