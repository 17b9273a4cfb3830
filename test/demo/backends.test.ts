import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { startDemoBackends, type DemoBackends } from '../../src/demo/backends.js';
import { startGrpcServer } from '../../src/demo/grpc-server.js';
import { marketMonitorBackend, type QuoteStreamOutcome } from '../../src/demo/market-monitor-backend.js';
import { CompanySelectorService, Sector } from '../../src/gen/company-selector/v1/company_selector_pb.js';
import { BadRequestSchema, ResourceInfoSchema } from '../../src/gen/google/rpc/error_details_pb.js';
import {
  Indicator,
  IndicatorInsightsService,
  Signal,
} from '../../src/gen/indicator-insights/v1/indicator_insights_pb.js';
import { InvestorService, KycStatus, RiskProfile } from '../../src/gen/investor/v1/investor_pb.js';
import { MarketMonitorService, type Quote } from '../../src/gen/market-monitor/v1/market_monitor_pb.js';
import { clientStream, collect, connect, grpcStatus, serverStream, statusDetail, unary } from './grpc-client.js';

let backends: DemoBackends;
const clients: grpc.Client[] = [];

function clientFor(context: keyof DemoBackends['addresses']): grpc.Client {
  const client = connect(backends.addresses[context]);
  clients.push(client);
  return client;
}

before(async () => {
  backends = await startDemoBackends({ streamIntervalMs: 0 });
});

after(async () => {
  for (const client of clients) client.close();
  await backends.close();
});

describe('demo backends', () => {
  it('listen on a separate loopback port per bounded context', () => {
    const addresses = Object.values(backends.addresses);
    assert.equal(addresses.length, 4);
    assert.equal(new Set(addresses).size, 4);
    for (const address of addresses) assert.match(address, /^127\.0\.0\.1:\d+$/);
  });
});

describe('investor backend', () => {
  it('returns the full internal record of investor 42, confidential fields included', async () => {
    const investor = await unary(clientFor('investor'), InvestorService.method.getInvestor, { investorId: 42n });
    assert.equal(investor.investorId, 42n);
    assert.equal(investor.displayName, 'Alice Example');
    assert.equal(investor.email, 'alice@example.com');
    assert.equal(investor.riskProfile, RiskProfile.BALANCED);
    assert.equal(investor.joinedAt && timestampDate(investor.joinedAt).toISOString(), '2019-03-14T09:30:00.000Z');
    assert.deepEqual(investor.watchlist, ['AAPL', 'MSFT', 'NVDA', 'XOM']);
    assert.equal(investor.kycStatus, KycStatus.VERIFIED);
    assert.equal(investor.internalCreditScore, 782);
  });

  it('knows investor 7 as a second, conservative investor', async () => {
    const investor = await unary(clientFor('investor'), InvestorService.method.getInvestor, { investorId: 7n });
    assert.equal(investor.displayName, 'Bob Sample');
    assert.equal(investor.riskProfile, RiskProfile.CONSERVATIVE);
  });

  it('reports an unknown investor as NOT_FOUND in leaky upstream wording, with a ResourceInfo detail', async () => {
    const call = unary(clientFor('investor'), InvestorService.method.getInvestor, { investorId: 999n });
    await assert.rejects(call, grpcStatus(grpc.status.NOT_FOUND, 'no row in investors for id=999'));
    const info = statusDetail(await call.catch((err: unknown) => err), ResourceInfoSchema);
    assert.equal(info?.resourceType, 'investor.v1.Investor');
    assert.equal(info?.resourceName, 'investors/999');
  });

  it('rejects a non-positive investor id as INVALID_ARGUMENT naming the field', async () => {
    for (const investorId of [0n, -3n]) {
      const call = unary(clientFor('investor'), InvestorService.method.getInvestor, { investorId });
      await assert.rejects(call, grpcStatus(grpc.status.INVALID_ARGUMENT));
      const badRequest = statusDetail(await call.catch((err: unknown) => err), BadRequestSchema);
      assert.equal(badRequest?.fieldViolations[0]?.field, 'investor_id');
    }
  });

  it('pages through holdings by descending cost basis with an opaque next-page token', async () => {
    const client = clientFor('investor');
    const first = await unary(client, InvestorService.method.listHoldings, { investorId: 42n });
    assert.equal(first.holdings.length, 10);
    assert.notEqual(first.nextPageToken, '');
    const second = await unary(client, InvestorService.method.listHoldings, {
      investorId: 42n,
      pageToken: first.nextPageToken,
    });
    assert.equal(second.holdings.length, 2);
    assert.equal(second.nextPageToken, '');

    const holdings = [...first.holdings, ...second.holdings];
    const costBases = holdings.map((h) => Number(h.quantity) * h.averageCost);
    assert.deepEqual(costBases, [...costBases].sort((a, b) => b - a));
    assert.deepEqual(holdings[0], { ...holdings[0], symbol: 'AAPL', quantity: 120n, averageCost: 148.25, currency: 'USD' });
  });

  it('honours page_size and rejects page tokens it did not issue', async () => {
    const client = clientFor('investor');
    const page = await unary(client, InvestorService.method.listHoldings, { investorId: 7n, pageSize: 1 });
    assert.deepEqual(
      page.holdings.map((h) => h.symbol),
      ['KO'],
    );
    await assert.rejects(
      unary(client, InvestorService.method.listHoldings, { investorId: 7n, pageToken: 'not-a-token' }),
      grpcStatus(grpc.status.INVALID_ARGUMENT),
    );
  });

  it('reports the holdings of an unknown investor as NOT_FOUND', async () => {
    await assert.rejects(
      unary(clientFor('investor'), InvestorService.method.listHoldings, { investorId: 1000n }),
      grpcStatus(grpc.status.NOT_FOUND, 'no row in investors for id=1000'),
    );
  });
});

