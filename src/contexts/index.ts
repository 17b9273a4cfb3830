import type { BoundedContext } from './acl-route.js';
import { indicatorInsightsContext } from './indicator-insights/indicator-insights-context.js';
import { investorContext } from './investor/investor-context.js';

/** The hand-written bounded contexts; declarative bindings need no entry here. */
export const boundedContexts: readonly BoundedContext[] = [investorContext, indicatorInsightsContext];
