/**
 * A course's content in several languages (issue #15): trainers write each text per language in
 * the plain forms; each reader sees their language where it exists, else the course's first
 * language, else English, marked with its language when it is not the page's; documents from
 * before texts had languages still show; bad input changes nothing. Over 400 lines: the pages
 * share one course written through the forms, and the readers in four languages are checked on it.
 */
import { expect } from 'chai';
import mongoose from 'mongoose';
import { createTestApp, signIn, tokenFor, type TestApp } from '../../../test/helpers/app.ts';
import enrolment from '../../enrolment/index.ts';
import { CourseCatalog } from '../contract.ts';
import courses from '../index.ts';
import { form } from './forms.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

/** The interface language of a signed-in person, chosen as they would (the switcher). */
async function speak(agent: Agent, lang: string) {
  await form(agent, '/language', { lang, returnTo: '/courses' }, 303, '/courses');
}

/** The opening tag of the element whose text content starts with `text` (what a screen reader is told of its language). */
function tagOf(html: string, text: string): string {
  const at = html.indexOf(`>${text}<`);
  expect(at, `“${text}” in the page`).to.be.greaterThan(-1);
  return html.slice(html.lastIndexOf('<', at), at + 1);
}

/** The message shown beside a field, by the field's id. */
const fieldError = (html: string, id: string) => new RegExp(`<p class="field-error" id="${id}-error">([^<]*)</p>`).exec(html)?.[1];

const QUIZ_FR = [
  '? Laquelle de ces questions est ouverte ?',
  '- Êtes-vous d’accord ?',
  '+ Que faudrait-il pour que cela fonctionne pour vous ?',
  '> Une question ouverte invite à expliquer, pas à répondre par oui ou non.',
  '',
  '? Reformuler, c’est répéter mot pour mot ce que la partie a dit.',
  '- Vrai',
  '+ Faux',
  '> Reformuler, c’est dire avec ses propres mots ce que l’on a compris.',
].join('\n');
// The English translation leaves out the second feedback: learners then read the French one.
const QUIZ_EN = [
  '? Which of these questions is open?',
  '- Do you agree?',
  '+ What would make this work for you?',
  '> An open question invites an explanation, not a yes or a no.',
  '',
  '? Paraphrasing means repeating word for word what the party said.',
  '- True',
  '+ False',
].join('\n');

