import { createSigner } from 'fast-jwt';
import { parseArgs } from 'node:util';
import { demoJwtSecret } from '../src/demo/demo-config.js';

/*
 * Prints a bearer token for the demo gateway: npm run token -- --sub alice [--ttl 3600].
 * Signed with PORTICO_JWT_SECRET when set, else the demo secret.
 */
const { values } = parseArgs({ options: { sub: { type: 'string', default: 'demo-user' }, ttl: { type: 'string', default: '3600' } } });
const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
  console.error('--ttl must be a positive number of seconds');
  process.exit(1);
}
const sign = createSigner({ key: process.env['PORTICO_JWT_SECRET'] || demoJwtSecret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
console.log(sign({ sub: values.sub }));
