/**
 * Courses against the real database: the catalogue, authoring, the learner's pages, progress and
 * completion events. Over 400 lines: the pages share one seeded programme and its helpers.
 */
import { expect } from 'chai';
import supertest from 'supertest';
import { definePlugin, allow } from '../../../src/index.ts';
import { createTestApp, signIn, tokenFor, type TestApp } from '../../../test/helpers/app.ts';
import { progressRecords } from '../../../test/helpers/progress.ts';
import { CourseCompleted, LearningAccess, ModuleCompleted, type CourseCompletedEvent, type ModuleCompletedEvent } from '../contract.ts';
import courses from '../index.ts';
import { form } from './forms.ts';
import { minimalPdf, windowsProgram } from './samples.ts';

/** Records the completion events, the way another plugin (certificates) would see them. */
function eventRecorder() {
  const modules: ModuleCompletedEvent[] = [];
  const completions: CourseCompletedEvent[] = [];
  const plugin = definePlugin({
    name: 'recorder',
    version: '1.0.0',
    requires: [ModuleCompleted, CourseCompleted],
    register(ctx) {
      ctx.on(ModuleCompleted, (e) => {
        modules.push(e);
      });
      ctx.on(CourseCompleted, (e) => {
        completions.push(e);
      });
    },
  });
  return { plugin, modules, completions };
}

type Agent = Awaited<ReturnType<typeof signIn>>;

/** Creates a published course through the authoring pages, as a trainer would. */
async function buildCourse(trainer: Agent, slug: string, moduleCount: number) {
  await form(trainer, '/courses/manage', { slug, languages: 'en', title_en: `Course ${slug}`, summary_en: 'A test course', hours: '4' }, 303);
  for (let m = 1; m <= moduleCount; m++) {
    const res = await form(trainer, `/courses/manage/${slug}/modules`, { title: `Module ${m}`, required: 'on' }, 303);
    const moduleUrl = res.headers.location as string;
    await form(trainer, `${moduleUrl}/items`, { type: 'lesson', title: `Lesson ${m}`, body: `Text of lesson ${m}.` }, 303);
  }
  await form(trainer, `/courses/manage/${slug}/status`, { status: 'published' }, 303);
}

async function itemIds(agent: Agent, slug: string) {
  const outline = (await agent.get(`/courses/${slug}`).expect(200)).text;
  const moduleIds = [...outline.matchAll(new RegExp(`/courses/${slug}/modules/([a-f0-9]{24})`, 'g'))].map((m) => m[1]!);
  const items: { moduleId: string; itemId: string }[] = [];
  for (const moduleId of [...new Set(moduleIds)]) {
    const page = (await agent.get(`/courses/${slug}/modules/${moduleId}`).expect(200)).text;
    for (const m of page.matchAll(/id="item-([a-f0-9]{24})"/g)) items.push({ moduleId, itemId: m[1]! });
  }
  return items;
}

