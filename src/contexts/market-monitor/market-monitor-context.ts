import Type from 'typebox';
import { MarketMonitorService } from '../../gen/market-monitor/v1/market_monitor_pb.js';
import { Direction, PriceTickerSchema } from '../../gen/market-monitor/v1/public_pb.js';
import { defineAclRoute, type BoundedContext } from '../acl-route.js';

/*
 * The market-monitor context's public price ticker. Session volume is licensed market data
 * the product does not redistribute, so the internal Quote is not returned as is; and every
 * client would otherwise derive the arrow from the sign of change_percent, so the ticker
 * carries it as a Direction.
 */

/** UP, DOWN or FLAT by the sign of the change; unspecified when the change is not a number. */
export function directionOf(changePercent: number): Direction {
  if (changePercent > 0) return Direction.UP;
  if (changePercent < 0) return Direction.DOWN;
  if (changePercent === 0) return Direction.FLAT;
  return Direction.DIRECTION_UNSPECIFIED;
}

const getTicker = defineAclRoute({
  method: 'GET',
  url: '/{symbol}',
  summary: 'The latest price of a symbol and which way it moved',
  auth: 'none',
  schema: {
    params: Type.Object({ symbol: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9.]{0,9}$', description: 'Ticker symbol, e.g. NVDA.' }) }),
  },
  rpc: MarketMonitorService.method.getQuote,
  toRequest: ({ params }) => ({ symbol: params.symbol.toUpperCase() }),
  reply: PriceTickerSchema,
  toReply: (quote) => ({
    symbol: quote.symbol,
    price: quote.price,
    changePercent: quote.changePercent,
    direction: directionOf(quote.changePercent),
    asOf: quote.asOf,
  }),
  errors: { NOT_FOUND: 'unknown symbol' },
});

export const marketMonitorContext: BoundedContext = {
  name: 'market-monitor',
  prefix: '/v1/tickers',
  service: 'market-monitor',
  routes: [getTicker],
};
