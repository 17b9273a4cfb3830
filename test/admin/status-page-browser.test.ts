import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, openPage } from '../support/browser.js';
import { repoRoot } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { probeConfigYaml, startAdminGateway, startHealthReplica, type AdminGateway, type HealthReplica } from './admin-harness.js';

/*
 * The status page (src/admin/status-page.html) in headless chromium, against a gateway whose
 * admin listener is up and two real grpc-js replicas with health checks. With
 * PORTICO_SCREENSHOT=1 the test also writes docs/admin-status.png, the README's picture.
 */

/** The page reads the JSON endpoints every 2 s (status-page.html). */
const refreshMs = 2000;
/** A refresh's own requests on a busy machine. */
const fetchSlackMs = 1500;

describe('status page', () => {
  let replicas: HealthReplica[];
  let running: AdminGateway;
  let browser: Browser;

  const replicaHealth = async (address: string): Promise<string | undefined> => {
    const body = (await (await fetch(`${running.adminUrl}/admin/upstreams`)).json()) as { services: { replicas: { address: string; health: string }[] }[] };
    return body.services[0]?.replicas.find((replica) => replica.address === address)?.health;
  };

  before(async () => {
    replicas = await Promise.all([startHealthReplica(), startHealthReplica()]);
    running = await startAdminGateway(probeConfigYaml(replicas));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await running.close();
    await Promise.all(replicas.map((replica) => replica.close()));
  });

  it('renders routes, replicas and the config version, shows a replica turning unhealthy within a refresh, and logs no console errors', async () => {
    await waitFor(async () => (await Promise.all(replicas.map((replica) => replicaHealth(replica.address)))).every((health) => health === 'healthy'));
    for (let i = 0; i < 20; i++) await fetch(`${running.url}/v1/probe/item-${i}`);
    await fetch(`${running.url}/v1/fail/14`);

    const { page, consoleErrors } = await openPage(browser, `${running.adminUrl}/admin/`);
    try {
      await page.locator('#version', { hasText: String(running.gateway.live.current.version) }).waitFor();
      for (const replica of replicas) await page.locator(`[data-replica="${replica.address}"][data-health="healthy"]`).waitFor();
      await page.locator('#routes tr', { hasText: '/v1/probe/{id}' }).waitFor();
      // Traffic between two readings gives the route a rate.
      for (let i = 0; i < 20; i++) await fetch(`${running.url}/v1/probe/again-${i}`);
      await page.locator('#routes tr', { hasText: '/v1/fail/{code}' }).waitFor();

      const sick = replicas[1]!;
      sick.serving = false;
      await waitFor(async () => (await replicaHealth(sick.address)) === 'unhealthy');
      const chip = page.locator(`[data-replica="${sick.address}"][data-health="unhealthy"]`);
      await chip.waitFor({ timeout: refreshMs + fetchSlackMs });
      // The test's tsconfig has no DOM types: the page's window, typed for this one call.
      type PageWindow = { getComputedStyle(node: unknown): { backgroundColor: string } };
      const colour = await chip.evaluate((node) => (globalThis as unknown as PageWindow).getComputedStyle(node).backgroundColor);
      assert.equal(colour, 'rgb(207, 34, 46)', 'an unhealthy replica is red');
      assert.match((await page.locator('#upstreams').textContent()) ?? '', /breaker closed/);

      if (process.env['PORTICO_SCREENSHOT'] === '1') {
        await page.setViewportSize({ width: 1100, height: 400 });
        const file = path.join(repoRoot, 'docs/admin-status.png');
        fs.mkdirSync(path.dirname(file), { recursive: true });
        await page.screenshot({ path: file, fullPage: true });
      }
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.close();
    }
  });
});
