/** Bulk enrolment from CSV in Chromium, as staff use it. */
import { expect } from 'chai';
import { signedInPage, useBrowserApp } from '../../../test/helpers/browser.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';

describe('bulk enrolment from CSV in a real browser', function () {
  this.timeout(90_000);
  const env = useBrowserApp({ plugins: [courses, enrolment], label: 'enrol_import_e2e' });

  const signedIn = (email: string) => signedInPage(env.browser, env.url, email);

  it('staff upload a file, read the preview, confirm, and find the people on the edition page', async () => {
    const db = env.app.olive.connection;
    const course = await db.collection('courses_course').findOne({ slug: 'conflict-analysis' });
    const staffUser = await env.app.olive.users.findByEmail('staff@olive.example');
    const { insertedId } = await db.collection('enrolment_edition').insertOne({
      courseId: String(course!._id),
      title: 'Negotiation Seminar, Addis Ababa',
      description: '',
      selfPaced: false,
      startsAt: new Date('2026-03-01'),
      endsAt: new Date('2099-03-05'),
      place: 'Addis Ababa',
      online: false,
      capacity: 2,
      language: 'en',
      method: 'invitation',
      questions: [],
      trainerIds: [],
      status: 'published',
      createdBy: staffUser!.id,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    const edition = insertedId.toString();

    const page = await signedIn('staff@olive.example');
    await page.goto(`${env.url}/enrolment/manage/editions/${edition}`);
    await page.getByRole('link', { name: 'Bulk enrolment (CSV)' }).click();
    await page.waitForURL(`${env.url}/enrolment/manage/editions/${edition}/import`);
    const file =
      'Courriel;Prénom;Nom;Pays\r\nhanna.tesfaye@example.org;Hanna;Tesfaye;Éthiopie\r\nsamuel.okello@example.org;Samuel;Okello;Ouganda\r\nrita.mbeki@example.org;Rita;Mbeki;Afrique du Sud\r\nnot-an-address;Bad;Row;Kenya\r\n';
    await page.getByLabel('CSV file').setInputFiles({ name: 'seminar.csv', mimeType: 'text/csv', buffer: Buffer.from(file, 'latin1') });
    await page.getByRole('button', { name: 'Upload and preview' }).click();
    await page.waitForURL(new RegExp(`/enrolment/manage/editions/${edition}/import/[0-9a-f]{24}$`));

    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Preview of the import');
    const table = page.locator('table').first();
    expect(await table.locator('tbody tr').count()).to.equal(4);
    const rowOf = (email: string) => table.locator('tbody tr', { hasText: email });
    expect(await rowOf('not-an-address').textContent()).to.contain('is not a valid e-mail address');
    expect(await rowOf('hanna.tesfaye@example.org').textContent()).to.contain('Enrol');
    expect(await rowOf('rita.mbeki@example.org').textContent()).to.contain('Waiting list (no seat left)');
    expect(await page.locator('main').textContent()).to.contain('read as Windows-1252');

    await page.getByRole('button', { name: 'Confirm: import 3 people' }).click();
    await page.waitForURL(new RegExp(`/enrolment/manage/editions/${edition}/import/[0-9a-f]{24}$`));
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Import done');
    expect(await page.getByRole('status').allTextContents()).to.deep.equal(['Imported: 2 enrolled, 1 on the waiting list, 0 already there, 1 not imported.']);

    await page.getByRole('link', { name: 'Back to the edition' }).first().click();
    await page.waitForURL(`${env.url}/enrolment/manage/editions/${edition}`);
    const main = (await page.locator('main').textContent())!;
    expect(main).to.contain('Enrolled: 2');
    // The waiting list names the person who did not get a seat.
    expect(await page.locator('#waiting ~ ol li').allTextContents()).to.satisfy(
      (items: string[]) => items.length === 1 && items[0]!.includes('rita.mbeki@example.org'),
    );
    const stored = await db.collection('enrolment_person').findOne({ _id: 'hanna.tesfaye@example.org' as never });
    expect(stored!.country).to.equal('ET');
  });
});
