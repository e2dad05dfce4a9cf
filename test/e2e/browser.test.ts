import { expect } from 'chai';
import announcements from '../../plugins/announcements/index.ts';
import { DEMO_PASSWORD } from '../helpers/app.ts';
import { useBrowserApp } from '../helpers/browser.ts';

describe('in a real browser', function () {
  this.timeout(60000);
  const env = useBrowserApp({ plugins: [announcements], label: 'e2e' });

  it('a staff member signs in, publishes an announcement, and a learner reads it on their home page', async () => {
    const staff = await env.browser.newPage();
    await staff.goto(`${env.url}/announcements`);
    // Sent to sign in first, and back to the page asked for afterwards.
    expect(new URL(staff.url()).pathname).to.equal('/login');
    await staff.getByLabel('E-mail address').fill('staff@olive.example');
    await staff.getByLabel('Password').fill(DEMO_PASSWORD);
    await staff.getByRole('button', { name: 'Sign in' }).click();
    await staff.waitForURL(`${env.url}/announcements`);
    await staff.getByRole('link', { name: 'New announcement' }).click();
    await staff.getByLabel('Title').fill('Holmenkollen: arrival day logistics');
    await staff.getByLabel(/^Text/).fill('Shuttles leave Oslo airport at 14:00.');
    await staff.getByLabel('Who should see it').selectOption('learner');
    await staff.getByRole('button', { name: 'Publish' }).click();
    expect(await staff.getByRole('status').textContent()).to.contain('The announcement is published.');

    const learner = await (await env.browser.newContext()).newPage();
    await learner.goto(`${env.url}/login`);
    await learner.getByLabel('E-mail address').fill('learner@olive.example');
    await learner.getByLabel('Password').fill(DEMO_PASSWORD);
    await learner.getByRole('button', { name: 'Sign in' }).click();
    await learner.waitForURL(`${env.url}/`);
    expect(await learner.getByRole('heading', { level: 1 }).textContent()).to.equal('Welcome, Leila Haddad');
    expect(await learner.locator('[data-panel="announcements"]').textContent()).to.contain('Holmenkollen: arrival day logistics');
    await learner.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Announcements' }).click();
    expect(await learner.getByRole('heading', { name: 'Holmenkollen: arrival day logistics' }).isVisible()).to.equal(true);

    // Switch to French without JavaScript-only controls, then sign out.
    await learner.getByLabel('Language').selectOption('fr');
    await learner.getByRole('button', { name: 'Change' }).click();
    await learner.waitForURL(`${env.url}/announcements`);
    expect(await learner.getByRole('heading', { level: 1 }).textContent()).to.equal('Annonces');
    await learner.getByRole('button', { name: 'Se déconnecter' }).click();
    await learner.waitForURL(/\/login\?signedOut=1$/);
    expect(await learner.getByRole('status').textContent()).to.contain('Vous êtes déconnecté·e.');
  });

  it('works without JavaScript, and keyboard users can skip to the content', async () => {
    const context = await env.browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${env.url}/login`);
    await page.getByLabel('E-mail address').fill('admin@olive.example');
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${env.url}/`);
    await page.getByRole('link', { name: 'Administration' }).click();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Users');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).to.equal('Skip to main content');
    await context.close();
  });

  it('fits a phone screen without sideways scrolling', async () => {
    const context = await env.browser.newContext({ viewport: { width: 360, height: 740 } });
    const page = await context.newPage();
    await page.goto(`${env.url}/login`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).to.equal(0);
    await context.close();
  });
});
