import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  InvestorService,
  KycStatus,
  RiskProfile,
  type HoldingSchema,
  type InvestorSchema,
} from '../gen/investor/v1/investor_pb.js';
import { invalidArgument, notFound } from './demo-errors.js';
import { implement, type ServiceBinding } from './grpc-server.js';

/*
 * Demo investor accounts: a stand-in for the accounts database behind investor.v1. Its error
 * messages deliberately read like a leaky upstream ("no row in investors ...") so the gateway's
 * route module has something to replace.
 */

type InvestorInit = MessageInitShape<typeof InvestorSchema>;
type HoldingInit = MessageInitShape<typeof HoldingSchema>;

interface Account {
  readonly investor: InvestorInit;
  readonly holdings: readonly HoldingInit[];
}

const usd = (symbol: string, quantity: bigint, averageCost: number): HoldingInit => ({
  symbol,
  quantity,
  averageCost,
  currency: 'USD',
});

const accounts = new Map<bigint, Account>([
  [
    42n,
    {
      investor: {
        investorId: 42n,
        displayName: 'Alice Example',
        email: 'alice@example.com',
        riskProfile: RiskProfile.BALANCED,
        joinedAt: timestampFromDate(new Date('2019-03-14T09:30:00Z')),
        watchlist: ['AAPL', 'MSFT', 'NVDA', 'XOM'],
        kycStatus: KycStatus.VERIFIED,
        internalCreditScore: 782,
      },
      // Twelve positions, so that the default page size of 10 leaves a second page.
      holdings: [
        usd('AAPL', 120n, 148.25),
        usd('MSFT', 40n, 310.1),
        usd('NVDA', 25n, 420.5),
        usd('JNJ', 60n, 155.8),
        usd('XOM', 80n, 104.3),
        usd('JPM', 30n, 142.75),
        usd('KO', 150n, 58.9),
        usd('AMZN', 35n, 128.4),
        usd('PFE', 200n, 29.6),
        usd('TSLA', 10n, 201.15),
        usd('V', 18n, 232.0),
        usd('PG', 22n, 151.2),
      ],
    },
  ],
  [
    7n,
    {
      investor: {
        investorId: 7n,
        displayName: 'Bob Sample',
        email: 'bob@example.com',
        riskProfile: RiskProfile.CONSERVATIVE,
        joinedAt: timestampFromDate(new Date('2021-11-02T16:05:00Z')),
        watchlist: ['JNJ', 'KO'],
        kycStatus: KycStatus.PENDING,
        internalCreditScore: 690,
      },
      holdings: [usd('KO', 300n, 61.4), usd('JNJ', 45n, 162.05)],
    },
  ],
]);

const defaultPageSize = 10;
const maxPageSize = 100;

function findAccount(investorId: bigint): Account {
  if (investorId <= 0n) {
    throw invalidArgument('investor_id', `must be positive, got ${investorId}`);
  }
  const account = accounts.get(investorId);
  if (!account) {
    throw notFound(`no row in investors for id=${investorId}`, 'investor.v1.Investor', `investors/${investorId}`);
  }
  return account;
}

const costBasis = (holding: HoldingInit): number => Number(holding.quantity ?? 0n) * (holding.averageCost ?? 0);

// Page tokens are opaque to callers; the offset inside is base64url so nobody builds one by hand.
const encodePageToken = (offset: number): string => Buffer.from(`offset:${offset}`).toString('base64url');

function decodePageToken(token: string): number {
  if (token === '') return 0;
  const match = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64url').toString());
  if (!match?.[1]) throw invalidArgument('page_token', 'is not a token this service issued');
  return Number(match[1]);
}

/** The investor.v1.InvestorService demo backend. */
export function investorBackend(): ServiceBinding {
  return {
    service: InvestorService,
    impl: implement(InvestorService, {
      async getInvestor(request) {
        return findAccount(request.investorId).investor;
      },
      async listHoldings(request) {
        const { holdings } = findAccount(request.investorId);
        if (request.pageSize < 0) throw invalidArgument('page_size', 'must not be negative');
        const pageSize = Math.min(request.pageSize || defaultPageSize, maxPageSize);
        const offset = decodePageToken(request.pageToken);
        const sorted = [...holdings].sort((a, b) => costBasis(b) - costBasis(a));
        const end = offset + pageSize;
        return {
          holdings: sorted.slice(offset, end),
          nextPageToken: end < sorted.length ? encodePageToken(end) : '',
        };
      },
    }),
  };
}
