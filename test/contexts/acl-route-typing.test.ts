import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import Type from 'typebox';
import { defineAclRoute } from '../../src/contexts/acl-route.js';
import { CompanySelectorService } from '../../src/gen/company-selector/v1/company_selector_pb.js';
import { CompanyShortlistSchema } from '../../src/gen/company-selector/v1/public_pb.js';
import { InvestorSchema, InvestorService } from '../../src/gen/investor/v1/investor_pb.js';
import { InvestorProfileSchema } from '../../src/gen/investor/v1/public_pb.js';

/*
 * Route modules are typed from the protos: the @ts-expect-error lines below are mappings a
 * compiler must refuse. `npm test` type-checks before it runs, so if any of them ever
 * compiled, the suite would fail on the unused directive.
 */

const querystring = Type.Object({ investor_id: Type.String() });

test('a correct mapping compiles and builds the upstream request and the public reply', () => {
  const route = defineAclRoute({
    method: 'GET',
    url: '/',
    summary: 'typed',
    auth: 'none',
    schema: { querystring },
    rpc: InvestorService.method.getInvestor,
    toRequest: ({ query }) => ({ investorId: BigInt(query.investor_id) }),
    reply: InvestorProfileSchema,
    toReply: (investor) => ({ investorId: investor.investorId, displayName: investor.displayName }),
  });
  const request = create(route.rpc.input, route.toRequest({ query: { investor_id: '42' }, params: undefined, body: undefined, identity: undefined }));
  assert.equal((request as unknown as { investorId: bigint }).investorId, 42n);
  const reply = route.toReply(create(InvestorSchema, { investorId: 42n, displayName: 'Alice', email: 'alice@example.com' }));
  assert.deepEqual(reply, { investorId: 42n, displayName: 'Alice' });
});

test('nested messages, lists of messages and whole messages from the response compile', () => {
  const routes = [
    defineAclRoute({
      method: 'GET',
      url: '/',
      summary: 'a nested init object and a message passed on whole',
      auth: 'none',
      schema: {},
      rpc: InvestorService.method.getInvestor,
      toRequest: () => ({ investorId: 1n }),
      reply: InvestorProfileSchema,
      toReply: (investor) => ({ memberSince: investor.joinedAt ?? { seconds: 0n, nanos: 0 }, watchlist: [...investor.watchlist] }),
    }),
    defineAclRoute({
      method: 'GET',
      url: '/',
      summary: 'a list of init objects',
      auth: 'none',
      schema: {},
      rpc: CompanySelectorService.method.searchCompanies,
      toRequest: () => ({ pageSize: 5 }),
      reply: CompanyShortlistSchema,
      toReply: ({ companies }) => ({ cards: companies.map((c) => ({ ticker: c.ticker, marketCap: c.marketCap })) }),
    }),
  ];
  assert.equal(routes.length, 2);
});

test('wrong field names and types in a mapping do not compile', () => {
  const wrong = [
    defineAclRoute({
      method: 'GET',
      url: '/',
      summary: 'a string where the proto has int64',
      auth: 'none',
      schema: { querystring },
      rpc: InvestorService.method.getInvestor,
      // @ts-expect-error investor_id is int64: a string is refused
      toRequest: ({ query }) => ({ investorId: query.investor_id }),
      reply: InvestorProfileSchema,
      toReply: () => ({}),
    }),
    defineAclRoute({
      method: 'GET',
      url: '/',
      summary: 'an internal field leaking into the public shape',
      auth: 'none',
      schema: { querystring },
      rpc: InvestorService.method.getInvestor,
      toRequest: () => ({}),
      reply: InvestorProfileSchema,
      // @ts-expect-error InvestorProfile has no email field
      toReply: (investor) => ({ email: investor.email }),
    }),
    defineAclRoute({
      method: 'GET',
      url: '/',
      summary: 'a query parameter the schema does not declare',
      auth: 'none',
      schema: { querystring },
      rpc: InvestorService.method.getInvestor,
      // @ts-expect-error the querystring schema has no "id"
      toRequest: ({ query }) => ({ investorId: BigInt(query.id) }),
      reply: InvestorProfileSchema,
      toReply: () => ({}),
    }),
    defineAclRoute({
      method: 'GET',
      url: '/',
      summary: 'a misspelt request field beside a right one',
      auth: 'none',
      schema: { querystring },
      rpc: InvestorService.method.getInvestor,
      // @ts-expect-error GetInvestorRequest has investorId, not investorID: the value would be dropped
      toRequest: ({ query }) => ({ investorId: BigInt(query.investor_id), investorID: 1n }),
      reply: InvestorProfileSchema,
      toReply: () => ({}),
    }),
    defineAclRoute({
      method: 'GET',
      url: '/',
      summary: 'a misspelt reply field beside a right one',
      auth: 'none',
      schema: { querystring },
      rpc: InvestorService.method.getInvestor,
      toRequest: () => ({}),
      reply: InvestorProfileSchema,
      // @ts-expect-error InvestorProfile has displayName, not displayNam
      toReply: (investor) => ({ investorId: investor.investorId, displayNam: investor.displayName }),
    }),
    defineAclRoute({
      method: 'GET',
      url: '/',
      summary: 'a misspelt field of a nested message',
      auth: 'none',
      schema: { querystring },
      rpc: InvestorService.method.getInvestor,
      toRequest: () => ({}),
      reply: InvestorProfileSchema,
      // @ts-expect-error google.protobuf.Timestamp has nanos, not nano
      toReply: () => ({ memberSince: { seconds: 1n, nano: 5 } }),
    }),
    defineAclRoute({
      method: 'GET',
      url: '/',
      summary: 'a misspelt field of a message in a list',
      auth: 'none',
      schema: {},
      rpc: CompanySelectorService.method.searchCompanies,
      toRequest: () => ({}),
      reply: CompanyShortlistSchema,
      // @ts-expect-error CompanyCard has ticker, not tickr
      toReply: ({ companies }) => ({ cards: companies.map((c) => ({ tickr: c.ticker, name: c.name })) }),
    }),
  ];
  assert.equal(wrong.length, 7);
});
