import { createSigner } from 'fast-jwt';
import { parseCommandLine, UsageError } from '../src/cli/command-line.js';
import { demoJwtSecret } from '../src/demo/demo-config.js';

/*
 * Prints a bearer token for the demo gateway: npm run token -- --sub alice [--ttl 3600].
 * Signed with PORTICO_JWT_SECRET when set, else the demo secret.
 */
const usage = `usage: npm run token -- [--sub <subject>] [--ttl <seconds>]
  --sub <subject>   the token's sub claim (default: demo-user)
  --ttl <seconds>   lifetime in seconds (default: 3600)
Signed with PORTICO_JWT_SECRET when set, else the demo's public secret.`;

function main(): void {
  const { values } = parseCommandLine({
    options: { sub: { type: 'string', default: 'demo-user' }, ttl: { type: 'string', default: '3600' }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const ttlSeconds = Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new UsageError('--ttl must be a positive number of seconds');
  const sign = createSigner({ key: process.env['PORTICO_JWT_SECRET'] || demoJwtSecret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
  console.log(sign({ sub: values.sub }));
}

try {
  main();
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`token: ${err.message}`);
  process.exit(1);
}
