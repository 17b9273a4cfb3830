import type { Policy } from './cases.js';
import type { GcSummary } from './gc-trace.js';
import type { LoadShape } from './load-shape.js';
import type { LatencySummary } from './stats.js';

/*
 * The shape of bench/results.json and the targets the figures are reported against. The
 * targets are reported, never enforced: a 2-core laptop and a CI runner disagree too much.
 */

export interface SideResult {
  /** Requests (whole streams for a streaming case) per second. */
  rps: number;
  /** Stream messages per second; streaming cases only. */
  messagesPerSecond?: number;
  completed: number;
  errors: number;
  seconds: number;
  latencyMs: LatencySummary;
  /** CPU time per request of the process under test: the gateway, or the direct client. */
  cpuMicrosPerRequest: number;
  /** CPU time per request of the shared backend during the same window. */
  backendCpuMicrosPerRequest: number;
}

/** A side loaded over HTTP: the gateway, or the reference minimal gateway. */
export interface HttpSideResult extends SideResult {
  /** CPU time per request of this process (autocannon or the paced HTTP client): the third busy process. */
  loadGeneratorCpuMicrosPerRequest: number;
  /** The gateway's VmHWM after the case. */
  peakRssMiB: number;
  /** The gateway's VmRSS once ready, before any request: the floor under the peak. */
  startRssMiB: number;
  statusCodes: Record<string, number>;
}

export interface GatewaySideResult extends HttpSideResult {
  /** From --trace-gc during the measured window, when the run asked for it. */
  gc?: GcSummary;
}

/** Gateway ÷ another side; `cpu` compares CPU per request (per call for the direct client). */
export interface Ratios {
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  cpu: number;
}

export interface CaseResult {
  name: string;
  title: string;
  policy: Policy;
  load: LoadShape;
  messagesPerCall?: number;
  gateway: GatewaySideResult;
  /** Absent when the run skipped the direct client (--no-direct). */
  direct?: SideResult & { reusedFrom?: string };
  /** gateway ÷ direct; `cpu` compares the gateway's CPU per request with the direct client's per call. */
  ratios?: Ratios;
  /**
   * The reference minimal gateway (bench/minimal-gateway.ts) under the same HTTP load; only for
   * cases that ask for it (and those reusing their figures), absent with --no-reference.
   */
  reference?: HttpSideResult & { reusedFrom?: string };
  /** gateway ÷ reference minimal gateway, RSS included (ready and peak). */
  referenceRatios?: Ratios & { startRss: number; peakRss: number };
  /**
   * CPU µs per request of every round this case measured, per side (empty for a side it did
   * not measure or reuses); the figures above are each side's median round.
   */
  roundsCpuMicrosPerRequest: { gateway: number[]; reference: number[]; direct: number[] };
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  met: boolean | null;
}

export interface BenchResults {
  generatedAt: string;
  environment: { node: string; cpus: number; cpuModel: string; platform: string; gateway: 'dist' | 'source' };
  options: { rounds: number; durationSeconds: number; warmupSeconds: number; connections: number; rate: number; lightConnections: number; logLevel: string; gatewayNodeOptions: string };
  payloads: { smallItemBytes: number; postBodyBytes: number; largePageSize: number; largeResponseProtobufBytes: number; largeResponseJsonBytes: number };
  cases: CaseResult[];
  targets: Target[];
}

const div = (a: number, b: number): number => (b > 0 ? a / b : NaN);

export function ratiosOf(gateway: SideResult, direct: SideResult): Ratios {
  return {
    rps: div(gateway.rps, direct.rps),
    p50: div(gateway.latencyMs.p50, direct.latencyMs.p50),
    p99: div(gateway.latencyMs.p99, direct.latencyMs.p99),
    p999: div(gateway.latencyMs.p999, direct.latencyMs.p999),
    cpu: div(gateway.cpuMicrosPerRequest, direct.cpuMicrosPerRequest),
  };
}

export function referenceRatiosOf(gateway: HttpSideResult, reference: HttpSideResult): NonNullable<CaseResult['referenceRatios']> {
  return {
    ...ratiosOf(gateway, reference),
    startRss: div(gateway.startRssMiB, reference.startRssMiB),
    peakRss: div(gateway.peakRssMiB, reference.peakRssMiB),
  };
}

/** The four goals of the benchmark issue, against whatever cases this run measured. */
export function evaluateTargets(cases: readonly CaseResult[]): Target[] {
  const byName = new Map(cases.map((c) => [c.name, c]));
  const targets: Target[] = [];
  const smallGet = byName.get('small-get');
  targets.push({
    name: 'throughput with JWT + metrics (small-get)',
    goal: '≥ 0.90× direct grpc-js req/s',
    measured: smallGet?.ratios ? `${smallGet.ratios.rps.toFixed(2)}×` : 'not measured',
    met: smallGet?.ratios ? smallGet.ratios.rps >= 0.9 : null,
  });
  targets.push({
    name: 'gateway CPU per small GET (small-get)',
    goal: '≤ 110 µs',
    measured: smallGet ? `${smallGet.gateway.cpuMicrosPerRequest.toFixed(0)} µs` : 'not measured',
    met: smallGet ? smallGet.gateway.cpuMicrosPerRequest <= 110 : null,
  });
  const light = byName.get('light-load');
  targets.push({
    name: `p99 at ${light && light.load.kind === 'paced' ? light.load.rate : '~900'} req/s (light-load)`,
    goal: '≤ 1.2× direct p99',
    measured: light?.ratios ? `${light.ratios.p99.toFixed(2)}× (${light.gateway.latencyMs.p99.toFixed(2)} vs ${light.direct!.latencyMs.p99.toFixed(2)} ms)` : 'not measured',
    met: light?.ratios ? light.ratios.p99 <= 1.2 : null,
  });
  const peak = Math.max(...cases.map((c) => c.gateway.peakRssMiB));
  targets.push({
    name: 'gateway peak RSS (all cases)',
    goal: '< 120 MB',
    measured: cases.length > 0 ? `${((peak * 1024 * 1024) / 1e6).toFixed(0)} MB` : 'not measured',
    met: cases.length > 0 ? (peak * 1024 * 1024) / 1e6 < 120 : null,
  });
  return targets;
}
