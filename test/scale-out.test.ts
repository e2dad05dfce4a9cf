/**
 * Two app instances on different ports sharing one database, as behind a load balancer: whatever
 * one instance stored (a session, a CSRF secret, a flash message, an uploaded file) the other
 * serves. Spoken to over real HTTP, each request going to the instance the test chooses.
 *
 * Covered elsewhere, not repeated here (see docs/scale-out.md):
 * - a SAML sign-in started on one instance and completed on another:
 *   plugins/sso-saml/test/sso.test.ts ("a sign-in started on one app instance completes on another");
 * - a bulk certificate job run by two instances, each person processed once:
 *   plugins/certificates/test/jobs.test.ts ("two app instances on one database").
 */
import { expect } from 'chai';
import oliveConfig from '../olive.config.ts';
import { createTestApp, DEMO_PASSWORD, listen, type TestApp } from './helpers/app.ts';
import { Browser, multipartForm, pdfLike, sha256 } from './helpers/faults.ts';

describe('scale-out: two app instances on one database', function () {
  this.timeout(60_000);
  let a: TestApp;
  let b: TestApp;
  let urlA: string;
  let urlB: string;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    const options = { plugins: oliveConfig.plugins, pluginConfig: oliveConfig.pluginConfig, label: 'scale_out' };
    a = await createTestApp({ ...options, seed: true });
    b = await createTestApp({ ...options, dbName: a.dbName });
    const servedA = await listen(a.app);
    const servedB = await listen(b.app);
    closers.push(servedA.close, servedB.close);
    urlA = servedA.url;
    urlB = servedB.url;
    expect(urlA).to.not.equal(urlB);
  });
  after(async () => {
    for (const close of closers) await close();
    await b?.app.olive.stop();
    await a?.stop();
  });

  /** A module of the demo course and the id of an item the learner may mark as done in it. */
  async function firstLessonOf(slug: string) {
    const db = a.app.olive.connection.db!;
    const course = await db.collection('courses_course').findOne({ slug });
    const item = await db.collection('courses_item').findOne({ courseId: course!._id, type: 'lesson' });
    return { courseId: course!._id, moduleId: String(item!.moduleId), itemId: String(item!._id) };
  }

  it('a session started on one instance works on the other: pages, CSRF-protected forms, flash messages, sign-out', async () => {
    // A newcomer, enrolled in the open edition: none of the progress counted below is the seed's.
    const email = 'scale.out.newcomer@example.org';
    const learner = await a.app.olive.users.create({ email, name: 'Scale Out Newcomer', password: DEMO_PASSWORD }, 'test');
    const onA = await new Browser(urlA).signIn(email);
    const onB = onA.at(urlB);
    const db = a.app.olive.connection.db!;
    const { courseId, moduleId, itemId } = await firstLessonOf('conflict-analysis');
    const edition = await db.collection('enrolment_edition').findOne({ courseId: String(courseId), selfPaced: true, method: 'open' });
    expect((await onA.post(`/enrolment/editions/${String(edition!._id)}/enrol`, {}, `/enrolment/editions/${String(edition!._id)}`)).status).to.equal(303);
    onB.cookie = onA.cookie;

    const account = await onB.get('/account');
    expect(account.status).to.equal(200);
    expect(account.text).to.contain(email);

    // A form whose token came from a page of A, posted to B; B's redirect shows its flash on A.
    const progress = () => db.collection('courses_item_progress').countDocuments({ learnerId: learner.id, itemId });
    expect(await progress(), 'no progress before').to.equal(0);
    const token = await onA.token(`/courses/conflict-analysis/modules/${moduleId}`);
    const body = new URLSearchParams({ _csrf: token }).toString();
    const done = await onB.request(`/courses/conflict-analysis/items/${itemId}/done`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
    });
    expect(done.status, done.text.slice(0, 500)).to.equal(303);
    onA.cookie = onB.cookie;
    const page = await onA.get(done.headers.location!);
    expect(page.status).to.equal(200);
    expect(page.text).to.match(/<p class="flash flash-success" role="status">“[^”]+” is marked as done\.<\/p>/);
    expect(await progress(), 'the completion posted to B').to.equal(1);

    // A token forged on neither instance is refused by both.
    const forged = new URLSearchParams({ _csrf: 'not-a-token' }).toString();
    for (const who of [onA, onB]) {
      const res = await who.request(`/courses/conflict-analysis/items/${itemId}/done`, {
        method: 'POST',
        body: forged,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(forged) },
      });
      expect(res.status).to.equal(403);
    }

    // Signing out on B ends the session on A too.
    const out = await onB.post('/logout', {}, '/account');
    expect(out.status).to.equal(303);
    const gone = await onA.get('/account');
    expect(gone.status, 'A no longer knows the session').to.equal(303);
    expect(gone.headers.location).to.match(/^\/login/);
  });

  it('a trainer’s change through one instance shows at once on the other (each keeps outlines, checked against the course)', async () => {
    const learnerB = await new Browser(urlB).signIn('learner@olive.example');
    const { moduleId } = await firstLessonOf('conflict-analysis');
    const modulePage = `/courses/conflict-analysis/modules/${moduleId}`;
    const title = `Added through A ${Date.now()}`;
    expect((await learnerB.get(modulePage)).text, 'B has the outline in hand').not.to.contain(title);
    expect((await learnerB.get('/courses/conflict-analysis')).status).to.equal(200);

    const trainerA = await new Browser(urlA).signIn('trainer@olive.example');
    const added = await trainerA.post(
      `/courses/manage/conflict-analysis/modules/${moduleId}/items`,
      { type: 'lesson', title, body: 'A short lesson.' },
      `/courses/manage/conflict-analysis/modules/${moduleId}`,
    );
    expect(added.status, added.text.slice(0, 500)).to.equal(303);
    const page = await learnerB.get(modulePage);
    expect(page.text, 'the item added on A is on B’s next page').to.contain(title);

    const item = await a.app.olive.connection.db!.collection('courses_item').findOne({ 'title.en': title });
    const removed = await trainerA.post(
      `/courses/manage/conflict-analysis/items/${String(item!._id)}/delete`,
      {},
      `/courses/manage/conflict-analysis/modules/${moduleId}`,
    );
    expect(removed.status).to.equal(303);
    expect((await learnerB.get(modulePage)).text, 'and gone from B once deleted on A').not.to.contain(title);
  });

  it('what every home page lists (open editions, announcements) is kept per instance and renewed at once when another instance changes it', async () => {
    const learnerB = await new Browser(urlB).signIn('learner@olive.example');
    const staffA = await new Browser(urlA).signIn('staff@olive.example');
    const editionTitle = `Edition published through A ${Date.now()}`;
    const notice = `Notice published through A ${Date.now()}`;
    // B has both lists in hand.
    expect((await learnerB.get('/enrolment')).text).not.to.contain(editionTitle);
    expect((await learnerB.get('/enrolment/courses/conflict-analysis')).text).not.to.contain(editionTitle);
    expect((await learnerB.get('/')).text).not.to.contain(notice);

    const { courseId } = await firstLessonOf('conflict-analysis');
    const created = await staffA.post(
      '/enrolment/manage/editions',
      {
        courseId: String(courseId),
        title: editionTitle,
        language: 'en',
        method: 'open',
        status: 'published',
        online: 'on',
        startsAt: '2026-01-10',
        endsAt: '2099-12-31',
      },
      '/enrolment/manage/editions/new',
    );
    expect(created.status, created.text.slice(0, 500)).to.equal(303);
    const published = await staffA.post('/announcements', { title: notice, body: 'Read me.', audience: 'everyone' }, '/announcements');
    expect(published.status, published.text.slice(0, 500)).to.equal(303);

    expect((await learnerB.get('/enrolment')).text, 'the edition created on A is open on B').to.contain(editionTitle);
    expect((await learnerB.get('/enrolment/courses/conflict-analysis')).text, 'and among the course’s editions').to.contain(editionTitle);
    expect((await learnerB.get('/')).text, 'the announcement made on A is on B’s home page').to.contain(notice);

    // Changed and withdrawn on A: B follows.
    const editionId = /editions\/([0-9a-f]{24})/.exec(created.headers.location!)![1]!;
    const closed = await staffA.post(
      `/enrolment/manage/editions/${editionId}`,
      {
        courseId: String(courseId),
        title: `${editionTitle} (closed)`,
        language: 'en',
        method: 'closed',
        status: 'published',
        online: 'on',
        startsAt: '2026-01-10',
        endsAt: '2099-12-31',
      },
      `/enrolment/manage/editions/${editionId}/edit`,
    );
    expect(closed.status, closed.text.slice(0, 500)).to.equal(303);
    expect((await learnerB.get('/enrolment')).text, 'closed on A, no longer open on B').not.to.contain(editionTitle);
    expect((await learnerB.get('/enrolment/courses/conflict-analysis')).text, 'renamed on A, renamed on B').to.contain(`${editionTitle} (closed)`);
    const announcement = await a.app.olive.connection.db!.collection('announcements_announcement').findOne({ title: notice });
    const withdrawn = await staffA.post(`/announcements/${String(announcement!._id)}/withdraw`, {}, '/announcements');
    expect(withdrawn.status).to.equal(303);
    expect((await learnerB.get('/')).text, 'withdrawn on A, gone from B').not.to.contain(notice);
  });

  it('a file uploaded through one instance downloads from the other, byte for byte, with ranges and the same ETag', async () => {
    const trainer = await new Browser(urlA).signIn('trainer@olive.example');
    const { moduleId } = await firstLessonOf('conflict-analysis');
    const content = pdfLike(700_000); // three GridFS chunks of 255 KB
    const name = `shared-reading-${Date.now()}.pdf`;
    const form = await multipartForm([{ name, content, type: 'application/pdf' }]);
    const token = await trainer.token(`/courses/manage/conflict-analysis/modules/${moduleId}`);
    const up = await trainer.request(`/courses/manage/conflict-analysis/modules/${moduleId}/uploads?_csrf=${encodeURIComponent(token)}`, {
      method: 'POST',
      body: form.body,
      headers: { 'Content-Type': form.contentType, 'Content-Length': form.body.length },
    });
    expect(up.status, up.text.slice(0, 500)).to.equal(303);
    const item = await a.app.olive.connection.db!.collection('courses_item').findOne({ title: name });
    expect(item, 'the upload made an item').to.not.equal(null);
    const fileUrl = `/courses/conflict-analysis/items/${String(item!._id)}/file`;

    const learnerA = await new Browser(urlA).signIn('learner@olive.example');
    const learnerB = learnerA.at(urlB);
    const whole = await learnerB.get(fileUrl);
    expect(whole.status).to.equal(200);
    expect(whole.body.length).to.equal(content.length);
    expect(sha256(whole.body)).to.equal(sha256(content));

    const range = await learnerB.get(fileUrl, { Range: 'bytes=261000-262099' }); // across a chunk boundary
    expect(range.status).to.equal(206);
    expect(range.headers['content-range']).to.equal(`bytes 261000-262099/${content.length}`);
    expect(range.body.equals(content.subarray(261000, 262100))).to.equal(true);

    const fromA = await learnerA.get(fileUrl, { Range: 'bytes=0-9' });
    expect(fromA.status).to.equal(206);
    expect(fromA.headers.etag).to.be.a('string').and.equal(whole.headers.etag);
    const cached = await learnerB.get(fileUrl, { 'If-None-Match': fromA.headers.etag as string });
    expect(cached.status, 'an ETag from A is recognised by B').to.equal(304);
  });
});
