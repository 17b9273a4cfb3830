import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyRequest } from 'fastify';
import { buildApp, type Gateway } from '../../src/app.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import type { JwtConfig } from '../../src/config/schema.js';
import { authenticate, createAuthenticator } from '../../src/policies/auth.js';
import { JwksKeySets } from '../../src/policies/jwks-key-set.js';
import type { Identity } from '../../src/upstreams/call-context.js';
import { signToken, testConfig, testJwtSecret } from '../support/gateway.js';

/*
 * The cache of verified tokens: what enters it (successes only), how long an entry answers
 * (never past exp) and how much it may hold (a byte budget). The socket is not the subject
 * here, so the authenticator is called directly.
 */

const silentLog = Fastify({ logger: false }).log;

const jwtConfig = (jwt: Record<string, unknown> = {}) => testConfig({ auth: { jwt: { secret: testJwtSecret, ...jwt } } }).auth.jwt!;

/** The authenticator of an HS256 config, whose answers are never Promises (no JWKS). */
function secretAuthenticator(jwt: JwtConfig): { identify(authorization: string): Identity; cache: ReturnType<typeof createAuthenticator>['cache'] } {
  const { identify, cache } = createAuthenticator(jwt, new JwksKeySets(silentLog));
  return {
    identify: (authorization) => {
      const identity = identify(authorization);
      assert.ok(!(identity instanceof Promise));
      return identity;
    },
    cache,
  };
}

/** A well-formed HS256 token with a valid-looking payload and a wrong signature, `bytes` long or so. */
function junkToken(index: number, bytes: number): string {
  const input = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: `junk-${index}`, pad: 'x'.repeat(Math.max(0, (bytes * 3) / 4 - 60)) })).toString('base64url')}`;
  return `${input}.${crypto.createHmac('sha256', 'not-the-secret').update(input).digest('base64url')}`;
}

function unauthenticated(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.httpStatus, 401);
    return err.message;
  }
  assert.fail('expected a 401');
}

describe('verified-token cache', () => {
  it('keeps no trace of tokens that fail verification', () => {
    const { identify, cache } = secretAuthenticator(jwtConfig());
    for (let i = 0; i < 2000; i++) unauthenticated(() => identify(`Bearer ${junkToken(i, 2048)}`));
    assert.equal(cache.size, 0);
    assert.equal(cache.bytes, 0);
  });

  it('answers a repeated valid token from the cache with the same identity', () => {
    const { identify, cache } = secretAuthenticator(jwtConfig());
    const token = signToken({ sub: 'alice' });
    const first = identify(`Bearer ${token}`);
    assert.deepEqual([...first], [['x-user-id', 'alice']]);
    assert.equal(cache.size, 1);
    assert.equal(identify(`Bearer ${token}`), first);
  });

  it('refuses a cached token once its exp has passed', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const { identify, cache } = secretAuthenticator(jwtConfig());
    const token = signToken({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 });
    identify(`Bearer ${token}`);
    assert.equal(cache.size, 1);
    t.mock.timers.tick(61_000);
    assert.equal(unauthenticated(() => identify(`Bearer ${token}`)), 'the bearer token has expired');
    assert.equal(cache.size, 0);
  });

  it('stays within auth.jwt.cacheBytes, the least recently used token leaving first', () => {
    const { identify, cache } = secretAuthenticator(jwtConfig({ cacheBytes: 4096 }));
    const tokens = Array.from({ length: 50 }, (_, i) => signToken({ sub: `user-${i}` }));
    const headers = tokens.map((token) => `Bearer ${token}`);
    const kept = identify(headers[0]!);
    const second = identify(headers[1]!);
    for (const header of headers.slice(2)) {
      identify(header);
      assert.equal(identify(headers[0]!), kept, 'the token used all along was evicted');
      assert.ok(cache.bytes <= 4096, `${cache.bytes} bytes cached`);
    }
    assert.ok(cache.size > 2 && cache.size < tokens.length, `${cache.size} tokens cached`);
    assert.notEqual(identify(headers[1]!), second, 'the least recently used token is still cached');
  });

  it('caches nothing with auth.jwt.cacheBytes 0', () => {
    const { identify, cache } = secretAuthenticator(jwtConfig({ cacheBytes: 0 }));
    assert.deepEqual([...identify(`Bearer ${signToken({ sub: 'alice' })}`)], [['x-user-id', 'alice']]);
    assert.equal(cache.size, 0);
  });
});

describe('anonymous junk tokens and the heap', () => {
  let gateway: Gateway;
  before(async () => {
    gateway = await buildApp(testConfig({ logging: { level: 'silent' }, auth: { jwt: { secret: testJwtSecret } } }), { logger: false });
    await gateway.app.ready();
  });
  after(async () => {
    await gateway.app.close();
  });

  it('do not pin memory: 4,000 distinct 8 KB tokens leave the heap about where it was', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const authenticator = gateway.live.current.auth;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 4000; i++) {
      const request = { headers: { authorization: `Bearer ${junkToken(i, 8000)}` } } as unknown as FastifyRequest;
      assert.throws(() => authenticate(request, 'required', authenticator));
    }
    gc();
    const grownMiB = (process.memoryUsage().heapUsed - before) / 2 ** 20;
    // Remembering each failure would hold 4,000 × 8 KB ≈ 31 MiB of token text alone.
    assert.ok(grownMiB < 8, `the heap grew by ${grownMiB.toFixed(1)} MiB`);
  });
});
