import fs from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { CreateAppOptions } from '../../src/core/app.ts';
import { createTestApp, DEMO_PASSWORD, listen, type TestApp } from './app.ts';

/** Debian's Chromium, driven headless; see docs/architecture.md (no browser download is possible here). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH.`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * A seeded app served on a free port and a browser, for the tests of one `describe` block:
 * `const env = useBrowserApp({ plugins: [...] })`, then `env.url`, `env.browser`, `env.app` in tests.
 */
export function useBrowserApp(options: CreateAppOptions & { label?: string }) {
  const env = {} as { app: TestApp['app']; url: string; browser: Browser; testApp: TestApp };
  let server: Awaited<ReturnType<typeof listen>> | undefined;
  before(async () => {
    env.testApp = await createTestApp({ seed: true, ...options });
    env.app = env.testApp.app;
    server = await listen(env.app);
    env.url = server.url;
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await server?.close();
    await env.testApp?.stop();
  });
  return env;
}

/** A page signed in through the real sign-in form, in a browser context (cookie jar) of its own. */
export async function signedInPage(browser: Browser, baseUrl: string, email: string, password = DEMO_PASSWORD): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${baseUrl}/`);
  return page;
}
