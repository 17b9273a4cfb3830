import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { create, toJsonString, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { createSigner } from 'fast-jwt';
import { benchProtoDir, benchProtoFile, benchRoot, benchServiceName, createItemBody, encode, listPage, loadBenchProto, pageSizeFor, smallItem } from './bench-proto.js';
import { benchCases, type BenchCase, type CaseOptions } from './cases.js';
import type { DirectJob, DirectResult } from './direct-load.js';
import { summariseGcTrace } from './gc-trace.js';
import { runHttpLoad } from './http-load.js';
import { latencyChart } from './latency-chart.js';
import type { LoadShape } from './load-shape.js';
import { cpuMicros, forkTs, freePort, peakRssMiB, productionNodeFlags, repoRoot, rssMiB, startBackend, startGateway, startMinimalGateway, stopProcess, type BackendProcess, type GatewayProcess } from './processes.js';
import { startOtlpSink } from './otlp-sink.js';
import { checkoutProblem, formatSideBySide, runSideBySide } from './side-by-side.js';
import { formatTable } from './report-table.js';
import { evaluateTargets, ratiosOf, referenceRatiosOf, type BenchResults, type CaseResult, type GatewaySideResult, type HttpSideResult, type SideResult } from './results.js';

/*
 * `npm run bench`: the gateway (built dist/server.js, its own process) in front of a gRPC
 * backend (its own process), loaded with autocannon from this process, against a direct
 * grpc-js client (its own process) calling the same backend with the same concurrency, and
 * (small GET only) against the reference minimal gateway (bench/minimal-gateway.ts).
 * See bench/README.md for how to read the output.
 */

const usage = `usage: npm run bench -- [options]
  --case <name>            run only these cases (repeatable or comma-separated): ${benchCases.map((c) => (c.optIn ? `${c.name} (opt-in)` : c.name)).join(', ')}
  --rounds <n>             run every case n times, round-robin, and report each side's median round (default 1)
  --duration <s>           measured seconds per case and side (default 8)
  --warmup <s>             unmeasured seconds of closed-loop load before each side is measured (default 10),
                           then 2 s of the case's own load when it is paced or rate-limited
  --connections <n>        concurrent connections / in-flight calls (default 50)
  --rate <n>               light-load rate in req/s (default 900)
  --light-connections <n>  connections of the opt-in light-load-burst case (default 10)
  --log-level <level>      the gateway's logging.level (default info, as in production)
  --no-direct              skip the direct grpc-js client
  --no-reference           skip the reference minimal gateway (small-get, reused by the policy cases)
  --source                 run the gateway from src/ with tsx instead of dist/
  --no-build               do not rebuild a stale dist/
  --profile                write a V8 CPU profile of the gateway per case to bench/profiles/
  --trace-gc               count the gateway's GC pauses during each measured window
  --node-options=<flags>   node flags of the gateway and the minimal gateway (default: those of npm start,
                           ${productionNodeFlags().join(' ') || 'none'}; --node-options= for Node's defaults)
  --against <checkout>     instead: this build against another checkout's (built, with its node_modules), both
                           loaded at once at --rate each (default small-get; bench/side-by-side.ts says why)
  --windows <n>            windows per phase of --against (default 12)
  --window <s>             seconds per window of --against (default 4)
  --out <file>             results JSON (default bench/results.json; with --against, bench/side-by-side.json)
  --chart <file>           latency chart SVG (default bench/latency.svg)`;

const jwtSecret = 'portico-bench-secret-not-for-production';
const profileDir = path.join(benchRoot, 'profiles');

interface RunOptions {
  cases: BenchCase[];
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  rate: number;
  lightConnections: number;
  logLevel: string;
  direct: boolean;
  reference: boolean;
  source: boolean;
  build: boolean;
  profile: boolean;
  traceGc: boolean;
  nodeOptions: string[];
  out: string;
  chart: string;
  against: string | undefined;
  windows: number;
  window: number;
}

function parseOptions(): RunOptions | undefined {
  const { values } = parseArgs({
    options: {
      case: { type: 'string', multiple: true },
      rounds: { type: 'string', default: '1' },
      duration: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      rate: { type: 'string', default: '900' },
      'light-connections': { type: 'string', default: '10' },
      'log-level': { type: 'string', default: 'info' },
      'no-direct': { type: 'boolean', default: false },
      'no-reference': { type: 'boolean', default: false },
      source: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'trace-gc': { type: 'boolean', default: false },
      'node-options': { type: 'string', default: productionNodeFlags().join(' ') },
      out: { type: 'string' },
      against: { type: 'string' },
      windows: { type: 'string', default: '12' },
      window: { type: 'string', default: '4' },
      chart: { type: 'string', default: path.join(benchRoot, 'latency.svg') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  const number = (name: string, text: string, min: number): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number ≥ ${min}, got "${text}"`);
    return value;
  };
  const wanted = (values.case ?? []).flatMap((c) => c.split(',')).map((c) => c.trim()).filter(Boolean);
  const unknown = wanted.filter((name) => !benchCases.some((c) => c.name === name));
  if (unknown.length > 0) throw new Error(`unknown case ${unknown.join(', ')}; cases: ${benchCases.map((c) => c.name).join(', ')}`);
  const against = values.against === undefined ? undefined : path.resolve(values.against);
  const defaultCases = against ? benchCases.filter((c) => c.name === 'small-get') : benchCases.filter((c) => !c.optIn);
  return {
    cases: wanted.length > 0 ? benchCases.filter((c) => wanted.includes(c.name)) : defaultCases,
    rounds: Math.round(number('rounds', values.rounds, 1)),
    duration: number('duration', values.duration, 0.5),
    warmup: number('warmup', values.warmup, 0),
    connections: Math.round(number('connections', values.connections, 1)),
    rate: Math.round(number('rate', values.rate, 1)),
    lightConnections: Math.round(number('light-connections', values['light-connections'], 1)),
    logLevel: values['log-level'],
    direct: !values['no-direct'],
    reference: !values['no-reference'],
    source: values.source,
    build: !values['no-build'],
    profile: values.profile,
    traceGc: values['trace-gc'],
    nodeOptions: values['node-options'].split(/\s+/).filter(Boolean),
    out: path.resolve(values.out ?? path.join(benchRoot, against ? 'side-by-side.json' : 'results.json')),
    against,
    windows: Math.round(number('windows', values.windows, 1)),
    window: number('window', values.window, 0.5),
    chart: path.resolve(values.chart),
  };
}

/** Rebuilds dist/ when a source file is newer than dist/server.js: stale numbers are worse than none. */
function ensureBuilt(): void {
  const built = path.join(repoRoot, 'dist/server.js');
  // tsc -b rewrites only what changed, and its build info each time it builds.
  const buildInfo = path.join(repoRoot, 'dist/.tsbuildinfo');
  const builtAt = fs.existsSync(built) && fs.existsSync(buildInfo) ? fs.statSync(buildInfo).mtimeMs : 0;
  // Every file: the build copies the admin status page along with the compiled .ts.
  const newest = (fs.readdirSync(path.join(repoRoot, 'src'), { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((entry) => entry.isFile())
    .reduce((latest, entry) => Math.max(latest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs), 0);
  if (newest <= builtAt) return;
  console.log('dist/ is older than src/: npm run build');
  // The package's own build script, so dist/ is what `npm start` and the image run.
  const npm = process.env['npm_execpath'];
  try {
    if (npm) execFileSync(process.execPath, [npm, 'run', '--silent', 'build'], { cwd: repoRoot, stdio: 'inherit' });
    else execFileSync('npm', ['run', '--silent', 'build'], { cwd: repoRoot, stdio: 'inherit' });
  } catch {
    // tsc still emits on type errors; measure what was emitted rather than nothing.
    if (!fs.existsSync(built)) throw new Error('npm run build failed and there is no dist/server.js');
    console.warn('warning: npm run build reported errors; measuring the emitted dist/ anyway');
  }
}

/** The `resilience` case's service settings: each policy on, none tripped by a healthy backend. */
const resiliencePolicies = {
  retry: { maxAttempts: 3, budgetPercent: 20 },
  circuitBreaker: { failureRatio: 0.5, minimumCalls: 20, windowMs: 10_000, openMs: 5_000, halfOpenCalls: 3 },
  concurrency: { max: 512 },
};

/**
 * The rate-limit cases' limits: the global one keyed globally, the service's per JWT subject,
 * both far above any load the benchmark makes. Redis keys get a prefix of their own per run.
 */
function rateLimits(store: 'memory' | 'redis'): { service: Record<string, unknown>; gateway: Record<string, unknown> } {
  const never = { rps: 10_000_000, burst: 10_000_000 };
  return {
    service: { rateLimit: { ...never, key: 'user' } },
    gateway: {
      rateLimit: {
        global: { ...never, key: 'global' },
        store,
        ...(store === 'redis' && { redis: { url: 'redis://127.0.0.1:6379', keyPrefix: `portico-bench:${process.pid}:${Date.now()}:` } }),
      },
    },
  };
}

/** `tracingSink`: the OTLP sink's URL, for a case with tracing on. */
function gatewayConfig(policy: BenchCase['policy'], backend: string, port: number, logLevel: string, tracingSink?: string): string {
  const limits = policy.rateLimit && rateLimits(policy.rateLimit);
  const config = {
    server: { port, host: '127.0.0.1' },
    shutdown: { graceMs: 1000 },
    protos: { includeDirs: [benchProtoDir] },
    services: [
      {
        name: 'bench',
        protoFiles: [benchProtoFile],
        service: benchServiceName,
        address: backend,
        timeoutMs: 10_000,
        auth: policy.jwt ? 'required' : 'none',
        ...(policy.resilience && resiliencePolicies),
        ...limits?.service,
      },
    ],
    ...limits?.gateway,
    ...(policy.jwt && { auth: { jwt: { secret: jwtSecret, algorithms: ['HS256'] } } }),
    metrics: { enabled: policy.metrics },
    ...(policy.tracing !== undefined && { tracing: { enabled: true, endpoint: tracingSink, sampleRatio: policy.tracing } }),
    logging: { level: logLevel },
  };
  // JSON is YAML.
  return JSON.stringify(config, null, 2);
}

async function preflight(url: string, c: BenchCase, options: CaseOptions): Promise<void> {
  const spec = c.request(options);
  const response = await fetch(`${url}${spec.path}`, { method: spec.method, headers: spec.headers, ...(spec.body !== undefined && { body: spec.body }) });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`${c.name}: ${spec.method} ${spec.path} answered ${response.status}: ${body.slice(0, 300)}`);
  const problem = c.check(body, options);
  if (problem) throw new Error(`${c.name}: ${problem}`);
}

const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

interface HttpMeasurement {
  side: HttpSideResult;
  /** The measured window (monotonic µs) and the requests handled in it, for --profile. */
  window: { startMicros: number; endMicros: number; requests: number };
  /** The byte range of the server's log written during the window, for --trace-gc. */
  log: { from: number; to: number };
}

const measuredSeconds = (c: BenchCase, run: RunOptions): number => run.duration * (c.durationFactor ?? 1);

/*
 * Every side warms up with closed loops, as fast as answers come, whatever its case's load: V8
 * compiles a process's hot path with its optimizing tier only after enough calls, and that
 * burst of compiles (about a core-second for the gateway) fell inside the measured window at
 * 2 s of warm-up, at saturation as at 900 req/s. A paced or rate-limited case then runs its
 * own load for a while, so its window starts from that load's steady state.
 */
const warmupShape = (run: RunOptions): Extract<LoadShape, { kind: 'closed' }> => ({ kind: 'closed', workers: run.connections });
const settleSeconds = (shape: LoadShape, run: RunOptions): number => (shape.kind === 'closed' || run.warmup === 0 ? 0 : 2);

/** Checks, warms up and loads one HTTP server (the gateway or the minimal gateway), reading /proc around the window. */
async function measureHttp(c: BenchCase, run: RunOptions, backend: BackendProcess, options: CaseOptions, server: GatewayProcess): Promise<HttpMeasurement> {
  const startRss = rssMiB(server.pid);
  await preflight(server.url, c, options);
  const spec = c.request(options);
  const shape = c.shape(options);
  const settle = settleSeconds(shape, run);
  if (run.warmup > 0) await runHttpLoad(server.url, spec, warmupShape(run), run.warmup);
  if (settle > 0) await runHttpLoad(server.url, spec, shape, settle);
  const logFrom = fs.statSync(server.logFile).size;
  const windowStart = monotonicMicros();
  const cpuBefore = cpuMicros(server.pid);
  const backendBefore = cpuMicros(backend.pid);
  const loaderBefore = process.cpuUsage();
  const http = await runHttpLoad(server.url, spec, shape, measuredSeconds(c, run));
  const cpu = cpuMicros(server.pid) - cpuBefore;
  const backendCpu = cpuMicros(backend.pid) - backendBefore;
  const loader = process.cpuUsage(loaderBefore);
  const windowEnd = monotonicMicros();
  const logTo = fs.statSync(server.logFile).size;
  const handled = Math.max(1, http.completed + http.errors);
  return {
    side: {
      rps: http.completed / http.seconds,
      ...(c.messagesPerCall !== undefined && { messagesPerSecond: (http.completed * c.messagesPerCall) / http.seconds }),
      completed: http.completed,
      errors: http.errors,
      seconds: http.seconds,
      latencyMs: http.latency,
      cpuMicrosPerRequest: cpu / handled,
      backendCpuMicrosPerRequest: backendCpu / handled,
      loadGeneratorCpuMicrosPerRequest: (loader.user + loader.system) / handled,
      peakRssMiB: peakRssMiB(server.pid),
      startRssMiB: startRss,
      statusCodes: http.statusCodes,
    },
    window: { startMicros: windowStart, endMicros: windowEnd, requests: handled },
    log: { from: logFrom, to: logTo },
  };
}

async function measureGateway(c: BenchCase, run: RunOptions, backend: BackendProcess, options: CaseOptions, tracingSink: string | undefined): Promise<GatewaySideResult> {
  const nodeFlags = [...run.nodeOptions];
  if (run.profile) {
    fs.mkdirSync(profileDir, { recursive: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${c.name}.cpuprofile`);
  }
  if (run.traceGc) nodeFlags.push('--trace-gc');
  const port = await freePort();
  const gateway = await startGateway({ configYaml: gatewayConfig(c.policy, backend.address, port, run.logLevel, tracingSink), port, fromSource: run.source, nodeFlags });
  try {
    const { side, window, log } = await measureHttp(c, run, backend, options, gateway);
    if (run.profile) fs.writeFileSync(path.join(profileDir, `${c.name}.window.json`), JSON.stringify(window));
    return { ...side, ...(run.traceGc && { gc: summariseGcTrace(gateway.logFile, log.from, log.to) }) };
  } finally {
    await gateway.stop();
  }
}

/** The reference minimal gateway under the same load; --node-options apply to it too, --profile and --trace-gc do not. */
async function measureReference(c: BenchCase, run: RunOptions, backend: BackendProcess, options: CaseOptions): Promise<HttpSideResult> {
  const server = await startMinimalGateway(backend.address, await freePort(), run.nodeOptions);
  try {
    return (await measureHttp(c, run, backend, options, server)).side;
  } finally {
    await server.stop();
  }
}

async function measureDirect(c: BenchCase, run: RunOptions, backend: BackendProcess, options: CaseOptions): Promise<SideResult> {
  const shape = c.shape(options);
  const job: DirectJob = {
    address: backend.address,
    op: c.direct(options),
    shape,
    warmup: { shape: warmupShape(run), seconds: run.warmup },
    settleSeconds: settleSeconds(shape, run),
    durationSeconds: measuredSeconds(c, run),
  };
  const { child, reply } = forkTs<DirectResult>('direct-load.ts', job);
  // The backend's CPU is read around the whole child run, then scaled to the measured window.
  const backendBefore = cpuMicros(backend.pid);
  const startedAt = performance.now();
  try {
    const result = await reply;
    const backendCpu = cpuMicros(backend.pid) - backendBefore;
    const elapsed = (performance.now() - startedAt) / 1000;
    const handled = Math.max(1, result.completed + result.errors);
    if (result.firstError) console.warn(`  direct: ${result.errors} errors, the first: ${result.firstError}`);
    return {
      rps: result.completed / result.seconds,
      ...(c.messagesPerCall !== undefined && { messagesPerSecond: result.messages / result.seconds }),
      completed: result.completed,
      errors: result.errors,
      seconds: result.seconds,
      latencyMs: result.latency,
      cpuMicrosPerRequest: result.clientCpuMicros,
      backendCpuMicrosPerRequest: (backendCpu * (result.seconds / elapsed)) / handled,
    };
  } finally {
    await stopProcess(child);
  }
}

/** Every round's figures of one case's sides (reused sides are filled in at the end). */
interface CaseRounds {
  gateway: GatewaySideResult[];
  reference: HttpSideResult[];
  direct: SideResult[];
}

/**
 * The round with the median CPU per request (the lower middle one of an even count), all its
 * figures kept together. Runs on this shared VM drift by ±20-30 % over minutes, so with
 * --rounds every case is measured once per round, round-robin, and the median round of each
 * side stands for it.
 */
function medianRound<T extends SideResult>(rounds: readonly T[]): T | undefined {
  const sorted = [...rounds].sort((a, b) => a.cpuMicrosPerRequest - b.cpuMicrosPerRequest);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** An HTTP side's median round, with the highest peak RSS of every round: a peak is not a median. */
function medianHttpRound<T extends HttpSideResult>(rounds: readonly T[]): T | undefined {
  const median = medianRound(rounds);
  return median && { ...median, peakRssMiB: Math.max(...rounds.map((side) => side.peakRssMiB)) };
}

/** A case's result from its rounds; sides it reuses come from the case it names (`directFrom`). */
function caseResult(c: BenchCase, options: CaseOptions, byCase: ReadonlyMap<string, CaseRounds>): CaseResult | undefined {
  const own = byCase.get(c.name)!;
  const gateway = medianHttpRound(own.gateway);
  if (!gateway) return undefined;
  const source = c.directFrom ? byCase.get(c.directFrom) : undefined;
  const reused = <T extends SideResult>(side: T | undefined): (T & { reusedFrom?: string }) | undefined => (side && source ? { ...side, reusedFrom: c.directFrom! } : side);
  const direct = reused(medianRound((source ?? own).direct));
  const reference = reused(medianHttpRound((source ?? own).reference));
  const cpuOf = (sides: readonly SideResult[]): number[] => sides.map((side) => side.cpuMicrosPerRequest);
  return {
    name: c.name,
    title: c.title,
    policy: c.policy,
    load: c.shape(options),
    ...(c.messagesPerCall !== undefined && { messagesPerCall: c.messagesPerCall }),
    gateway,
    ...(direct && { direct, ratios: ratiosOf(gateway, direct) }),
    ...(reference && { reference, referenceRatios: referenceRatiosOf(gateway, reference) }),
    roundsCpuMicrosPerRequest: { gateway: cpuOf(own.gateway), reference: cpuOf(own.reference), direct: cpuOf(own.direct) },
  };
}

function payloadSizes(pageSize: number): BenchResults['payloads'] {
  const proto = loadBenchProto();
  const page = create(proto.listItemsResponse, listPage(pageSize) as MessageInitShape<DescMessage>);
  return {
    smallItemBytes: encode(proto.item, { id: 'item-42', ...smallItem(42) }).length,
    postBodyBytes: Buffer.byteLength(createItemBody()),
    largePageSize: pageSize,
    largeResponseProtobufBytes: encode(proto.listItemsResponse, listPage(pageSize)).length,
    largeResponseJsonBytes: Buffer.byteLength(toJsonString(proto.listItemsResponse, page, { alwaysEmitImplicit: true })),
  };
}

/** `--against`: this build and another side by side (./side-by-side.ts). */
async function sideBySide(run: RunOptions, against: string, options: CaseOptions): Promise<number> {
  const problem = checkoutProblem(against);
  if (problem) throw new Error(problem);
  if (run.source) throw new Error('--against compares two builds: it runs dist/ of both, so --source does not apply');
  const minutes = (run.cases.length * 2 * (2 * run.warmup + (run.windows + 1) * run.window + 3)) / 60;
  console.log(`portico bench: ${run.cases.map((c) => c.name).join(', ')} side by side with ${against}; about ${Math.ceil(minutes)} min`);
  const backend = await startBackend();
  let results;
  try {
    results = await runSideBySide(
      {
        against,
        cases: run.cases,
        configYaml: (c, port) => gatewayConfig(c.policy, backend.address, port, run.logLevel),
        request: (c) => c.request(options),
        rate: run.rate,
        windows: run.windows,
        windowSeconds: run.window,
        warmupSeconds: run.warmup,
        nodeFlags: run.nodeOptions,
      },
      (line) => console.log(line),
    );
  } finally {
    await backend.stop();
  }
  console.log(`\n${formatSideBySide(results, against)}\n`);
  const report = { generatedAt: new Date().toISOString(), node: process.version, cpus: os.availableParallelism(), against, rate: run.rate, windows: run.windows, windowSeconds: run.window, cases: results };
  fs.mkdirSync(path.dirname(run.out), { recursive: true });
  fs.writeFileSync(run.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), run.out)}`);
  return 0;
}

async function main(): Promise<number> {
  const run = parseOptions();
  if (!run) {
    console.log(usage);
    return 0;
  }
  if (!run.source && run.build) ensureBuilt();
  const pageSize = pageSizeFor(loadBenchProto());
  const options: CaseOptions = {
    connections: run.connections,
    rate: run.rate,
    lightConnections: run.lightConnections,
    token: createSigner({ key: jwtSecret, algorithm: 'HS256', expiresIn: 3_600_000 })({ sub: 'bench-user' }),
    pageSize,
  };
  if (run.against) return sideBySide(run, run.against, options);
  const reuses = (c: BenchCase): boolean => run.cases.some((other) => other.name === c.directFrom);
  const sidesOf = (c: BenchCase): number => 1 + (run.direct && !reuses(c) ? 1 : 0) + (run.reference && c.reference ? 1 : 0);
  const estimate = run.rounds * run.cases.reduce((seconds, c) => seconds + sidesOf(c) * (run.warmup + settleSeconds(c.shape(options), run) + measuredSeconds(c, run) + 1.5), 0);
  const roundsNote = run.rounds > 1 ? `, ${run.rounds} rounds` : '';
  console.log(`portico bench: ${run.cases.map((c) => c.name).join(', ')}${roundsNote}; ${run.duration} s measured (paced cases longer) after ${run.warmup} s of closed-loop warm-up per side; about ${Math.ceil(estimate)} s`);

  const backend = await startBackend();
  const sink = run.cases.some((c) => c.policy.tracing !== undefined) ? await startOtlpSink() : undefined;
  const byCase = new Map<string, CaseRounds>(run.cases.map((c) => [c.name, { gateway: [], reference: [], direct: [] }]));
  let failures = 0;
  try {
    for (let round = 1; round <= run.rounds; round++) {
      for (const c of run.cases) {
        const rounds = byCase.get(c.name)!;
        try {
          process.stdout.write(`- ${c.name}${run.rounds > 1 ? ` (round ${round}/${run.rounds})` : ''}: gateway…`);
          const gateway = await measureGateway(c, run, backend, options, sink?.url);
          rounds.gateway.push(gateway);
          process.stdout.write(` ${gateway.rps.toFixed(0)} req/s`);
          if (run.reference && c.reference && !reuses(c)) {
            process.stdout.write('; minimal gw…');
            const reference = await measureReference(c, run, backend, options);
            process.stdout.write(` ${reference.rps.toFixed(0)} req/s`);
            rounds.reference.push(reference);
          }
          if (run.direct && !reuses(c)) {
            process.stdout.write('; direct…');
            const direct = await measureDirect(c, run, backend, options);
            process.stdout.write(` ${direct.rps.toFixed(0)} req/s`);
            rounds.direct.push(direct);
          }
          process.stdout.write('\n');
        } catch (err) {
          failures++;
          process.stdout.write('\n');
          console.error(`  ${c.name} failed: ${(err as Error).message}`);
        }
      }
    }
  } finally {
    await backend.stop();
    await sink?.close();
  }
  if (sink) console.log(`OTLP sink: ${sink.received.posts} span exports received, ${(sink.received.bytes / 1024).toFixed(0)} KiB`);
  const results = run.cases.flatMap((c) => caseResult(c, options, byCase) ?? []);

  const cpuModel = os.cpus()[0]?.model ?? 'unknown';
  const report: BenchResults = {
    generatedAt: new Date().toISOString(),
    environment: { node: process.version, cpus: os.availableParallelism(), cpuModel, platform: `${os.platform()} ${os.release()}`, gateway: run.source ? 'source' : 'dist' },
    options: {
      rounds: run.rounds,
      durationSeconds: run.duration,
      warmupSeconds: run.warmup,
      connections: run.connections,
      rate: run.rate,
      lightConnections: run.lightConnections,
      logLevel: run.logLevel,
      gatewayNodeOptions: run.nodeOptions.join(' '),
    },
    payloads: payloadSizes(pageSize),
    cases: results,
    targets: evaluateTargets(results),
  };
  console.log(`\n${formatTable(report)}\n`);
  fs.mkdirSync(path.dirname(run.out), { recursive: true });
  fs.writeFileSync(run.out, `${JSON.stringify(report, null, 2)}\n`);
  const subtitle = `${report.environment.cpus} CPUs · Node ${process.version} · ${run.connections} connections · ${run.duration} s per case`;
  fs.writeFileSync(run.chart, latencyChart(results, subtitle));
  console.log(`wrote ${path.relative(process.cwd(), run.out)} and ${path.relative(process.cwd(), run.chart)}`);
  if (run.profile) console.log(`CPU profiles in ${path.relative(process.cwd(), profileDir)}/; summarise with: node --import tsx bench/profile-summary.ts bench/profiles/small-get.cpuprofile`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
