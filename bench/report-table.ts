import type { BenchResults, CaseResult, HttpSideResult, Ratios, SideResult } from './results.js';

/*
 * The table `npm run bench` prints: per case the gateway, the direct client and their ratio,
 * then (small GET) the reference minimal gateway and the gateway's ratio to it.
 */

const headers = ['case', 'side', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'CPU µs/req', 'RSS MiB ready→peak'];

const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
const ratio = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–');

function sideRow(name: string, side: string, result: SideResult, rss?: string): string[] {
  return [
    name,
    side,
    result.rps.toFixed(0),
    ms(result.latencyMs.p50),
    ms(result.latencyMs.p99),
    ms(result.latencyMs.p999),
    String(result.errors),
    result.cpuMicrosPerRequest.toFixed(0),
    rss ?? '',
  ];
}

const rssOf = (side: HttpSideResult): string => `${side.startRssMiB.toFixed(0)}→${side.peakRssMiB.toFixed(0)}`;
const ratioRow = (side: string, r: Ratios, rss = ''): string[] => ['', side, ratio(r.rps), ratio(r.p50), ratio(r.p99), ratio(r.p999), '', ratio(r.cpu), rss];
const reusable = (side: string, from: string | undefined): string => (from ? `${side} (${from})` : side);

function caseRows(result: CaseResult): string[][] {
  const rows = [sideRow(result.name, 'gateway', result.gateway, rssOf(result.gateway))];
  if (result.direct) rows.push(sideRow('', reusable('direct', result.direct.reusedFrom), result.direct));
  if (result.ratios) rows.push(ratioRow('gw ÷ direct', result.ratios));
  if (result.reference) rows.push(sideRow('', reusable('minimal gw', result.reference.reusedFrom), result.reference, rssOf(result.reference)));
  const r = result.referenceRatios;
  if (r) rows.push(ratioRow('gw ÷ minimal', r, `${ratio(r.startRss)}→${ratio(r.peakRss)}`));
  return rows;
}

/** `label path N (label a + backend b + load generator c)`: the CPU sum of one HTTP side. */
function httpPathCpu(label: string, side: HttpSideResult): string {
  const sum = side.cpuMicrosPerRequest + side.backendCpuMicrosPerRequest + side.loadGeneratorCpuMicrosPerRequest;
  return `${label} path ${sum.toFixed(0)} (${label} ${side.cpuMicrosPerRequest.toFixed(0)} + backend ${side.backendCpuMicrosPerRequest.toFixed(0)} + load generator ${side.loadGeneratorCpuMicrosPerRequest.toFixed(0)})`;
}

export function formatTable(results: BenchResults): string {
  const rows = [headers, ...results.cases.flatMap(caseRows)];
  const widths = headers.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]): string => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  let previous = '';
  for (const row of rows.slice(1)) {
    if (row[0] && previous) out.push('');
    if (row[0]) previous = row[0];
    out.push(line(row));
  }
  const notes: string[] = ['CPU µs per request over every busy process (what bounds req/s when cores are few):'];
  for (const c of results.cases) {
    let line = `  ${c.name}: ${httpPathCpu('gateway', c.gateway)}`;
    if (c.direct) {
      const d = c.direct;
      line += `; direct path ${(d.cpuMicrosPerRequest + d.backendCpuMicrosPerRequest).toFixed(0)} (client ${d.cpuMicrosPerRequest.toFixed(0)} + backend ${d.backendCpuMicrosPerRequest.toFixed(0)})`;
    }
    if (c.reference) line += `; ${httpPathCpu('minimal gw', c.reference)}`;
    notes.push(line);
  }
  for (const c of results.cases) {
    if (c.messagesPerCall) {
      const direct = c.direct?.messagesPerSecond;
      notes.push(
        `${c.name}: req/s counts whole streams of ${c.messagesPerCall} messages: gateway ${c.gateway.messagesPerSecond?.toFixed(0)} msg/s` +
          (direct !== undefined ? `, direct ${direct.toFixed(0)} msg/s` : '') +
          `; CPU ${(c.gateway.cpuMicrosPerRequest / c.messagesPerCall).toFixed(1)} µs per message`,
      );
    }
    if (c.gateway.gc) {
      const gc = c.gateway.gc;
      notes.push(`${c.name}: GC in the window: ${gc.scavenges} scavenges, ${gc.markCompacts} mark-compacts, ${gc.pauseMs.toFixed(0)} ms paused (max ${gc.maxPauseMs.toFixed(1)} ms)`);
    }
  }
  if (results.options.rounds > 1) notes.push(...roundLines(results.cases));
  const policyCosts = policyCostLine(results.cases);
  if (policyCosts) notes.push(policyCosts);
  notes.push('CPU µs/req: the gateway process (gateway rows), the minimal gateway process (minimal gw rows) or the direct grpc-js client process (direct rows), from /proc/<pid>/stat.');
  const targets = results.targets.map((t) => `  ${t.met === null ? '·' : t.met ? '✓' : '✗'} ${t.name}: ${t.measured} (goal ${t.goal})`);
  return [...out, '', ...notes, '', 'targets (reported, not enforced):', ...targets].join('\n');
}

/** Each side's CPU per request in every round: the spread that the median rounds above come from. */
function roundLines(cases: readonly CaseResult[]): string[] {
  const lines = ['CPU µs/req of every round (the table shows each side\'s median round):'];
  for (const c of cases) {
    const rounds = c.roundsCpuMicrosPerRequest;
    const sides = [
      ['gateway', rounds.gateway],
      ['minimal gw', rounds.reference],
      ['direct', rounds.direct],
    ] as const;
    const parts = sides.filter(([, cpu]) => cpu.length > 0).map(([label, cpu]) => `${label} ${cpu.map((value) => value.toFixed(0)).join('/')}`);
    lines.push(`  ${c.name}: ${parts.join('; ')}`);
  }
  return lines;
}

/**
 * What each policy costs, as the gateway CPU per small GET with everything on minus the same
 * with that policy off (one run; each difference carries both runs' noise).
 */
function policyCostLine(cases: readonly CaseResult[]): string | undefined {
  const cpu = (name: string): number | undefined => cases.find((c) => c.name === name)?.gateway.cpuMicrosPerRequest;
  const all = cpu('small-get');
  if (all === undefined) return undefined;
  const parts = [
    ['JWT', 'no-jwt'],
    ['metrics', 'no-metrics'],
    ['both', 'policy-off'],
  ].flatMap(([label, name]) => {
    const without = cpu(name!);
    return without === undefined ? [] : [`${label} ${(all - without).toFixed(0)} µs (small-get − ${name})`];
  });
  const resilience = cpu('resilience');
  if (resilience !== undefined) parts.push(`retry + breaker + concurrency cap ${(resilience - all).toFixed(0)} µs, ${(((resilience - all) / all) * 100).toFixed(1)} % (resilience − small-get)`);
  for (const [label, name] of [
    ['tracing, all sampled', 'tracing-all'],
    ['tracing, 1 % sampled', 'tracing-1pct'],
    ['rate limits in memory', 'rate-limit'],
    ['in Redis', 'rate-limit-redis'],
  ] as const) {
    const measured = cpu(name);
    if (measured !== undefined) parts.push(`${label} ${(measured - all).toFixed(0)} µs, ${(((measured - all) / all) * 100).toFixed(1)} % (${name} − small-get)`);
  }
  return parts.length > 0 ? `policy cost per small GET, gateway CPU: ${parts.join('; ')}` : undefined;
}
