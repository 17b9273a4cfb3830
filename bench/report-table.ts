import type { BenchResults, CaseResult, SideResult } from './results.js';

/* The table `npm run bench` prints: two rows per case (gateway, direct) and their ratio. */

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

function caseRows(result: CaseResult): string[][] {
  const rss = `${result.gateway.startRssMiB.toFixed(0)}→${result.gateway.peakRssMiB.toFixed(0)}`;
  const rows = [sideRow(result.name, 'gateway', result.gateway, rss)];
  if (result.direct) rows.push(sideRow('', result.direct.reusedFrom ? `direct (${result.direct.reusedFrom})` : 'direct', result.direct));
  if (result.ratios) rows.push(['', 'gw ÷ direct', ratio(result.ratios.rps), ratio(result.ratios.p50), ratio(result.ratios.p99), ratio(result.ratios.p999), '', ratio(result.ratios.cpu), '']);
  return rows;
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
    const g = c.gateway;
    const viaGateway = g.cpuMicrosPerRequest + g.backendCpuMicrosPerRequest + g.loadGeneratorCpuMicrosPerRequest;
    let line = `  ${c.name}: gateway path ${viaGateway.toFixed(0)} (gateway ${g.cpuMicrosPerRequest.toFixed(0)} + backend ${g.backendCpuMicrosPerRequest.toFixed(0)} + load generator ${g.loadGeneratorCpuMicrosPerRequest.toFixed(0)})`;
    if (c.direct) {
      const d = c.direct;
      line += `; direct path ${(d.cpuMicrosPerRequest + d.backendCpuMicrosPerRequest).toFixed(0)} (client ${d.cpuMicrosPerRequest.toFixed(0)} + backend ${d.backendCpuMicrosPerRequest.toFixed(0)})`;
    }
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
  notes.push('CPU µs/req: the gateway process (gateway rows) or the direct grpc-js client process (direct rows), from /proc/<pid>/stat.');
  const targets = results.targets.map((t) => `  ${t.met === null ? '·' : t.met ? '✓' : '✗'} ${t.name}: ${t.measured} (goal ${t.goal})`);
  return [...out, '', ...notes, '', 'targets (reported, not enforced):', ...targets].join('\n');
}
