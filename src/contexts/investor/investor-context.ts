import Type from 'typebox';
import { InvestorService } from '../../gen/investor/v1/investor_pb.js';
import { InvestorProfileSchema } from '../../gen/investor/v1/public_pb.js';
import { defineAclRoute, type BoundedContext } from '../acl-route.js';

/*
 * The investor context's public API. The internal Investor carries KYC and credit data that
 * must never reach a browser, so the reply is the public InvestorProfile, mapped field by field.
 */
const getInvestor = defineAclRoute({
  method: 'GET',
  url: '/',
  summary: "The caller's view of an investor profile",
  auth: 'required',
  schema: {
    querystring: Type.Object(
      { investor_id: Type.String({ pattern: '^[1-9][0-9]{0,17}$', description: 'Numeric investor id.' }) },
      { additionalProperties: false },
    ),
  },
  rpc: InvestorService.method.getInvestor,
  toRequest: ({ query }) => ({ investorId: BigInt(query.investor_id) }),
  reply: InvestorProfileSchema,
  toReply: (investor) => ({
    investorId: investor.investorId,
    displayName: investor.displayName,
    riskProfile: investor.riskProfile,
    memberSince: investor.joinedAt,
    watchlist: investor.watchlist,
  }),
  errors: { NOT_FOUND: 'investor not found', INVALID_ARGUMENT: 'investor_id is not a valid investor id' },
});

export const investorContext: BoundedContext = {
  name: 'investor',
  prefix: '/v1/investor',
  service: 'investor',
  routes: [getInvestor],
};
