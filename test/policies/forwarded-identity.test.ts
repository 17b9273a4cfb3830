import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getJson, echoService, stackConfig } from '../transcoding-e2e/harness.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { signToken, startGateway, testJwtSecret, type RunningGateway } from '../support/gateway.js';

/*
 * What reaches the upstream as the caller's identity and address, over real sockets: claim
 * values gRPC metadata cannot carry as they are, and a client-written X-Forwarded-For.
 */

let upstream: EchoUpstream;
let gateway: RunningGateway;

before(async () => {
  upstream = await startEchoUpstream();
  gateway = await startGateway(
    stackConfig([{ ...echoService(upstream.address), auth: 'optional' }], {
      auth: { jwt: { secret: testJwtSecret, forwardClaims: { sub: 'x-user-id', name: 'x-user-name', roles: 'x-user-roles' } } },
    }),
  );
});
after(async () => {
  await gateway.close();
  await upstream.close();
});

/** GETs an item as `headers` say and returns the metadata the upstream received. */
async function metadataOf(id: string, headers: Record<string, string>) {
  await getJson(gateway, `/v1/items/${id}`, { headers });
  const call = upstream.calls.at(-1)!;
  assert.equal(call.metadata.get('x-request-id').length, 1);
  return call.metadata;
}

describe('claim values forwarded as metadata', () => {
  it('percent-encodes the UTF-8 of a value outside printable ASCII, and the request succeeds', async () => {
    const token = signToken({ sub: 'ålice', name: 'Zoë 100%' });
    const metadata = await metadataOf('utf8', { authorization: `Bearer ${token}` });
    assert.deepEqual(metadata.get('x-user-id'), ['%C3%A5lice']);
    assert.deepEqual(metadata.get('x-user-name'), ['Zo%C3%AB 100%25']);
    assert.equal(decodeURIComponent(metadata.get('x-user-name')[0] as string), 'Zoë 100%');
  });

  it('encodes CR and LF, so a claim cannot add a line or a metadata entry', async () => {
    const token = signToken({ sub: 'bob\r\nx-admin: true' });
    const metadata = await metadataOf('crlf', { authorization: `Bearer ${token}` });
    assert.deepEqual(metadata.get('x-user-id'), ['bob%0D%0Ax-admin: true']);
    assert.deepEqual(metadata.get('x-admin'), []);
  });

  it('keeps printable values as they are and sends non-string claims as JSON', async () => {
    const token = signToken({ sub: 'alice', roles: ['reader', 'writer'] });
    const metadata = await metadataOf('plain', { authorization: `Bearer ${token}` });
    assert.deepEqual(metadata.get('x-user-id'), ['alice']);
    assert.deepEqual(metadata.get('x-user-roles'), ['["reader","writer"]']);
  });

  it('logs no error and no claim value', () => {
    const text = JSON.stringify(gateway.logs);
    assert.ok(!text.includes('ålice') && !text.includes('x-admin'), 'a claim value reached the logs');
    assert.deepEqual(
      gateway.logs.filter((line) => (line['level'] as number) >= 50),
      [],
    );
  });
});

describe('x-forwarded-for', () => {
  it('carries the address the gateway saw, not the one a client wrote', async () => {
    const metadata = await metadataOf('spoofed', { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' });
    assert.deepEqual(metadata.get('x-forwarded-for'), ['127.0.0.1']);
  });

  it('carries the address the gateway saw when the client sends none', async () => {
    const metadata = await metadataOf('plain-xff', {});
    assert.deepEqual(metadata.get('x-forwarded-for'), ['127.0.0.1']);
  });
});
