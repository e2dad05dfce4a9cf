/**
 * Due dates of modules and quizzes (issue #17): trainers set them on the module and quiz forms, as
 * days after the start; bad input gets a clear message and changes nothing; learners see the day
 * and where it stands (due in n days, due today, overdue, done on time, done late), counted from
 * the start their access provider gives (`dueFrom`); a preview shows the days set.
 */
import { expect } from 'chai';
import { allow, definePlugin } from '../../../src/index.ts';
import { createTestApp, signIn, type TestApp } from '../../../test/helpers/app.ts';
import { LearningAccess } from '../contract.ts';
import courses from '../index.ts';
import { form } from './forms.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

const DAY = 24 * 60 * 60 * 1000;
const EDITION = '65f0000000000000000000d1';
const QUIZ = `? Mediators impose a binding decision on the parties.
- True
+ False
`;

/** "1 December 2026", as the pages write a day (UTC). */
const longDay = (d: Date) => new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(d);
const today = () => new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));

describe('courses: due dates', () => {
  let t: TestApp;
  /** The start the test provider gives learners (null: none, as without an edition). */
  let start: Date | null = new Date(Date.now() - 10 * DAY);
  let trainer: Agent;
  let learner: Agent;
  const ids: { modules: string[]; quiz: string; lessons: string[] } = { modules: [], quiz: '', lessons: [] };

  before(async () => {
    const gate = definePlugin({
      name: 'gate',
      version: '1.0.0',
      requires: [LearningAccess],
      register(ctx) {
        ctx.contribute(LearningAccess, {
          async decide() {
            return { allowed: true, editionId: EDITION, ...(start ? { dueFrom: start } : {}) };
          },
        });
        ctx.router.get('/', allow.public, (_req, res) => {
          res.send('ok');
        });
      },
    });
    t = await createTestApp({ plugins: [courses, gate], seed: true, label: 'due-dates' });
    trainer = await signIn(t.app, 'trainer@olive.example');
    learner = await signIn(t.app, 'learner@olive.example');
    await form(trainer, '/courses/manage', { slug: 'due-course', languages: 'en', title_en: 'Due course', hours: '2' }, 303);
    for (let m = 1; m <= 4; m++) {
      const res = await form(trainer, '/courses/manage/due-course/modules', { title: `Module ${m}`, required: 'on' }, 303);
      const url = res.headers.location as string;
      ids.modules.push(url.split('/').pop()!);
      await form(trainer, `${url}/items`, { type: 'lesson', title: `Lesson ${m}`, body: `Text ${m}.` }, 303);
    }
    await form(
      trainer,
      `/courses/manage/due-course/modules/${ids.modules[3]}/items`,
      { type: 'quiz', title: 'Check', questions: QUIZ, passMark: '50', maxAttempts: '3', required: 'on', dueDays: '12' },
      303,
    );
    await form(trainer, '/courses/manage/due-course/status', { status: 'published' }, 303);
    for (const moduleId of ids.modules) {
      const page = (await learner.get(`/courses/due-course/modules/${moduleId}`).expect(200)).text;
      ids.lessons.push(page.match(/id="item-([a-f0-9]{24})"/)![1]!);
      const quiz = page.match(/\/items\/([a-f0-9]{24})\/quiz/);
      if (quiz) ids.quiz = quiz[1]!;
    }
  });
  after(() => t.stop());

  const moduleForm = (n: number, dueDays: string, status: number) =>
    form(trainer, `/courses/manage/due-course/modules/${ids.modules[n]}`, { title_en: `Module ${n + 1}`, required: 'on', dueDays }, status);

  describe('the module and quiz forms', () => {
    it('keeps a module’s days after the start, shows them again, and clears them when left empty', async () => {
      await moduleForm(0, '3', 303);
      const editor = (await trainer.get(`/courses/manage/due-course/modules/${ids.modules[0]}`).expect(200)).text;
      expect(editor).to.match(/name="dueDays"[^>]*value="3"/);
      await moduleForm(1, ' 13 ', 303);
      await moduleForm(2, '0', 303);
      await moduleForm(2, '', 303);
      const cleared = (await trainer.get(`/courses/manage/due-course/modules/${ids.modules[2]}`).expect(200)).text;
      expect(cleared).to.match(/name="dueDays"[^>]*value=""/);
      await moduleForm(2, '10', 303);
    });

    for (const bad of ['-1', '731', '2.5', 'two weeks', '1e3']) {
      it(`refuses “${bad}” days with a clear message, and changes nothing`, async () => {
        const res = await moduleForm(0, bad, 400);
        expect(res.text).to.contain('Enter a whole number of days from 0 to 730, or leave the field empty for no due date.');
        expect(res.text).to.contain(`value="${bad}"`);
        const editor = (await trainer.get(`/courses/manage/due-course/modules/${ids.modules[0]}`).expect(200)).text;
        expect(editor).to.match(/name="dueDays"[^>]*value="3"/);
      });
    }

    it('a new module takes its days on the form that adds it; a bad number keeps what was typed and adds nothing', async () => {
      const editor = (await trainer.get('/courses/manage/due-course').expect(200)).text;
      expect(editor).to.match(
        /<h3 id="add-module">[^<]*<\/h3>\s*<form method="post" action="\/courses\/manage\/due-course\/modules#add-module"[\s\S]*?name="dueDays"[\s\S]*?<\/form>/,
      );
      const Module = t.app.olive.connection.model('courses_module');
      const before = await Module.countDocuments();
      const bad = await form(trainer, '/courses/manage/due-course/modules', { title_en: 'Module late', dueDays: 'soon' }, 400);
      expect(bad.text).to.contain('Enter a whole number of days from 0 to 730, or leave the field empty for no due date.');
      expect(bad.text).to.match(/id="module-dueDays"[^>]*value="soon"[^>]*aria-invalid="true"/);
      expect(await Module.countDocuments()).to.equal(before);
      const added = await form(trainer, '/courses/manage/due-course/modules', { title_en: 'Module 5', dueDays: '20' }, 303);
      const id = (added.headers.location as string).split('/').pop()!;
      expect(((await Module.findById(id).lean()) as { dueDays?: number }).dueDays).to.equal(20);
      await form(trainer, `/courses/manage/due-course/modules/${id}/delete`, {}, 303);
    });

    it('says so in the reader’s language', async () => {
      await form(trainer, '/language', { lang: 'fr', returnTo: '/courses' }, 303, '/courses');
      try {
        const res = await moduleForm(0, '800', 400);
        expect(res.text).to.contain('Saisissez un nombre entier de jours entre 0 et 730');
      } finally {
        await form(trainer, '/language', { lang: 'en', returnTo: '/courses' }, 303, '/courses');
      }
    });

    it('keeps a quiz’s due date, and refuses a bad one on the quiz’s form without changing it', async () => {
      const editor = (await trainer.get(`/courses/manage/due-course/items/${ids.quiz}`).expect(200)).text;
      expect(editor).to.match(/name="dueDays"[^>]*value="12"/);
      const fields = { title_en: 'Check', questions_en: QUIZ, passMark: '50', maxAttempts: '3', required: 'on' };
      const res = await form(trainer, `/courses/manage/due-course/items/${ids.quiz}`, { ...fields, dueDays: '1000' }, 400);
      expect(res.text).to.contain('Enter a whole number of days from 0 to 730');
      expect((await trainer.get(`/courses/manage/due-course/items/${ids.quiz}`).expect(200)).text).to.match(/name="dueDays"[^>]*value="12"/);
      await form(trainer, `/courses/manage/due-course/items/${ids.quiz}`, { ...fields, dueDays: '12' }, 303);
    });

    it('refuses a learner who posts a due date', async () => {
      await form(learner, `/courses/manage/due-course/modules/${ids.modules[0]}`, { title_en: 'Module 1', dueDays: '1' }, 403, '/courses');
    });
  });

  describe('what learners see', () => {
    // Started ten days ago: module 1 (3 days) overdue, module 2 (13) in 3 days, module 3 (10) today, the quiz (12) in 2 days.
    it('shows each due day and where it stands on the course page', async () => {
      const page = (await learner.get('/courses/due-course').expect(200)).text;
      const s = start!;
      expect(page).to.contain(`Due ${longDay(new Date(today().getTime() - 7 * DAY))}`);
      expect(page).to.contain('overdue');
      expect(page).to.contain(`Due ${longDay(new Date(today().getTime() + 3 * DAY))}`);
      expect(page).to.contain('due in 3 days');
      expect(page).to.contain('due today');
      expect(page).to.contain('Check: Due');
      expect(page).to.contain('due in 2 days');
      expect(s).to.be.instanceOf(Date);
    });

    it('says done on time, or done late, once done', async () => {
      // Module 2 done now, 3 days before its day; module 1 done now, 7 days after its day.
      await form(learner, `/courses/due-course/items/${ids.lessons[1]}/done`, {}, 303, `/courses/due-course/modules/${ids.modules[1]}`);
      await form(learner, `/courses/due-course/items/${ids.lessons[0]}/done`, {}, 303, `/courses/due-course/modules/${ids.modules[0]}`);
      const module1 = (await learner.get(`/courses/due-course/modules/${ids.modules[0]}`).expect(200)).text;
      expect(module1).to.contain('done late');
      expect(module1).not.to.contain('overdue');
      const module2 = (await learner.get(`/courses/due-course/modules/${ids.modules[1]}`).expect(200)).text;
      expect(module2).to.contain('done on time');
    });

    it('counts a quiz done when it is submitted, even if not passed', async () => {
      const quizPage = (await learner.get(`/courses/due-course/items/${ids.quiz}/quiz`).expect(200)).text;
      expect(quizPage).to.contain('due in 2 days');
      const question = quizPage.match(/name="(q[^"]*)" value="([^"]+)"/)!;
      await form(learner, `/courses/due-course/items/${ids.quiz}/quiz`, { [question[1]!]: question[2]! }, 200, `/courses/due-course/items/${ids.quiz}/quiz`);
      const module4 = (await learner.get(`/courses/due-course/modules/${ids.modules[3]}`).expect(200)).text;
      expect(module4).to.contain('done on time');
    });

    it('counts from the start the provider gives: a later start moves every day', async () => {
      start = new Date(Date.now() + 5 * DAY);
      try {
        const page = (await learner.get('/courses/due-course').expect(200)).text;
        expect(page).to.contain('due in 15 days'); // module 3: 5 + 10
        expect(page).not.to.contain('due today');
      } finally {
        start = new Date(Date.now() - 10 * DAY);
      }
    });

    it('shows no due date when there is no start to count from', async () => {
      start = null;
      try {
        const page = (await learner.get('/courses/due-course').expect(200)).text;
        expect(page).not.to.match(/class="due|Due \d|due in|overdue|due today/);
      } finally {
        start = new Date(Date.now() - 10 * DAY);
      }
    });

    it('shows the course’s trainer the days after the start, in the preview', async () => {
      const page = (await trainer.get('/courses/due-course').expect(200)).text;
      expect(page).to.contain('Due 3 days after the start');
      expect(page).to.contain('Due 13 days after the start');
      expect(page).not.to.contain('overdue');
    });
  });
});
