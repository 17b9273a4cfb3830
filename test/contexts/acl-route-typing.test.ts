import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import Type from 'typebox';
import { defineAclRoute } from '../../src/contexts/acl-route.js';
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
  ];
  assert.equal(wrong.length, 3);
});
