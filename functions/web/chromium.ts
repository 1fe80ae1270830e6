/**
 * What the pages' browser tests share (web.test.ts, queue-page.test.ts): Debian's Chromium
 * (`apt-get install chromium`) driven by playwright-core, browser contexts that report each
 * Content-Security-Policy violation of their pages, and signing a page in with an access token.
 */
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why the browser tests are skipped on this machine (no Chromium), never in CI (CI=true), where they must run. */
export const skipWithoutChromium =
  !existsSync(CHROMIUM) && !process.env.CI && `no ${CHROMIUM} (apt-get install chromium)`;

/** A browser context of its own (its own storage) whose pages' CSP violations go to `violations`. */
export async function reportingContext(
  browser: Browser,
  violations: string[],
  options: BrowserContextOptions = {},
): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  await context.exposeFunction('reportViolation', (violation: string) => violations.push(violation));
  await context.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (event) =>
      (window as unknown as { reportViolation: (violation: string) => void }).reportViolation(
        `${event.effectiveDirective} ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`,
      ),
    ),
  );
  return context;
}

/** Signs the page in with a pasted access token ("Use an access token"). */
export async function useToken(page: Page, token: string): Promise<void> {
  if ((await page.locator('#signed-out details').getAttribute('open')) === null) {
    await page.click('#signed-out summary');
  }
  await page.fill('#token', token);
  await page.click('#token-sign-in');
}
