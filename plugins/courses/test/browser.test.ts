import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { createTestApp, DEMO_PASSWORD, listen, type TestApp } from '../../../test/helpers/app.ts';
import { launchBrowser } from '../../../test/helpers/browser.ts';
import courses from '../index.ts';
import { formatBytes } from '../../../src/core/app.ts';

/** A minimal but valid one-page PDF, with a correct cross-reference table. */
function briefingNotePdf(): Buffer {
  const content = 'BT /F1 14 Tf 20 40 Td (Briefing note: actors and interests) Tj ET';
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) pdf += `${String(offset).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/** A Windows program's first bytes: DOS stub and a PE header for an i386 image. */
function windowsProgram(): Buffer {
  const exe = Buffer.alloc(2048);
  exe.write('MZ', 0, 'latin1');
  exe.writeUInt16LE(0x90, 2);
  exe.writeUInt16LE(3, 4);
  exe.writeUInt32LE(0x80, 0x3c); // e_lfanew
  exe.write('This program cannot be run in DOS mode.\r\r\n$', 0x4e, 'latin1');
  exe.write('PE\0\0', 0x80, 'latin1');
  exe.writeUInt16LE(0x14c, 0x84); // Machine: i386
  exe.writeUInt16LE(1, 0x86); // one section
  exe.writeUInt16LE(0xe0, 0x94); // optional header size
  exe.writeUInt16LE(0x0102, 0x96); // executable, 32-bit
  exe.writeUInt16LE(0x10b, 0x98); // PE32 magic
  return exe;
}

describe('courses in a real browser', function () {
  this.timeout(60000);
  let t: TestApp;
  let server: Awaited<ReturnType<typeof listen>>;
  let browser: Browser;

  before(async () => {
    t = await createTestApp({ plugins: [courses], seed: true, label: 'courses_e2e' });
    server = await listen(t.app);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await t?.stop();
  });

  /** Signs in through the real form, in a context (cookie jar) of its own. */
  async function signedIn(email: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/`);
    return page;
  }

  /** The trainer's editor of the first module of Conflict Analysis, reached through the menus. */
  async function firstModuleEditor(trainer: Page): Promise<string> {
    await trainer.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Course authoring', exact: true }).click();
    await trainer.waitForURL(`${server.url}/courses/manage`);
    expect(await trainer.getByRole('heading', { level: 1 }).textContent()).to.equal('Course authoring');
    await trainer.getByRole('link', { name: 'Conflict Analysis', exact: true }).click();
    await trainer.waitForURL(`${server.url}/courses/manage/conflict-analysis`);
    // The modules are listed in order under "Modules"; the first one's title links to its editor.
    const firstModule = trainer.locator('#modules ~ ol.card-list').first().locator('li.card h3 a').first();
    const moduleTitle = (await firstModule.textContent())!.trim();
    await firstModule.click();
    await trainer.waitForURL(/\/courses\/manage\/conflict-analysis\/modules\/[a-f0-9]{24}$/);
    expect(await trainer.getByRole('heading', { level: 1 }).textContent()).to.equal(moduleTitle);
    return moduleTitle;
  }

  const fileCards = (page: Page, filename: string) => page.locator('#items ~ ol.card-list').first().locator('li.card').filter({ has: page.getByRole('link', { name: filename, exact: true }) });

  it('a trainer uploads a PDF to a module; a learner opens it, marks a lesson done and sees their progress', async () => {
    const pdf = briefingNotePdf();

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
    await learner.waitForURL(`${server.url}/courses`);
    await learner.getByRole('link', { name: 'Conflict Analysis', exact: true }).click();
    await learner.waitForURL(`${server.url}/courses/conflict-analysis`);
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
    const response = await learner.request.get(new URL(href!, server.url).href);
    expect(response.status()).to.equal(200);
    expect(response.headers()['content-type']).to.equal('application/pdf');
    expect(response.headers()['content-disposition']).to.match(/^inline; filename="?briefing-note\.pdf"?$/);
    expect(Buffer.compare(await response.body(), pdf)).to.equal(0);
    const download = await learner.request.get(new URL(`${href!}?download=1`, server.url).href);
    expect(download.headers()['content-disposition']).to.match(/^attachment; filename="?briefing-note\.pdf"?$/);

    // Marks the first lesson done: the page says so, and the lesson carries the "Done" badge.
    const lesson = learner.getByRole('article').filter({ has: learner.locator('h2[id^="title-"] .badge', { hasText: /^Lesson$/ }) }).first();
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
    await learner.waitForURL(`${server.url}/courses/conflict-analysis`);
    const progress = learner.getByRole('region', { name: 'Your progress' });
    expect(await progress.textContent()).to.match(/\b0 of 6 required modules done\b/);
    const firstModuleCard = learner.locator('ol.module-list li.card').filter({ has: learner.getByRole('link', { name: moduleTitle, exact: true }) });
    expect((await firstModuleCard.locator('p.muted').textContent())!.trim()).to.equal(`${itemCount} items · 1 of ${itemCount} done`);

    // And the home page now lists the course among the learner's own.
    await learner.getByRole('link', { name: 'Olive' }).click();
    await learner.waitForURL(`${server.url}/`);
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
    const db = t.app.olive.connection.db!;
    expect(await db.collection('courses_item').countDocuments({ title: 'setup.pdf' })).to.equal(0);
    expect(await db.collection('courses_material.files').countDocuments({ filename: 'setup.pdf' })).to.equal(0);
    await trainer.context().close();
  });
});
