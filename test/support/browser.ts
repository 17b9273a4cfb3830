import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/*
 * Real-browser tests drive Debian's chromium through playwright-core (which downloads no
 * browser of its own). Launch once per test file, open a page per case:
 *
 *   const browser = await launchBrowser();           // in before()
 *   const { page, consoleErrors } = await openPage(browser, url);
 *   ...
 *   await browser.close();                           // in after()
 *
 * or `await withBrowser(async (browser) => { ... })` when one block does it all.
 */

export const chromiumPath = '/usr/bin/chromium';

/**
 * What this machine and CI need: no sandbox (containers without user namespaces), no GPU, and
 * nothing that phones home (QUIC, sync, component and background updates), so a page talks
 * only to the loopback servers a test starts.
 */
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless chromium; each launch gets a fresh temporary profile from playwright. */
export async function launchBrowser(): Promise<Browser> {
  try {
    accessSync(chromiumPath, constants.X_OK);
  } catch {
    throw new Error(`no chromium at ${chromiumPath}: install Debian's chromium (apt-get install chromium); .ci/run does it`);
  }
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: 30_000 });
}

/** Runs `use` with a launched browser and closes the browser afterwards, whatever happens. */
export async function withBrowser<T>(use: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await launchBrowser();
  try {
    return await use(browser);
  } finally {
    await browser.close();
  }
}

export interface OpenedPage {
  page: Page;
  /** Console errors and uncaught exceptions of the page, in order, as text; grows while the page lives. */
  consoleErrors: string[];
}

/**
 * Opens `url` in a page of its own (its own context: no cookies or cache shared with other
 * pages) and waits for its load event. Close it with `page.close()`.
 */
export async function openPage(browser: Browser, url: string): Promise<OpenedPage> {
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
  try {
    const response = await page.goto(url);
    if (!response?.ok()) throw new Error(`${url} answered ${response?.status() ?? 'nothing'}`);
  } catch (error) {
    await page.close();
    throw error;
  }
  return { page, consoleErrors };
}
