import Type from 'typebox';
import { CompanySelectorService, Sector } from '../../gen/company-selector/v1/company_selector_pb.js';
import { CompanyShortlistSchema } from '../../gen/company-selector/v1/public_pb.js';
import { defineAclRoute, type BoundedContext } from '../acl-route.js';

/*
 * The company-selector context's public screener. The internal Company is reference data for
 * back-office use: listing dates, the exchange and licensed security identifiers (ISIN, CUSIP)
 * are not the product's to publish, so a result is a compact CompanyCard per company. Its
 * dividend yield is a plain number, 0 when the company pays none: the internal DoubleValue
 * tells "no dividend" from "zero" with null, which a screener table only has to special-case.
 */

const defaultLimit = 10;

// The sectors a caller may filter on, by enum name; leaving the parameter out means any sector.
// Literals rather than the generated enum's keys so that OpenAPI lists them and
// SECTOR_UNSPECIFIED stays internal; `Sector[...]` below fails to compile on a misspelt name.
const sectorFilter = Type.Union(
  [
    Type.Literal('TECHNOLOGY'),
    Type.Literal('HEALTHCARE'),
    Type.Literal('FINANCIALS'),
    Type.Literal('ENERGY'),
    Type.Literal('CONSUMER_DISCRETIONARY'),
    Type.Literal('CONSUMER_STAPLES'),
  ],
  { description: 'Only companies in this sector; any sector when left out.' },
);

const searchCompanies = defineAclRoute({
  method: 'GET',
  url: '/',
  summary: 'Screen listed companies by sector and size, largest first',
  auth: 'none',
  schema: {
    querystring: Type.Object(
      {
        sector: Type.Optional(sectorFilter),
        // A digit string, as int64 travels in proto3 JSON; 18 digits keep it inside int64.
        min_market_cap: Type.Optional(
          Type.String({ pattern: '^[0-9]{1,18}$', description: 'Only companies with at least this market capitalisation, in US dollars.' }),
        ),
        // Fastify coerces the query string's text to an integer and fills in the default.
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: defaultLimit, description: 'Maximum number of companies to return.' })),
      },
      { additionalProperties: false },
    ),
  },
  rpc: CompanySelectorService.method.searchCompanies,
  toRequest: ({ query }) => ({
    sector: query.sector === undefined ? Sector.SECTOR_UNSPECIFIED : Sector[query.sector],
    minMarketCap: BigInt(query.min_market_cap ?? '0'),
    pageSize: query.limit ?? defaultLimit,
  }),
  reply: CompanyShortlistSchema,
  toReply: ({ companies }) => ({
    cards: companies.map((company) => ({
      ticker: company.ticker,
      name: company.name,
      sector: company.sector,
      marketCap: company.marketCap,
      dividendYield: company.dividendYield ?? 0,
    })),
  }),
  // The schema admits only filters the service takes; should it still refuse one, its wording
  // names internal request fields (page_size), not the parameters the caller sent.
  errors: { INVALID_ARGUMENT: 'the screener filters are not valid: check sector, min_market_cap and limit' },
});

export const companySelectorContext: BoundedContext = {
  name: 'company-selector',
  prefix: '/v1/screener',
  service: 'company-selector',
  routes: [searchCompanies],
};