describe('courses: texts in several languages', () => {
  let t: TestApp;
  let trainer: Agent;
  let moduleUrl = '';
  const db = () => t.app.olive.connection.db!;
  const moduleDoc = async () =>
    db()
      .collection('courses_module')
      .findOne({ _id: new mongoose.Types.ObjectId(moduleUrl.split('/').pop()) });
  const itemsOfModule = async () =>
    db()
      .collection('courses_item')
      .find({ moduleId: new mongoose.Types.ObjectId(moduleUrl.split('/').pop()) })
      .toArray();

  before(async () => {
    t = await createTestApp({ plugins: [courses], seed: true, label: 'courses_languages' });
    trainer = await signIn(t.app, 'trainer@olive.example');
  });
  after(() => t.stop());

  it('a trainer writes a course in French and English through the forms, one fieldset per language of the course', async () => {
    // French first: its texts are required, the English ones optional.
    await form(
      trainer,
      '/courses/manage',
      {
        slug: 'dialogue-course',
        languages: ['en', 'fr'],
        mainLanguage: 'fr',
        title_fr: 'Dialogue et médiation',
        title_en: 'Talking it through',
        summary_fr: 'Écouter les parties et les amener à se parler.',
        summary_en: 'Listening to the parties and getting them to talk.',
        hours: '6',
      },
      303,
    );
    const course = await db().collection('courses_course').findOne({ slug: 'dialogue-course' });
    expect(course!.languages).to.deep.equal(['fr', 'en']);
    expect(course!.title).to.deep.equal({ fr: 'Dialogue et médiation', en: 'Talking it through' });

    // The form adding a module asks for its title in the course's two languages, each field marked with its language.
    const editor = (await trainer.get('/courses/manage/dialogue-course').expect(200)).text;
    expect(editor).to.match(
      /<fieldset class="language-texts">\s*<legend>French <span class="muted">\(first language, required\)<\/span><\/legend>\s*<div class="field">\s*<label for="module-title-fr">/,
    );
    expect(editor).to.match(/<legend>English <span class="muted">\(optional\)<\/span><\/legend>\s*<div class="field">\s*<label for="module-title-en">/);
    expect(editor).to.match(/<input id="module-title-fr" name="title_fr" type="text" lang="fr" dir="ltr"[^>]* required/);
    expect(editor).to.match(/<input id="module-title-en" name="title_en" type="text" lang="en" dir="ltr"/);
    expect(editor).to.not.contain('id="module-title-es"');
    // The course's own settings offer all six languages; Arabic is written right to left.
    expect(editor).to.match(/<input id="title_ar" name="title_ar" type="text" lang="ar" dir="rtl"/);

    moduleUrl = (await form(trainer, '/courses/manage/dialogue-course/modules', { title_fr: 'Écouter', title_en: 'Listening', required: 'on' }, 303)).headers
      .location as string;
    await form(
      trainer,
      moduleUrl,
      { title_fr: 'Écouter les parties', title_en: 'Listening to the parties', intro_fr: 'Semaine 1.', intro_en: 'Week 1.', required: 'on' },
      303,
      moduleUrl,
    );
    const items = `${moduleUrl}/items`;
    await form(
      trainer,
      items,
      {
        type: 'lesson',
        title_fr: 'Poser des questions ouvertes',
        title_en: 'Asking open questions',
        body_fr: '## Pourquoi des questions ouvertes\n\nElles invitent la partie à **expliquer**.',
        body_en: '## Why open questions\n\nThey invite the party to **explain**.',
      },
      303,
      moduleUrl,
    );
    // Not translated yet: in French only.
    await form(trainer, items, { type: 'lesson', title_fr: 'Reformuler', body_fr: 'Reformuler montre que l’on a écouté.' }, 303, moduleUrl);
    await form(
      trainer,
      items,
      {
        type: 'quiz',
        title_fr: 'Vérifiez vos connaissances',
        title_en: 'Check your understanding',
        questions_fr: QUIZ_FR,
        questions_en: QUIZ_EN,
        passMark: '50',
        maxAttempts: '0',
        required: 'on',
      },
      303,
      moduleUrl,
    );
    await form(trainer, '/courses/manage/dialogue-course/status', { status: 'published' }, 303);

    const module = await moduleDoc();
    expect(module!.title).to.deep.equal({ fr: 'Écouter les parties', en: 'Listening to the parties' });
    expect(module!.intro).to.deep.equal({ fr: 'Semaine 1.', en: 'Week 1.' });
    const [lesson, untranslated, quiz] = await itemsOfModule();
    expect(lesson!.body.en).to.contain('They invite the party');
    expect(untranslated!.title).to.deep.equal({ fr: 'Reformuler' });
    expect(quiz!.quiz.questions[0]).to.deep.include({
      id: 'q1',
      kind: 'single',
      text: { fr: 'Laquelle de ces questions est ouverte ?', en: 'Which of these questions is open?' },
    });
    expect(quiz!.quiz.questions[1].kind).to.equal('truefalse');
    expect(quiz!.quiz.questions[1].feedback).to.deep.equal({ fr: 'Reformuler, c’est dire avec ses propres mots ce que l’on a compris.' });
    expect(quiz!.quiz.questions[1].options.map((o: { text: unknown }) => o.text)).to.deep.equal([
      { fr: 'Vrai', en: 'True' },
      { fr: 'Faux', en: 'False' },
    ]);

    // Each language's text comes back in the editor, in a field marked with its language.
    const edit = (await trainer.get(`/courses/manage/dialogue-course/items/${quiz!._id}`).expect(200)).text;
    expect(edit).to.match(/<textarea id="edit-questions-en" name="questions_en" lang="en" dir="ltr"[^>]*>\? Which of these questions is open\?/);
    expect(edit).to.match(/<textarea id="edit-questions-fr" name="questions_fr" lang="fr" dir="ltr"[^>]*>\? Laquelle de ces questions est ouverte \?/);
    // The trainer (English) sees the titles in English where they exist, else in French, marked.
    const modulePage = (await trainer.get(moduleUrl).expect(200)).text;
    expect(tagOf(modulePage, 'Asking open questions')).to.match(/^<a href="[^"]+">$/);
    expect(tagOf(modulePage, 'Reformuler')).to.match(/ lang="fr" dir="ltr">$/);
  });

  it('shows a French reader the French texts; an English reader the English, else the French marked as French', async () => {
    const french = await signIn(t.app, 'marie.kabila@olive.example');
    const catalogue = (await french.get('/courses').expect(200)).text;
    expect(catalogue).to.contain('<html lang="fr"');
    // In the page's language: nothing to mark.
    expect(tagOf(catalogue, 'Dialogue et médiation')).to.equal('<a href="/courses/dialogue-course">');
    expect(tagOf(catalogue, 'Écouter les parties et les amener à se parler.')).to.equal('<p>');
    // A course in English only is marked as English on the French page.
    expect(tagOf(catalogue, 'Interest-based Negotiation')).to.equal('<a href="/courses/interest-based-negotiation" lang="en" dir="ltr">');

    const outline = (await french.get('/courses/dialogue-course').expect(200)).text;
    expect(tagOf(outline, 'Dialogue et médiation')).to.equal('<h1>');
    expect(outline).to.contain('>Écouter les parties</a>');
    const page = (await french.get(moduleUrl.replace('/manage/dialogue-course', '/dialogue-course')).expect(200)).text;
    expect(tagOf(page, 'Écouter les parties')).to.equal('<h1>');
    expect(page).to.contain('<h2>Pourquoi des questions ouvertes</h2>');
    expect(page).to.not.contain('Why open questions');

    const english = await signIn(t.app, 'learner@olive.example');
    const enPage = (await english.get(moduleUrl.replace('/manage/dialogue-course', '/dialogue-course')).expect(200)).text;
    expect(enPage).to.contain('<html lang="en"');
    expect(tagOf(enPage, 'Listening to the parties')).to.equal('<h1>');
    expect(enPage).to.contain('<h2>Why open questions</h2>');
    // The lesson not translated yet: in French, its title and text marked as French.
    expect(tagOf(enPage, 'Reformuler')).to.equal('<span lang="fr" dir="ltr">');
    expect(enPage).to.match(/<div class="prose" lang="fr" dir="ltr"><p>Reformuler montre que l’on a écouté.<\/p>/);

    // The quiz in English; once it is passed, the feedback not translated shows in French, marked.
    const [, , quiz] = await itemsOfModule();
    const quizUrl = `/courses/dialogue-course/items/${quiz!._id}/quiz`;
    const quizPage = (await english.get(quizUrl).expect(200)).text;
    expect(quizPage).to.contain('Which of these questions is open?');
    expect(quizPage).to.contain('> What would make this work for you?</label>');
    const result = (await form(english, quizUrl, { q1: 'b', q2: 'b' }, 200, quizUrl)).text;
    expect(tagOf(result, 'An open question invites an explanation, not a yes or a no.')).to.equal('<p class="muted">');
    expect(tagOf(result, 'Reformuler, c’est dire avec ses propres mots ce que l’on a compris.')).to.equal('<p class="muted" lang="fr" dir="ltr">');
    // The home page's list of their courses names it in English.
    expect((await english.get('/').expect(200)).text).to.contain('<a href="/courses/dialogue-course">Talking it through</a>');
  });

  it('shows a Spanish reader the course’s first language (French, not English), marked as French', async () => {
    const spanish = await signIn(t.app, 'ana.ruiz@olive.example');
    await speak(spanish, 'es');
    const catalogue = (await spanish.get('/courses').expect(200)).text;
    expect(catalogue).to.contain('<html lang="es"');
    expect(tagOf(catalogue, 'Dialogue et médiation')).to.equal('<a href="/courses/dialogue-course" lang="fr" dir="ltr">');
    expect(catalogue).to.not.contain('Talking it through');
    // Conflict Analysis is English first: its English title, marked.
    expect(tagOf(catalogue, 'Conflict Analysis')).to.equal('<a href="/courses/conflict-analysis" lang="en" dir="ltr">');
    const page = (await spanish.get(moduleUrl.replace('/manage/dialogue-course', '/dialogue-course')).expect(200)).text;
    expect(tagOf(page, 'Écouter les parties')).to.equal('<h1 lang="fr" dir="ltr">');

    // On an Arabic page (right to left), text in another language is marked left to right.
    await speak(spanish, 'ar');
    const arabic = (await spanish.get('/courses').expect(200)).text;
    expect(arabic).to.contain('<html lang="ar" dir="rtl"');
    expect(tagOf(arabic, 'Conflict Analysis')).to.equal('<a href="/courses/conflict-analysis" lang="en" dir="ltr">');
  });

  it('shows the demo course in English and French in both: its modules and first lessons', async () => {
    const french = await signIn(t.app, 'marie.kabila@olive.example');
    const outline = (await french.get('/courses/conflict-analysis').expect(200)).text;
    expect(tagOf(outline, 'Analyse des conflits')).to.equal('<h1>');
    const moduleId = /\/courses\/conflict-analysis\/modules\/([a-f0-9]{24})/.exec(outline)![1];
    expect(outline).to.contain('>Comprendre les causes des conflits</a>');
    const page = (await french.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(200)).text;
    expect(page).to.contain('<h2>Trois niveaux de causes</h2>');
    expect(page).to.not.contain('Three layers of causes');
  });

  it('still shows a document from before texts had languages (plain strings), as the course’s first language', async () => {
    const courseId = new mongoose.Types.ObjectId();
    const moduleId = new mongoose.Types.ObjectId();
    const itemId = new mongoose.Types.ObjectId();
    await db()
      .collection('courses_course')
      .insertOne({
        _id: courseId,
        slug: 'legacy-course',
        title: 'Legacy course',
        summary: 'Written before languages.',
        languages: ['en', 'fr'],
        hours: 2,
        status: 'published',
        trainerIds: [],
        structureStamp: 'legacy',
      });
    await db().collection('courses_module').insertOne({ _id: moduleId, courseId, title: 'Old module', intro: 'Old *intro*.', position: 10, required: true });
    await db()
      .collection('courses_item')
      .insertMany([
        { _id: itemId, courseId, moduleId, type: 'lesson', title: 'Old lesson', position: 10, body: 'Old **text**.' },
        {
          courseId,
          moduleId,
          type: 'quiz',
          title: 'Old quiz',
          position: 20,
          body: '',
          quiz: {
            questions: [
              {
                id: 'q1',
                text: 'Old question?',
                kind: 'single',
                options: [
                  { id: 'a', text: 'Yes', correct: true },
                  { id: 'b', text: 'No', correct: false },
                ],
                feedback: 'Old feedback.',
              },
            ],
            passMark: 50,
            maxAttempts: 0,
            required: true,
          },
        },
      ]);

    const french = await signIn(t.app, 'marie.kabila@olive.example');
    const catalogue = (await french.get('/courses').expect(200)).text;
    expect(tagOf(catalogue, 'Legacy course')).to.equal('<a href="/courses/legacy-course" lang="en" dir="ltr">');
    const page = (await french.get(`/courses/legacy-course/modules/${moduleId}`).expect(200)).text;
    expect(tagOf(page, 'Old module')).to.equal('<h1 lang="en" dir="ltr">');
    expect(page).to.contain('<p>Old <em>intro</em>.</p>');
    expect(page).to.contain('<p>Old <strong>text</strong>.</p>');
    const quizId = /\/courses\/legacy-course\/items\/([a-f0-9]{24})\/quiz/.exec(page)![1];
    const quizUrl = `/courses/legacy-course/items/${quizId}/quiz`;
    expect((await french.get(quizUrl).expect(200)).text).to.contain('Old question?');
    const result = (await form(french, quizUrl, { q1: 'a' }, 200, quizUrl)).text;
    expect(result).to.contain('Old feedback.');
    // Other plugins get texts per language: the plain string as the first language's.
    const summary = await t.app.olive.service(CourseCatalog).findById(courseId.toString());
    expect(summary!.title).to.deep.equal({ en: 'Legacy course' });
    expect((await t.app.olive.service(CourseCatalog).modules(courseId.toString()))[0]!.title).to.deep.equal({ en: 'Old module' });

    // The editor shows the old text as the first language's; saving stores it per language.
    const staff = await signIn(t.app, 'staff@olive.example');
    const editUrl = `/courses/manage/legacy-course/items/${itemId}`;
    const edit = (await staff.get(editUrl).expect(200)).text;
    expect(edit).to.match(/name="title_en"[^>]*value="Old lesson"/);
    expect(edit).to.match(/name="title_fr"[^>]*value=""/);
    await form(staff, editUrl, { title_en: 'Old lesson', title_fr: 'Ancienne leçon', body_en: 'Old **text**.', body_fr: 'Ancien **texte**.' }, 303, editUrl);
    expect((await db().collection('courses_item').findOne({ _id: itemId }))!.title).to.deep.equal({ en: 'Old lesson', fr: 'Ancienne leçon' });
  });

  it('finds and sorts courses by the titles the reader sees', async () => {
    const french = await signIn(t.app, 'marie.kabila@olive.example');
    const english = await signIn(t.app, 'learner@olive.example');
    const order = (html: string, titles: string[]) => titles.map((title) => html.indexOf(`>${title}</a>`));
    const fr = (await french.get('/courses').expect(200)).text;
    const [analyse, dialogue, negotiation] = order(fr, ['Analyse des conflits', 'Dialogue et médiation', 'Interest-based Negotiation']);
    expect(analyse).to.be.lessThan(dialogue!).and.greaterThan(-1);
    expect(dialogue).to.be.lessThan(negotiation!);
    const en = (await english.get('/courses').expect(200)).text;
    const [conflict, interest, talking] = order(en, ['Conflict Analysis', 'Interest-based Negotiation', 'Talking it through']);
    expect(conflict).to.be.lessThan(interest!).and.greaterThan(-1);
    expect(interest).to.be.lessThan(talking!); // by slug, dialogue-course would come second

    // “dialogue” is in the French title only; accents aside, “mediation” finds “médiation”.
    expect((await french.get('/courses?q=dialogue').expect(200)).text).to.contain('>Dialogue et médiation</a>');
    expect((await french.get('/courses?q=mediation').expect(200)).text).to.contain('>Dialogue et médiation</a>');
    const none = (await english.get('/courses?q=dialogue').expect(200)).text;
    expect(none).to.contain('No course matches “dialogue”.');
    expect(none).to.not.contain('Talking it through');
    expect((await english.get('/courses?q=parties').expect(200)).text).to.contain('>Talking it through</a>');
  });

  it('refuses bad input with a message beside the field, and changes nothing', async () => {
    const before = { module: await moduleDoc(), items: await itemsOfModule() };
    const items = `${moduleUrl}/items`;

    // The first language's text is required: a title in English only is refused.
    const missing = await form(trainer, items, { type: 'lesson', title_en: 'English only', body_fr: 'Texte.' }, 400, moduleUrl);
    expect(fieldError(missing.text, 'lesson-title-fr')).to.equal('Write this in French, the course’s first language; the other languages are optional.');
    expect(missing.text).to.match(/<input id="lesson-title-fr"[^>]*aria-invalid="true"/);
    expect(missing.text).to.match(/<input id="lesson-title-en"[^>]*value="English only"/); // what was typed comes back

    // Too long, in any language.
    const long = await form(trainer, moduleUrl, { title_fr: 'Écouter', title_en: 'x'.repeat(201), required: 'on' }, 400, moduleUrl);
    expect(fieldError(long.text, 'm-title-en')).to.equal('Too long: at most 200 characters in each language.');

    // A language that is not a UN language, or not one of the course's.
    const unknown = await form(trainer, items, { type: 'lesson', title_fr: 'Leçon', body_fr: 'Texte.', title_xx: 'Lesson' }, 400, moduleUrl);
    expect(unknown.text).to.contain('“xx” is not one of the six UN languages (ar, zh, en, fr, ru, es).');
    const notOffered = await form(trainer, items, { type: 'lesson', title_fr: 'Leçon', body_fr: 'Texte.', title_es: 'Lección' }, 400, moduleUrl);
    expect(notOffered.text).to.contain('Spanish is not among the course’s languages: choose it in the course settings, or leave its texts empty.');
    const course = await form(trainer, '/courses/manage/dialogue-course/settings', { languages: ['fr', 'xx'], title_fr: 'Dialogue', hours: '6' }, 400);
    expect(course.text).to.contain('Unknown language.');

    // A translation of a quiz must have the same questions and answers.
    const quiz = await form(
      trainer,
      items,
      { type: 'quiz', title_fr: 'Quiz', questions_fr: QUIZ_FR, questions_en: QUIZ_EN.split('\n\n')[0], passMark: '50', maxAttempts: '0' },
      400,
      moduleUrl,
    );
    expect(fieldError(quiz.text, 'quiz-questions-en')).to.equal('Questions in this translation: 1; in French: 2. Translate each question, in the same order.');
    const answers = await form(
      trainer,
      items,
      {
        type: 'quiz',
        title_fr: 'Quiz',
        questions_fr: QUIZ_FR,
        questions_en: QUIZ_EN.replace('- Do you agree?', '+ Do you agree?'),
        passMark: '50',
        maxAttempts: '0',
      },
      400,
      moduleUrl,
    );
    expect(fieldError(answers.text, 'quiz-questions-en')).to.equal(
      'Question 1: the correct options (+) are not those of the quiz in French. Mark the same ones.',
    );

    // A French trainer reads the messages in French.
    await speak(trainer, 'fr');
    try {
      const fr = await form(trainer, items, { type: 'lesson', title_en: 'English only', body_fr: 'Texte.' }, 400, moduleUrl);
      expect(fieldError(fr.text, 'lesson-title-fr')).to.equal(
        'Écrivez ce texte en français, la première langue de la formation ; les autres langues sont facultatives.',
      );
    } finally {
      await speak(trainer, 'en');
    }

    // JSON clients get the messages by field too.
    const json = await trainer
      .post(items)
      .set('accept', 'application/json')
      .set('x-csrf-token', await tokenFor(trainer, moduleUrl))
      .send({ type: 'lesson', title_en: 'English only', body_fr: 'Texte.' })
      .expect(400);
    expect(json.body.error.details.fields).to.have.property('title_fr');

    expect(await moduleDoc()).to.deep.equal(before.module);
    expect(await itemsOfModule()).to.deep.equal(before.items);
    expect((await db().collection('courses_course').findOne({ slug: 'dialogue-course' }))!.languages).to.deep.equal(['fr', 'en']);
  });
});

describe('courses: texts in several languages, on the enrolment plugin’s pages', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'courses_languages_enrolment' });
  });
  after(() => t.stop());

  it('names the course in the reader’s language on My learning and the home page, else in its first language, marked', async () => {
    // Enrolled in Conflict Analysis (English and French) by the demo programme, two modules done.
    const learner = await signIn(t.app, 'learner@olive.example');
    await speak(learner, 'fr');
    const my = (await learner.get('/enrolment/my').expect(200)).text;
    expect(tagOf(my, 'Analyse des conflits')).to.equal('<a href="/courses/conflict-analysis">');
    expect(tagOf((await learner.get('/').expect(200)).text, 'Analyse des conflits')).to.equal('<a href="/courses/conflict-analysis">');
    await speak(learner, 'ru');
    const ru = (await learner.get('/enrolment/my').expect(200)).text;
    expect(tagOf(ru, 'Conflict Analysis')).to.equal('<a href="/courses/conflict-analysis" lang="en" dir="ltr">');
    expect(tagOf((await learner.get('/').expect(200)).text, 'Conflict Analysis')).to.equal('<a href="/courses/conflict-analysis" lang="en" dir="ltr">');
  });
});
