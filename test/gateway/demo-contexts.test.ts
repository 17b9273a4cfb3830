import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { boundedContexts } from '../../src/contexts/index.js';
import { startDemoBackends, type DemoBackends } from '../../src/demo/backends.js';
import { demoConfig, demoJwtSecret } from '../../src/demo/demo-config.js';
import { startGrpcServer, type RunningGrpcServer } from '../../src/demo/grpc-server.js';
import { investorBackend } from '../../src/demo/investor-backend.js';
import { signToken, startGateway, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';

/*
 * The four demo bounded contexts behind the gateway, as `npm start` runs them: one real
 * grpc-js server per context on loopback, the demo config and the hand-written route modules.
 * The investor backend is wrapped to record the metadata of each call it receives.
 */

let backends: DemoBackends;
let investor: RunningGrpcServer;
let gw: RunningGateway;
/** Metadata of each call the investor backend received, with the method's name. */
const investorCalls: { method: string; metadata: grpc.Metadata }[] = [];
/** Process warnings emitted while the demo gateway was built (an operator sees them on stderr). */
const startupWarnings: string[] = [];
const recordWarning = (warning: Error): void => void startupWarnings.push(`${warning.name}: ${warning.message}`);

function recordingInvestorBackend() {
  const binding = investorBackend();
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(binding.impl)) {
    impl[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      investorCalls.push({ method: name, metadata: call.metadata.clone() });
      (handler as grpc.handleUnaryCall<unknown, unknown>)(call, callback);
    }) as grpc.UntypedHandleCall;
  }
  return { service: binding.service, impl };
}

before(async () => {
  backends = await startDemoBackends({ streamIntervalMs: 0 });
  investor = await startGrpcServer([recordingInvestorBackend()]);
  process.on('warning', recordWarning);
  try {
    gw = await startGateway(demoConfig({ ...backends.addresses, investor: investor.address }, {}), { contexts: boundedContexts });
  } finally {
    process.off('warning', recordWarning);
  }
});

after(async () => {
  await gw?.close();
  await investor?.close();
  await backends?.close();
});

const token = (sub = 'alice'): string => signToken({ sub }, { key: demoJwtSecret });
const bearer = (sub = 'alice'): Record<string, string> => ({ authorization: `Bearer ${token(sub)}` });

async function getJson(path: string, init: RequestInit = {}): Promise<{ response: Response; body: unknown }> {
  const response = await fetch(`${gw.url}${path}`, init);
  return { response, body: await response.json() };
}

const apple = {
  ticker: 'AAPL',
  name: 'Apple Inc.',
  sector: 'TECHNOLOGY',
  marketCap: '3400000000000',
  listedAt: '1980-12-12T14:30:00Z',
  dividendYield: 0.0044,
  identifiers: { isin: 'US0378331005', cusip: '037833100' },
  exchange: 'XNAS',
};


it('starts without process warnings (schema parts, library security notices)', () => {
  assert.deepEqual(startupWarnings, []);
});

describe('investor context (hand-written route, JWT required)', () => {
  it('returns the public InvestorProfile of investor 42, int64 as a string and no confidential field', async () => {
    const { response, body } = await getJson('/v1/investor?investor_id=42', { headers: bearer() });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(body, {
      investorId: '42',
      displayName: 'Alice Example',
      riskProfile: 'BALANCED',
      memberSince: '2019-03-14T09:30:00Z',
      watchlist: ['AAPL', 'MSFT', 'NVDA', 'XOM'],
    });
    const text = JSON.stringify(body);
    for (const leak of ['email', 'alice@example.com', 'kyc', 'VERIFIED', 'credit', '782', 'joinedAt']) {
      assert.ok(!text.toLowerCase().includes(leak.toLowerCase()), `the public profile leaks ${leak}`);
    }
  });

  it('forwards the verified subject to the upstream as x-user-id metadata', async () => {
    const before = investorCalls.length;
    const { response } = await getJson('/v1/investor?investor_id=7', { headers: { ...bearer('carol'), 'x-user-id': 'mallory' } });
    assert.equal(response.status, 200);
    const calls = investorCalls.slice(before);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.method, 'getInvestor');
    assert.deepEqual(calls[0]!.metadata.get('x-user-id'), ['carol']);
    assert.deepEqual(calls[0]!.metadata.get('x-request-id'), [response.headers.get('x-request-id')]);
  });

  it('answers an empty investor_id with a 400 envelope naming investor_id, without calling the upstream', async () => {
    const before = investorCalls.length;
    const { response, body } = await getJson('/v1/investor?investor_id=', { headers: bearer() });
    assert.equal(response.status, 400);
    const error = envelopeOf(body);
    assert.equal(error.status, 'INVALID_ARGUMENT');
    assert.match(error.message, /investor_id/);
    assert.deepEqual(
      error.details.map((d) => [d['@type'], (d['fieldViolations'] as { field: string }[]).map((v) => v.field)]),
      [['type.googleapis.com/google.rpc.BadRequest', ['investor_id']]],
    );
    assert.equal(investorCalls.length, before);
  });

  it('answers an unknown investor with 404 "investor not found" and nothing of the upstream wording', async () => {
    const response = await fetch(`${gw.url}/v1/investor?investor_id=999`, { headers: bearer() });
    assert.equal(response.status, 404);
    const text = await response.text();
    const error = envelopeOf(JSON.parse(text));
    assert.equal(error.status, 'NOT_FOUND');
    assert.equal(error.message, 'investor not found');
    assert.deepEqual(error.details, []);
    assert.equal(error.requestId, response.headers.get('x-request-id'));
    for (const upstreamWording of ['no row', 'investors/999', 'id=999', 'ResourceInfo']) {
      assert.ok(!text.includes(upstreamWording), `the response carries upstream wording "${upstreamWording}"`);
    }
  });
});

