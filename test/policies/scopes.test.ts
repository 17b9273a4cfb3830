import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Type from 'typebox';
import { ConfigError } from '../../src/config/load.js';
import { defineAclRoute, type BoundedContext } from '../../src/contexts/acl-route.js';
import { startDemoBackends } from '../../src/demo/backends.js';
import { demoConfig, demoJwtSecret } from '../../src/demo/demo-config.js';
import { CompanySchema, CompanySelectorService } from '../../src/gen/company-selector/v1/company_selector_pb.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { assertEnvelope, echoService, request, stackConfig } from '../transcoding-e2e/harness.js';
import { signToken, startGateway, testJwtSecret, type RunningGateway } from '../support/gateway.js';

/*
 * Scopes per route (services[].scopes and services[].methods.<Rpc>.scopes) over real sockets:
 * a valid token lacking a scope is a 403 naming it, a bad token stays a 401, and the OpenAPI
 * document lists what each operation needs.
 */

let upstream: EchoUpstream;
let gateway: RunningGateway;
before(async () => {
  upstream = await startEchoUpstream();
  // auth is left at its default (none): scopes make the routes require a token.
  const service = { ...echoService(upstream.address), scopes: ['items:read'], methods: { ReplaceItem: { scopes: ['items:write'] } } };
  gateway = await startGateway(stackConfig([service], { auth: { jwt: { secret: testJwtSecret } } }));
});
after(async () => {
  await gateway.close();
  await upstream.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const read = (token?: string) => request(gateway, '/v1/items/item-1', token === undefined ? {} : { headers: bearer(token) });
const replace = (token: string) => request(gateway, '/v1/items/item-1', { method: 'PUT', headers: bearer(token), body: {} });

describe('scopes', () => {
  it('let a token with the scopes through, from scope (space-separated) or scp (a list)', async () => {
    assert.equal((await read(signToken({ sub: 'alice', scope: 'profile items:read' }))).status, 200);
    assert.equal((await replace(signToken({ sub: 'alice', scope: 'items:write items:read' }))).status, 200);
    assert.equal((await replace(signToken({ sub: 'alice', scp: ['items:read', 'items:write'] }))).status, 200);
  });

  it('answer 403 naming the missing scopes, in the message, an ErrorInfo and the challenge', async () => {
    const result = await replace(signToken({ sub: 'alice', scope: 'items:read' }));
    const envelope = assertEnvelope(result, 403, 'PERMISSION_DENIED');
    assert.equal(envelope.message, 'the bearer token lacks the scope items:write');
    assert.deepEqual(envelope.details, [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'INSUFFICIENT_SCOPE', domain: 'portico', metadata: { scopes: 'items:write' } },
    ]);
    assert.equal(result.headers.get('www-authenticate'), 'Bearer error="insufficient_scope", scope="items:write"');

    const none = assertEnvelope(await replace(signToken({ sub: 'alice' })), 403, 'PERMISSION_DENIED');
    assert.equal(none.message, 'the bearer token lacks the scopes items:read, items:write');
  });

  it('are not granted by a scope that merely contains the name', async () => {
    assertEnvelope(await read(signToken({ sub: 'alice', scope: 'items:readonly' })), 403, 'PERMISSION_DENIED');
    assertEnvelope(await read(signToken({ sub: 'alice', scp: 'items:read-all' })), 403, 'PERMISSION_DENIED');
  });

  it('leave a missing or bad token a 401 on the same route', async () => {
    assertEnvelope(await read(), 401, 'UNAUTHENTICATED');
    assertEnvelope(await read(signToken({ sub: 'alice', scope: 'items:read' }, { key: 'another-secret-of-enough-length' })), 401, 'UNAUTHENTICATED');
  });

  it('show in the OpenAPI document as the bearer requirement of each operation', async () => {
    const doc = (await request(gateway, '/openapi.json')).json as { paths: Record<string, Record<string, { security?: unknown }>> };
    assert.deepEqual(doc.paths['/v1/items/{id}']!['get']!.security, [{ bearerAuth: ['items:read'] }]);
    assert.deepEqual(doc.paths['/v1/items/{id}']!['put']!.security, [{ bearerAuth: ['items:read', 'items:write'] }]);
  });

  it('need auth.jwt to be configured', () => {
    assert.throws(
      () => stackConfig([{ ...echoService(upstream.address), methods: { GetItem: { scopes: ['items:read'] } } }]),
      (err: unknown) => err instanceof ConfigError && err.problems.includes('services[0].methods.GetItem.scopes: scopes are read from a verified token and need auth.jwt to be configured'),
    );
  });
});

describe('scopes of route modules', () => {
  // A route module that declares no auth: its service's scopes make it require a token.
  const companies: BoundedContext = {
    name: 'companies',
    prefix: '/v2/companies',
    service: 'company-selector',
    routes: [
      defineAclRoute({
        method: 'GET',
        url: '/{ticker}',
        summary: 'one company',
        auth: 'none',
        schema: { params: Type.Object({ ticker: Type.String() }) },
        rpc: CompanySelectorService.method.getCompany,
        toRequest: ({ params }) => ({ ticker: params.ticker }),
        reply: CompanySchema,
        toReply: (company) => ({ ticker: company.ticker, name: company.name }),
      }),
    ],
  };

  it('come from the service config, the RPC scopes included', async () => {
    const backends = await startDemoBackends({ streamIntervalMs: 0 });
    const config = demoConfig(backends.addresses, {});
    const service = config.services.find((s) => s.name === 'company-selector')!;
    service.scopes = ['companies:read'];
    service.methods = { GetCompany: { scopes: ['companies:detail'] } };
    const demo = await startGateway(config, { contexts: [companies] });
    try {
      const get = (claims?: Record<string, unknown>) =>
        request(demo, '/v2/companies/AAPL', claims ? { headers: bearer(signToken({ sub: 'alice', ...claims }, { key: demoJwtSecret })) } : {});
      assertEnvelope(await get(), 401, 'UNAUTHENTICATED');
      const lacking = assertEnvelope(await get({ scope: 'companies:read' }), 403, 'PERMISSION_DENIED');
      assert.equal(lacking.message, 'the bearer token lacks the scope companies:detail');
      assert.equal((await get({ scope: 'companies:read companies:detail' })).status, 200);
      const doc = (await request(demo, '/openapi.json')).json as { paths: Record<string, Record<string, { security?: unknown }>> };
      assert.deepEqual(doc.paths['/v2/companies/{ticker}']!['get']!.security, [{ bearerAuth: ['companies:read', 'companies:detail'] }]);
    } finally {
      await demo.close();
      await backends.close();
    }
  });
});
