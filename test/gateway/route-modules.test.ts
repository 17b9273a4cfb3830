import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Type from 'typebox';
import { defineAclRoute, type BoundedContext } from '../../src/contexts/acl-route.js';
import { boundedContexts } from '../../src/contexts/index.js';
import { startDemoBackends, type DemoBackends } from '../../src/demo/backends.js';
import { demoConfig, demoJwtSecret } from '../../src/demo/demo-config.js';
import { CompanySchema, CompanySelectorService } from '../../src/gen/company-selector/v1/company_selector_pb.js';
import { signToken, startGateway, type RunningGateway } from '../support/gateway.js';

/*
 * Hand-written route modules beside the declarative bindings, over real sockets and the real
 * demo backends: a module takes over a binding's path, and its paths answer 405 like bindings.
 */

// Takes over GET /v1/companies/{ticker}, which company_selector.proto also binds.
const companyTakeover: BoundedContext = {
  name: 'company-takeover',
  prefix: '/v1/companies',
  service: 'company-selector',
  routes: [
    defineAclRoute({
      method: 'GET',
      url: '/{ticker}',
      summary: 'a route module that wins over the declarative binding',
      auth: 'none',
      schema: { params: Type.Object({ ticker: Type.String() }) },
      rpc: CompanySelectorService.method.getCompany,
      toRequest: ({ params }) => ({ ticker: params.ticker }),
      reply: CompanySchema,
      toReply: (company) => ({ ticker: company.ticker, name: company.name.toUpperCase() }),
    }),
  ],
};

let backends: DemoBackends;
let gateway: RunningGateway;

before(async () => {
  backends = await startDemoBackends({ streamIntervalMs: 0 });
  gateway = await startGateway(demoConfig(backends.addresses, {}), { contexts: [...boundedContexts, companyTakeover] });
});

after(async () => {
  await gateway.close();
  await backends.close();
});

describe('hand-written route modules', () => {
  test('a route module takes over the path of a declarative binding and wins', async () => {
    const response = await fetch(`${gateway.url}/v1/companies/AAPL`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(body['ticker'], 'AAPL');
    assert.equal(body['name'], 'APPLE INC.');
    // The module's mapping, not the binding's: fields it did not map keep their zero values.
    assert.equal(body['marketCap'], '0');
    assert.deepEqual(body['identifiers'], {});
  });

  test("another method on a route module's path is a 405 listing the methods it takes", async () => {
    const token = signToken({ sub: 'alice' }, { key: demoJwtSecret });
    const response = await fetch(`${gateway.url}/v1/investor?investor_id=42`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD');
    const body = (await response.json()) as { error: { status: string; requestId: string } };
    assert.equal(body.error.status, 'UNIMPLEMENTED');
    assert.equal(body.error.requestId, response.headers.get('x-request-id'));
  });

  test('a module path with a parameter answers 405 for a method it does not take', async () => {
    const response = await fetch(`${gateway.url}/v1/insights/AAPL`, { method: 'DELETE' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD');
  });

  test('a path no module or binding takes is still a 404', async () => {
    const response = await fetch(`${gateway.url}/v1/investor/extra/segments`, { method: 'POST' });
    assert.equal(response.status, 404);
  });
});

describe('route module input', () => {
  test('an unknown query parameter is a 400 naming it, as on declarative bindings', async () => {
    const token = signToken({ sub: 'alice' }, { key: demoJwtSecret });
    const response = await fetch(`${gateway.url}/v1/investor?investor_id=42&bogus=1`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: { status: string; details: { fieldViolations: { field: string }[] }[] } };
    assert.equal(body.error.status, 'INVALID_ARGUMENT');
    assert.deepEqual(
      body.error.details[0]!.fieldViolations.map((v) => v.field),
      ['bogus'],
    );
  });
});