describe('JWT failures', () => {
  const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);

  const cases: [string, () => Record<string, string>][] = [
    ['no Authorization header', () => ({})],
    ['a Basic scheme', () => ({ authorization: 'Basic YWxpY2U6c2VjcmV0' })],
    ['"Bearer" without a token', () => ({ authorization: 'Bearer' })],
    ['"Bearer" with two tokens', () => ({ authorization: `Bearer ${token()} ${token()}` })],
    ['a garbage token', () => ({ authorization: 'Bearer not-a-jwt' })],
    ['three garbage segments', () => ({ authorization: 'Bearer aaa.bbb.ccc' })],
    ['an expired token', () => ({ authorization: `Bearer ${signToken({ sub: 'alice', iat: nowSeconds() - 120, exp: nowSeconds() - 60 }, { key: demoJwtSecret })}` })],
    ['a token signed with another key', () => ({ authorization: `Bearer ${signToken({ sub: 'alice' }, { key: 'not-the-demo-secret-but-long-enough' })}` })],
    ['a token signed with a non-accepted algorithm (HS384)', () => ({ authorization: `Bearer ${signToken({ sub: 'alice' }, { key: demoJwtSecret, algorithm: 'HS384' })}` })],
    ['an alg: none token', () => ({ authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', iat: nowSeconds() })}.` })],
    [
      'a token whose payload was altered after signing',
      () => {
        const [header, , signature] = token('alice').split('.');
        return { authorization: `Bearer ${header}.${b64({ sub: 'admin', iat: nowSeconds() })}.${signature}` };
      },
    ],
  ];

  for (const [label, headers] of cases) {
    it(`rejects ${label} with a 401 envelope and never calls the upstream`, async () => {
      const before = investorCalls.length;
      const { response, body } = await getJson('/v1/investor?investor_id=42', { headers: headers() });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
      const error = envelopeOf(body);
      assert.equal(error.code, 401);
      assert.equal(error.status, 'UNAUTHENTICATED');
      assert.equal(error.requestId, response.headers.get('x-request-id'));
      assert.equal(investorCalls.length, before);
    });
  }

  it('says that an expired token has expired', async () => {
    const expired = signToken({ sub: 'alice', exp: nowSeconds() - 1 }, { key: demoJwtSecret });
    const { body } = await getJson('/v1/investor?investor_id=42', { headers: { authorization: `Bearer ${expired}` } });
    assert.equal(envelopeOf(body).message, 'the bearer token has expired');
  });

  it('rejects a short-lived token once it has expired', async () => {
    // exp has whole-second precision: 1.5 s from now leaves between 0.5 and 1.5 s of validity.
    const shortLived = signToken({ sub: 'alice' }, { key: demoJwtSecret, expiresIn: 1500 });
    assert.equal((await fetch(`${gw.url}/v1/investor?investor_id=42`, { headers: { authorization: `Bearer ${shortLived}` } })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    assert.equal((await fetch(`${gw.url}/v1/investor?investor_id=42`, { headers: { authorization: `Bearer ${shortLived}` } })).status, 401);
  });

  it('applies the same rules to the declarative bindings of a service with auth: required', async () => {
    assert.equal((await fetch(`${gw.url}/v1/investors/42/holdings`)).status, 401);
    const forged = signToken({ sub: 'alice' }, { key: 'not-the-demo-secret-but-long-enough' });
    assert.equal((await fetch(`${gw.url}/v1/investors/42/holdings`, { headers: { authorization: `Bearer ${forged}` } })).status, 401);
  });

  it('rejects a bad token on a route with optional auth, though it serves anonymous callers', async () => {
    assert.equal((await fetch(`${gw.url}/v1/insights/AAPL`)).status, 200);
    const response = await fetch(`${gw.url}/v1/insights/AAPL`, { headers: { authorization: 'Bearer not-a-jwt' } });
    assert.equal(response.status, 401);
    assert.equal(envelopeOf(await response.json()).status, 'UNAUTHENTICATED');
  });
});

describe('investor context (declarative binding)', () => {
  it('lists holdings largest first, one page at a time, forwarding the subject', async () => {
    const before = investorCalls.length;
    const first = await getJson('/v1/investors/42/holdings?page_size=2', { headers: bearer('dave') });
    assert.equal(first.response.status, 200);
    const page = first.body as { holdings: unknown[]; nextPageToken: string };
    assert.deepEqual(page.holdings, [
      { symbol: 'AAPL', quantity: '120', averageCost: 148.25, currency: 'USD' },
      { symbol: 'MSFT', quantity: '40', averageCost: 310.1, currency: 'USD' },
    ]);
    assert.notEqual(page.nextPageToken, '');
    assert.deepEqual(investorCalls[before]?.metadata.get('x-user-id'), ['dave']);

    const second = await getJson(`/v1/investors/42/holdings?page_size=2&page_token=${encodeURIComponent(page.nextPageToken)}`, { headers: bearer() });
    assert.deepEqual(
      (second.body as { holdings: { symbol: string }[] }).holdings.map((h) => h.symbol),
      ['NVDA', 'JNJ'],
    );
  });
});

describe('company-selector context (declarative bindings, no auth)', () => {
  it('searches companies by query and sector, largest first', async () => {
    const { response, body } = await getJson('/v1/companies?query=a&sector=TECHNOLOGY&page_size=2');
    assert.equal(response.status, 200);
    const { companies } = body as { companies: (typeof apple)[] };
    assert.deepEqual(companies.map((c) => c.ticker), ['AAPL', 'MSFT']);
    assert.deepEqual(companies[0], apple);
  });

  it('returns one company by ticker in proto3 JSON (int64 string, enum name, RFC 3339, wrapper as number, map)', async () => {
    const { response, body } = await getJson('/v1/companies/AAPL');
    assert.equal(response.status, 200);
    assert.deepEqual(body, apple);
  });

  it('compares companies from a JSON body', async () => {
    const { response, body } = await getJson('/v1/companies:compare', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tickers: ['AAPL', 'KO'] }),
    });
    assert.equal(response.status, 200);
    const result = body as { companies: { ticker: string }[]; largestByMarketCap: string; highestDividendYield: string };
    assert.deepEqual(result.companies.map((c) => c.ticker), ['AAPL', 'KO']);
    assert.deepEqual(result.companies[0], apple);
    assert.equal(result.largestByMarketCap, 'AAPL');
    assert.equal(result.highestDividendYield, 'KO');
  });
});

describe('market-monitor context (declarative bindings)', () => {
  it('returns the latest quote of a symbol', async () => {
    const { response, body } = await getJson('/v1/quotes/AAPL');
    assert.equal(response.status, 200);
    assert.deepEqual(body, { symbol: 'AAPL', price: 192.19, changePercent: 1.24, volume: '1204300', asOf: '2024-06-03T13:30:00Z' });
  });

  it('streams quotes as NDJSON, one proto3 JSON message per line', async () => {
    const response = await fetch(`${gw.url}/v1/quotes:stream?symbols=AAPL&symbols=MSFT&max_updates=2`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    const text = await response.text();
    assert.ok(text.endsWith('\n'));
    const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line) as unknown);
    assert.deepEqual(lines, [
      { symbol: 'AAPL', price: 192.19, changePercent: 1.24, volume: '1204300', asOf: '2024-06-03T13:30:00Z' },
      { symbol: 'MSFT', price: 415.13, changePercent: 0, volume: '802150', asOf: '2024-06-03T13:30:00Z' },
      { symbol: 'AAPL', price: 193.03, changePercent: 1.68, volume: '1205550', asOf: '2024-06-03T13:30:01Z' },
      { symbol: 'MSFT', price: 417.85, changePercent: 0.66, volume: '803400', asOf: '2024-06-03T13:30:01Z' },
    ]);
  });
});

describe('indicator-insights context', () => {
  it('computes an indicator from a path symbol and a JSON body (declarative binding)', async () => {
    const { response, body } = await getJson('/v1/indicators/AAPL:compute', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ indicator: 'SMA', window: 3 }),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(body, {
      symbol: 'AAPL',
      indicator: 'SMA',
      points: [
        { at: '2024-06-01T20:00:00Z', value: 188.0541 },
        { at: '2024-06-02T20:00:00Z', value: 187.8199 },
        { at: '2024-06-03T20:00:00Z', value: 187.6389 },
      ],
    });
  });

  it('returns the public insight summary without model internals (hand-written route)', async () => {
    const { response, body } = await getJson('/v1/insights/AAPL');
    assert.equal(response.status, 200);
    assert.deepEqual(body, {
      symbol: 'AAPL',
      signal: 'HOLD',
      confidence: 0.62,
      rationale: 'Services growth offsets flat hardware revenue; valuation near its five-year average.',
    });
  });
});
