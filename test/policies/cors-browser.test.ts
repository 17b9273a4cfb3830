import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { GatewayConfig } from '../../src/config/schema.js';
import { startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { launchBrowser, openPage } from '../support/browser.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { echoService, stackConfig } from '../transcoding-e2e/harness.js';

/*
 * CORS as a browser enforces it, not as a header check: the real gateway in front of a real
 * grpc-js upstream, and two frontends on loopback. Ports differ, so each is its own origin
 * (scheme, host and port); only the first is in cors.origins. Each serves a page whose script
 * POSTs JSON to the gateway with credentials, so chromium sends a preflight first. All on
 * 127.0.0.1: the frontends are same-site with the gateway, so a cookie a frontend set goes
 * along with a credentialed call, as a session cookie would. The last case reloads the config
 * (gateway.live.reload, what the file watcher calls) and sees the browser follow the new origins.
 */

interface PageServer {
  origin: string;
  close(): Promise<void>;
}

/** A static server answering GET / (any query) with `html` and `headers`, 404 for anything else. */
async function startPageServer(html: string, headers: Record<string, string> = {}): Promise<PageServer> {
  const server = http.createServer((req, res) => {
    if (new URL(req.url ?? '', 'http://page').pathname !== '/') return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * The frontend page: its script calls CreateItem (POST /v1/items, body "inner") on the gateway
 * its URL names (?gateway=). A JSON POST is not a "simple" request, so the browser preflights it.
 */
const frontendPage = `<!doctype html>
<html>
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>frontend</title></head>
<body>
<script>
  const gateway = new URL(location.href).searchParams.get('gateway');
  async function callGateway() {
    try {
      const response = await fetch(gateway + '/v1/items?id=from-browser', {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ leaf: location.origin }),
      });
      return { status: response.status, requestId: response.headers.get('x-request-id'), body: await response.json() };
    } catch (error) {
      return { error: error.name + ': ' + error.message };
    }
  }
</script>
</body>
</html>`;

/** What the page's callGateway() resolves to: what it could read of the answer, or the fetch error. */
type CallOutcome = { status: number; requestId: string | null; body: { id: string; inner: { leaf: string } } } | { error: string };

/** Set by both frontends; host-scoped, so the browser sends it to the gateway on another port. */
const sessionCookie = 'session=frontend-7';

let upstream: EchoUpstream;
let gateway: RunningGateway;
let allowed: PageServer;
let stranger: PageServer;
let browser: Browser;

before(async () => {
  const pageHeaders = { 'set-cookie': `${sessionCookie}; Path=/; SameSite=Lax` };
  [upstream, allowed, stranger, browser] = await Promise.all([
    startEchoUpstream(),
    startPageServer(frontendPage, pageHeaders),
    startPageServer(frontendPage, pageHeaders),
    launchBrowser(),
  ]);
  gateway = await startGateway(configAllowing([allowed.origin]));
});

function configAllowing(origins: string[]): GatewayConfig {
  return stackConfig([echoService(upstream.address)], {
    cors: { origins, credentials: true },
    // The upstream records its metadata: a forwarded cookie shows the call was credentialed.
    metadata: { forwardHeaders: ['cookie'] },
  });
}

after(async () => {
  await browser?.close();
  await Promise.all([allowed?.close(), stranger?.close()]);
  await gateway?.close();
  await upstream?.close();
});

/** Opens the frontend of `origin` in a fresh page (no cookies yet) and runs its callGateway(). */
async function callFrom(origin: string): Promise<{ outcome: CallOutcome; consoleErrors: string[] }> {
  const { page, consoleErrors } = await openPage(browser, `${origin}/?gateway=${encodeURIComponent(gateway.url)}`);
  try {
    return { outcome: (await page.evaluate('callGateway()')) as CallOutcome, consoleErrors };
  } finally {
    await page.close();
  }
}

const createItemCalls = (): number => upstream.calls.filter((call) => call.method === 'CreateItem').length;
const preflights = (): number => gateway.logs.filter((line) => line['msg'] === 'request completed' && line['method'] === 'OPTIONS').length;

describe('CORS in a real browser', () => {
  it('lets a page of an allowed origin make a credentialed JSON call and read the answer', async () => {
    const callsBefore = upstream.calls.length;
    const preflightsBefore = preflights();
    const { outcome, consoleErrors } = await callFrom(allowed.origin);
    assert.ok('status' in outcome, `the allowed origin's call failed: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.status, 200);
    assert.equal(outcome.body.id, 'from-browser');
    assert.equal(outcome.body.inner.leaf, allowed.origin);
    assert.ok(outcome.requestId, 'x-request-id is not exposed to the page');
    const call = upstream.calls.slice(callsBefore).find((c) => c.method === 'CreateItem');
    assert.ok(call, 'the upstream received no CreateItem call');
    assert.deepEqual(call.metadata.get('cookie'), [sessionCookie]);
    await waitFor(() => preflights() > preflightsBefore);
    assert.deepEqual(consoleErrors, []);
  });

  it('blocks the call of a page whose origin is not listed: the preflight gets no grant and nothing reaches the upstream', async () => {
    const createItemsBefore = createItemCalls();
    const preflightsBefore = preflights();
    const { outcome, consoleErrors } = await callFrom(stranger.origin);
    assert.deepEqual(outcome, { error: 'TypeError: Failed to fetch' });
    await waitFor(() => preflights() > preflightsBefore);
    assert.equal(createItemCalls(), createItemsBefore);
    assert.ok(
      consoleErrors.some((text) => text.includes(stranger.origin) && /blocked by CORS policy/.test(text)),
      `chromium reported no CORS block: ${JSON.stringify(consoleErrors)}`,
    );
  });

  it('follows a config reload: a newly listed origin can call, a dropped one is blocked', async () => {
    gateway.gateway.live.reload(configAllowing([allowed.origin, stranger.origin]));
    const added = await callFrom(stranger.origin);
    assert.ok('status' in added.outcome, `the origin added by the reload was refused: ${JSON.stringify(added.outcome)}`);
    assert.equal(added.outcome.status, 200);
    assert.equal(added.outcome.body.inner.leaf, stranger.origin);
    assert.deepEqual(added.consoleErrors, []);

    gateway.gateway.live.reload(configAllowing([stranger.origin]));
    const dropped = await callFrom(allowed.origin);
    assert.deepEqual(dropped.outcome, { error: 'TypeError: Failed to fetch' });
  });
});
