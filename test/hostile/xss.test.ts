/**
 * Script injection: `<script>alert(1)</script>` and `"><img src=x onerror=alert(1)>` typed into
 * every text field that a page shows back (through the real forms, by the people who fill them),
 * then every page that shows it is fetched: the text is there, escaped, and no markup of it is.
 * Markdown fields are sanitised rather than escaped: no script, no handlers. The CSP header forbids
 * inline script anyway, as a second line.
 */
import { expect } from 'chai';
import supertest from 'supertest';
import type { TestApp } from '../helpers/app.ts';
import { as, demoIds, expectEscapedPayload, expectNoInjectedMarkup, IMG, oid, SCRIPT, sharedHostileApp, signInAs, XSS, type Agent } from './support.ts';

type Who = { agent: Agent; token: string };

describe('hostile input: script injection in every text shown back on a page', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Who;
  let trainer: Who;
  let learner: Who;
  let admin: Who;
  let ids: Awaited<ReturnType<typeof demoIds>>;

  before(async () => {
    t = await sharedHostileApp();
    [staff, trainer, learner, admin] = [
      await as(t, 'staff@olive.example'),
      await as(t, 'trainer@olive.example'),
      await as(t, 'learner@olive.example'),
      await as(t, 'admin@olive.example'),
    ];
    ids = await demoIds(t);
  });

  const post = (who: Who, url: string, body: Record<string, unknown>) =>
    who.agent
      .post(url)
      .type('form')
      .send({ ...body, _csrf: who.token });
  /** Posts a form that must succeed (303), then opens where it leads (which shows the flash message). */
  async function submit(who: Who, url: string, body: Record<string, unknown>): Promise<{ location: string; html: string }> {
    const res = await post(who, url, body);
    expect(res.status, `${url} → ${res.status} ${res.text.slice(0, 500)}`).to.equal(303);
    const location = res.headers.location as string;
    return { location, html: (await who.agent.get(location).expect(200)).text };
  }
  const page = async (who: Who | Agent, url: string) => {
    const agent = 'agent' in who ? who.agent : who;
    const res = await agent.get(url);
    expect(res.status, `${url} → ${res.status}`).to.equal(200);
    return res.text;
  };

  it('the CSP forbids inline script, plugins and foreign bases on every page', async () => {
    for (const url of ['/', '/login', '/courses', '/verify', '/enrolment']) {
      const csp = (await supertest(t.app).get(url)).headers['content-security-policy'] as string;
      const directives = new Map(
        csp
          .split(';')
          .map((d) => d.trim().split(/\s+/))
          .map(([k, ...v]) => [k!, v]),
      );
      expect(directives.get('script-src'), url).to.deep.equal(["'self'"]);
      expect(directives.get('default-src'), url).to.deep.equal(["'self'"]);
      expect(directives.get('object-src'), url).to.deep.equal(["'none'"]);
      expect(directives.get('base-uri'), url).to.deep.equal(["'self'"]);
      expect(directives.get('frame-ancestors'), url).to.deep.equal(["'none'"]);
      expect(csp, url).not.to.match(/unsafe-inline|unsafe-eval|script-src-attr|\*/);
    }
  });

  it('courses: title, summary, module and item titles, lesson Markdown, quiz text and feedback', async () => {
    const created = await submit(trainer, '/courses/manage', { slug: 'xss-course', languages: 'en', title_en: XSS, summary_en: XSS, hours: '2' });
    expectEscapedPayload(created.html, 'course editor after creation');
    expectEscapedPayload(await page(trainer, '/courses/manage'), 'courses to manage');

    const moduleRes = await submit(trainer, '/courses/manage/xss-course/modules', {
      title: XSS,
      intro: `${XSS}\n\n[click](javascript:alert(1)) <a href="javascript:alert(1)">x</a>`,
    });
    const moduleId = /modules\/([0-9a-f]{24})/.exec(moduleRes.location)![1]!;
    expectEscapedPayload(moduleRes.html, 'module editor');
    // Publishing refuses an empty module and names it: the message shows the title escaped.
    const refusedPublish = await post(trainer, '/courses/manage/xss-course/status', { status: 'published' });
    expect(refusedPublish.status).to.equal(409);
    expectEscapedPayload(refusedPublish.text, 'refused publication naming the empty module');

    const lesson = await submit(trainer, `/courses/manage/xss-course/modules/${moduleId}/items`, {
      type: 'lesson',
      title: XSS,
      body: `${XSS}\n\n<img src="x" onerror="alert(1)"> [x](javascript:alert(1))`,
    });
    expectEscapedPayload(lesson.html, 'module editor with a lesson');
    const quiz = await submit(trainer, `/courses/manage/xss-course/modules/${moduleId}/items`, {
      type: 'quiz',
      title: XSS,
      body: XSS,
      questions: `? ${XSS}\n+ ${SCRIPT}\n- ${IMG}\n> ${XSS}`,
      passMark: '50',
      maxAttempts: '0',
    });
    expectNoInjectedMarkup(quiz.html, 'module editor with a quiz');
    await submit(trainer, '/courses/manage/xss-course/status', { status: 'published' });

    const db = t.app.olive.connection.db!;
    const courseId = String((await db.collection('courses_course').findOne({ slug: 'xss-course' }))!._id);
    const items = await db
      .collection('courses_item')
      .find({ courseId: oid(courseId) })
      .toArray();
    const quizId = String(items.find((i) => i.type === 'quiz')!._id);
    const lessonId = String(items.find((i) => i.type === 'lesson')!._id);

    expectEscapedPayload(await page(trainer, '/courses'), 'catalogue');
    expectEscapedPayload(await page(trainer, '/courses/xss-course'), 'course outline');
    const modulePage = await page(trainer, `/courses/xss-course/modules/${moduleId}`);
    expectEscapedPayload(modulePage, 'module page (titles escaped, Markdown sanitised)');
    expect(modulePage).not.to.match(/href="javascript:/i);
    expectEscapedPayload(await page(trainer, `/courses/manage/xss-course/items/${lessonId}`), 'lesson editor');
    expectEscapedPayload(await page(trainer, `/courses/manage/xss-course/items/${quizId}`), 'quiz editor');
    expectEscapedPayload(await page(trainer, `/courses/xss-course/items/${quizId}/quiz`), 'quiz page');
    const result = await post(trainer, `/courses/xss-course/items/${quizId}/quiz`, { q1: 'a' });
    expect(result.status).to.equal(200);
    expectEscapedPayload(result.text, 'quiz result with feedback');
    // An answer naming an option that does not exist: the error message quotes it, escaped.
    const badAnswer = await post(trainer, `/courses/xss-course/items/${quizId}/quiz`, { q1: SCRIPT });
    expect(badAnswer.status).to.equal(400);
    expectNoInjectedMarkup(badAnswer.text, 'quiz answer error page');
  });

  it('announcements: title and body, on the list and on the home page', async () => {
    const res = await submit(staff, '/announcements', { title: XSS, body: XSS, audience: 'everyone' });
    expectEscapedPayload(res.html, 'announcements after publishing');
    expectEscapedPayload(await page(learner, '/announcements'), 'announcements (learner)');
    expectEscapedPayload(await page(learner, '/'), 'home page panel');
  });

  it('editions and applications: title, description, place, questions, motivation, answers, profile', async () => {
    const courseId = ids.course('conflict-analysis');
    const created = await submit(staff, '/enrolment/manage/editions', {
      courseId,
      title: XSS,
      description: XSS,
      place: XSS,
      questions: `* ${XSS}`,
      method: 'application',
      status: 'published',
      language: 'en',
      startsAt: '2026-01-10',
      endsAt: '2099-12-31',
    });
    expectEscapedPayload(created.html, 'edition page for staff (with the flash naming it)');
    const editionId = /editions\/([0-9a-f]{24})/.exec(created.location)![1]!;
    const edition = await t.app.olive.connection.db!.collection('enrolment_edition').findOne({ _id: oid(editionId) });
    const questionId = edition!.questions[0].id as string;

    for (const url of [`/enrolment/editions/${editionId}`, '/enrolment', '/enrolment/courses/conflict-analysis', '/enrolment/my']) {
      expectEscapedPayload(await page(learner, url), `${url} (learner)`);
    }
    for (const url of [
      '/enrolment/manage',
      `/enrolment/manage/editions/${editionId}/edit`,
      '/enrolment/reports',
      `/enrolment/manage/editions/${editionId}/roster`,
      '/certificates',
      `/certificates/editions/${editionId}`,
    ]) {
      expectEscapedPayload(await page(staff, url), `${url} (staff)`);
    }
    // A form sent back with a problem keeps what was typed, escaped.
    const invalid = await post(staff, '/enrolment/manage/editions', {
      courseId,
      title: XSS,
      description: XSS,
      place: XSS,
      questions: XSS,
      method: 'key',
      status: 'published',
      language: 'en',
    });
    expect(invalid.status).to.equal(400);
    expectEscapedPayload(invalid.text, 'edition form shown again');

    const motivation = `${XSS} ${'I work on mediation in my region and want to learn more. '.repeat(2)}`;
    const applied = await submit(learner, `/enrolment/editions/${editionId}/apply`, {
      motivation,
      organisation: XSS,
      organisationType: 'government',
      country: 'JO',
      gender: 'woman',
      jobTitle: XSS,
      [`answer_${questionId}`]: XSS,
    });
    expectEscapedPayload(applied.html, 'edition page after applying');
    const enrolment = await t.app.olive.connection.db!.collection('enrolment_enrolment').findOne({ editionId, email: 'learner@olive.example' });
    expectEscapedPayload(await page(staff, `/enrolment/manage/editions/${editionId}`), 'applications to decide');
    expectEscapedPayload(await page(staff, `/enrolment/manage/enrolments/${enrolment!._id}`), 'one application');
    // The application form sent back with a problem keeps the answers, escaped.
    const again = await post(learner, `/enrolment/editions/${editionId}/apply`, {
      motivation: XSS,
      organisation: XSS,
      jobTitle: XSS,
      [`answer_${questionId}`]: XSS,
    });
    expect(again.status).to.equal(400);
    expectEscapedPayload(again.text, 'application form shown again');
  });

  it('names: an account’s name on the admin list, in the header, on rosters; the sign-in form echo', async () => {
    const created = await submit(admin, '/admin/users', { email: 'xss.person@example.org', name: XSS, password: 'xss password 123', roles: 'learner' });
    expectNoInjectedMarkup(created.html, 'admin list after creating');
    expectEscapedPayload(await page(admin, '/admin/users?q=xss.person'), 'admin list');
    const person = await signInAs(t, 'xss.person@example.org', 'xss password 123');
    expectEscapedPayload(await page(person, '/'), 'home page header (account name)');
    const open = ids.edition('open');
    await submit(person, `/enrolment/editions/${open}/enrol`, {});
    expectEscapedPayload(await page(staff, `/enrolment/manage/editions/${open}/roster`), 'roster');
    expectEscapedPayload(await page(staff, `/certificates/editions/${open}`), 'certificates of the edition');

    const visitor = supertest.agent(t.app);
    const login = (await visitor.get('/login')).text;
    const token = /name="_csrf" value="([^"]+)"/.exec(login)![1]!;
    const echo = await visitor.post('/login').type('form').send({ email: XSS, password: 'x', _csrf: token, returnTo: `/"><script>alert(1)</script>` });
    expect(echo.status).to.equal(401);
    expectEscapedPayload(echo.text, 'sign-in form echo');
    // Codes typed into the verification form are echoed on the miss page, escaped.
    const miss = await visitor.get(`/verify?code=${encodeURIComponent(SCRIPT)}`);
    expect(miss.status).to.equal(404);
    expectNoInjectedMarkup(miss.text, 'verification miss');
  });

  it('CSV cells in the import preview and its error messages', async () => {
    const cell = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const csv = [
      ['email', 'givenName', 'familyName', 'organisation', 'jobTitle', 'country', 'gender'],
      ['csv.xss@example.org', SCRIPT, IMG, XSS, XSS, 'JO', 'woman'],
      [XSS, SCRIPT, IMG, XSS, XSS, XSS, XSS],
    ]
      .map((r) => r.map(cell).join(','))
      .join('\r\n');
    const open = ids.edition('open');
    const res = await staff.agent
      .post(`/enrolment/manage/editions/${open}/import?_csrf=${encodeURIComponent(staff.token)}`)
      .attach('file', Buffer.from(csv), `${IMG}.csv`);
    expect(res.status, res.text.slice(0, 400)).to.equal(303);
    const preview = await page(staff, res.headers.location as string);
    expectEscapedPayload(preview, 'import preview');
    expect(preview).to.contain('csv.xss@example.org');
  });

  it('certificates: the printed name (form, my learning, verification, staff page) and template wording', async () => {
    const saved = await submit(learner, '/certificates/name', { name: XSS });
    expectNoInjectedMarkup(saved.html, 'my learning after saving the name');
    expectEscapedPayload(await page(learner, '/certificates/name'), 'printed name form');
    const open = ids.edition('open');
    const enrolmentId = ids.enrolmentOf('learner@olive.example', open)!;
    const db = t.app.olive.connection.db!;
    const existing = await db.collection('certificates_claim').findOne({ _id: enrolmentId as never });
    let code = existing?.code as string | undefined;
    if (!code) {
      const issued = await staff.agent
        .post(`/certificates/editions/${open}/issue`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', staff.token)
        .send({ enrolmentId, force: 'on', anyway: 'on' });
      expect(issued.status, issued.text).to.be.oneOf([200, 201]);
      code = issued.body.code as string;
    } else {
      const reissued = await staff.agent
        .post(`/certificates/c/${code}/reissue`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', staff.token)
        .send({ name: XSS, reason: 'name corrected' });
      expect(reissued.status, reissued.text).to.equal(201);
      code = reissued.body.code as string;
    }
    expectEscapedPayload(await page(supertest.agent(t.app), `/verify/${code}`), 'public verification page');
    expectEscapedPayload(await page(staff, `/certificates/c/${code}/manage`), 'certificate page for staff');
    expectEscapedPayload(await page(learner, '/enrolment/my'), 'my learning (certificates section)');

    const course = String((await db.collection('courses_course').findOne({ slug: 'xss-course' }))?._id ?? '');
    const fields: Record<string, string> = {
      name: XSS,
      courseId: course,
      'page.size': 'A4',
      'page.orientation': 'landscape',
      'languages.0.lang': 'en',
      'languages.0.title': XSS,
      'languages.0.wording': `{name} ${XSS}`,
      'languages.0.codeLabel': 'Code',
      'signatories.0.name': XSS,
      'signatories.0.title.0': XSS,
    };
    let req = staff.agent.post(`/certificates/templates?_csrf=${encodeURIComponent(staff.token)}`);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    const res = await req;
    expect(res.status, res.text.slice(0, 300)).to.equal(303);
    expectEscapedPayload(await page(staff, res.headers.location as string), 'template editor');
    expectEscapedPayload(await page(staff, '/certificates/templates'), 'template list');
    // A template form refused (unknown placeholder) shows what was typed, escaped.
    let bad = staff.agent.post(`/certificates/templates?_csrf=${encodeURIComponent(staff.token)}`);
    for (const [k, v] of Object.entries({ ...fields, courseId: '', 'languages.0.wording': `{${SCRIPT}} ${XSS}` })) bad = bad.field(k, v);
    const refusedTemplate = await bad;
    expect(refusedTemplate.status).to.be.within(400, 499);
    expectEscapedPayload(refusedTemplate.text, 'template form shown again');
  });
});
