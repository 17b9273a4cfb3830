import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { boundedContexts } from '../../src/contexts/index.js';
import { directionOf, marketMonitorContext } from '../../src/contexts/market-monitor/market-monitor-context.js';
import { startDemoBackends, type DemoBackends } from '../../src/demo/backends.js';
import { companySelectorBackend } from '../../src/demo/company-selector-backend.js';
import { demoConfig } from '../../src/demo/demo-config.js';
import { startGrpcServer, type RunningGrpcServer, type ServiceBinding } from '../../src/demo/grpc-server.js';
import { marketMonitorBackend } from '../../src/demo/market-monitor-backend.js';
import { Sector, SectorSchema, type SearchCompaniesRequest } from '../../src/gen/company-selector/v1/company_selector_pb.js';
import { QuoteSchema, type GetQuoteRequest } from '../../src/gen/market-monitor/v1/market_monitor_pb.js';
import { Direction } from '../../src/gen/market-monitor/v1/public_pb.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';

/*
 * The route modules of the company-selector and market-monitor contexts, over real sockets in
 * front of the real demo backends: the public shapes differ from the internal messages, and
 * the HTTP schemas turn bad input away before any upstream call. The two backends are wrapped
 * to record the requests their unary methods receive, so the tests see what the mapping sent.
 */

let backends: DemoBackends;
let companySelector: RunningGrpcServer;
let marketMonitor: RunningGrpcServer;
let gw: RunningGateway;
const searches: SearchCompaniesRequest[] = [];
const quoteRequests: GetQuoteRequest[] = [];

/** `binding` with the requests of its unary method `method` pushed to `into`. */
function recording<T>(binding: ServiceBinding, method: string, into: T[]): ServiceBinding {
  const handler = binding.impl[method] as grpc.handleUnaryCall<T, unknown>;
  const recorded: grpc.handleUnaryCall<T, unknown> = (call, callback) => {
    into.push(call.request);
    handler(call, callback);
  };
  return { service: binding.service, impl: { ...binding.impl, [method]: recorded as grpc.UntypedHandleCall } };
}

before(async () => {
  backends = await startDemoBackends({ streamIntervalMs: 0 });
  companySelector = await startGrpcServer([recording(companySelectorBackend(), 'searchCompanies', searches)]);
  marketMonitor = await startGrpcServer([recording(marketMonitorBackend({ streamIntervalMs: 0 }), 'getQuote', quoteRequests)]);
  const addresses = { ...backends.addresses, 'company-selector': companySelector.address, 'market-monitor': marketMonitor.address };
  gw = await startGateway(demoConfig(addresses, {}), { contexts: boundedContexts });
});

after(async () => {
  await gw?.close();
  await marketMonitor?.close();
  await companySelector?.close();
  await backends?.close();
});

async function getJson(path: string, init: RequestInit = {}): Promise<{ response: Response; body: unknown }> {
  const response = await fetch(`${gw.url}${path}`, init);
  return { response, body: await response.json() };
}

/** Fails when the serialised reply mentions any of `internals`. */
function assertNoLeak(body: unknown, internals: readonly string[]): void {
  const text = JSON.stringify(body).toLowerCase();
  for (const internal of internals) assert.ok(!text.includes(internal.toLowerCase()), `the public reply leaks ${internal}`);
}

/** A 400 envelope with one BadRequest violation per named field, in that order. */
function assertBadRequest(body: unknown, fields: readonly string[]): ReturnType<typeof envelopeOf> {
  const error = envelopeOf(body);
  assert.equal(error.code, 400);
  assert.equal(error.status, 'INVALID_ARGUMENT');
  for (const field of fields) assert.match(error.message, new RegExp(`\\b${field}\\b`));
  assert.deepEqual(
    error.details.map((d) => [d['@type'], (d['fieldViolations'] as { field: string }[]).map((v) => v.field)]),
    [['type.googleapis.com/google.rpc.BadRequest', [...fields]]],
  );
  return error;
}

const appleCard = { ticker: 'AAPL', name: 'Apple Inc.', sector: 'TECHNOLOGY', marketCap: '3400000000000', dividendYield: 0.0044 };
const microsoftCard = { ticker: 'MSFT', name: 'Microsoft Corporation', sector: 'TECHNOLOGY', marketCap: '3100000000000', dividendYield: 0.0072 };
const nvidiaCard = { ticker: 'NVDA', name: 'NVIDIA Corporation', sector: 'TECHNOLOGY', marketCap: '2900000000000', dividendYield: 0.0003 };
const companyInternals = ['listedAt', '1980-12-12', 'identifiers', 'isin', 'US0378331005', 'cusip', 'exchange', 'XNAS', 'XNYS'];

