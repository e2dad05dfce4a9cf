import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { signedInPage, useBrowserApp } from '../../../test/helpers/browser.ts';
import courses from '../index.ts';
import { formatBytes } from '../../../src/index.ts';
import { minimalPdf, windowsProgram } from './samples.ts';

describe('courses in a real browser', function () {
  this.timeout(60000);
  const env = useBrowserApp({ plugins: [courses], label: 'courses_e2e' });

  const signedIn = (email: string) => signedInPage(env.browser, env.url, email);

  /** The trainer's editor of the first module of Conflict Analysis, reached through the menus. */
  async function firstModuleEditor(trainer: Page): Promise<string> {
    await trainer.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Course authoring', exact: true }).click();
    await trainer.waitForURL(`${env.url}/courses/manage`);
    expect(await trainer.getByRole('heading', { level: 1 }).textContent()).to.equal('Course authoring');
    await trainer.getByRole('link', { name: 'Conflict Analysis', exact: true }).click();
    await trainer.waitForURL(`${env.url}/courses/manage/conflict-analysis`);
    // The modules are listed in order under "Modules"; the first one's title links to its editor.
    const firstModule = trainer.locator('#modules ~ ol.card-list').first().locator('li.card h3 a').first();
    const moduleTitle = (await firstModule.textContent())!.trim();
    await firstModule.click();
    await trainer.waitForURL(/\/courses\/manage\/conflict-analysis\/modules\/[a-f0-9]{24}$/);
    expect(await trainer.getByRole('heading', { level: 1 }).textContent()).to.equal(moduleTitle);
    return moduleTitle;
  }

  const fileCards = (page: Page, filename: string) =>
    page
      .locator('#items ~ ol.card-list')
      .first()
      .locator('li.card')
      .filter({ has: page.getByRole('link', { name: filename, exact: true }) });

  it('a trainer uploads a PDF to a module; a learner opens it, marks a lesson done and sees their progress', async () => {
    const pdf = minimalPdf('Briefing note: actors and interests');

    // ---- The trainer -------------------------------------------------------------------------------
    const trainer = await signedIn('trainer@olive.example');
    const moduleTitle = await firstModuleEditor(trainer);
    expect(await fileCards(trainer, 'briefing-note.pdf').count()).to.equal(0);
    await trainer.locator('input[type=file][name=files]').setInputFiles({ name: 'briefing-note.pdf', mimeType: 'application/pdf', buffer: pdf });
    await trainer.getByRole('button', { name: 'Upload', exact: true }).click();
    await trainer.waitForURL(/\/courses\/manage\/conflict-analysis\/modules\/[a-f0-9]{24}#items$/);
    // Read at once (the page has loaded): a message that is missing now must not be waited for.
    // It goes missing when the browser follows the 303 before the session holding it is saved:
    // express-session sends the headers first and saves in parallel (expressjs/session#360).
    expect(await trainer.getByRole('status').allTextContents()).to.deep.equal(['1 file uploaded.']);
    // Listed as a new item of the module, with its sniffed type.
    const uploaded = fileCards(trainer, 'briefing-note.pdf');
    expect(await uploaded.count()).to.equal(1);
    expect(await uploaded.locator('.badge').textContent()).to.equal('Material');
    expect(await uploaded.locator('p.muted').textContent()).to.equal(`briefing-note.pdf · application/pdf · ${formatBytes(pdf.length)}`);
    await trainer.context().close();

    // ---- The learner -------------------------------------------------------------------------------
    const learner = await signedIn('learner@olive.example');
    await learner.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Courses', exact: true }).click();
    await learner.waitForURL(`${env.url}/courses`);
    await learner.getByRole('link', { name: 'Conflict Analysis', exact: true }).click();
    await learner.waitForURL(`${env.url}/courses/conflict-analysis`);
    expect(await learner.getByRole('heading', { level: 1 }).textContent()).to.equal('Conflict Analysis');
    await learner.getByRole('link', { name: moduleTitle, exact: true }).click();
    await learner.waitForURL(/\/courses\/conflict-analysis\/modules\/[a-f0-9]{24}$/);
    expect(await learner.getByRole('heading', { level: 1 }).textContent()).to.equal(moduleTitle);

    // The uploaded material is there, and opens as the very same PDF.
    const material = learner.getByRole('article', { name: /^briefing-note\.pdf/ });
    expect(await material.count()).to.equal(1);
    const open = material.getByRole('link', { name: 'Open briefing-note.pdf' });
    const href = await open.getAttribute('href');
    expect(href).to.match(/^\/courses\/conflict-analysis\/items\/[a-f0-9]{24}\/file$/);
    const response = await learner.request.get(new URL(href!, env.url).href);
    expect(response.status()).to.equal(200);
    expect(response.headers()['content-type']).to.equal('application/pdf');
    expect(response.headers()['content-disposition']).to.match(/^inline; filename="?briefing-note\.pdf"?$/);
    expect(Buffer.compare(await response.body(), pdf)).to.equal(0);
    const download = await learner.request.get(new URL(`${href!}?download=1`, env.url).href);
    expect(download.headers()['content-disposition']).to.match(/^attachment; filename="?briefing-note\.pdf"?$/);

    // Marks the first lesson done: the page says so, and the lesson carries the "Done" badge.
    const lesson = learner
      .getByRole('article')
      .filter({ has: learner.locator('h2[id^="title-"] .badge', { hasText: /^Lesson$/ }) })
      .first();
    const lessonLabel = await lesson.getAttribute('aria-labelledby');
    const lessonTitle = (await learner.locator(`h2#${lessonLabel}`).evaluate((h) => h.firstChild?.textContent ?? '')).trim();
    expect(lessonTitle).to.not.equal('');
    expect(await lesson.locator('.badge-done').count()).to.equal(0);
    await lesson.getByRole('button', { name: 'Mark as done' }).click();
    await learner.waitForURL(/\/courses\/conflict-analysis\/modules\/[a-f0-9]{24}#item-[a-f0-9]{24}$/);
    expect(await learner.getByRole('status').allTextContents()).to.deep.equal([`“${lessonTitle}” is marked as done.`]);
    const doneLesson = learner.locator(`article[aria-labelledby="${lessonLabel}"]`);
    expect(await doneLesson.locator('.badge-done').textContent()).to.equal('Done');
    expect(await doneLesson.getByRole('button', { name: 'Mark as done' }).count()).to.equal(0);

    // The course outline shows the progress: one item of this module done; no module complete yet
    // (the module also holds other items and a required quiz).
    const itemCount = await learner.getByRole('article').count();
    await learner.getByRole('navigation', { name: 'Other modules' }).getByRole('link', { name: 'Course outline' }).click();
    await learner.waitForURL(`${env.url}/courses/conflict-analysis`);
    const progress = learner.getByRole('region', { name: 'Your progress' });
    expect(await progress.textContent()).to.match(/\b0 of 6 required modules done\b/);
    const firstModuleCard = learner.locator('ol.module-list li.card').filter({ has: learner.getByRole('link', { name: moduleTitle, exact: true }) });
    expect((await firstModuleCard.locator('p.muted').textContent())!.trim()).to.equal(`${itemCount} items · 1 of ${itemCount} done`);

    // And the home page now lists the course among the learner's own.
    await learner.getByRole('link', { name: 'Olive' }).click();
    await learner.waitForURL(`${env.url}/`);
    expect(await learner.locator('[data-panel="courses"]').textContent()).to.contain('Conflict Analysis');
    await learner.context().close();
  });

  it('refuses a Windows program renamed to .pdf with a clear message, and lists nothing', async () => {
    const trainer = await signedIn('trainer@olive.example');
    await firstModuleEditor(trainer);
    const moduleUrl = trainer.url();
    const before = await trainer.locator('#items ~ ol.card-list').first().locator('li.card').count();

    await trainer.locator('input[type=file][name=files]').setInputFiles({ name: 'setup.pdf', mimeType: 'application/pdf', buffer: windowsProgram() });
    const [response] = await Promise.all([
      trainer.waitForResponse((r) => r.request().method() === 'POST' && /\/uploads\?/.test(r.url())),
      trainer.getByRole('button', { name: 'Upload', exact: true }).click(),
    ]);
    expect(response.status()).to.equal(415);
    await trainer.waitForLoadState();
    // The module editor comes back, with the reason next to the upload form, naming the file.
    expect(await trainer.getByRole('alert').textContent()).to.equal('setup.pdf is not an allowed type: its content is a Windows program.');
    expect(await trainer.locator('input[type=file][name=files]').count()).to.equal(1);
    expect(await trainer.locator('#items ~ ol.card-list').first().locator('li.card').count()).to.equal(before);

    await trainer.goto(moduleUrl);
    expect(await trainer.locator('#items ~ ol.card-list').first().locator('li.card').count()).to.equal(before);
    expect(await trainer.getByText('setup.pdf').count()).to.equal(0);
    // Nothing of it was kept either: no item, no stored file.
    const db = env.app.olive.connection.db!;
    expect(await db.collection('courses_item').countDocuments({ title: 'setup.pdf' })).to.equal(0);
    expect(await db.collection('courses_material.files').countDocuments({ filename: 'setup.pdf' })).to.equal(0);
    await trainer.context().close();
  });
});
