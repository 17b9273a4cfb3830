import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  CompanySelectorService,
  Sector,
  type CompanySchema,
} from '../gen/company-selector/v1/company_selector_pb.js';
import { invalidArgument, notFound } from './demo-errors.js';
import { implement, type ServiceBinding } from './grpc-server.js';

/*
 * Demo company reference data for company_selector.v1: ten well-known US listings with
 * illustrative market capitalisations and dividend yields.
 */

type CompanyInit = MessageInitShape<typeof CompanySchema>;

interface Listing {
  readonly ticker: string;
  readonly name: string;
  readonly sector: Sector;
  readonly marketCap: bigint;
  readonly listedOn: string;
  /** Undefined for companies that pay no dividend, so the DoubleValue stays absent. */
  readonly dividendYield: number | undefined;
  readonly isin: string;
  readonly cusip: string;
  readonly exchange: 'XNAS' | 'XNYS';
}

const listings: readonly Listing[] = [
  { ticker: 'AAPL', name: 'Apple Inc.', sector: Sector.TECHNOLOGY, marketCap: 3_400_000_000_000n, listedOn: '1980-12-12', dividendYield: 0.0044, isin: 'US0378331005', cusip: '037833100', exchange: 'XNAS' },
  { ticker: 'MSFT', name: 'Microsoft Corporation', sector: Sector.TECHNOLOGY, marketCap: 3_100_000_000_000n, listedOn: '1986-03-13', dividendYield: 0.0072, isin: 'US5949181045', cusip: '594918104', exchange: 'XNAS' },
  { ticker: 'NVDA', name: 'NVIDIA Corporation', sector: Sector.TECHNOLOGY, marketCap: 2_900_000_000_000n, listedOn: '1999-01-22', dividendYield: 0.0003, isin: 'US67066G1040', cusip: '67066G104', exchange: 'XNAS' },
  { ticker: 'AMZN', name: 'Amazon.com, Inc.', sector: Sector.CONSUMER_DISCRETIONARY, marketCap: 1_900_000_000_000n, listedOn: '1997-05-15', dividendYield: undefined, isin: 'US0231351067', cusip: '023135106', exchange: 'XNAS' },
  { ticker: 'TSLA', name: 'Tesla, Inc.', sector: Sector.CONSUMER_DISCRETIONARY, marketCap: 700_000_000_000n, listedOn: '2010-06-29', dividendYield: undefined, isin: 'US88160R1014', cusip: '88160R101', exchange: 'XNAS' },
  { ticker: 'JPM', name: 'JPMorgan Chase & Co.', sector: Sector.FINANCIALS, marketCap: 560_000_000_000n, listedOn: '1969-03-05', dividendYield: 0.022, isin: 'US46625H1005', cusip: '46625H100', exchange: 'XNYS' },
  { ticker: 'XOM', name: 'Exxon Mobil Corporation', sector: Sector.ENERGY, marketCap: 470_000_000_000n, listedOn: '1920-03-01', dividendYield: 0.033, isin: 'US30231G1022', cusip: '30231G102', exchange: 'XNYS' },
  { ticker: 'JNJ', name: 'Johnson & Johnson', sector: Sector.HEALTHCARE, marketCap: 380_000_000_000n, listedOn: '1944-09-25', dividendYield: 0.031, isin: 'US4781601046', cusip: '478160104', exchange: 'XNYS' },
  { ticker: 'KO', name: 'The Coca-Cola Company', sector: Sector.CONSUMER_STAPLES, marketCap: 270_000_000_000n, listedOn: '1919-09-05', dividendYield: 0.029, isin: 'US1912161007', cusip: '191216100', exchange: 'XNYS' },
  { ticker: 'PFE', name: 'Pfizer Inc.', sector: Sector.HEALTHCARE, marketCap: 160_000_000_000n, listedOn: '1944-06-22', dividendYield: 0.059, isin: 'US7170811035', cusip: '717081103', exchange: 'XNYS' },
];

const byTicker = new Map(listings.map((listing) => [listing.ticker, listing]));

const defaultPageSize = 20;
const maxPageSize = 100;
const minCompared = 2;
const maxCompared = 10;

function toCompany(listing: Listing): CompanyInit {
  return {
    ticker: listing.ticker,
    name: listing.name,
    sector: listing.sector,
    marketCap: listing.marketCap,
    listedAt: timestampFromDate(new Date(`${listing.listedOn}T14:30:00Z`)),
    dividendYield: listing.dividendYield,
    identifiers: { isin: listing.isin, cusip: listing.cusip },
    exchange: listing.exchange,
  };
}

function findListing(ticker: string, field: string): Listing {
  const normalized = ticker.trim().toUpperCase();
  if (normalized === '') throw invalidArgument(field, 'must name a ticker');
  const listing = byTicker.get(normalized);
  if (!listing) throw notFound(`unknown ticker ${normalized}`, 'company_selector.v1.Company', `companies/${normalized}`);
  return listing;
}

/** The ticker of the listing with the largest `measure`; undefined measures never lead. */
function leader(compared: readonly Listing[], measure: (listing: Listing) => number | bigint | undefined): string {
  let best: Listing | undefined;
  for (const listing of compared) {
    const value = measure(listing);
    const bestValue = best && measure(best);
    if (value !== undefined && (bestValue === undefined || value > bestValue)) best = listing;
  }
  return best?.ticker ?? '';
}

/** The company_selector.v1.CompanySelectorService demo backend. */
export function companySelectorBackend(): ServiceBinding {
  return {
    service: CompanySelectorService,
    impl: implement(CompanySelectorService, {
      async searchCompanies(request) {
        if (request.pageSize < 0) throw invalidArgument('page_size', 'must not be negative');
        if (request.minMarketCap < 0n) throw invalidArgument('min_market_cap', 'must not be negative');
        const query = request.query.trim().toLowerCase();
        const matches = listings.filter(
          (listing) =>
            (query === '' || listing.ticker.toLowerCase().includes(query) || listing.name.toLowerCase().includes(query)) &&
            (request.sector === Sector.SECTOR_UNSPECIFIED || listing.sector === request.sector) &&
            listing.marketCap >= request.minMarketCap,
        );
        // `listings` is kept in descending market capitalisation, so the filter keeps that order.
        const pageSize = Math.min(request.pageSize || defaultPageSize, maxPageSize);
        return { companies: matches.slice(0, pageSize).map(toCompany) };
      },
      async getCompany(request) {
        return toCompany(findListing(request.ticker, 'ticker'));
      },
      async compareCompanies(request) {
        if (request.tickers.length < minCompared || request.tickers.length > maxCompared) {
          throw invalidArgument(
            'tickers',
            `must name between ${minCompared} and ${maxCompared} companies, got ${request.tickers.length}`,
          );
        }
        const compared = request.tickers.map((ticker, i) => findListing(ticker, `tickers[${i}]`));
        return {
          companies: compared.map(toCompany),
          largestByMarketCap: leader(compared, (listing) => listing.marketCap),
          highestDividendYield: leader(compared, (listing) => listing.dividendYield),
        };
      },
    }),
  };
}
