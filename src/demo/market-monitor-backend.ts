import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { MarketMonitorService, type QuoteSchema } from '../gen/market-monitor/v1/market_monitor_pb.js';
import { invalidArgument, notFound } from './demo-errors.js';
import { implement, type ServiceBinding } from './grpc-server.js';

/*
 * Demo market data for market_monitor.v1. Prices follow a fixed oscillation around the
 * previous close, so a given symbol and tick always give the same quote and tests can assert
 * exact values.
 */

type QuoteInit = MessageInitShape<typeof QuoteSchema>;

interface Instrument {
  readonly previousClose: number;
  readonly openingVolume: bigint;
}

const instruments = new Map<string, Instrument>([
  ['AAPL', { previousClose: 189.84, openingVolume: 1_204_300n }],
  ['MSFT', { previousClose: 415.13, openingVolume: 802_150n }],
  ['NVDA', { previousClose: 1_096.33, openingVolume: 2_310_900n }],
  ['AMZN', { previousClose: 178.34, openingVolume: 1_502_400n }],
  ['TSLA', { previousClose: 176.75, openingVolume: 3_120_800n }],
  ['JPM', { previousClose: 199.95, openingVolume: 402_100n }],
  ['XOM', { previousClose: 113.82, openingVolume: 610_700n }],
  ['JNJ', { previousClose: 146.01, openingVolume: 351_200n }],
  ['KO', { previousClose: 62.93, openingVolume: 420_600n }],
  ['PFE', { previousClose: 28.26, openingVolume: 1_880_300n }],
]);

// Tick 0 is the session open of 2024-06-03; later ticks are one second apart.
const sessionOpenMs = Date.parse('2024-06-03T13:30:00Z');
const sharesPerTick = 1_250n;

const defaultUpdates = 5;
const maxUpdates = 1_000;
const defaultStreamIntervalMs = 20;

const round = (value: number, decimals: number): number => Number(value.toFixed(decimals));

function findInstrument(symbol: string, field: string): [string, Instrument] {
  const normalized = symbol.trim().toUpperCase();
  if (normalized === '') throw invalidArgument(field, 'must name a symbol');
  const instrument = instruments.get(normalized);
  if (!instrument) throw notFound(`no quotes for symbol ${normalized}`, 'market_monitor.v1.Quote', `quotes/${normalized}`);
  return [normalized, instrument];
}

/** The quote of `symbol` at `tick`: within ±2 % of the previous close, a different phase per symbol. */
function quoteAt(symbol: string, tick: number): QuoteInit {
  const [normalized, { previousClose, openingVolume }] = findInstrument(symbol, 'symbol');
  const phase = normalized.charCodeAt(0) % 7;
  const price = round(previousClose * (1 + 0.02 * Math.sin((tick + phase) / 3)), 2);
  return {
    symbol: normalized,
    price,
    changePercent: round(((price - previousClose) / previousClose) * 100, 2),
    volume: openingVolume + BigInt(tick) * sharesPerTick,
    asOf: timestampFromMs(sessionOpenMs + tick * 1_000),
  };
}

/** How one StreamQuotes call ended, for observers such as tests. */
export interface QuoteStreamOutcome {
  readonly symbols: readonly string[];
  readonly sent: number;
  /** False when the caller cancelled before every update was sent. */
  readonly completed: boolean;
}

export interface MarketMonitorBackendOptions {
  /** Pause between rounds of StreamQuotes updates; 20 ms unless set, 0 for none. */
  readonly streamIntervalMs?: number;
  /** Called once per StreamQuotes call when its server-side loop has stopped. */
  readonly onStreamClosed?: (outcome: QuoteStreamOutcome) => void;
}

/** The market_monitor.v1.MarketMonitorService demo backend. */
export function marketMonitorBackend(options: MarketMonitorBackendOptions = {}): ServiceBinding {
  const intervalMs = options.streamIntervalMs ?? defaultStreamIntervalMs;
  return {
    service: MarketMonitorService,
    impl: implement(MarketMonitorService, {
      async getQuote(request) {
        return quoteAt(request.symbol, 0);
      },
      async *streamQuotes(request, _call, signal) {
        if (request.symbols.length === 0) throw invalidArgument('symbols', 'must name at least one symbol');
        if (request.maxUpdates < 0) throw invalidArgument('max_updates', 'must not be negative');
        // Validate every symbol before the first update, so a typo fails the call instead of a stream midway.
        const symbols = request.symbols.map((symbol, i) => findInstrument(symbol, `symbols[${i}]`)[0]);
        const updates = Math.min(request.maxUpdates || defaultUpdates, maxUpdates);
        let sent = 0;
        try {
          for (let tick = 0; tick < updates; tick++) {
            if (tick > 0 && intervalMs > 0) await sleep(intervalMs, undefined, { signal });
            for (const symbol of symbols) {
              yield quoteAt(symbol, tick);
              sent++;
            }
          }
        } finally {
          options.onStreamClosed?.({ symbols, sent, completed: sent === updates * symbols.length });
        }
      },
      async watchAlerts(rules) {
        let accepted = 0;
        const symbols = new Set<string>();
        for await (const rule of rules) {
          const symbol = rule.symbol.trim().toUpperCase();
          if (symbol === '') throw invalidArgument('symbol', `must name a symbol (alert rule ${accepted + 1})`);
          symbols.add(symbol);
          accepted++;
        }
        return { rulesAccepted: accepted, symbols: [...symbols].sort() };
      },
    }),
  };
}
