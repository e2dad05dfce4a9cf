import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import mongoose from 'mongoose';
import { pino } from 'pino';
import { localized, Users, type SeedContext, type SessionUser } from '../../../src/index.ts';
import { createTestApp, signIn, tokenFor, type TestApp } from '../../../test/helpers/app.ts';
import courses from '../index.ts';
import type { CourseDoc } from '../models/course.model.ts';
import type { ItemDoc } from '../models/item.model.ts';
import type { ModuleDoc } from '../models/module.model.ts';
import { seedCourses } from '../seed.ts';
import { createCourseService } from '../services/courses.service.ts';
import { createMaterialStore } from '../services/materials.service.ts';
import type { StoredText } from '../contract.ts';
import { mergeQuizLanguages } from '../services/quiz-languages.ts';
import { parseQuizText, quizToText } from '../services/quiz.service.ts';

const FIXTURES = path.resolve('fixtures/courses');
const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');
/** A stored text in each of its languages (a plain string: the one text). */
const texts = (text: StoredText | undefined) => (typeof text === 'string' ? [text] : Object.values(text ?? {}));
/** A stored text in English, for a test's messages. */
const english = (text: StoredText | undefined) => localized(text, 'en');

describe('courses: demo programme (seed)', function () {
  let t: TestApp;
  const db = () => t.app.olive.connection.db!;
  const Course = () => t.app.olive.connection.model<CourseDoc>('courses_course');
  const Module = () => t.app.olive.connection.model<ModuleDoc>('courses_module');
  const Item = () => t.app.olive.connection.model<ItemDoc>('courses_item');

  async function course(slug: string) {
    const c = await Course().findOne({ slug }).lean();
    expect(c, `course ${slug}`).to.not.equal(null);
    const modules = await Module().find({ courseId: c!._id }).sort({ position: 1 }).lean();
    const items = await Item().find({ courseId: c!._id }).sort({ position: 1 }).lean();
    return { course: c!, modules, itemsOf: (m: ModuleDoc) => items.filter((i) => i.moduleId.equals(m._id)), items };
  }

  /** Everything the seed writes, counted, with each course's last change: a second seed must not move any of it. */
  async function snapshot() {
    const count = (name: string) => db().collection(name).countDocuments({});
    return {
      courses: await count('courses_course'),
      modules: await count('courses_module'),
      items: await count('courses_item'),
      files: await count('courses_material.files'),
      chunks: await count('courses_material.chunks'),
      updated: (await Course().find({}).sort({ slug: 1 }).lean()).map((c) => `${c.slug} ${c.status} ${c.updatedAt.toISOString()}`),
    };
  }

  /** The parts of a seed context seedCourses uses, around a fixture of the test's own. */
  const contextFor = (fixture: unknown, findByEmail: (email: string) => Promise<SessionUser | null>) =>
    ({
      connection: t.app.olive.connection,
      logger: pino({ level: 'silent' }),
      get: (ref: unknown) => {
        if (ref !== Users) throw new Error('unexpected service');
        return { findByEmail };
      },
      readFixture: async () => fixture,
      fixturePath: (file: string) => path.join(FIXTURES, file),
    }) as unknown as SeedContext;

  before(async () => {
    t = await createTestApp({ plugins: [courses], seed: true, label: 'courses_seed' });
  });

  after(async () => {
    await t?.stop();
  });

  it('creates the three demo courses with their status, languages, hours and trainer', async () => {
    const trainer = await db().collection('host_users').findOne({ email: 'trainer@olive.example' });
    const all = await Course().find({}).sort({ slug: 1 }).lean();
    expect(all.map((c) => [c.slug, c.status])).to.deep.equal([
      ['conflict-analysis', 'published'],
      ['interest-based-negotiation', 'published'],
      ['mediation-process-design', 'draft'],
    ]);
    for (const c of all) expect(c.trainerIds.map(String)).to.deep.equal([trainer!._id.toString()]);

    const { course: ca } = await course('conflict-analysis');
    expect(ca).to.include({ hours: 20, durationWeeks: 4 });
    expect(ca.languages).to.deep.equal(['en', 'fr']);
    expect(Object.fromEntries(Object.entries(ca.title))).to.deep.equal({ en: 'Conflict Analysis', fr: 'Analyse des conflits' });
    expect(Object.keys(ca.summary)).to.have.members(['en', 'fr']);
  });

  it('gives Conflict Analysis six modules, each with a lesson and a quiz (pass mark 70, 3 attempts); module 1 has the reading list and a link', async () => {
    const { modules, itemsOf } = await course('conflict-analysis');
    expect(modules).to.have.length(6);
    for (const m of modules) {
      const items = itemsOf(m);
      const lessons = items.filter((i) => i.type === 'lesson');
      const quizzes = items.filter((i) => i.type === 'quiz');
      expect(lessons.length, english(m.title)).to.be.within(1, 2);
      for (const lesson of lessons) {
        expect(texts(lesson.body), english(lesson.title)).to.not.be.empty;
        for (const text of texts(lesson.body)) expect(text.length, english(lesson.title)).to.be.greaterThan(500);
      }
      expect(quizzes, english(m.title)).to.have.length(1);
      expect(quizzes[0]!.quiz).to.include({ passMark: 70, maxAttempts: 3, required: true });
      expect(quizzes[0]!.quiz!.questions.length, english(m.title)).to.be.within(3, 4);
      // The quiz closes the module.
      expect(items.at(-1)!.type).to.equal('quiz');
    }
    expect(itemsOf(modules[0]!).map((i) => i.type)).to.deep.equal(['lesson', 'file', 'link', 'quiz']);
    expect(itemsOf(modules[0]!)[2]!.url).to.match(/^https:\/\//);
  });

  it('gives Interest-based Negotiation three modules with lessons, one quiz and the case study, and Mediation Process Design two modules of one lesson', async () => {
    const ibn = await course('interest-based-negotiation');
    expect(ibn.modules).to.have.length(3);
    for (const m of ibn.modules) expect(ibn.itemsOf(m).filter((i) => i.type === 'lesson').length, english(m.title)).to.be.at.least(1);
    expect(ibn.items.filter((i) => i.type === 'quiz')).to.have.length(1);
    expect(ibn.items.filter((i) => i.type === 'file').map((i) => i.file!.filename)).to.deep.equal(['negotiation-case-study.txt']);

    const mpd = await course('mediation-process-design');
    expect(mpd.modules).to.have.length(2);
    for (const m of mpd.modules) expect(mpd.itemsOf(m).map((i) => i.type)).to.deep.equal(['lesson']);
  });

  it('stores quizzes parsed from the text format: mixed kinds, feedback on every question, and text that round-trips', async () => {
    const quizzes = await Item().find({ type: 'quiz' }).lean();
    expect(quizzes).to.have.length(7);
    const kinds = new Set(quizzes.flatMap((q) => q.quiz!.questions.map((question) => question.kind)));
    expect([...kinds]).to.have.members(['single', 'multiple', 'truefalse']);
    for (const q of quizzes) {
      const languages = Object.keys(q.quiz!.questions[0]!.text);
      for (const question of q.quiz!.questions) {
        // Every text in each language the quiz is written in.
        const label = `${english(q.title)}: ${english(question.text)}`;
        expect(Object.keys(question.text), label).to.deep.equal(languages);
        expect(Object.keys(question.feedback ?? {}), label).to.deep.equal(languages);
        for (const feedback of texts(question.feedback)) expect(feedback, label).to.be.a('string').and.not.equal('');
        for (const option of question.options) expect(Object.keys(option.text), label).to.deep.equal(languages);
        expect(
          question.options.some((o) => o.correct),
          label,
        ).to.equal(true);
      }
      // What a trainer sees in the editor, language by language, parses back to the same questions.
      const main = languages[0]!;
      expect(mergeQuizLanguages(languages.map((l) => [l, parseQuizText(quizToText(q.quiz!.questions, l, main))]))).to.deep.equal(q.quiz!.questions);
    }
  });

  it('asks for every answer that applies once per multiple-answer question on the demo’s quiz pages, in English and in French', async () => {
    const learner = await signIn(t.app, 'learner@olive.example');
    const hint = { en: /choose all that apply/gi, fr: /plusieurs réponses possibles/gi };
    for (const lang of ['en', 'fr'] as const) {
      await learner
        .post('/language')
        .type('form')
        .send({ lang, returnTo: '/courses', _csrf: await tokenFor(learner, '/courses') })
        .expect(303);
      for (const slug of ['conflict-analysis', 'interest-based-negotiation']) {
        const { course: c, items } = await course(slug);
        for (const quiz of items.filter((i) => i.type === 'quiz')) {
          const page = (await learner.get(`/courses/${c.slug}/items/${quiz._id.toString()}/quiz`).expect(200)).text;
          const multiple = quiz.quiz!.questions.filter((q) => q.kind === 'multiple').length;
          expect(page.match(hint[lang])?.length ?? 0, `${lang} ${english(quiz.title)}`).to.equal(multiple);
        }
      }
    }
  });

  it('gives Conflict Analysis, offered in English and French, its module titles and introductions, item titles and first two modules’ lessons and quizzes in both', async () => {
    const { modules, itemsOf } = await course('conflict-analysis');
    for (const m of modules) {
      expect(Object.keys(m.title), english(m.title)).to.deep.equal(['en', 'fr']);
      expect(Object.keys(m.intro), english(m.title)).to.deep.equal(['en', 'fr']);
      for (const item of itemsOf(m)) expect(Object.keys(item.title), english(item.title)).to.deep.equal(['en', 'fr']);
    }
    for (const m of modules.slice(0, 2)) {
      for (const item of itemsOf(m)) {
        expect(Object.keys(item.body), english(item.title)).to.deep.equal(['en', 'fr']);
        if (item.quiz) expect(Object.keys(item.quiz.questions[0]!.text)).to.deep.equal(['en', 'fr']);
      }
    }
    const first = itemsOf(modules[0]!)[0]!.body as Record<string, string>;
    expect(first.fr).to.contain('## Trois niveaux de causes');
    // A single-language course's texts are its language's.
    const ibn = await course('interest-based-negotiation');
    expect(ibn.items.map((i) => Object.keys(i.title))).to.deep.equal(ibn.items.map(() => ['en']));
  });

  it('stores the material files through the material store: sniffed type, sha256 of the fixture file, GridFS metadata and bytes', async () => {
    const files = await Item().find({ type: 'file' }).sort({ title: 1 }).lean();
    expect(files.map((i) => [i.file!.filename, i.file!.contentType])).to.deep.equal([
      ['negotiation-case-study.txt', 'text/plain'],
      ['conflict-analysis-reading-list.pdf', 'application/pdf'],
    ]);
    const bucket = new mongoose.mongo.GridFSBucket(db(), { bucketName: 'courses_material' });
    for (const item of files) {
      const file = item.file!;
      const original = fs.readFileSync(path.join(FIXTURES, 'materials', file.filename));
      expect(file).to.include({ size: original.length, sha256: sha256(original) });
      const doc = await db().collection('courses_material.files').findOne({ _id: file.fileId });
      expect(doc!.metadata).to.deep.equal({ contentType: file.contentType, filename: file.filename, size: original.length, sha256: sha256(original) });
      const chunks: Buffer[] = [];
      for await (const chunk of bucket.openDownloadStream(file.fileId)) chunks.push(chunk as Buffer);
      expect(sha256(Buffer.concat(chunks))).to.equal(sha256(original));
    }
  });

  it('gives each course its cover from the fixture, described in the course’s languages, shown on the catalogue and served as the image', async () => {
    const all = await Course().find({}).sort({ slug: 1 }).lean();
    for (const c of all) {
      const original = fs.readFileSync(path.join(FIXTURES, 'covers', `${c.slug}.jpg`));
      expect(c.cover, c.slug).to.include({ contentType: 'image/jpeg', width: 960, height: 400, size: original.length, sha256: sha256(original) });
    }
    const ca = all.find((c) => c.slug === 'conflict-analysis')!;
    expect(Object.keys(ca.cover!.alt)).to.have.members(['en', 'fr']);
    const learner = await signIn(t.app, 'learner@olive.example');
    const catalogue = (await learner.get('/courses').expect(200)).text;
    // The demo learner reads French: the French description.
    expect(catalogue).to.match(
      /<img class="cover" src="\/courses\/conflict-analysis\/cover[^"]*" width="960" height="400" alt="Les courbes de niveau d’un paysage/,
    );
    const image = await learner.get('/courses/interest-based-negotiation/cover').expect(200).expect('content-type', 'image/jpeg');
    expect(sha256(image.body as Buffer)).to.equal(sha256(fs.readFileSync(path.join(FIXTURES, 'covers', 'interest-based-negotiation.jpg'))));
  });

  it('changes nothing when run again', async () => {
    const before = await snapshot();
    expect(before).to.include({ courses: 3, modules: 11, files: 5 });
    await t.app.olive.seedDemo();
    expect(await snapshot()).to.deep.equal(before);
  });

  it('skips a course that exists without touching it, and adds back one that was deleted', async () => {
    // A trainer has renamed Conflict Analysis and emptied its last module; the draft course was deleted.
    const ca = await course('conflict-analysis');
    await Course().updateOne({ _id: ca.course._id }, { $set: { 'title.en': 'Conflict Analysis (2027 edition)' } });
    await Item().deleteMany({ moduleId: ca.modules.at(-1)!._id });
    const mpd = await Course().findOne({ slug: 'mediation-process-design' }).lean();
    await Item().deleteMany({ courseId: mpd!._id });
    await Module().deleteMany({ courseId: mpd!._id });
    await Course().deleteOne({ _id: mpd!._id });
    const before = await snapshot();

    await t.app.olive.seedDemo();

    const after = await course('conflict-analysis');
    expect((after.course.title as unknown as Record<string, string>).en).to.equal('Conflict Analysis (2027 edition)');
    expect(after.items).to.have.length(ca.items.length - ca.itemsOf(ca.modules.at(-1)!).length);
    const mpdAgain = await course('mediation-process-design');
    expect(mpdAgain.course.status).to.equal('draft');
    expect(mpdAgain.modules).to.have.length(2);
    // The course added back has its cover again (its material files: none).
    expect(await snapshot()).to.deep.include({ courses: before.courses + 1, modules: before.modules + 2, items: before.items + 2, files: before.files + 1 });
  });

  it('refuses an invalid fixture with every problem named, before writing anything', async () => {
    const deps = {
      courses: createCourseService({ Course: Course(), Module: Module(), Item: Item() }),
      materials: createMaterialStore(t.app.olive.connection, { maxBytes: 1024 * 1024 }),
      covers: createMaterialStore(t.app.olive.connection, { maxBytes: 1024 * 1024, maxFiles: 1 }),
    };
    const failure = async (fixture: unknown) => {
      try {
        await seedCourses(
          contextFor(fixture, async () => null),
          deps,
        );
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('expected the seed to refuse the fixture');
    };
    const before = await snapshot();
    const base = { slug: 'new-course', languages: ['en'], title: { en: 'New' }, hours: 2, status: 'published', trainers: ['nobody@olive.example'] };

    const shape = await failure({
      courses: [
        {
          ...base,
          languages: ['en', 'fr'],
          modules: [
            {
              title: 'One',
              items: [
                { type: 'quiz', title: 'Quiz', questions: ['? Which?', '- a', '- b'] },
                { type: 'link', title: 'Link', url: 'ftp://example.org' },
                { type: 'video', title: 'Video' },
              ],
            },
            { title: 'Two', items: [] },
          ],
        },
      ],
    });
    expect(shape).to.match(/^courses: fixtures\/courses\/courses\.json is not valid:/);
    expect(shape).to.include('missing: fr').and.include('courses[0].title.fr');
    expect(shape).to.include('no correct option').and.include('courses[0].modules[0].items[0].questions');
    expect(shape).to.include('https://').and.include('courses[0].modules[0].items[1].url');
    expect(shape).to.include('"type": lesson, link, file or quiz');
    expect(shape).to.include('cannot have a module without items').and.include('courses[0].modules[1].items');

    const references = await failure({
      courses: [{ ...base, modules: [{ title: 'One', items: [{ type: 'file', title: 'Notes', file: 'no-such-file.pdf' }] }] }],
    });
    expect(references).to.include('trainer nobody@olive.example: no such account');
    expect(references).to.include('material no-such-file.pdf: no such file');

    // Texts per language: only in the course's languages, always in its first, a quiz's translations matching it.
    const texts = await failure({
      courses: [
        {
          ...base,
          languages: ['en', 'fr'],
          title: { en: 'New', fr: 'Nouveau' },
          modules: [
            {
              title: { en: 'One', es: 'Uno' },
              intro: { fr: 'Seulement en français.' },
              items: [
                { type: 'lesson', title: 'Lesson', body: { en: 'Text.', de: 'Text.' } },
                { type: 'quiz', title: 'Quiz', questions: { en: ['? Which?', '+ a', '- b'], fr: ['? Laquelle ?', '- a', '+ b'] } },
                { type: 'quiz', title: 'Quiz', questions: { en: ['? Which?', '+ a', '- b'], ru: ['? Какой?', '+ a', '- b'] } },
              ],
            },
          ],
        },
      ],
    });
    expect(texts).to.include('Text is given in “es”, which is not among the course’s languages.').and.include('courses[0].modules[0].title');
    expect(texts).to.include('missing: en').and.include('courses[0].modules[0].intro.en');
    expect(texts).to.include('Unrecognized key: "de"').and.include('courses[0].modules[0].items[0].body');
    expect(texts).to.include('Text is given in “ru”').and.include('courses[0].modules[0].items[2].questions');
    expect(texts)
      .to.include('The fr quiz does not match the en one: question 1 has other correct options')
      .and.include('courses[0].modules[0].items[1].questions.fr');

    expect(await snapshot()).to.deep.equal(before);
  });

  it('removes a half-built course when a step fails, so that the next seed builds it whole', async () => {
    const trainer = await db().collection('host_users').findOne({ email: 'trainer@olive.example' });
    const findTrainer = async (email: string): Promise<SessionUser> => ({ id: trainer!._id.toString(), email, name: 'Trainer', roles: ['trainer'] });
    const fixture = {
      courses: [
        {
          slug: 'half-built',
          languages: ['en'],
          title: { en: 'Half built' },
          hours: 1,
          status: 'published',
          trainers: ['trainer@olive.example'],
          modules: [
            { title: 'One', items: [{ type: 'lesson', title: 'Lesson', body: 'Some text.' }] },
            {
              title: 'Two',
              items: [
                { type: 'file', title: 'Notes', file: 'negotiation-case-study.txt' },
                { type: 'file', title: 'Reading', file: 'conflict-analysis-reading-list.pdf' },
              ],
            },
          ],
        },
      ],
    };
    const courseService = createCourseService({ Course: Course(), Module: Module(), Item: Item() });
    const before = await snapshot();

    // A store that takes the case study (5 KB) but refuses the reading list (7 KB) as too large:
    // by then the course, both modules, the lesson and a stored file exist.
    const covers = createMaterialStore(t.app.olive.connection, { maxBytes: 1024 * 1024, maxFiles: 1 });
    const tight = { courses: courseService, materials: createMaterialStore(t.app.olive.connection, { maxBytes: 6000 }), covers };
    let message = '';
    try {
      await seedCourses(contextFor(fixture, findTrainer), tight);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).to.equal('courses: the demo course “half-built” could not be added: conflict-analysis-reading-list.pdf is larger than the 5.9 KB limit.');
    expect(await snapshot()).to.deep.equal(before);

    const roomy = { courses: courseService, materials: createMaterialStore(t.app.olive.connection, { maxBytes: 1024 * 1024 }), covers };
    await seedCourses(contextFor(fixture, findTrainer), roomy);
    const built = await course('half-built');
    expect(built.course.status).to.equal('published');
    expect(built.items.map((i) => i.type)).to.deep.equal(['lesson', 'file', 'file']);
    expect(await snapshot()).to.deep.include({ courses: before.courses + 1, modules: before.modules + 2, items: before.items + 3, files: before.files + 2 });
  });
});