describe('company-selector context (hand-written route /v1/screener, no auth)', () => {
  it('returns a CompanyShortlist of compact cards, int64 as a string, the sector by name, no internal field', async () => {
    const { response, body } = await getJson('/v1/screener?sector=TECHNOLOGY&limit=2');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(body, { cards: [appleCard, microsoftCard] });
    assertNoLeak(body, companyInternals);
  });

  it('sends the sector enum, the minimum market cap as int64 and the limit as page_size', async () => {
    const before = searches.length;
    const { response, body } = await getJson('/v1/screener?sector=TECHNOLOGY&min_market_cap=2900000000000&limit=5');
    assert.equal(response.status, 200);
    assert.deepEqual(body, { cards: [appleCard, microsoftCard, nvidiaCard] });
    assert.equal(searches.length, before + 1);
    const sent = searches[before]!;
    assert.deepEqual([sent.query, sent.sector, sent.minMarketCap, sent.pageSize], ['', Sector.TECHNOLOGY, 2_900_000_000_000n, 5]);
  });

  it('screens every sector, with a limit of 10, when no filter is given', async () => {
    const before = searches.length;
    const { response, body } = await getJson('/v1/screener');
    assert.equal(response.status, 200);
    const { cards } = body as { cards: { ticker: string }[] };
    assert.deepEqual(cards.map((c) => c.ticker), ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'TSLA', 'JPM', 'XOM', 'JNJ', 'KO', 'PFE']);
    const sent = searches[before]!;
    assert.deepEqual([sent.sector, sent.minMarketCap, sent.pageSize], [Sector.SECTOR_UNSPECIFIED, 0n, 10]);
  });

  it('flattens an absent dividend yield to 0, which is present in the reply', async () => {
    const { response, body } = await getJson('/v1/screener?sector=CONSUMER_DISCRETIONARY');
    assert.equal(response.status, 200);
    assert.deepEqual(body, {
      cards: [
        { ticker: 'AMZN', name: 'Amazon.com, Inc.', sector: 'CONSUMER_DISCRETIONARY', marketCap: '1900000000000', dividendYield: 0 },
        { ticker: 'TSLA', name: 'Tesla, Inc.', sector: 'CONSUMER_DISCRETIONARY', marketCap: '700000000000', dividendYield: 0 },
      ],
    });
  });

  it('answers an empty shortlist with an empty list of cards', async () => {
    const { response, body } = await getJson('/v1/screener?sector=ENERGY&min_market_cap=999999999999999999');
    assert.equal(response.status, 200);
    assert.deepEqual(body, { cards: [] });
  });

  const badQueries: [string, string, RegExp][] = [
    ['sector=TECH', 'sector', /sector: must be one of TECHNOLOGY, HEALTHCARE, FINANCIALS, ENERGY, CONSUMER_DISCRETIONARY, CONSUMER_STAPLES$/],
    ['sector=SECTOR_UNSPECIFIED', 'sector', /sector: must be one of /],
    ['sector=technology', 'sector', /sector: must be one of /],
    ['min_market_cap=-1', 'min_market_cap', /min_market_cap: has an invalid format \(Only companies with at least this market capitalisation, in US dollars\)$/],
    ['min_market_cap=1e12', 'min_market_cap', /min_market_cap: has an invalid format /],
    ['min_market_cap=', 'min_market_cap', /min_market_cap: has an invalid format /],
    ['min_market_cap=9999999999999999999', 'min_market_cap', /min_market_cap: has an invalid format /],
    ['limit=0', 'limit', /limit: must be at least 1$/],
    ['limit=51', 'limit', /limit: must be at most 50$/],
    ['limit=five', 'limit', /limit: expected an integer$/],
    ['limit=2.5', 'limit', /limit: expected an integer$/],
  ];
  for (const [query, field, message] of badQueries) {
    it(`answers ?${query} with a 400 naming ${field}, without calling the upstream`, async () => {
      const before = searches.length;
      const { response, body } = await getJson(`/v1/screener?${query}`);
      assert.equal(response.status, 400);
      const error = assertBadRequest(body, [field]);
      assert.match(error.message, message);
      assert.equal(error.requestId, response.headers.get('x-request-id'));
      assert.equal(searches.length, before);
    });
  }

  it('names only the bad field when the others are valid', async () => {
    const { response, body } = await getJson('/v1/screener?sector=ENERGY&min_market_cap=12&limit=500');
    assert.equal(response.status, 400);
    assertBadRequest(body, ['limit']);
  });
});

