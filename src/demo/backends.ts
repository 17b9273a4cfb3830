import { companySelectorBackend } from './company-selector-backend.js';
import { startGrpcServer, type ServiceBinding } from './grpc-server.js';
import { indicatorInsightsBackend } from './indicator-insights-backend.js';
import { investorBackend } from './investor-backend.js';
import { marketMonitorBackend } from './market-monitor-backend.js';

export type DemoContext = 'investor' | 'company-selector' | 'market-monitor' | 'indicator-insights';

/** host:port of each context's gRPC server. */
export type DemoAddresses = Record<DemoContext, string>;

export interface DemoBackendOptions {
  /** Pause between rounds of MarketMonitorService.StreamQuotes updates; 20 ms unless set, 0 for none. */
  readonly streamIntervalMs?: number;
}

export interface DemoBackends {
  readonly addresses: DemoAddresses;
  close(): Promise<void>;
}

/**
 * Starts one gRPC server per bounded context on a free port of 127.0.0.1, as separate
 * deployments would be, so the gateway is exercised with one upstream per context.
 */
export async function startDemoBackends(options: DemoBackendOptions = {}): Promise<DemoBackends> {
  const bindings: Record<DemoContext, ServiceBinding> = {
    investor: investorBackend(),
    'company-selector': companySelectorBackend(),
    'market-monitor': marketMonitorBackend({ streamIntervalMs: options.streamIntervalMs }),
    'indicator-insights': indicatorInsightsBackend(),
  };
  const entries = Object.entries(bindings) as Array<[DemoContext, ServiceBinding]>;
  const started = await Promise.allSettled(entries.map(([, binding]) => startGrpcServer([binding])));
  const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const closeAll = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.close()));
  };
  const failure = started.find((result) => result.status === 'rejected');
  if (failure) {
    // Do not leave the servers that did start listening behind a failed start.
    await closeAll();
    throw failure.reason;
  }
  // Nothing failed, so `servers` lines up with `entries`.
  const addresses = Object.fromEntries(entries.map(([context], i) => [context, servers[i]!.address])) as DemoAddresses;
  return { addresses, close: closeAll };
}
