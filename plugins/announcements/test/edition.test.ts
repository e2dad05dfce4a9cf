/**
 * Announcements to one edition's participants: posted by its trainers or staff, shown on the
 * edition's page and the participants' home pages, mailed to them (also to people pre-enrolled
 * without an account), never to others; the edition page names its trainers and contact address.
 */
import { expect } from 'chai';
import { createDemoPasswordUser, createTestApp, postForm, signIn, type TestApp } from '../../../test/helpers/app.ts';
import { inbox, mailTestEnv } from '../../../test/helpers/mail.ts';
import courses from '../../courses/index.ts';
import enrolment from '../../enrolment/index.ts';
import { postEdition } from '../../enrolment/test/import-pages.ts';
import announcements from '../index.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

describe('announcements to an edition', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Agent;
  let mailbox: ReturnType<typeof inbox>;
  let editionId: string;
  let trainerId: string;

  before(async () => {
    const env = mailTestEnv({ BASE_URL: 'http://learn.example.org' });
    mailbox = inbox(env.MAIL_FROM);
    t = await createTestApp({ plugins: [courses, enrolment, announcements], seed: true, label: 'ann_edition', env });
    staff = await signIn(t.app, 'staff@olive.example');
    const Course = t.app.olive.connection.model('courses_course');
    const courseId = String(((await Course.findOne({ slug: 'conflict-analysis' }).lean()) as { _id: unknown })._id);
    trainerId = (await t.app.olive.users.findByEmail('trainer@olive.example'))!.id;
    editionId = await postEdition(staff, {
      courseId,
      title: 'Cohort for announcements',
      language: 'en',
      method: 'open',
      status: 'published',
      online: 'on',
      startsAt: '2026-01-10',
      endsAt: '2099-12-31',
      trainerIds: trainerId,
      contactEmail: 'Cohort-Desk@unitar.example',
    });
  });
  after(() => t.stop());

  it('refuses a contact address that is not one, and keeps what was typed', async () => {
    const res = await postForm(
      staff,
      '/enrolment/manage/editions',
      { title: 'Bad contact', language: 'en', method: 'open', status: 'draft', online: 'on', selfPaced: 'on', contactEmail: 'not an address' },
      '/enrolment/manage/editions/new',
    );
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('Enter a valid e-mail address, such as ppcp@unitar.org, or leave the field empty.');
    expect(res.text).to.contain('value="not an address"');
  });

  it('names the trainers and the contact address on the edition page', async () => {
    const learner = await signIn(t.app, 'learner@olive.example');
    const page = (await learner.get(`/enrolment/editions/${editionId}`).expect(200)).text;
    expect(page).to.contain('Dr. Rafael Montoya');
    expect(page).to.contain('<a href="mailto:cohort-desk@unitar.example" dir="ltr">cohort-desk@unitar.example</a>');
    expect(page, 'a learner is offered a place').to.contain(`action="/enrolment/editions/${editionId}/enrol"`);
    expect(page).not.to.contain('You are a trainer of this edition.');
  });

  it('shows the edition’s own trainer the roster instead of a place to enrol', async () => {
    const trainer = await signIn(t.app, 'trainer@olive.example');
    const page = (await trainer.get(`/enrolment/editions/${editionId}`).expect(200)).text;
    expect(page).to.contain('You are a trainer of this edition.');
    expect(page).to.contain(`href="/enrolment/manage/editions/${editionId}/roster"`);
    expect(page).not.to.contain(`action="/enrolment/editions/${editionId}/enrol"`);
    await trainer.get(`/enrolment/manage/editions/${editionId}/roster`).expect(200);
    // Nor is it offered to them on their home page as open for enrolment; a learner is offered it.
    expect((await trainer.get('/').expect(200)).text).not.to.contain('Cohort for announcements');
    const learner = await signIn(t.app, 'learner@olive.example');
    expect((await learner.get('/').expect(200)).text).to.contain('Cohort for announcements');
  });

  it('reaches the participants on the edition page, the home page and by mail, and nobody else', async () => {
    const inside = await createDemoPasswordUser(t.app, { email: 'inside@example.org', name: 'Inside Person' });
    await createDemoPasswordUser(t.app, { email: 'outside@example.org', name: 'Outside Person' });
    const insider = await signIn(t.app, 'inside@example.org');
    await postForm(insider, `/enrolment/editions/${editionId}/enrol`, {}, `/enrolment/editions/${editionId}`, 303);
    // Pre-enrolled by staff, without an account yet.
    await postForm(
      staff,
      `/enrolment/manage/editions/${editionId}/people`,
      { email: 'no-account@example.org' },
      `/enrolment/manage/editions/${editionId}`,
      303,
    );
    expect(inside.id).to.be.a('string');

    // A learner and a trainer of another edition may not post; the edition's trainer may.
    const learner = await signIn(t.app, 'learner@olive.example');
    await learner.get(`/announcements/editions/${editionId}/new`).expect(403);
    const other = await createDemoPasswordUser(t.app, { email: 'other-trainer@example.org', name: 'Other Trainer', roles: ['trainer'] });
    expect(other.roles).to.include('trainer');
    const otherTrainer = await signIn(t.app, 'other-trainer@example.org');
    await otherTrainer.get(`/announcements/editions/${editionId}/new`).expect(403);
    const forbidden = await postForm(otherTrainer, `/announcements/editions/${editionId}`, { title: 'Sneaky', body: 'x' }, '/announcements');
    expect(forbidden.status).to.equal(403);
    await staff.get('/announcements/editions/0123456789abcdef01234567/new').expect(404);

    const trainer = await signIn(t.app, 'trainer@olive.example');
    const page = `/announcements/editions/${editionId}/new`;
    const bad = await postForm(trainer, `/announcements/editions/${editionId}`, { title: 'No', body: '' }, page);
    expect(bad.status).to.equal(400);
    expect(bad.text).to.contain('Write a title of at least 3 characters.');
    expect(bad.text).to.contain('Write the announcement.');
    const ok = await postForm(
      trainer,
      `/announcements/editions/${editionId}`,
      { title: 'Reading for week one', body: 'Please read the case on water sharing.\n\nWe discuss it on Monday.' },
      page,
    );
    expect(ok.status).to.equal(303);
    expect(ok.headers.location).to.equal(`/enrolment/editions/${editionId}`);

    const edition = (await insider.get(`/enrolment/editions/${editionId}`).expect(200)).text;
    expect(edition).to.contain('Announcements to this edition');
    expect(edition).to.contain('Reading for week one');
    expect(edition).to.contain('<p dir="auto">We discuss it on Monday.</p>');
    expect((await insider.get('/').expect(200)).text).to.contain('Reading for week one');
    expect((await insider.get('/announcements').expect(200)).text).to.contain('Cohort for announcements');

    // Not to people outside the edition (the demo learner is not in it).
    const outsider = await signIn(t.app, 'outside@example.org');
    expect((await outsider.get(`/enrolment/editions/${editionId}`).expect(200)).text).to.not.contain('Reading for week one');
    expect((await outsider.get('/').expect(200)).text).to.not.contain('Reading for week one');

    const mails = await mailbox.waitFor((m) => m.Subject === 'Cohort for announcements: Reading for week one', { count: 2 });
    const to = mails.flatMap((m) => m.To.map((r) => r.Address)).sort();
    expect(to).to.deep.equal(['inside@example.org', 'no-account@example.org']);
    const text = (await mailbox.read(mails[0]!.ID)).Text;
    expect(text).to.contain('Dr. Rafael Montoya wrote to the participants of Cohort for announcements:');
    expect(text).to.contain('http://learn.example.org/enrolment/editions/');
    await new Promise((r) => setTimeout(r, 500));
    expect((await mailbox.messages()).filter((m) => m.To.some((r) => r.Address === 'outside@example.org'))).to.have.length(0);
  });

  it('shows the demo announcement to the in-person edition', async () => {
    const ann = (await t.app.olive.connection
      .model('announcements_announcement')
      .findOne({ audience: 'edition', title: /visa letters/ })
      .lean()) as {
      editionTitle?: string;
    } | null;
    expect(ann?.editionTitle).to.match(/^Fellowship Programme in Peacemaking/);
  });
});