describe('market-monitor context (hand-written route /v1/tickers/{symbol}, no auth)', () => {
  it('returns the PriceTicker of a symbol: direction by name, RFC 3339 time, no volume', async () => {
    const { response, body } = await getJson('/v1/tickers/AAPL');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(body, { symbol: 'AAPL', price: 192.19, changePercent: 1.24, direction: 'UP', asOf: '2024-06-03T13:30:00Z' });
    assertNoLeak(body, ['volume', '1204300']);
  });

  it('upper-cases the symbol and keeps a zero change, FLAT', async () => {
    const before = quoteRequests.length;
    const { response, body } = await getJson('/v1/tickers/msft');
    assert.equal(response.status, 200);
    assert.deepEqual(body, { symbol: 'MSFT', price: 415.13, changePercent: 0, direction: 'FLAT', asOf: '2024-06-03T13:30:00Z' });
    assert.equal(quoteRequests[before]?.symbol, 'MSFT');
  });

  it('answers an unknown symbol with 404 "unknown symbol" and nothing of the upstream wording', async () => {
    const response = await fetch(`${gw.url}/v1/tickers/ZZZZ`);
    assert.equal(response.status, 404);
    const text = await response.text();
    const error = envelopeOf(JSON.parse(text));
    assert.equal(error.status, 'NOT_FOUND');
    assert.equal(error.message, 'unknown symbol');
    assert.deepEqual(error.details, []);
    assert.equal(error.requestId, response.headers.get('x-request-id'));
    for (const upstreamWording of ['no quotes', 'quotes/ZZZZ', 'market_monitor.v1.Quote', 'ResourceInfo']) {
      assert.ok(!text.includes(upstreamWording), `the response carries upstream wording "${upstreamWording}"`);
    }
  });

  for (const symbol of ['1ABC', 'A-B', 'ABCDEFGHIJK']) {
    it(`answers the symbol ${symbol} with a 400 naming symbol, without calling the upstream`, async () => {
      const before = quoteRequests.length;
      const { response, body } = await getJson(`/v1/tickers/${symbol}`);
      assert.equal(response.status, 400);
      assert.match(assertBadRequest(body, ['symbol']).message, /symbol: has an invalid format \(Ticker symbol, e\.g\. NVDA\)$/);
      assert.equal(quoteRequests.length, before);
    });
  }

  it('answers another method on the path with 405 and Allow', async () => {
    const response = await fetch(`${gw.url}/v1/tickers/AAPL`, { method: 'DELETE' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD');
  });

  it('derives the direction from the sign of change_percent', () => {
    assert.deepEqual(
      [1.24, 0.01, 0, -0, -0.5, Number.NaN].map(directionOf),
      [Direction.UP, Direction.UP, Direction.FLAT, Direction.FLAT, Direction.DOWN, Direction.DIRECTION_UNSPECIFIED],
    );
    // The demo quotes never fall at the open, so DOWN is checked on the mapping itself.
    const falling = create(QuoteSchema, { symbol: 'PFE', price: 27.9, changePercent: -1.27, volume: 5n, asOf: timestampFromMs(0) });
    const reply = marketMonitorContext.routes[0]!.toReply(falling) as Record<string, unknown>;
    assert.equal(reply['direction'], Direction.DOWN);
    assert.ok(!('volume' in reply));
  });
});

describe('OpenAPI of the two route modules', () => {
  it('documents both routes with their parameters and public reply messages', async () => {
    const { body } = await getJson('/openapi.json');
    const doc = body as { paths: Record<string, any>; components: { schemas: Record<string, any> } };

    const screener = doc.paths['/v1/screener']?.get;
    // One tag per bounded context: the route module's operations share their service's tag with its bindings.
    assert.deepEqual(screener.tags, ['CompanySelectorService']);
    assert.deepEqual(doc.paths['/v1/companies/{ticker}']?.get.tags, ['CompanySelectorService']);
    assert.equal(screener.security, undefined);
    assert.deepEqual(screener.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/company_selector.v1.CompanyShortlist' });
    const parameters = screener.parameters as { name: string; in: string; required?: boolean; schema: any }[];
    assert.deepEqual(parameters.map((p) => [p.name, p.in, p.required ?? false]), [
      ['sector', 'query', false],
      ['min_market_cap', 'query', false],
      ['limit', 'query', false],
    ]);
    // The accepted sector names are the proto enum's, but for the internal "unspecified".
    const sectors = SectorSchema.values.filter((v) => v.number !== Sector.SECTOR_UNSPECIFIED).map((v) => v.name);
    assert.deepEqual(parameters[0]!.schema.anyOf.map((a: { const: string }) => a.const), sectors);
    assert.deepEqual(parameters[2]!.schema, { type: 'integer', minimum: 1, maximum: 50, default: 10 });
    assert.deepEqual(Object.keys(doc.components.schemas['company_selector.v1.CompanyCard'].properties), ['ticker', 'name', 'sector', 'marketCap', 'dividendYield']);

    const ticker = doc.paths['/v1/tickers/{symbol}']?.get;
    assert.deepEqual(ticker.tags, ['MarketMonitorService']);
    assert.deepEqual(doc.paths['/v1/quotes/{symbol}']?.get.tags, ['MarketMonitorService']);
    assert.deepEqual(ticker.parameters.map((p: { name: string; in: string }) => [p.name, p.in]), [['symbol', 'path']]);
    assert.deepEqual(ticker.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/market_monitor.v1.PriceTicker' });
    assert.deepEqual(Object.keys(doc.components.schemas['market_monitor.v1.PriceTicker'].properties), ['symbol', 'price', 'changePercent', 'direction', 'asOf']);
    assert.deepEqual(doc.components.schemas['market_monitor.v1.Direction'].enum, ['DIRECTION_UNSPECIFIED', 'UP', 'DOWN', 'FLAT']);
  });
});