describe('company selector backend', () => {
  it('returns a company by ticker, case-insensitively, with identifiers and dividend yield', async () => {
    const company = await unary(clientFor('company-selector'), CompanySelectorService.method.getCompany, {
      ticker: 'msft',
    });
    assert.equal(company.ticker, 'MSFT');
    assert.equal(company.name, 'Microsoft Corporation');
    assert.equal(company.sector, Sector.TECHNOLOGY);
    assert.equal(company.marketCap, 3_100_000_000_000n);
    assert.equal(company.dividendYield, 0.0072);
    assert.deepEqual(company.identifiers, { isin: 'US5949181045', cusip: '594918104' });
    assert.equal(company.listedAt && timestampDate(company.listedAt).toISOString(), '1986-03-13T14:30:00.000Z');
  });

  it('leaves the dividend yield absent for a company that pays none', async () => {
    const company = await unary(clientFor('company-selector'), CompanySelectorService.method.getCompany, {
      ticker: 'AMZN',
    });
    assert.equal(company.dividendYield, undefined);
  });

  it('reports an unknown ticker as NOT_FOUND', async () => {
    await assert.rejects(
      unary(clientFor('company-selector'), CompanySelectorService.method.getCompany, { ticker: 'ZZZZ' }),
      grpcStatus(grpc.status.NOT_FOUND, 'unknown ticker ZZZZ'),
    );
  });

  it('screens by sector and minimum market cap, largest first', async () => {
    const { companies } = await unary(clientFor('company-selector'), CompanySelectorService.method.searchCompanies, {
      sector: Sector.TECHNOLOGY,
      minMarketCap: 3_000_000_000_000n,
    });
    assert.deepEqual(
      companies.map((c) => c.ticker),
      ['AAPL', 'MSFT'],
    );
  });

  it('matches the query against tickers and names and honours page_size', async () => {
    const client = clientFor('company-selector');
    const byName = await unary(client, CompanySelectorService.method.searchCompanies, { query: 'corporation' });
    assert.deepEqual(
      byName.companies.map((c) => c.ticker),
      ['MSFT', 'NVDA', 'XOM'],
    );
    const all = await unary(client, CompanySelectorService.method.searchCompanies, { pageSize: 3 });
    assert.deepEqual(
      all.companies.map((c) => c.ticker),
      ['AAPL', 'MSFT', 'NVDA'],
    );
  });

  it('compares companies in the requested order and names the leaders', async () => {
    const comparison = await unary(clientFor('company-selector'), CompanySelectorService.method.compareCompanies, {
      tickers: ['KO', 'AAPL', 'AMZN'],
    });
    assert.deepEqual(
      comparison.companies.map((c) => c.ticker),
      ['KO', 'AAPL', 'AMZN'],
    );
    assert.equal(comparison.largestByMarketCap, 'AAPL');
    assert.equal(comparison.highestDividendYield, 'KO');
  });

  it('rejects a comparison of fewer than two companies and one with an unknown ticker', async () => {
    const client = clientFor('company-selector');
    await assert.rejects(
      unary(client, CompanySelectorService.method.compareCompanies, { tickers: ['AAPL'] }),
      grpcStatus(grpc.status.INVALID_ARGUMENT),
    );
    await assert.rejects(
      unary(client, CompanySelectorService.method.compareCompanies, { tickers: ['AAPL', 'NOPE'] }),
      grpcStatus(grpc.status.NOT_FOUND),
    );
  });
});

