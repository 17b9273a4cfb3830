import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normaliseConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import type { DemoAddresses } from './backends.js';

/** Repository root, from src/demo or dist/demo alike. */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The demo's HMAC secret, also used by `npm run token`. Public by design: the demo is for a
 * laptop. PORTICO_JWT_SECRET replaces it.
 */
export const demoJwtSecret = 'portico-demo-secret-do-not-use-in-production';

/** The gateway config of `npm start` without --config: the four demo contexts on loopback. */
export function demoConfig(addresses: DemoAddresses, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return normaliseConfig(
    {
      server: { port: 8080, host: '127.0.0.1' },
      protos: { includeDirs: ['proto'] },
      services: [
        { name: 'investor', protoFiles: ['investor/v1/investor.proto'], service: 'investor.v1.InvestorService', address: addresses.investor, auth: 'required' },
        { name: 'company-selector', protoFiles: ['company-selector/v1/company_selector.proto'], service: 'company_selector.v1.CompanySelectorService', address: addresses['company-selector'] },
        { name: 'market-monitor', protoFiles: ['market-monitor/v1/market_monitor.proto'], service: 'market_monitor.v1.MarketMonitorService', address: addresses['market-monitor'] },
        {
          name: 'indicator-insights',
          protoFiles: ['indicator-insights/v1/indicator_insights.proto'],
          service: 'indicator_insights.v1.IndicatorInsightsService',
          address: addresses['indicator-insights'],
        },
      ],
      cors: { origins: ['http://localhost:3000', 'http://127.0.0.1:3000'] },
      auth: { jwt: { secret: demoJwtSecret, algorithms: ['HS256'], forwardClaims: { sub: 'x-user-id' } } },
      shutdown: { graceMs: 5000 },
    },
    { baseDir: repoRoot, env },
  );
}
