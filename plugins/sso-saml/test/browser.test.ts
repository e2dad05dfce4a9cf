import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../../../test/helpers/browser.ts';
import announcements from '../../announcements/index.ts';
import { passwordOf, useSamlEnvironment, type SamlEnvironment } from './setup.ts';

/** From Olive's sign-in page, through the organisation button and the IdP's login form, back to Olive. */
async function signInThroughIdp(env: SamlEnvironment, page: Page, username: string) {
  await page.goto(`${env.baseUrl}/login`);
  await page.getByRole('link', { name: 'Partner organisation (test IdP)' }).click();
  await page.waitForURL(`${env.idp.url}/**`);
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill(passwordOf(username));
  await page.locator('button[type=submit], input[type=submit]').first().click();
  // The IdP's page posts the signed response to Olive, which lands on the home page.
  await page.waitForURL(`${env.baseUrl}/`);
}

describe("sso-saml in a real browser: sign-in at the IdP's own form, single logout both ways", function () {
  this.timeout(60000);
  const env = useSamlEnvironment({ label: 'sso_browser', listen: true, plugins: [announcements] });
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  it('the sign-in page offers the organisation and keeps the local form', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${env.baseUrl}/login`);
    expect(await page.getByRole('heading', { name: "With your organisation's account" }).count()).to.equal(1);
    expect(await page.getByRole('link', { name: 'Partner organisation (test IdP)' }).count()).to.equal(1);
    expect(await page.getByLabel('Password').count()).to.equal(1);
  });

  it('a learner signs in at the IdP and lands on the dashboard; signing out in Olive signs out at the IdP too', async () => {
    const page = await (await browser.newContext()).newPage();
    await signInThroughIdp(env, page, 'amina');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.include('Amina Diallo');
    expect(await page.getByRole('status').allTextContents()).to.deep.equal(['Welcome back, Amina Diallo.']);
    expect(await page.locator('[data-panel="announcements"]').count()).to.equal(1);
    await page.goto(`${env.baseUrl}/account`);
    expect(await page.locator('dd').allTextContents()).to.include('Learner');

    await page.getByRole('button', { name: 'Sign out' }).click();
    // Olive's session ends, the IdP's too (its logout service answers), and we are back at sign-in.
    await page.waitForURL(`${env.baseUrl}/login?signedOut=1`);
    expect(await page.getByRole('status').allTextContents()).to.include('You have signed out.');
    // Signing in again needs the password again: the IdP session is gone.
    await page.getByRole('link', { name: 'Partner organisation (test IdP)' }).click();
    await page.waitForURL(`${env.idp.url}/**`);
    expect(await page.locator('input[name=password]').count()).to.equal(1);
  });

  it('a trainer gets the trainer role from the IdP groups; a logout started at the IdP ends the Olive session', async () => {
    const page = await (await browser.newContext()).newPage();
    await signInThroughIdp(env, page, 'pierre');
    await page.goto(`${env.baseUrl}/account`);
    expect(await page.locator('dd').allTextContents()).to.include('Trainer and Programme staff');

    await page.goto(`${env.idp.url}/saml2/idp/SingleLogoutService.php?ReturnTo=${encodeURIComponent(`${env.baseUrl}/login`)}`);
    await page.waitForURL(`${env.baseUrl}/login`);
    await page.goto(`${env.baseUrl}/account`);
    expect(page.url()).to.equal(`${env.baseUrl}/login?returnTo=%2Faccount`);
  });
});

describe('sso-saml in a real browser, the IdP on another site, over plain http (development)', function () {
  this.timeout(60000);
  // Olive at localhost, the IdP at 127.0.0.1: two sites, so the IdP's answer is a cross-site POST.
  const env = useSamlEnvironment({ label: 'sso_browser_xsite', listen: true, host: 'localhost' });
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  it('the sign-in cookie (no SameSite attribute) comes with the cross-site POST, so the browser that started the sign-in is signed in', async () => {
    expect(new URL(env.baseUrl).hostname).to.not.equal(new URL(env.idp.url).hostname);
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInThroughIdp(env, page, 'amina');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.include('Amina Diallo');
    expect((await context.cookies(env.baseUrl)).find((c) => c.name === 'olive.saml')).to.include({ httpOnly: true, secure: false });
  });
});
