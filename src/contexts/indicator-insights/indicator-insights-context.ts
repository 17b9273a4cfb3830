import Type from 'typebox';
import { IndicatorInsightsService } from '../../gen/indicator-insights/v1/indicator_insights_pb.js';
import { InsightSummarySchema } from '../../gen/indicator-insights/v1/public_pb.js';
import { defineAclRoute, type BoundedContext } from '../acl-route.js';

/*
 * Insights come from a model whose version and feature weights are internal; the public
 * summary keeps the signal, the confidence and the rationale.
 */
const getInsight = defineAclRoute({
  method: 'GET',
  url: '/{symbol}',
  summary: 'The current trading signal for a symbol',
  auth: 'optional',
  schema: {
    params: Type.Object({ symbol: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9.]{0,9}$', description: 'Ticker symbol, e.g. ACME.' }) }),
  },
  rpc: IndicatorInsightsService.method.getInsight,
  toRequest: ({ params }) => ({ symbol: params.symbol.toUpperCase() }),
  reply: InsightSummarySchema,
  toReply: (insight) => ({
    symbol: insight.symbol,
    signal: insight.signal,
    confidence: insight.confidence,
    rationale: insight.rationale,
  }),
  errors: { NOT_FOUND: 'no insight for this symbol' },
});

export const indicatorInsightsContext: BoundedContext = {
  name: 'indicator-insights',
  prefix: '/v1/insights',
  service: 'indicator-insights',
  routes: [getInsight],
};
