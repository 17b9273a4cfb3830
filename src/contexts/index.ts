import type { BoundedContext } from './acl-route.js';
import { companySelectorContext } from './company-selector/company-selector-context.js';
import { indicatorInsightsContext } from './indicator-insights/indicator-insights-context.js';
import { investorContext } from './investor/investor-context.js';
import { marketMonitorContext } from './market-monitor/market-monitor-context.js';

/** The hand-written bounded contexts; declarative bindings need no entry here. */
export const boundedContexts: readonly BoundedContext[] = [investorContext, companySelectorContext, marketMonitorContext, indicatorInsightsContext];
