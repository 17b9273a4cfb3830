import path from 'node:path';
import { buildApp } from './src/app.js';
import { normaliseConfig } from './src/config/load.js';
import { boundedContexts } from './src/contexts/index.js';
const config = normaliseConfig({
  protos: { includeDirs: ['test/fixtures/protos', 'proto'] },
  services: [
    { name: 'library', protoFiles: ['openapi/v1/library.proto'], service: 'openapi.v1.LibraryService', address: '127.0.0.1:1', auth: 'required' },
    { name: 'investor', protoFiles: ['investor/v1/investor.proto'], service: 'investor.v1.InvestorService', address: '127.0.0.1:1' },
    { name: 'indicator-insights', protoFiles: ['indicator-insights/v1/indicator_insights.proto'], service: 'indicator_insights.v1.IndicatorInsightsService', address: '127.0.0.1:1' },
  ],
  auth: { jwt: { secret: 'a-test-secret-of-enough-length' } },
}, { baseDir: process.cwd(), env: {} });
const { app } = await buildApp(config, { contexts: boundedContexts });
const res = await app.inject('/openapi.json');
console.log(res.statusCode, res.headers['content-type']);
console.log(JSON.stringify(JSON.parse(res.body), null, 1));
const docs = await app.inject('/docs');
console.log(docs.statusCode, docs.headers['content-type'], docs.body.slice(0, 100));
const dj = await app.inject('/docs/json');
console.log(dj.statusCode, dj.body.length, res.body.length);
await app.close();