describe('market monitor backend', () => {
  const summary = (q: Quote) => [q.symbol, q.price, q.changePercent, q.volume, q.asOf?.seconds];

  it('returns the same quote for a symbol every time', async () => {
    const client = clientFor('market-monitor');
    const quote = await unary(client, MarketMonitorService.method.getQuote, { symbol: 'aapl' });
    assert.deepEqual(summary(quote), ['AAPL', 192.19, 1.24, 1_204_300n, 1_717_421_400n]);
    assert.deepEqual(await unary(client, MarketMonitorService.method.getQuote, { symbol: 'AAPL' }), quote);
  });

  it('reports a quote for an unknown symbol as NOT_FOUND', async () => {
    await assert.rejects(
      unary(clientFor('market-monitor'), MarketMonitorService.method.getQuote, { symbol: 'ZZZZ' }),
      grpcStatus(grpc.status.NOT_FOUND, 'no quotes for symbol ZZZZ'),
    );
  });

  it('streams max_updates rounds of quotes, one quote per symbol per round, a second apart', async () => {
    const quotes = await collect(
      serverStream(clientFor('market-monitor'), MarketMonitorService.method.streamQuotes, {
        symbols: ['AAPL', 'MSFT'],
        maxUpdates: 3,
      }),
    );
    assert.deepEqual(quotes.map(summary), [
      ['AAPL', 192.19, 1.24, 1_204_300n, 1_717_421_400n],
      ['MSFT', 415.13, 0, 802_150n, 1_717_421_400n],
      ['AAPL', 193.03, 1.68, 1_205_550n, 1_717_421_401n],
      ['MSFT', 417.85, 0.66, 803_400n, 1_717_421_401n],
      ['AAPL', 193.53, 1.94, 1_206_800n, 1_717_421_402n],
      ['MSFT', 420.26, 1.24, 804_650n, 1_717_421_402n],
    ]);
  });

  it('sends five updates per symbol by default and at most a thousand', async () => {
    const client = clientFor('market-monitor');
    const byDefault = await collect(
      serverStream(client, MarketMonitorService.method.streamQuotes, { symbols: ['NVDA'] }),
    );
    assert.equal(byDefault.length, 5);
    const capped = await collect(
      serverStream(client, MarketMonitorService.method.streamQuotes, { symbols: ['NVDA'], maxUpdates: 5_000 }),
    );
    assert.equal(capped.length, 1_000);
  });

  it('fails a stream naming an unknown symbol before sending any quote', async () => {
    const stream = serverStream(clientFor('market-monitor'), MarketMonitorService.method.streamQuotes, {
      symbols: ['AAPL', 'NOPE'],
    });
    const received: Quote[] = [];
    stream.on('data', (quote: Quote) => received.push(quote));
    const [err] = (await once(stream, 'error')) as [grpc.ServiceError];
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.deepEqual(received, []);
  });

  it('rejects a stream without symbols as INVALID_ARGUMENT', async () => {
    await assert.rejects(
      collect(serverStream(clientFor('market-monitor'), MarketMonitorService.method.streamQuotes, {})),
      grpcStatus(grpc.status.INVALID_ARGUMENT),
    );
  });

  it('stops the server-side loop when the caller cancels a stream', async (t) => {
    let reportOutcome: (outcome: QuoteStreamOutcome) => void = () => {};
    const streamClosed = new Promise<QuoteStreamOutcome>((resolve) => (reportOutcome = resolve));
    const server = await startGrpcServer([marketMonitorBackend({ streamIntervalMs: 20, onStreamClosed: reportOutcome })]);
    const client = connect(server.address);
    t.after(async () => {
      client.close();
      await server.close();
    });

    const stream = serverStream(client, MarketMonitorService.method.streamQuotes, { symbols: ['AAPL'], maxUpdates: 1_000 });
    // The cancelled call ends with a CANCELLED error on the client side; that is the point.
    stream.on('error', () => {});
    let received = 0;
    stream.on('data', () => {
      if (++received === 2) stream.cancel();
    });

    const outcome = await streamClosed;
    assert.equal(outcome.completed, false);
    assert.ok(outcome.sent < 10, `the server sent ${outcome.sent} quotes before stopping`);
  });

  it('acknowledges a client stream of alert rules with their count and symbols', async () => {
    const ack = await clientStream(clientFor('market-monitor'), MarketMonitorService.method.watchAlerts, [
      { symbol: 'msft', abovePrice: 450 },
      { symbol: 'AAPL', belowPrice: 170 },
      { symbol: 'MSFT', belowPrice: 380 },
    ]);
    assert.equal(ack.rulesAccepted, 3);
    assert.deepEqual(ack.symbols, ['AAPL', 'MSFT']);
  });
});

