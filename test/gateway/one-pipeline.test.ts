import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { boundedContexts } from '../../src/contexts/index.js';
import { startDemoBackends, type DemoBackends } from '../../src/demo/backends.js';
import { demoConfig } from '../../src/demo/demo-config.js';
import { acceptanceProtoDir, echoProtoFile } from '../fixtures/echo-upstream.js';
import { startGateway, testConfig, testJwtSecret, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';

/*
 * Declarative bindings and route modules run one pipeline (src/transcoding/route-pipeline.ts):
 * match → authenticate → read and bind the body → validate → call → render. Real sockets,
 * the real demo backends.
 */

let backends: DemoBackends;
let gateway: RunningGateway;

before(async () => {
  backends = await startDemoBackends({ streamIntervalMs: 0 });
  gateway = await startGateway(demoConfig(backends.addresses, {}), { contexts: boundedContexts });
});

after(async () => {
  await gateway.close();
  await backends.close();
});

/** Sends `head` on a raw socket and resolves with what the server answers before `waitMs`, or '' if nothing. */
function answerTo(port: number, head: string, waitMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, waitMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      if (received.includes('\r\n\r\n') && /"requestId"/.test(received)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', reject);
  });
}

describe('authentication comes before the body is read', () => {
  let secured: RunningGateway;
  before(async () => {
    secured = await startGateway(
      testConfig({
        protos: { includeDirs: [acceptanceProtoDir] },
        services: [{ name: 'echo', protoFiles: [echoProtoFile], service: 'acceptance.v1.EchoService', address: '127.0.0.1:1', auth: 'required' }],
        auth: { jwt: { secret: testJwtSecret } },
      }),
    );
  });
  after(() => secured.close());

  it('answers an anonymous POST with a malformed body 401, not 400', async () => {
    const response = await fetch(`${secured.url}/v1/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"not json' });
    assert.equal(response.status, 401);
    assert.equal(envelopeOf(await response.json()).status, 'UNAUTHENTICATED');
  });

  it('answers an anonymous POST 401 at once, without waiting for the body it announced', async () => {
    const answer = await answerTo(
      secured.port,
      'POST /v1/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 524288\r\n\r\n{"id":',
    );
    assert.match(answer, /^HTTP\/1\.1 401 /, `the gateway did not answer before the body was sent: ${JSON.stringify(answer.slice(0, 80))}`);
  });

  it('answers an anonymous POST whose body is over bodyLimit 401, not 413', async () => {
    const answer = await answerTo(
      secured.port,
      'POST /v1/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 52428800\r\n\r\n',
    );
    assert.match(answer, /^HTTP\/1\.1 401 /);
  });
});

describe('route modules on the one pipeline', () => {
  it('labels a route module by its path template in the access line and the metrics', async () => {
    const response = await fetch(`${gateway.url}/v1/tickers/AAPL`);
    assert.equal(response.status, 200);
    const requestId = response.headers.get('x-request-id');
    const line = gateway.logs.find((l) => l['msg'] === 'request completed' && l['requestId'] === requestId);
    assert.equal(line?.['route'], '/v1/tickers/{symbol}');
    assert.equal(line?.['upstreamCode'], 'OK');
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    assert.match(metrics, /portico_http_requests_total\{route="\/v1\/tickers\/\{symbol\}",method="GET",status="200"\} \d+/);
  });

  it('words validation failures as declarative bindings do, and shows no regex', async () => {
    const module = await fetch(`${gateway.url}/v1/tickers/1ABC?bogus=1`);
    const binding = await fetch(`${gateway.url}/v1/quotes/AAPL?bogus=1`);
    const violationsOf = async (response: Response) => (envelopeOf(await response.json()).details[0] as { fieldViolations: { field: string; description: string }[] }).fieldViolations;
    const fromModule = await violationsOf(module);
    const fromBinding = await violationsOf(binding);
    assert.deepEqual(fromBinding, [{ field: 'bogus', description: 'unknown query parameter' }]);
    assert.deepEqual(
      fromModule.find((v) => v.field === 'bogus'),
      { field: 'bogus', description: 'unknown query parameter' },
    );
    const symbol = fromModule.find((v) => v.field === 'symbol');
    assert.equal(symbol?.description, 'has an invalid format (Ticker symbol, e.g. NVDA)');
  });

  it('records the upstream code of a route module call that failed, with its own wording', async () => {
    const response = await fetch(`${gateway.url}/v1/tickers/ZZZZ`);
    assert.equal(response.status, 404);
    assert.equal(envelopeOf(await response.json()).message, 'unknown symbol');
    const line = gateway.logs.find((l) => l['msg'] === 'request completed' && l['requestId'] === response.headers.get('x-request-id'));
    assert.equal(line?.['upstreamCode'], 'NOT_FOUND');
  });
});

describe('a service added by a reload', () => {
  it('gets its route modules mounted, and loses them when removed again', async () => {
    const full = demoConfig(backends.addresses, {});
    const without = { ...full, services: full.services.filter((s) => s.name !== 'market-monitor') };
    const reloading = await startGateway(without, { contexts: boundedContexts });
    try {
      assert.equal((await fetch(`${reloading.url}/v1/tickers/AAPL`)).status, 404);
      reloading.gateway.live.reload(full);
      const response = await fetch(`${reloading.url}/v1/tickers/AAPL`);
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { direction: string }).direction, 'UP');
      reloading.gateway.live.reload({ ...without, reload: { allowBreaking: true } });
      assert.equal((await fetch(`${reloading.url}/v1/tickers/AAPL`)).status, 404);
    } finally {
      await reloading.close();
    }
  });
});
