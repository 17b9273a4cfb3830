import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { assertEnvelope, echoService, request, stackConfig } from '../transcoding-e2e/harness.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

/*
 * JWT issuers with JWKS (RFC 8725), over real sockets: the test serves each JWKS from a real
 * HTTP server on loopback, counting its requests, and can rotate its keys or take it down.
 */

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
  /** The public key as SPKI PEM text (what an algorithm-confusion attacker HMACs with). */
  pem: string;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const pem = crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  return { kid, privateKey, jwk, pem };
}

/** An RS256 token signed with `key`; `header` adds to (or overrides) the protected header. */
function sign(key: SigningKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const payload = { exp: nowSeconds() + 600, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid, ...header }).sign(key.privateKey);
}

/** A compact JWS HMAC-signed with `secret`, whatever that secret is (a PEM, say). */
function hmacToken(payload: Record<string, unknown>, secret: string, header: Record<string, unknown> = {}): string {
  const input = `${base64url({ alg: 'HS256', typ: 'JWT', ...header })}.${base64url({ exp: nowSeconds() + 600, ...payload })}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** A JWKS endpoint on loopback: serves `keys`, counts requests, and when `down` resets each connection. */
class JwksServer {
  keys: JWK[];
  requests = 0;
  down = false;
  readonly #server: http.Server;

  constructor(keys: JWK[]) {
    this.keys = keys;
    this.#server = http.createServer((req, res) => {
      this.requests++;
      if (this.down) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys }));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/jwks.json`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

let upstream: EchoUpstream;
before(async () => {
  upstream = await startEchoUpstream();
});
after(async () => {
  await upstream.close();
});

const login = 'https://login.test/';
const partnerSecret = 'partner-secret-of-enough-length';
const get = (gateway: RunningGateway, token: string) => request(gateway, '/v1/items/item-1', { headers: { authorization: `Bearer ${token}` } });
const echoRequired = () => ({ ...echoService(upstream.address), auth: 'required' });

describe('forged and invalid tokens against a JWKS issuer and an HMAC issuer', () => {
  let loginKey: SigningKey;
  let otherKey: SigningKey;
  let attackerKey: SigningKey;
  let loginJwks: JwksServer;
  let otherJwks: JwksServer;
  let attackerJwks: JwksServer;
  let gateway: RunningGateway;
  const claims = { sub: 'alice', iss: login, aud: 'shop' };

  before(async () => {
    [loginKey, otherKey, attackerKey] = await Promise.all([signingKey('login-1'), signingKey('other-1'), signingKey('login-1')]);
    loginJwks = await new JwksServer([loginKey.jwk]).listen();
    otherJwks = await new JwksServer([otherKey.jwk]).listen();
    attackerJwks = await new JwksServer([attackerKey.jwk]).listen();
    gateway = await startGateway(
      stackConfig([echoRequired()], {
        auth: {
          jwt: {
            jwksUrl: loginJwks.url,
            issuer: login,
            audience: 'shop',
            algorithms: ['RS256'],
            clockToleranceSec: 30,
            issuers: [
              { issuer: 'partner-idp', secret: partnerSecret, algorithms: ['HS256'] },
              { issuer: 'https://other.test/', jwksUrl: otherJwks.url, algorithms: ['RS256'] },
            ],
          },
        },
      }),
    );
  });
  after(async () => {
    await gateway.close();
    await Promise.all([loginJwks.close(), otherJwks.close(), attackerJwks.close()]);
  });

  it('accepts a token of each issuer, verified with that issuer keys', async () => {
    assert.equal((await get(gateway, await sign(loginKey, claims))).status, 200);
    assert.equal((await get(gateway, hmacToken({ sub: 'bob', iss: 'partner-idp' }, partnerSecret))).status, 200);
    assert.equal((await get(gateway, await sign(otherKey, { sub: 'carol', iss: 'https://other.test/' }))).status, 200);
  });

  it('refuses alg none', async () => {
    const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ ...claims, exp: nowSeconds() + 600 })}.`;
    assertEnvelope(await get(gateway, unsigned), 401, 'UNAUTHENTICATED');
  });

  it('refuses an HS256 token HMAC-signed with the RS256 public key (algorithm confusion)', async () => {
    assertEnvelope(await get(gateway, hmacToken(claims, loginKey.pem)), 401, 'UNAUTHENTICATED');
    assertEnvelope(await get(gateway, hmacToken(claims, loginKey.pem, { kid: loginKey.kid })), 401, 'UNAUTHENTICATED');
    // The HMAC issuer's iss does not help: its secret is not the PEM.
    assertEnvelope(await get(gateway, hmacToken({ ...claims, iss: 'partner-idp' }, loginKey.pem)), 401, 'UNAUTHENTICATED');
  });

  it('refuses a token signed by one issuer that names another in iss', async () => {
    assertEnvelope(await get(gateway, await sign(otherKey, claims)), 401, 'UNAUTHENTICATED');
    assertEnvelope(await get(gateway, await sign(loginKey, { ...claims, iss: 'https://other.test/' })), 401, 'UNAUTHENTICATED');
    assertEnvelope(await get(gateway, await sign(loginKey, { ...claims, iss: 'partner-idp' })), 401, 'UNAUTHENTICATED');
    assertEnvelope(await get(gateway, hmacToken(claims, partnerSecret)), 401, 'UNAUTHENTICATED');
  });

  it('refuses a wrong issuer or audience', async () => {
    assertEnvelope(await get(gateway, await sign(loginKey, { ...claims, iss: 'https://evil.test/' })), 401, 'UNAUTHENTICATED');
    assertEnvelope(await get(gateway, await sign(loginKey, { ...claims, aud: 'someone-else' })), 401, 'UNAUTHENTICATED');
    const noAudience = assertEnvelope(await get(gateway, await sign(loginKey, { ...claims, aud: undefined })), 401, 'UNAUTHENTICATED');
    assert.equal(noAudience.message, 'the bearer token has no aud claim');
  });

  it('refuses expired, not yet valid and future-issued tokens, within clockToleranceSec', async () => {
    const expired = assertEnvelope(await get(gateway, await sign(loginKey, { ...claims, exp: nowSeconds() - 60 })), 401, 'UNAUTHENTICATED');
    assert.equal(expired.message, 'the bearer token has expired');
    const early = assertEnvelope(await get(gateway, await sign(loginKey, { ...claims, nbf: nowSeconds() + 120 })), 401, 'UNAUTHENTICATED');
    assert.equal(early.message, 'the bearer token is not valid yet');
    const future = assertEnvelope(await get(gateway, await sign(loginKey, { ...claims, iat: nowSeconds() + 120 })), 401, 'UNAUTHENTICATED');
    assert.equal(future.message, 'the bearer token was issued in the future');
    assert.equal((await get(gateway, await sign(loginKey, { ...claims, exp: nowSeconds() - 5, nbf: nowSeconds() + 5 }))).status, 200);
    const noExp = assertEnvelope(await get(gateway, await sign(loginKey, { ...claims, exp: undefined })), 401, 'UNAUTHENTICATED');
    assert.equal(noExp.message, 'the bearer token has no exp claim');
  });

  it('refuses a token whose kid the JWKS does not hold', async () => {
    assertEnvelope(await get(gateway, await sign(attackerKey, claims, { kid: 'unknown-kid' })), 401, 'UNAUTHENTICATED');
  });

  it('never follows jku or x5u, nor trusts an embedded jwk', async () => {
    const before = attackerJwks.requests;
    // The attacker's key carries the genuine kid; only the attacker's JWKS holds it.
    assertEnvelope(await get(gateway, await sign(attackerKey, claims, { jku: attackerJwks.url })), 401, 'UNAUTHENTICATED');
    assertEnvelope(await get(gateway, await sign(attackerKey, claims, { x5u: attackerJwks.url })), 401, 'UNAUTHENTICATED');
    const { kid: _kid, ...publicJwk } = attackerKey.jwk;
    assertEnvelope(await get(gateway, await sign(attackerKey, claims, { jwk: publicJwk, kid: undefined })), 401, 'UNAUTHENTICATED');
    assert.equal(attackerJwks.requests, before, 'the attacker JWKS was never fetched');
  });
});

describe('JWKS refresh, rotation and outages', () => {
  const claims = { sub: 'alice', iss: login };
  const jwksConfig = (url: string, jwksRefreshSec: number) =>
    stackConfig([echoRequired()], { auth: { jwt: { jwksUrl: url, issuer: login, algorithms: ['RS256'], jwksRefreshSec } } });

  it('takes a rotated-in key and drops a rotated-out one within one refresh, cached tokens included', async () => {
    const [oldKey, newKey] = await Promise.all([signingKey('2026-a'), signingKey('2026-b')]);
    const jwks = await new JwksServer([oldKey.jwk]).listen();
    const gateway = await startGateway(jwksConfig(jwks.url, 1));
    try {
      const oldToken = await sign(oldKey, claims);
      assert.equal((await get(gateway, oldToken)).status, 200);
      assert.equal((await get(gateway, oldToken)).status, 200);
      jwks.keys = [newKey.jwk];
      const newToken = await sign(newKey, claims);
      await waitFor(async () => (await get(gateway, newToken)).status === 200);
      assertEnvelope(await get(gateway, oldToken), 401, 'UNAUTHENTICATED');
    } finally {
      await gateway.close();
      await jwks.close();
    }
  });

  it('fetches at most twice for 500 tokens with random kids', async () => {
    const key = await signingKey('only');
    const jwks = await new JwksServer([key.jwk]).listen();
    const gateway = await startGateway(jwksConfig(jwks.url, 300));
    try {
      assert.equal((await get(gateway, await sign(key, claims))).status, 200);
      const tokens = await Promise.all(Array.from({ length: 500 }, () => sign(key, claims, { kid: crypto.randomUUID() })));
      for (let i = 0; i < tokens.length; i += 50) {
        const results = await Promise.all(tokens.slice(i, i + 50).map((token) => get(gateway, token)));
        for (const result of results) assert.equal(result.status, 401);
      }
      assert.ok(jwks.requests <= 2, `${jwks.requests} JWKS fetches`);
    } finally {
      await gateway.close();
      await jwks.close();
    }
  });

  it('keeps verifying with the keys held while the JWKS endpoint is down', async () => {
    const key = await signingKey('steady');
    const jwks = await new JwksServer([key.jwk]).listen();
    const gateway = await startGateway(jwksConfig(jwks.url, 1));
    try {
      const cached = await sign(key, claims);
      assert.equal((await get(gateway, cached)).status, 200);
      jwks.down = true;
      const failedBefore = jwks.requests;
      await waitFor(() => jwks.requests >= failedBefore + 2);
      assert.equal((await get(gateway, cached)).status, 200);
      assert.equal((await get(gateway, await sign(key, { ...claims, sub: 'bob' }))).status, 200);
      assert.ok(gateway.logs.some((line) => line['level'] === 40 && String(line['msg']).startsWith('cannot fetch the JWKS')));
    } finally {
      await gateway.close();
      await jwks.close();
    }
  });

  it('starts while the JWKS endpoint is down, refuses tokens with a 401, and accepts them once it is up', async () => {
    const key = await signingKey('late');
    const jwks = await new JwksServer([key.jwk]).listen();
    jwks.down = true;
    const gateway = await startGateway(jwksConfig(jwks.url, 1));
    try {
      const token = await sign(key, claims);
      const refused = assertEnvelope(await get(gateway, token), 401, 'UNAUTHENTICATED');
      assert.equal(refused.message, "the signing keys of the bearer token's issuer are not available yet");
      jwks.down = false;
      await waitFor(async () => (await get(gateway, token)).status === 200);
    } finally {
      await gateway.close();
      await jwks.close();
    }
  });

  it('keeps a JWKS across a reload that names the same URL, and takes an issuer a reload adds', async () => {
    const key = await signingKey('kept');
    const jwks = await new JwksServer([key.jwk]).listen();
    const gateway = await startGateway(jwksConfig(jwks.url, 300));
    try {
      const token = await sign(key, claims);
      assert.equal((await get(gateway, token)).status, 200);
      const partnerToken = hmacToken({ sub: 'bob', iss: 'partner-idp' }, partnerSecret);
      assertEnvelope(await get(gateway, partnerToken), 401, 'UNAUTHENTICATED');
      const fetched = jwks.requests;
      gateway.gateway.live.reload(
        stackConfig([echoRequired()], {
          auth: { jwt: { jwksUrl: jwks.url, issuer: login, algorithms: ['RS256'], jwksRefreshSec: 300, issuers: [{ issuer: 'partner-idp', secret: partnerSecret }] } },
        }),
      );
      assert.equal((await get(gateway, await sign(key, { ...claims, sub: 'carol' }))).status, 200);
      assert.equal((await get(gateway, partnerToken)).status, 200);
      assert.equal(jwks.requests, fetched, 'the reload fetched the JWKS again');
    } finally {
      await gateway.close();
      await jwks.close();
    }
  });
});