describe('indicator insights backend', () => {
  it('returns `window` points spaced by the interval and ending at the latest close', async () => {
    const series = await unary(clientFor('indicator-insights'), IndicatorInsightsService.method.computeIndicator, {
      symbol: 'aapl',
      indicator: Indicator.SMA,
      window: 3,
      interval: { seconds: 3_600n },
    });
    assert.equal(series.symbol, 'AAPL');
    assert.equal(series.indicator, Indicator.SMA);
    assert.deepEqual(
      series.points.map((p) => p.at && timestampDate(p.at).toISOString()),
      ['2024-06-03T18:00:00.000Z', '2024-06-03T19:00:00.000Z', '2024-06-03T20:00:00.000Z'],
    );
    assert.deepEqual(
      series.points.map((p) => p.value),
      [188.0541, 187.8199, 187.6389],
    );
  });

  it('defaults to 14 daily points and keeps each value independent of the window', async () => {
    const client = clientFor('indicator-insights');
    const short = await unary(client, IndicatorInsightsService.method.computeIndicator, {
      symbol: 'MSFT',
      indicator: Indicator.MACD,
    });
    const long = await unary(client, IndicatorInsightsService.method.computeIndicator, {
      symbol: 'MSFT',
      indicator: Indicator.MACD,
      window: 30,
    });
    assert.equal(short.points.length, 14);
    assert.equal(long.points.length, 30);
    assert.deepEqual(short.points, long.points.slice(-14));
  });

  it('keeps the RSI between 0 and 100', async () => {
    const series = await unary(clientFor('indicator-insights'), IndicatorInsightsService.method.computeIndicator, {
      symbol: 'NVDA',
      indicator: Indicator.RSI,
      window: 200,
    });
    for (const point of series.points) assert.ok(point.value >= 0 && point.value <= 100, `RSI ${point.value}`);
  });

  it('rejects a missing indicator, a negative window and a zero interval as INVALID_ARGUMENT', async () => {
    const client = clientFor('indicator-insights');
    for (const request of [
      { symbol: 'AAPL' },
      { symbol: 'AAPL', indicator: Indicator.EMA, window: -1 },
      { symbol: 'AAPL', indicator: Indicator.EMA, interval: { seconds: 0n } },
    ]) {
      await assert.rejects(
        unary(client, IndicatorInsightsService.method.computeIndicator, request),
        grpcStatus(grpc.status.INVALID_ARGUMENT),
      );
    }
  });

  it('reports an indicator for an unknown symbol as NOT_FOUND', async () => {
    await assert.rejects(
      unary(clientFor('indicator-insights'), IndicatorInsightsService.method.computeIndicator, {
        symbol: 'ZZZZ',
        indicator: Indicator.SMA,
      }),
      grpcStatus(grpc.status.NOT_FOUND),
    );
  });

  it('returns the internal insight, model version and feature weights included', async () => {
    const insight = await unary(clientFor('indicator-insights'), IndicatorInsightsService.method.getInsight, {
      symbol: 'NVDA',
    });
    assert.equal(insight.symbol, 'NVDA');
    assert.equal(insight.signal, Signal.BUY);
    assert.equal(insight.confidence, 0.81);
    assert.match(insight.rationale, /Data-centre demand/);
    assert.equal(insight.modelVersion, 'insight-gbm-2024.06.1');
    assert.equal(insight.featureWeights['momentum_20d'], 0.46);
  });

  it('reports an insight for an unknown symbol as NOT_FOUND', async () => {
    await assert.rejects(
      unary(clientFor('indicator-insights'), IndicatorInsightsService.method.getInsight, { symbol: 'ZZZZ' }),
      grpcStatus(grpc.status.NOT_FOUND, 'no insight for symbol ZZZZ'),
    );
  });
});
