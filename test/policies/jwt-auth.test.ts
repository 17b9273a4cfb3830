import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSigner } from 'fast-jwt';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { assertEnvelope, echoService, request, stackConfig } from '../transcoding-e2e/harness.js';
import { signToken, startGateway, testJwtSecret, type RunningGateway } from '../support/gateway.js';

/*
 * JWT verification over real sockets, in front of the echo upstream: which key verifies which
 * algorithm, the claims a token must carry, and the size limit.
 */

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS HMAC-signed with `key`, whatever that key is (fast-jwt's signer refuses a PEM as an HMAC key). */
function hmacToken(payload: Record<string, unknown>, key: string): string {
  const input = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(payload)}`;
  return `${input}.${crypto.createHmac('sha256', key).update(input).digest('base64url')}`;
}

let upstream: EchoUpstream;
before(async () => {
  upstream = await startEchoUpstream();
});
after(async () => {
  await upstream.close();
});

const get = (gateway: RunningGateway, token: string) => request(gateway, '/v1/items/item-1', { headers: { authorization: `Bearer ${token}` } });

describe('a secret and a public key configured together', () => {
  const keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-jwt-'));
    const publicKeyFile = path.join(dir, 'public.pem');
    fs.writeFileSync(publicKeyFile, publicPem);
    gateway = await startGateway(
      stackConfig([{ ...echoService(upstream.address), auth: 'required' }], { auth: { jwt: { secret: testJwtSecret, publicKeyFile, algorithms: ['HS256', 'RS256'] } } }),
    );
  });
  after(async () => {
    await gateway.close();
    fs.rmSync(dir, { recursive: true });
  });

  it('accepts an HS256 token signed with the secret and an RS256 token signed with the private key', async () => {
    assert.equal((await get(gateway, signToken({ sub: 'alice' }))).status, 200);
    const rs256 = createSigner({ key: privatePem, algorithm: 'RS256', expiresIn: 600_000 })({ sub: 'alice' });
    assert.equal((await get(gateway, rs256)).status, 200);
  });

  it('refuses an HS256 token HMAC-signed with the public key PEM (algorithm confusion)', async () => {
    const forged = hmacToken({ sub: 'admin', exp: nowSeconds() + 600 }, publicPem);
    const envelope = assertEnvelope(await get(gateway, forged), 401, 'UNAUTHENTICATED');
    assert.equal(envelope.message, 'invalid bearer token');
  });

  it('never verifies an HS256 token with the public key, even under a config that skipped start-up validation', async () => {
    // The configuration of the original report: both keys and algorithms [HS256]. normaliseConfig refuses it;
    // the verifier must not depend on that.
    const config = stackConfig([{ ...echoService(upstream.address), auth: 'required' }], { auth: { jwt: { secret: testJwtSecret } } });
    config.auth.jwt!.publicKey = publicPem;
    const confused = await startGateway(config);
    try {
      const forged = hmacToken({ sub: 'admin', exp: nowSeconds() + 600 }, publicPem);
      assertEnvelope(await get(confused, forged), 401, 'UNAUTHENTICATED');
      assert.equal((await get(confused, signToken({ sub: 'alice' }))).status, 200);
    } finally {
      await confused.close();
    }
  });

  it('refuses an RS256-labelled token that carries an HMAC of the secret', async () => {
    const input = `${base64url({ alg: 'RS256', typ: 'JWT' })}.${base64url({ sub: 'admin', exp: nowSeconds() + 600 })}`;
    const forged = `${input}.${crypto.createHmac('sha256', testJwtSecret).update(input).digest('base64url')}`;
    assertEnvelope(await get(gateway, forged), 401, 'UNAUTHENTICATED');
  });
});

describe('required claims and the size limit', () => {
  let gateway: RunningGateway;
  before(async () => {
    gateway = await startGateway(
      stackConfig([{ ...echoService(upstream.address), auth: 'required' }], {
        auth: { jwt: { secret: testJwtSecret, issuer: 'https://id.example', audience: 'portico' } },
      }),
    );
  });
  after(async () => {
    await gateway.close();
  });

  const claims = { sub: 'alice', iss: 'https://id.example', aud: 'portico' };

  it('accepts a token with exp, iss and aud', async () => {
    assert.equal((await get(gateway, signToken(claims))).status, 200);
  });

  it('refuses a token without exp, naming the claim', async () => {
    const envelope = assertEnvelope(await get(gateway, signToken({ ...claims, exp: undefined })), 401, 'UNAUTHENTICATED');
    assert.equal(envelope.message, 'the bearer token has no exp claim');
  });

  it('refuses a token without the configured iss or aud, naming the claim', async () => {
    for (const claim of ['iss', 'aud'] as const) {
      const envelope = assertEnvelope(await get(gateway, signToken({ ...claims, [claim]: undefined })), 401, 'UNAUTHENTICATED');
      assert.equal(envelope.message, `the bearer token has no ${claim} claim`);
    }
  });

  it('still refuses a wrong iss or aud', async () => {
    assert.equal((await get(gateway, signToken({ ...claims, iss: 'https://evil.example' }))).status, 401);
    assert.equal((await get(gateway, signToken({ ...claims, aud: 'someone-else' }))).status, 401);
  });

  it('refuses a token longer than auth.jwt.maxTokenBytes before parsing it', async () => {
    const oversize = signToken({ ...claims, padding: 'x'.repeat(9000) });
    const envelope = assertEnvelope(await get(gateway, oversize), 401, 'UNAUTHENTICATED');
    assert.equal(envelope.message, 'the bearer token is longer than 8192 bytes');
    assert.equal((await get(gateway, 'x'.repeat(8193))).status, 401);
  });
});
