import { describeLoad } from './load-shape.js';
import type { CaseResult } from './results.js';

/*
 * bench/latency.svg, written by hand (no chart library): one panel per case, with p50 and p99
 * bars for the gateway and the direct client, and for the reference minimal gateway where the
 * case measured it. Each panel has its own scale, because a stream of 100 messages and a small
 * GET differ by an order of magnitude; the point of each panel is the gateway against the
 * direct client, so the values are printed on the bars.
 */

const colours = { gatewayP50: '#2563eb', gatewayP99: '#93c5fd', minimalP50: '#d97706', minimalP99: '#fcd34d', directP50: '#059669', directP99: '#6ee7b7' };
const panelWidth = 300;
const panelHeight = 220;
const columns = 3;
const barArea = { left: 16, top: 56, height: 120 };

const escapeXml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

function panel(result: CaseResult, x: number, y: number): string {
  const bars: Array<{ label: string; value: number | undefined; colour: string }> = [
    { label: 'gw p50', value: result.gateway.latencyMs.p50, colour: colours.gatewayP50 },
    { label: 'gw p99', value: result.gateway.latencyMs.p99, colour: colours.gatewayP99 },
    ...(result.reference
      ? [
          { label: 'min p50', value: result.reference.latencyMs.p50, colour: colours.minimalP50 },
          { label: 'min p99', value: result.reference.latencyMs.p99, colour: colours.minimalP99 },
        ]
      : []),
    { label: 'direct p50', value: result.direct?.latencyMs.p50, colour: colours.directP50 },
    { label: 'direct p99', value: result.direct?.latencyMs.p99, colour: colours.directP99 },
  ];
  const max = Math.max(...bars.map((b) => b.value ?? 0)) || 1;
  const slot = (panelWidth - 2 * barArea.left) / bars.length;
  const barWidth = slot * 0.62;
  const baseline = barArea.top + barArea.height;
  // Six bars leave ~45 px per label: "direct p50" fits at 9 px, not at 10.
  const labelSize = bars.length > 4 ? 9 : 10;
  const load = describeLoad(result.load);
  const parts = [
    `<g transform="translate(${x},${y})">`,
    `<rect width="${panelWidth - 8}" height="${panelHeight - 8}" rx="6" fill="#f8fafc" stroke="#e2e8f0"/>`,
    `<text x="12" y="22" font-weight="600">${escapeXml(result.name)}</text>`,
    `<text x="12" y="40" font-size="11" fill="#475569">${escapeXml(result.title)}</text>`,
    `<text x="${panelWidth - 20}" y="22" font-size="11" fill="#475569" text-anchor="end">${escapeXml(load)}</text>`,
    `<line x1="${barArea.left}" y1="${baseline}" x2="${panelWidth - barArea.left - 8}" y2="${baseline}" stroke="#94a3b8"/>`,
  ];
  bars.forEach((bar, i) => {
    const bx = barArea.left + i * slot + (slot - barWidth) / 2;
    const cx = bx + barWidth / 2;
    if (bar.value === undefined) {
      parts.push(`<text x="${cx}" y="${baseline - 4}" font-size="10" text-anchor="middle" fill="#94a3b8">n/a</text>`);
    } else {
      const h = Math.max(1, (bar.value / max) * (barArea.height - 14));
      parts.push(`<rect x="${bx.toFixed(1)}" y="${(baseline - h).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" fill="${bar.colour}"/>`);
      parts.push(`<text x="${cx.toFixed(1)}" y="${(baseline - h - 4).toFixed(1)}" font-size="10" text-anchor="middle">${fmt(bar.value)}</text>`);
    }
    parts.push(`<text x="${cx.toFixed(1)}" y="${baseline + 14}" font-size="${labelSize}" text-anchor="middle" fill="#334155">${bar.label}</text>`);
  });
  const rps = result.messagesPerCall ? `${result.gateway.rps.toFixed(0)} streams/s` : `${result.gateway.rps.toFixed(0)} req/s`;
  const ratio = result.ratios ? ` · ${result.ratios.rps.toFixed(2)}× direct throughput` : '';
  parts.push(`<text x="12" y="${panelHeight - 20}" font-size="11" fill="#475569">gateway ${rps}${ratio}</text>`);
  parts.push('</g>');
  return parts.join('\n');
}

export function latencyChart(results: readonly CaseResult[], subtitle: string): string {
  const rows = Math.max(1, Math.ceil(results.length / columns));
  const width = columns * panelWidth + 16;
  const height = 64 + rows * panelHeight;
  const withReference = results.some((result) => result.reference);
  const entries = [
    ['gateway p50', colours.gatewayP50],
    ['gateway p99', colours.gatewayP99],
    ...(withReference
      ? [
          ['minimal gw p50', colours.minimalP50],
          ['minimal gw p99', colours.minimalP99],
        ]
      : []),
    ['direct grpc-js p50', colours.directP50],
    ['direct grpc-js p99', colours.directP99],
  ];
  const step = withReference ? 150 : 170;
  const legend = entries
    .map(([label, colour], i) => `<rect x="${12 + i * step}" y="40" width="12" height="12" fill="${colour}"/><text x="${30 + i * step}" y="50" font-size="11">${label}</text>`)
    .join('\n');
  const panels = results.map((result, i) => panel(result, 8 + (i % columns) * panelWidth, 64 + Math.floor(i / columns) * panelHeight)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12" fill="#0f172a">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">Portico latency, milliseconds (gateway vs ${withReference ? 'minimal gateway and ' : ''}direct grpc-js client)</text>`,
    `<text x="${width - 12}" y="22" font-size="11" fill="#475569" text-anchor="end">${escapeXml(subtitle)}</text>`,
    legend,
    panels,
    '</svg>',
    '',
  ].join('\n');
}
