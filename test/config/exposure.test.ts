import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway.js';
import { envelopeOf, rawRequest } from '../support/http.js';

/*
 * What the config lets a browser or a passer-by see: the OpenAPI document and docs
 * (openapi.enabled) and the request headers a CORS preflight grants (cors.allowedHeaders).
 */

const origin = 'http://app.example';

describe('openapi.enabled: false', () => {
  let gw: RunningGateway;
  before(async () => (gw = await startGateway(testConfig({ openapi: { enabled: false } }))));
  after(() => gw.close());

  for (const path of ['/openapi.json', '/docs', '/docs/']) {
    it(`answers ${path} with the 404 envelope`, async () => {
      const response = await fetch(`${gw.url}${path}`);
      assert.equal(response.status, 404);
      assert.equal(envelopeOf(await response.json()).status, 'NOT_FOUND');
    });
  }
});

describe('openapi.enabled by default', () => {
  let gw: RunningGateway;
  before(async () => (gw = await startGateway(testConfig({}))));
  after(() => gw.close());

  it('serves /openapi.json and /docs', async () => {
    assert.equal(((await (await fetch(`${gw.url}/openapi.json`)).json()) as { openapi: string }).openapi, '3.1.0');
    assert.equal((await fetch(`${gw.url}/docs`)).status, 200);
  });
});

describe('cors.allowedHeaders', () => {
  let gw: RunningGateway;
  before(async () => (gw = await startGateway(testConfig({ cors: { origins: [origin], allowedHeaders: ['content-type', 'authorization'] } }))));
  after(() => gw.close());

  const preflight = (requestHeaders: string) =>
    rawRequest(`${gw.url}/v1/anything`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
    });

  it('answers a preflight with the configured list, not an echo of an unlisted header', async () => {
    const response = await preflight('content-type, x-internal-override');
    assert.equal(response.headers['access-control-allow-origin'], origin);
    assert.equal(response.headers['access-control-allow-headers'], 'content-type, authorization');
  });

  it('defaults to the headers a JSON API client sends', () => {
    assert.deepEqual(testConfig({}).cors.allowedHeaders, ['content-type', 'authorization', 'x-request-id', 'accept-language', 'traceparent', 'tracestate', 'grpc-timeout']);
  });
});