describe('courses plugin', () => {
  let t: TestApp;
  const recorder = eventRecorder();
  before(async () => {
    t = await createTestApp({ plugins: [courses, recorder.plugin], seed: true, label: 'courses' });
  });
  after(() => t.stop());

  describe('authoring permissions', () => {
    it('lets trainers create courses, and refuses learners and trainers of other courses with 403', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      await buildCourse(trainer, 'permissions-course', 1);
      const learner = await signIn(t.app, 'learner@olive.example');
      await learner.get('/courses/manage').expect(403);
      await learner.get('/courses/manage/permissions-course').expect(403);
      await form(learner, '/courses/manage/permissions-course/settings', { languages: 'en', title_en: 'Hijacked', hours: '1' }, 403, '/courses');

      // A trainer who does not teach this course.
      const admin = await signIn(t.app, 'admin@olive.example');
      await form(
        admin,
        '/admin/users',
        { email: 'other.trainer@olive.example', name: 'Other Trainer', password: 'another-passphrase', roles: 'trainer' },
        303,
        '/admin/users',
      );
      const other = await signIn(t.app, 'other.trainer@olive.example', 'another-passphrase');
      await other.get('/courses/manage').expect(200);
      const denied = await other.get('/courses/manage/permissions-course').expect(403);
      expect(denied.text).to.contain('Only this course’s trainers and programme staff can change it.');
      await form(other, '/courses/manage/permissions-course/status', { status: 'archived' }, 403);
      const course = await t.app.olive.connection.collection('courses_course').findOne({ slug: 'permissions-course' });
      expect(course!.status).to.equal('published');
      expect(course!.title.en).to.equal('Course permissions-course');

      // Staff may edit any course.
      const staff = await signIn(t.app, 'staff@olive.example');
      await staff.get('/courses/manage/permissions-course').expect(200);
    });

    it('validates course forms with clear messages and changes nothing', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      const res = await form(trainer, '/courses/manage', { slug: 'Bad Slug!', languages: ['en', 'fr'], title_en: '', hours: 'many' }, 400);
      expect(res.text).to.contain('Use lower-case letters, digits and single dashes');
      expect(res.text).to.contain('Write this in English, the course’s first language; the other languages are optional.');
      expect(res.text).to.contain('Give the hours as a number.');
      const dup = await form(trainer, '/courses/manage', { slug: 'permissions-course', languages: 'en', title_en: 'Again', hours: '2' }, 409);
      expect(dup.text).to.contain('A course with the address “permissions-course” already exists.');
      const reserved = await form(trainer, '/courses/manage', { slug: 'manage', languages: 'en', title_en: 'x', hours: '2' }, 409);
      expect(reserved.text).to.contain('reserved');
    });

    it('refuses to publish an empty course, and hides drafts from learners', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      await form(trainer, '/courses/manage', { slug: 'empty-course', languages: 'en', title_en: 'Empty', hours: '1' }, 303);
      const res = await form(trainer, '/courses/manage/empty-course/status', { status: 'published' }, 409);
      expect(res.text).to.contain('Add at least one module with content before publishing.');
      const learner = await signIn(t.app, 'learner@olive.example');
      await learner.get('/courses/empty-course').expect(404);
      expect((await learner.get('/courses').expect(200)).text).to.not.contain('empty-course');
      // The trainer previews it.
      expect((await trainer.get('/courses/empty-course').expect(200)).text).to.contain('Preview: you see this course as its learners do.');
    });

    it('reorders modules with buttons that work without JavaScript', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      await buildCourse(trainer, 'order-course', 3);
      const before = (await trainer.get('/courses/manage/order-course').expect(200)).text;
      const ids = [...before.matchAll(/\/courses\/manage\/order-course\/modules\/([a-f0-9]{24})"/g)].map((m) => m[1]);
      await form(trainer, `/courses/manage/order-course/modules/${ids[2]}/move`, { direction: 'up' }, 303);
      const after = (await trainer.get('/courses/manage/order-course').expect(200)).text;
      const order = ['Module 1', 'Module 2', 'Module 3'].map((m) => after.indexOf(`>${m}</a>`));
      expect(order[0]).to.be.lessThan(order[2]!);
      expect(order[2]).to.be.lessThan(order[1]!);
    });
    it('deletes an item only after a confirmation step, removing its file with it', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      const db = t.app.olive.connection;
      const pdfItem = await db.collection('courses_item').findOne({ type: 'file', 'file.filename': 'negotiation-case-study.txt' });
      const modulePage = (await trainer.get(`/courses/manage/interest-based-negotiation/modules/${pdfItem!.moduleId}`).expect(200)).text;
      const deleteUrl = `/courses/manage/interest-based-negotiation/items/${pdfItem!._id}/delete`;
      expect(modulePage).to.contain(`href="${deleteUrl}"`); // a link to the confirmation, not a one-click form
      const confirm = (await trainer.get(deleteUrl).expect(200)).text;
      expect(confirm).to.contain('The file is removed from the course for good');
      expect(await db.collection('courses_item').countDocuments({ _id: pdfItem!._id })).to.equal(1);
      await form(trainer, deleteUrl, {}, 303, deleteUrl);
      expect(await db.collection('courses_item').countDocuments({ _id: pdfItem!._id })).to.equal(0);
      expect(await db.collection('courses_material.files').countDocuments({ _id: pdfItem!.file.fileId })).to.equal(0);
      expect(await db.collection('courses_material.chunks').countDocuments({ files_id: pdfItem!.file.fileId })).to.equal(0);
    });
    it('replaces a material file: the new one is served, the old one is gone; a refused one keeps the old', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      const db = t.app.olive.connection;
      const item = await db.collection('courses_item').findOne({ type: 'file', 'file.filename': 'conflict-analysis-reading-list.pdf' });
      const editUrl = `/courses/manage/conflict-analysis/items/${item!._id}`;
      const token = await tokenFor(trainer, editUrl);
      const refused = await trainer
        .post(`${editUrl}/replace?_csrf=${encodeURIComponent(token)}`)
        .attach('files', windowsProgram(), 'reading-list.pdf')
        .expect(415);
      expect(refused.text).to.contain('reading-list.pdf is not an allowed type');
      expect(await db.collection('courses_material.files').countDocuments({ _id: item!.file.fileId })).to.equal(1);

      const replacement = minimalPdf('Reading list, second edition');
      await trainer
        .post(`${editUrl}/replace?_csrf=${encodeURIComponent(token)}`)
        .attach('files', replacement, 'reading-list-2.pdf')
        .expect(303);
      const after = await db.collection('courses_item').findOne({ _id: item!._id });
      expect(after!.file.filename).to.equal('reading-list-2.pdf');
      expect(await db.collection('courses_material.files').countDocuments({ _id: item!.file.fileId })).to.equal(0);
      expect(await db.collection('courses_material.chunks').countDocuments({ files_id: item!.file.fileId })).to.equal(0);
      const learner = await signIn(t.app, 'learner@olive.example');
      const served = await learner
        .get(`/courses/conflict-analysis/items/${item!._id}/file`)
        .buffer(true)
        .parse((res, cb) => {
          const c: Buffer[] = [];
          res.on('data', (d: Buffer) => c.push(d));
          res.on('end', () => cb(null, Buffer.concat(c)));
        })
        .expect(200);
      expect((served.body as Buffer).equals(replacement)).to.equal(true);
    });
  });

  describe('progress', () => {
    it('records "mark as done" idempotently: double clicks and two tabs give one record', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      await buildCourse(trainer, 'idempotent-course', 2);
      const learner = await signIn(t.app, 'joseph.mwangi@olive.example');
      const [first] = await itemIds(learner, 'idempotent-course');
      const token = await tokenFor(learner, '/courses');
      const url = `/courses/idempotent-course/items/${first!.itemId}/done`;
      await Promise.all([1, 2, 3].map(() => learner.post(url).type('form').send({ _csrf: token }).expect(303)));
      const records = await t.app.olive.connection.collection('courses_item_progress').countDocuments({ itemId: first!.itemId });
      expect(records).to.equal(1);
      const page = (await learner.get(`/courses/idempotent-course/modules/${first!.moduleId}`).expect(200)).text;
      expect(page).to.contain('is marked as done.');
      expect(page).to.contain('badge-done');
      const outline = (await learner.get('/courses/idempotent-course').expect(200)).text;
      expect(outline).to.contain('1 of 2 required modules done');
    });

    it('keeps every one of 20 concurrent completions, collapses duplicates, and fires course completed once', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      await buildCourse(trainer, 'concurrent-course', 10);
      const learner = await signIn(t.app, 'tenzin.dorje@olive.example');
      const items = await itemIds(learner, 'concurrent-course');
      expect(items).to.have.length(10);
      const token = await tokenFor(learner, '/courses');
      // 20 requests at once: each of the 10 modules' item twice.
      const requests = [...items, ...items].map((i) =>
        learner.post(`/courses/concurrent-course/items/${i.itemId}/done`).set('accept', 'application/json').set('x-csrf-token', token).expect(200),
      );
      await Promise.all(requests);
      const db = t.app.olive.connection;
      const course = await db.collection('courses_course').findOne({ slug: 'concurrent-course' });
      const learnerId = (await t.app.olive.users.findByEmail('tenzin.dorje@olive.example'))!.id;
      const courseId = course!._id.toString();
      expect(await db.collection('courses_item_progress').countDocuments({ learnerId, courseId })).to.equal(10);
      expect(await db.collection('courses_module_progress').countDocuments({ learnerId, courseId })).to.equal(10);
      expect(recorder.modules.filter((e) => e.learnerId === learnerId && e.courseId === courseId)).to.have.length(10);
      expect(recorder.completions.filter((e) => e.learnerId === learnerId && e.courseId === courseId)).to.have.length(1);
      const outline = (await learner.get('/courses/concurrent-course').expect(200)).text;
      expect(outline).to.contain('You completed this course on');
    });

    it('does not record anything for previews by trainers', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      const items = await itemIds(trainer, 'idempotent-course');
      const before = await progressRecords(t.app.olive.connection.db!);
      // Every item of the course, so a recorded preview would also complete modules and the course.
      for (const item of items) {
        const res = await trainer
          .post(`/courses/idempotent-course/items/${item.itemId}/done`)
          .type('form')
          .send({ _csrf: await tokenFor(trainer, '/courses') })
          .expect(409);
        expect(res.text).to.contain('This is a preview: nothing was recorded.');
      }
      expect(await progressRecords(t.app.olive.connection.db!)).to.deep.equal(before);
    });
  });

  describe('quizzes', () => {
    const quizText =
      '? Mediators impose a binding decision.\n- True\n+ False\n> That is arbitration.\n\n? Which are interests?\n+ Security\n+ Recognition\n- A demand for a ministry';

    it('scores on the server, never sends the answers first, limits attempts and completes the module when passed', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      await form(trainer, '/courses/manage', { slug: 'quiz-course', languages: 'en', title_en: 'Quiz course', hours: '1' }, 303);
      const moduleUrl = (await form(trainer, '/courses/manage/quiz-course/modules', { title: 'Only module', required: 'on' }, 303)).headers.location as string;
      const bad = await form(
        trainer,
        `${moduleUrl}/items`,
        { type: 'quiz', title: 'Check', questions: '? Lonely question\n+ only option', passMark: '100', maxAttempts: '2', required: 'on' },
        400,
      );
      expect(bad.text).to.match(/Line 1: /);
      await form(trainer, `${moduleUrl}/items`, { type: 'quiz', title: 'Check', questions: quizText, passMark: '100', maxAttempts: '2', required: 'on' }, 303);
      await form(trainer, '/courses/manage/quiz-course/status', { status: 'published' }, 303);

      const learner = await signIn(t.app, 'ana.ruiz@olive.example');
      const [quiz] = await itemIds(learner, 'quiz-course');
      const quizUrl = `/courses/quiz-course/items/${quiz!.itemId}/quiz`;
      const page = (await learner.get(quizUrl).expect(200)).text;
      expect(page).to.contain('Mediators impose a binding decision.');
      expect(page).to.not.contain('arbitration'); // feedback is not sent before submission
      expect(page).to.not.contain('correct');

      const wrong = await learner
        .post(quizUrl)
        .type('form')
        .send({ q1: 'a', q2: 'a', _csrf: await tokenFor(learner, quizUrl) })
        .expect(200);
      expect(wrong.text).to.contain('You scored 0%: not passed yet');
      expect(wrong.text).to.contain('1 attempt left');
      expect(wrong.text).to.not.contain('That is arbitration.'); // answers revealed only later

      const right = await learner
        .post(quizUrl)
        .type('form')
        .send({ q1: 'b', q2: ['a', 'b'], _csrf: await tokenFor(learner, quizUrl) })
        .expect(200);
      expect(right.text).to.contain('You scored 100%: passed');
      expect(right.text).to.contain('That is arbitration.');
      const none = await learner
        .post(quizUrl)
        .type('form')
        .send({ q1: 'b', _csrf: await tokenFor(learner, quizUrl) })
        .expect(409);
      expect(none.text).to.contain('You have used all 2 attempts at this quiz.');
      expect((await learner.get('/courses/quiz-course').expect(200)).text).to.contain('You completed this course on');

      await learner
        .post(quizUrl)
        .type('form')
        .send({ q1: { $ne: 'x' }, _csrf: await tokenFor(learner, '/courses') })
        .expect(400);
    });
  });

  describe('access', () => {
    it('asks the access providers: a learner without a seat gets 403 with the reason', async () => {
      const gate = definePlugin({
        name: 'gate',
        version: '1.0.0',
        requires: [LearningAccess],
        register(ctx) {
          ctx.contribute(LearningAccess, {
            async decide(user) {
              return user.email === 'ana.ruiz@olive.example'
                ? { allowed: false, reason: 'You are not enrolled in an edition of this course.', href: '/enrolment' }
                : { allowed: true, editionId: '65f000000000000000000001' };
            },
          });
          ctx.router.get('/', allow.public, (_req, res) => {
            res.send('ok');
          });
        },
      });
      const gated = await createTestApp({ plugins: [courses, gate], seed: true, label: 'gated' });
      try {
        const outsider = await signIn(gated.app, 'ana.ruiz@olive.example');
        const outline = await outsider.get('/courses/conflict-analysis').expect(200);
        expect(outline.text).to.contain('You are not enrolled in an edition of this course.');
        // A provider that names no words for its link gets the courses plugin's own.
        expect(outline.text).to.contain('<a href="/enrolment">How to take this course</a>');
        const moduleId = /\/courses\/conflict-analysis\/modules\/([a-f0-9]{24})/.exec(
          (await (await signIn(gated.app, 'learner@olive.example')).get('/courses/conflict-analysis')).text,
        )![1];
        await outsider.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(403);
        // Progress is recorded in the edition the provider named.
        const insider = await signIn(gated.app, 'learner@olive.example');
        const page = (await insider.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(200)).text;
        const doneUrl = /action="(\/courses\/conflict-analysis\/items\/[a-f0-9]{24}\/done)"/.exec(page)![1]!;
        await insider
          .post(doneUrl)
          .set('accept', 'application/json')
          .set('x-csrf-token', await tokenFor(insider, '/courses'))
          .expect(200);
        const records = await gated.app.olive.connection.collection('courses_item_progress').find({}).toArray();
        expect(records).to.have.length(1);
        expect(records[0]!.editionId).to.equal('65f000000000000000000001');
      } finally {
        await gated.stop();
      }
    });

    it('serves material only to people allowed to see the course, with Range support', async () => {
      const learner = await signIn(t.app, 'learner@olive.example');
      const outline = (await learner.get('/courses/conflict-analysis').expect(200)).text;
      const moduleId = /\/courses\/conflict-analysis\/modules\/([a-f0-9]{24})/.exec(outline)![1];
      const page = (await learner.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(200)).text;
      const fileUrl = /href="(\/courses\/conflict-analysis\/items\/[a-f0-9]{24}\/file)"/.exec(page)![1]!;
      const full = await learner
        .get(fileUrl)
        .buffer(true)
        .parse((res, cb) => {
          const c: Buffer[] = [];
          res.on('data', (d: Buffer) => c.push(d));
          res.on('end', () => cb(null, Buffer.concat(c)));
        })
        .expect(200);
      expect(full.headers['content-type']).to.equal('application/pdf');
      expect(full.headers['accept-ranges']).to.equal('bytes');
      const part = await learner
        .get(fileUrl)
        .set('range', 'bytes=0-9')
        .buffer(true)
        .parse((res, cb) => {
          const c: Buffer[] = [];
          res.on('data', (d: Buffer) => c.push(d));
          res.on('end', () => cb(null, Buffer.concat(c)));
        })
        .expect(206);
      expect((part.body as Buffer).equals((full.body as Buffer).subarray(0, 10))).to.equal(true);
      expect((part.body as Buffer).subarray(0, 5).toString()).to.equal('%PDF-');
      await supertest(t.app).get(fileUrl).expect(303); // visitors are sent to sign in
    });
  });

  describe('outlines kept per instance', () => {
    it('a course from before structure stamps gets one when the plugin starts, once, without looking edited', async () => {
      const Course = t.app.olive.connection.collection('courses_course');
      await Course.updateOne({ slug: 'conflict-analysis' }, { $unset: { structureStamp: 1 } });
      const before = await Course.findOne({ slug: 'conflict-analysis' });
      expect(before!.structureStamp).to.equal(undefined);
      const second = await createTestApp({ plugins: [courses], dbName: t.dbName });
      try {
        const after = await Course.findOne({ slug: 'conflict-analysis' });
        expect(after!.structureStamp).to.be.a('string').with.length.greaterThan(10);
        expect(after!.updatedAt.getTime(), 'the course does not look edited').to.equal(before!.updatedAt.getTime());
        // Once stamped, a second start leaves it alone.
        const third = await createTestApp({ plugins: [courses], dbName: t.dbName });
        await third.app.olive.stop();
        expect((await Course.findOne({ slug: 'conflict-analysis' }))!.structureStamp).to.equal(after!.structureStamp);
      } finally {
        await second.app.olive.stop();
      }
    });
  });

  describe('fixes from review', () => {
    it('stores files whose names are long runs of emoji (title limit counted the same way)', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      await buildCourse(trainer, 'emoji-course', 1);
      const editor = (await trainer.get('/courses/manage/emoji-course').expect(200)).text;
      const moduleId = /\/courses\/manage\/emoji-course\/modules\/([a-f0-9]{24})"/.exec(editor)![1];
      const url = `/courses/manage/emoji-course/modules/${moduleId}/uploads`;
      const token = await tokenFor(trainer, `/courses/manage/emoji-course/modules/${moduleId}`);
      await trainer
        .post(`${url}?_csrf=${encodeURIComponent(token)}`)
        .attach('files', minimalPdf('good'), 'good.pdf')
        .attach('files', minimalPdf('emoji'), `${'😀'.repeat(150)}.pdf`)
        .expect(303);
      const items = await t.app.olive.connection
        .collection('courses_item')
        .find({ moduleId: new (await import('mongoose')).default.Types.ObjectId(moduleId), type: 'file' })
        .toArray();
      expect(items).to.have.length(2);
      const long = items.find((i) => i.title !== 'good.pdf')!;
      expect(long.title.length).to.be.at.most(200);
      expect(long.title.endsWith('.pdf')).to.equal(true);
    });

    it('heals progress when a trainer deletes the one item a learner had not done', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      await form(trainer, '/courses/manage', { slug: 'healing-course', languages: 'en', title_en: 'Healing', hours: '1' }, 303);
      const moduleUrl = (await form(trainer, '/courses/manage/healing-course/modules', { title: 'Only', required: 'on' }, 303)).headers.location as string;
      await form(trainer, `${moduleUrl}/items`, { type: 'lesson', title: 'First lesson', body: 'One.' }, 303);
      await form(trainer, `${moduleUrl}/items`, { type: 'lesson', title: 'Second lesson', body: 'Two.' }, 303);
      await form(trainer, '/courses/manage/healing-course/status', { status: 'published' }, 303);
      const learner = await signIn(t.app, 'learner@olive.example');
      const [first, second] = await itemIds(learner, 'healing-course');
      await learner
        .post(`/courses/healing-course/items/${first!.itemId}/done`)
        .type('form')
        .send({ _csrf: await tokenFor(learner, '/courses') })
        .expect(303);
      expect((await learner.get('/courses/healing-course').expect(200)).text).to.contain('0 of 1 required modules done');
      await form(trainer, `/courses/manage/healing-course/items/${second!.itemId}/delete`, {}, 303);
      const outline = (await learner.get('/courses/healing-course').expect(200)).text;
      expect(outline).to.contain('You completed this course on');
      expect(outline).to.contain('1 of 1 required modules done');
    });

    it('completes a course whose modules are all optional once they are done', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      await form(trainer, '/courses/manage', { slug: 'optional-course', languages: 'en', title_en: 'Optional', hours: '1' }, 303);
      const moduleUrl = (await form(trainer, '/courses/manage/optional-course/modules', { title: 'Extra reading' }, 303)).headers.location as string;
      await form(trainer, `${moduleUrl}/items`, { type: 'lesson', title: 'Read me', body: 'Text.' }, 303);
      await form(trainer, '/courses/manage/optional-course/status', { status: 'published' }, 303);
      const learner = await signIn(t.app, 'learner@olive.example');
      const [item] = await itemIds(learner, 'optional-course');
      await learner
        .post(`/courses/optional-course/items/${item!.itemId}/done`)
        .type('form')
        .send({ _csrf: await tokenFor(learner, '/courses') })
        .expect(303);
      expect((await learner.get('/courses/optional-course').expect(200)).text).to.contain('You completed this course on');
    });

    it('keeps an unticked "required" box unticked when a quiz form comes back with errors', async () => {
      const trainer = await signIn(t.app, 'trainer@olive.example');
      const editor = (await trainer.get('/courses/manage/healing-course').expect(200)).text;
      const moduleId = /\/courses\/manage\/healing-course\/modules\/([a-f0-9]{24})"/.exec(editor)![1];
      const page = `/courses/manage/healing-course/modules/${moduleId}`;
      const res = await form(
        trainer,
        `${page}/items`,
        { type: 'quiz', title: 'Optional quiz', questions: '? Q\n+ yes\n- no', passMark: '150', maxAttempts: '1' },
        400,
        page,
      );
      expect(res.text).to.contain('Between 0 and 100.');
      const box = /<input type="checkbox" name="required"[^>]*>/.exec(res.text.slice(res.text.indexOf('name="passMark"')))![0];
      expect(box).to.not.contain('checked');
    });

    it('opens external links in lessons in a new tab, safely', async () => {
      const { renderMarkdown } = await import('../services/markdown.ts');
      expect(renderMarkdown('[UN](https://un.org) and [page](/courses)')).to.equal(
        '<p><a href="https://un.org" rel="noopener noreferrer" target="_blank">UN</a> and <a href="/courses">page</a></p>\n',
      );
      expect(renderMarkdown('<a href="https://x.org" target="_top" rel="opener" onclick="x()">x</a>')).to.not.match(/_top|opener"|onclick/);
    });
  });
});
