import { timestampFromMs, type Duration } from '@bufbuild/protobuf/wkt';
import {
  Indicator,
  IndicatorInsightsService,
  Signal,
} from '../gen/indicator-insights/v1/indicator_insights_pb.js';
import { invalidArgument, notFound } from './demo-errors.js';
import { implement, type ServiceBinding } from './grpc-server.js';

/*
 * Demo analytics for indicator_insights.v1. Closing prices are a fixed function of the step
 * (0 is the latest close, -1 the one before, ...), and the indicators are the textbook formulas
 * over them, so the value at a step does not depend on how many points were asked for.
 */

/** What the model says about a symbol; the symbol and model version are added on the way out. */
interface ModelOutput {
  readonly signal: Signal;
  readonly confidence: number;
  readonly rationale: string;
  readonly featureWeights: Readonly<Record<string, number>>;
}

const latestCloseMs = Date.parse('2024-06-03T20:00:00Z');
const dayMs = 86_400_000;
const minIntervalMs = 1_000;
const defaultWindow = 14;
const maxWindow = 1_000;

const movingAveragePeriod = 20;
const rsiPeriod = 14;
const macdFastPeriod = 12;
const macdSlowPeriod = 26;
// An EMA is seeded this many periods back, far enough for the seed to have decayed away.
const emaWarmupPeriods = 4;

const basePrices = new Map<string, number>([
  ['AAPL', 189.84],
  ['MSFT', 415.13],
  ['NVDA', 1_096.33],
  ['JNJ', 146.01],
  ['XOM', 113.82],
]);

const modelVersion = 'insight-gbm-2024.06.1';

const insights = new Map<string, ModelOutput>([
  ['AAPL', { signal: Signal.HOLD, confidence: 0.62, rationale: 'Services growth offsets flat hardware revenue; valuation near its five-year average.', featureWeights: { momentum_20d: 0.18, earnings_revision: 0.31, valuation_z: -0.22, sentiment: 0.07 } }],
  ['MSFT', { signal: Signal.BUY, confidence: 0.74, rationale: 'Cloud revenue re-accelerating with upward earnings revisions.', featureWeights: { momentum_20d: 0.27, earnings_revision: 0.44, valuation_z: -0.15, sentiment: 0.12 } }],
  ['NVDA', { signal: Signal.BUY, confidence: 0.81, rationale: 'Data-centre demand keeps beating estimates; momentum is strong.', featureWeights: { momentum_20d: 0.46, earnings_revision: 0.39, valuation_z: -0.31, sentiment: 0.2 } }],
  ['JNJ', { signal: Signal.HOLD, confidence: 0.55, rationale: 'Stable dividends, but litigation risk caps the upside.', featureWeights: { momentum_20d: -0.04, earnings_revision: 0.09, valuation_z: 0.21, sentiment: -0.11 } }],
  ['XOM', { signal: Signal.SELL, confidence: 0.58, rationale: 'Softening crude prices point to lower refining margins.', featureWeights: { momentum_20d: -0.24, earnings_revision: -0.19, valuation_z: 0.16, sentiment: -0.08 } }],
]);

const round = (value: number): number => Number(value.toFixed(4));

function normalizeSymbol(symbol: string): string {
  const normalized = symbol.trim().toUpperCase();
  if (normalized === '') throw invalidArgument('symbol', 'must name a symbol');
  return normalized;
}


/** Closing price `step` closes after the latest one (so step <= 0 in practice). */
function close(base: number, step: number): number {
  return base * (1 + 0.03 * Math.sin(step / 4) + 0.01 * Math.sin(step / 11));
}

function sma(base: number, step: number, period: number): number {
  let sum = 0;
  for (let i = 0; i < period; i++) sum += close(base, step - i);
  return sum / period;
}

function ema(base: number, step: number, period: number): number {
  const alpha = 2 / (period + 1);
  let value = close(base, step - emaWarmupPeriods * period);
  for (let s = step - emaWarmupPeriods * period + 1; s <= step; s++) value += alpha * (close(base, s) - value);
  return value;
}

// Cutler's RSI: simple averages of the gains and losses over the period.
function rsi(base: number, step: number, period: number): number {
  let gains = 0;
  let losses = 0;
  for (let s = step - period + 1; s <= step; s++) {
    const change = close(base, s) - close(base, s - 1);
    if (change > 0) gains += change;
    else losses -= change;
  }
  return losses === 0 ? 100 : 100 - 100 / (1 + gains / losses);
}

function indicatorAt(indicator: Indicator, base: number, step: number): number {
  switch (indicator) {
    case Indicator.SMA:
      return sma(base, step, movingAveragePeriod);
    case Indicator.EMA:
      return ema(base, step, movingAveragePeriod);
    case Indicator.RSI:
      return rsi(base, step, rsiPeriod);
    case Indicator.MACD:
      return ema(base, step, macdFastPeriod) - ema(base, step, macdSlowPeriod);
    default:
      throw invalidArgument('indicator', 'must be one of SMA, EMA, RSI or MACD');
  }
}

// Whole milliseconds: sub-millisecond spacing means nothing for closing prices.
function intervalMs(interval: Duration | undefined): number {
  if (!interval) return dayMs;
  const ms = Number(interval.seconds) * 1_000 + Math.trunc(interval.nanos / 1_000_000);
  if (ms < minIntervalMs) throw invalidArgument('interval', 'must be at least one second');
  return ms;
}

/** The indicator_insights.v1.IndicatorInsightsService demo backend. */
export function indicatorInsightsBackend(): ServiceBinding {
  return {
    service: IndicatorInsightsService,
    impl: implement(IndicatorInsightsService, {
      async computeIndicator(request) {
        const symbol = normalizeSymbol(request.symbol);
        if (request.window < 0 || request.window > maxWindow) {
          throw invalidArgument('window', `must be between 0 and ${maxWindow}, got ${request.window}`);
        }
        const window = request.window || defaultWindow;
        const spacingMs = intervalMs(request.interval);
        const base = basePrices.get(symbol);
        if (base === undefined) {
          throw notFound(`no price history for symbol ${symbol}`, 'indicator_insights.v1.IndicatorSeries', `indicators/${symbol}`);
        }
        const points = Array.from({ length: window }, (_, i) => {
          const step = i - (window - 1);
          return {
            at: timestampFromMs(latestCloseMs + step * spacingMs),
            value: round(indicatorAt(request.indicator, base, step)),
          };
        });
        return { symbol, indicator: request.indicator, points };
      },
      async getInsight(request) {
        const symbol = normalizeSymbol(request.symbol);
        const insight = insights.get(symbol);
        if (!insight) throw notFound(`no insight for symbol ${symbol}`, 'indicator_insights.v1.Insight', `insights/${symbol}`);
        return { ...insight, featureWeights: { ...insight.featureWeights }, symbol, modelVersion };
      },
    }),
  };
}
