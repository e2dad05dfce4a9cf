/**
 * Hostile input against the real app (every plugin of olive.config.ts, the demo data seeded):
 * NoSQL operators in JSON bodies, urlencoded bodies and query strings; oversized, mistyped and
 * malformed bodies; malformed multipart and hostile file names on every upload endpoint. Each
 * attempt gets a 4xx with a clear message (never a 5xx) and changes nothing in the database.
 *
 * Script injection, CSRF and IDOR have their own files in test/hostile/, the validators' properties
 * too (test/hostile/properties.test.ts).
 *
 * Over 400 lines: one table-driven pass per kind of hostile input over every route, kept together
 * so that a new route is covered by each.
 */
import fs from 'node:fs';
import { expect } from 'chai';
import supertest from 'supertest';
import { csrfFrom, DEMO_PASSWORD, listen, tokenFor as tokenOf, type TestApp } from './helpers/app.ts';
import { as, cookieSession, dbState, demoIds, expectUnchanged, no5xx, oid, rawPost, refused, sharedHostileApp, type Agent } from './hostile/support.ts';

/** The problems a re-rendered form lists (for assertion messages). */
const problems = (html: string) =>
  [...html.matchAll(/class="field-error"[^>]*>([\s\S]*?)<\/p>/g), ...html.matchAll(/class="flash flash-error"[^>]*>([\s\S]*?)<\/div>/g)]
    .map((m) =>
      m[1]!
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .join(' | ');

/**
 * The file name a browser saves a download under: `filename*` (RFC 5987) when given, else the quoted
 * `filename` unescaped. Throws when the header is not one well-formed attachment disposition.
 */
function dispositionName(header: string): string {
  const m = /^attachment; filename=(?:"((?:[^"\\]|\\.)*)"|([^";\s]+))(?:; filename\*=UTF-8''([^;\s]+))?$/.exec(header);
  if (!m) throw new Error(`not a well-formed attachment header: ${header}`);
  return m[3] !== undefined ? decodeURIComponent(m[3]) : m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
}

const PNG = fs.readFileSync(new URL('../fixtures/certificates/programme-logo.png', import.meta.url));

/** A multipart body written by hand, so that it can be wrong in exactly the way a test wants. */
function multipart(parts: { name: string; filename?: string; type?: string; data: string | Buffer }[], boundary = 'HostileBoundary42'): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.filename !== undefined ? `Content-Type: ${p.type ?? 'application/octet-stream'}\r\n` : ''}\r\n`,
        'utf8',
      ),
    );
    chunks.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data, 'utf8'));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const TEMPLATE_FIELDS: Record<string, string> = {
  name: 'Hostile test template',
  courseId: '',
  'page.size': 'A4',
  'page.orientation': 'landscape',
  'colours.primary': '#1f3a5f',
  'colours.accent': '#b08d3c',
  'colours.text': '#222222',
  'colours.muted': '#555555',
  'languages.0.lang': 'en',
  'languages.0.title': 'Certificate of completion',
  'languages.0.wording': 'This is to certify that\r\n{name}\r\nhas completed\r\n{course}',
  'signatories.0.name': 'Elena Marchetti',
  'signatories.0.title.0': 'Director',
};

describe('hostile input: injection, bodies, content types, multipart and file names', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: { agent: Agent; token: string };
  let admin: { agent: Agent; token: string };
  let trainer: { agent: Agent; token: string };
  let learner: { agent: Agent; token: string };
  /** A visitor (no account) on the public verification page, with its token. */
  let visitor: { agent: Agent; token: string };
  let ids: Awaited<ReturnType<typeof demoIds>>;
  let moduleId: string;
  let quiz: { itemId: string; moduleId: string };

  before(async () => {
    t = await sharedHostileApp();
    staff = await as(t, 'staff@olive.example');
    admin = await as(t, 'admin@olive.example');
    trainer = await as(t, 'trainer@olive.example');
    learner = await as(t, 'learner@olive.example');
    ids = await demoIds(t);
    const db = t.app.olive.connection.db!;
    const courseId = ids.course('conflict-analysis');
    moduleId = String((await db.collection('courses_module').findOne({ courseId: oid(courseId) }))!._id);
    const quizItem = await db.collection('courses_item').findOne({ courseId: oid(courseId), type: 'quiz' });
    quiz = { itemId: String(quizItem!._id), moduleId: String(quizItem!.moduleId) };
    const v = supertest.agent(t.app);
    const page = (await v.get('/verify').expect(200)).text;
    visitor = { agent: v, token: decodeURIComponent(/action="\/verify\/file\?_csrf=([^"]+)"/.exec(page)![1]!) };
  });

  const json = (agent: Agent, url: string, body: unknown, token: string) =>
    agent
      .post(url)
      .set('Accept', 'application/json')
      .set('x-csrf-token', token)
      .send(body as object);
  const form = (agent: Agent, url: string, body: string, token: string) =>
    agent
      .post(url)
      .type('form')
      .send(`${body}&_csrf=${encodeURIComponent(token)}`);

  describe('NoSQL operator injection', () => {
    it('sign-in with operators in JSON or urlencoded fields is a 400 and signs nobody in', async () => {
      const attempts: { body: unknown; type: 'json' | 'form' }[] = [
        { type: 'json', body: { email: { $gt: '' }, password: { $gt: '' } } },
        { type: 'json', body: { email: 'learner@olive.example', password: { $ne: null } } },
        { type: 'json', body: { email: { $regex: '.*' }, password: DEMO_PASSWORD } },
        { type: 'json', body: { email: ['admin@olive.example'], password: [DEMO_PASSWORD] } },
        { type: 'form', body: 'email[$ne]=x&password[$ne]=x' },
        { type: 'form', body: `email=admin%40olive.example&password[$gt]=` },
        { type: 'form', body: `email[$regex]=admin&password=${DEMO_PASSWORD}` },
        { type: 'form', body: `email=admin%40olive.example&email=learner%40olive.example&password=${DEMO_PASSWORD}` },
      ];
      const before = await dbState(t);
      for (const a of attempts) {
        const visitor = supertest.agent(t.app);
        const token = csrfFrom((await visitor.get('/login').expect(200)).text);
        const res =
          a.type === 'json'
            ? await visitor
                .post('/login')
                .set('Accept', 'application/json')
                .send({ ...(a.body as object), _csrf: token })
            : await visitor
                .post('/login')
                .type('form')
                .send(`${a.body}&_csrf=${encodeURIComponent(token)}`);
        refused(res, 400, `sign-in with ${JSON.stringify(a.body)}`);
        expect(res.headers['set-cookie'] ?? [], 'no new session').to.satisfy((c: string[]) => c.every((x) => !/passport/.test(x)));
        // Still a visitor: the account page sends them to sign in.
        const account = await visitor.get('/account');
        expect(account.status, JSON.stringify(a.body)).to.equal(303);
        expect(account.headers.location).to.match(/^\/login/);
      }
      await expectUnchanged(t, before, 'refused sign-ins');
    });

    it('operators in query strings are never applied: Express reads `a[$ne]=x` as a plain key, filters ignore it', async () => {
      const page = async (agent: Agent, url: string) => no5xx(await agent.get(url));
      // Express 5's query parser is the simple one: `status[$ne]=x` is a key named "status[$ne]", not an
      // object. Lists whose unknown filter values fall back to the unfiltered list (a stale bookmark still
      // opens) must then give exactly the unfiltered page: the operator selected nothing.
      const open = ids.edition('open');
      const lenient: [Agent, string, string][] = [
        [admin.agent, '/admin/users', '/admin/users?q[$ne]=x&role[$ne]=learner&page[$gt]=0'],
        [admin.agent, '/admin/users', '/admin/users?q[$regex]=.*&role[$in][]=admin'],
        [admin.agent, '/admin/users', '/admin/users?q=a&q=b&role=admin&role=learner&page=1&page=2'],
        [staff.agent, '/enrolment/manage', '/enrolment/manage?courseId[$ne]=x&status[$ne]=published'],
        [staff.agent, '/enrolment/manage', '/enrolment/manage?courseId=a&courseId=b&status=draft&status=published'],
        [
          staff.agent,
          `/enrolment/manage/editions/${open}/roster`,
          `/enrolment/manage/editions/${open}/roster?status[$ne]=enrolled&q[$gt]=&sort[$ne]=name&dir[$gt]=a`,
        ],
        [
          staff.agent,
          `/enrolment/manage/editions/${open}/roster`,
          `/enrolment/manage/editions/${open}/roster?status=enrolled&status=withdrawn&sort=name&sort=email`,
        ],
        [staff.agent, '/enrolment/reports', '/enrolment/reports?course[$ne]=x&year[$gt]=0'],
        [admin.agent, '/certificates/audit', '/certificates/audit?page[$gt]=0'],
        [admin.agent, '/auth/saml/admin', '/auth/saml/admin?email[$ne]=x'],
      ];
      // Form tokens and one-time form keys differ on every render; everything else must match.
      const strip = (html: string) =>
        html
          .replace(/name="_csrf" value="[^"]+"/g, '')
          .replace(/_csrf=[^"&]+/g, '')
          .replace(/name="requestKey" value="[^"]+"/g, '');
      for (const [agent, plain, hostile] of lenient) {
        const expected = await page(agent, plain);
        const res = await page(agent, hostile);
        expect(res.status, hostile).to.equal(200);
        expect(strip(res.text), `${hostile} shows the unfiltered page`).to.equal(strip(expected.text));
      }
      // A filter given twice (an array) where only one value makes sense is refused with a message.
      refused(await staff.agent.get(`/enrolment/reports?course=${ids.course('conflict-analysis')}&course=${ids.course('interest-based-negotiation')}`), 400);
      refused(await staff.agent.get('/enrolment/reports.csv?year=2026&year=2027'), 400);
      refused(await admin.agent.get('/auth/saml/admin?email=a@example.org&email=b@example.org'), 400);
    });

    it('operators in enrolment, application, staff and admin forms are 400s that change nothing', async () => {
      const before = await dbState(t);
      const keyEdition = ids.edition('key');
      const appEdition = ids.edition('application');
      const openEdition = ids.edition('open');
      const someone = ids.enrolmentOf('learner@olive.example', openEdition)!;
      const learnerId = ids.userId('learner@olive.example');
      const cases: [Agent, string, string, unknown, number[]][] = [
        [learner.agent, learner.token, `/enrolment/editions/${keyEdition}/enrol`, { key: { $ne: null } }, [400]],
        [learner.agent, learner.token, `/enrolment/editions/${keyEdition}/enrol`, { key: { $gt: '' } }, [400]],
        [
          learner.agent,
          learner.token,
          `/enrolment/editions/${appEdition}/apply`,
          { motivation: { $gt: '' }, organisationType: 'government', country: { $ne: 'XX' }, gender: 'woman' },
          [400],
        ],
        [staff.agent, staff.token, `/enrolment/manage/editions/${openEdition}/people`, { email: { $ne: null } }, [400]],
        [staff.agent, staff.token, `/enrolment/manage/enrolments/${someone}/decision`, { decision: { $in: ['accept'] } }, [400]],
        [staff.agent, staff.token, `/enrolment/manage/enrolments/${someone}/move`, { toEditionId: { $ne: null } }, [400]],
        [staff.agent, staff.token, `/enrolment/manage/enrolments/${someone}/withdraw`, { message: { $ne: null } }, [400]],
        [
          staff.agent,
          staff.token,
          '/enrolment/manage/editions',
          { courseId: { $ne: null }, title: { $gt: '' }, language: 'en', method: 'open', status: 'draft' },
          [400],
        ],
        [
          staff.agent,
          staff.token,
          `/enrolment/manage/editions/${openEdition}`,
          {
            courseId: ids.course('conflict-analysis'),
            title: 'Renamed',
            method: { $ne: 'x' },
            language: 'en',
            status: 'published',
            online: 'on',
            selfPaced: 'on',
          },
          [400],
        ],
        [staff.agent, staff.token, `/certificates/editions/${openEdition}/issue`, { enrolmentId: { $ne: null }, force: 'on' }, [400]],
        [staff.agent, staff.token, `/certificates/editions/${openEdition}/settings`, { autoIssue: 'on', templateId: { $ne: null } }, [400]],
        [staff.agent, staff.token, `/certificates/editions/${openEdition}/jobs`, { scope: 'chosen', enrolmentIds: [{ $ne: null }] }, [400]],
        [staff.agent, staff.token, `/certificates/editions/${openEdition}/jobs`, { scope: { $ne: null } }, [400]],
        [learner.agent, learner.token, '/certificates/name', { name: { $gt: '' } }, [400]],
        [admin.agent, admin.token, '/admin/users', { email: { $gt: '' }, name: 'X', password: 'long enough password', roles: 'learner' }, [400]],
        [admin.agent, admin.token, `/admin/users/${learnerId}/roles`, { roles: { $ne: null } }, [400]],
        [admin.agent, admin.token, `/admin/users/${learnerId}/roles`, { roles: ['admin', { $ne: 1 }] }, [400]],
        [learner.agent, learner.token, '/account/password', { current: { $ne: null }, password: 'a new long password', confirm: 'a new long password' }, [400]],
        [learner.agent, learner.token, '/language', { lang: { $ne: null }, returnTo: '/' }, [400]],
        [staff.agent, staff.token, '/announcements', { title: { $gt: '' }, body: 'x', audience: { $ne: null } }, [400]],
        [trainer.agent, trainer.token, '/courses/manage', { slug: { $ne: null }, languages: 'en', title_en: 'x', hours: 1 }, [400]],
        [trainer.agent, trainer.token, `/courses/manage/conflict-analysis/modules`, { title: { $gt: '' } }, [400]],
        [trainer.agent, trainer.token, `/courses/manage/conflict-analysis/modules/${moduleId}/items`, { type: { $ne: null }, title: 'x' }, [400]],
        [trainer.agent, trainer.token, `/courses/manage/conflict-analysis/modules/${moduleId}/items`, { type: 'lesson', title: { $gt: '' }, body: 'x' }, [400]],
        [trainer.agent, trainer.token, `/courses/manage/conflict-analysis/status`, { status: { $ne: 'draft' } }, [400]],
        [learner.agent, learner.token, `/courses/conflict-analysis/items/${quiz.itemId}/quiz`, { q1: { $ne: 'a' } }, [400]],
      ];
      for (const [agent, token, url, body, statuses] of cases) {
        refused(await json(agent, url, body, token), statuses, `JSON ${JSON.stringify(body)}`);
      }
      // The same through urlencoded forms (qs turns `a[$ne]=x` into an object).
      const formCases: [Agent, string, string, string][] = [
        [learner.agent, learner.token, `/enrolment/editions/${keyEdition}/enrol`, 'key[$ne]=x'],
        [learner.agent, learner.token, `/enrolment/editions/${appEdition}/apply`, `motivation[$gt]=&organisationType=government&country[$ne]=XX&gender=woman`],
        [staff.agent, staff.token, `/enrolment/manage/editions/${openEdition}/people`, 'email[$ne]=x'],
        [staff.agent, staff.token, `/enrolment/manage/enrolments/${someone}/decision`, 'decision[$ne]=x'],
        [learner.agent, learner.token, `/courses/conflict-analysis/items/${quiz.itemId}/quiz`, 'q1[$ne]=a'],
        [learner.agent, learner.token, '/certificates/name', 'name[$gt]='],
        [admin.agent, admin.token, `/admin/users/${learnerId}/roles`, 'roles[$ne]=x'],
        [staff.agent, staff.token, '/announcements', 'title[$gt]=&body[$gt]=&audience=everyone'],
      ];
      for (const [agent, token, url, body] of formCases) {
        refused(await form(agent, url, body, token), [400], `form ${body}`);
      }
      await expectUnchanged(t, before, 'operator injection in forms');
    });

    it('certificate verification: operators and odd codes are refused without a look-up that could match', async () => {
      const before = await dbState(t);
      const anyone = supertest(t.app);
      // ?code[$ne]=x is not a code: the empty form, nothing looked up.
      const form = no5xx(await anyone.get('/verify?code[$ne]=x'));
      expect(form.status).to.equal(200);
      expect(form.text, 'no result, no miss').not.to.match(/id="result"|flash-error/);
      for (const code of ['{"$ne":1}', '%7B%22%24ne%22%3A1%7D', '[$ne]', '..%2F..%2Fetc%2Fpasswd', 'x'.repeat(300)]) {
        refused(await anyone.get(`/verify/${code}`).set('Accept', 'application/json'), 404, `code ${code}`);
      }
      // An operator where the PDF should be: the form has no file.
      refused(
        await visitor.agent
          .post('/verify/file')
          .set('Accept', 'application/json')
          .set('x-csrf-token', visitor.token)
          .send({ pdf: { $ne: null } }),
        400,
      );
      await expectUnchanged(t, before, 'verification');
    });
  });

  describe('prototype pollution and open redirects', () => {
    it('__proto__ and constructor.prototype in JSON and urlencoded bodies pollute nothing and grant nothing', async () => {
      const before = await dbState(t);
      const payloads: [string, string][] = [
        ['application/json', '{"__proto__": {"polluted": "yes", "roles": ["admin"]}, "constructor": {"prototype": {"polluted": "yes"}}, "title": "x"}'],
        ['application/x-www-form-urlencoded', '__proto__[polluted]=yes&constructor[prototype][polluted]=yes&__proto__[roles][]=admin&title=x'],
      ];
      for (const url of [
        '/announcements',
        `/enrolment/manage/editions/${ids.edition('open')}/people`,
        '/certificates/name',
        '/account/password',
        '/language',
      ]) {
        for (const [type, body] of payloads) {
          const who = url.startsWith('/certificates') || url.startsWith('/account') || url === '/language' ? learner : staff;
          const res = await who.agent.post(url).set('Content-Type', type).set('Accept', 'application/json').set('x-csrf-token', who.token).send(body);
          refused(res, [400], `${type} ${url}`);
        }
      }
      expect(({} as Record<string, unknown>).polluted, 'Object.prototype untouched').to.equal(undefined);
      expect(({} as Record<string, unknown>).roles).to.equal(undefined);
      // The learner is still a learner.
      refused(await learner.agent.get('/admin/users').set('Accept', 'application/json'), 403);
      await expectUnchanged(t, before, 'prototype pollution attempts');
    });

    it('returnTo after sign-in and after a language change never leaves the site', async () => {
      for (const target of ['//evil.example', '/\\evil.example', 'https://evil.example/', '/\t/evil.example', 'javascript:alert(1)', '/%2F%2Fevil.example']) {
        const visitor = supertest.agent(t.app);
        const token = csrfFrom((await visitor.get(`/login?returnTo=${encodeURIComponent(target)}`).expect(200)).text);
        const res = await visitor.post('/login').type('form').send({ email: 'learner@olive.example', password: DEMO_PASSWORD, returnTo: target, _csrf: token });
        expect(res.status).to.equal(303);
        expect(new URL(res.headers.location as string, 'https://olive.example').origin, `${target} → ${res.headers.location}`).to.equal(
          'https://olive.example',
        );
        const lang = await visitor
          .post('/language')
          .type('form')
          .send({ lang: 'en', returnTo: target, _csrf: await tokenOf(visitor) });
        expect(lang.status).to.equal(303);
        expect(new URL(lang.headers.location as string, 'https://olive.example').origin, `${target} → ${lang.headers.location}`).to.equal(
          'https://olive.example',
        );
      }
    });
  });

  describe('bodies: size, content type, syntax', () => {
    it('bodies above the 200 KB limit (JSON and urlencoded) and above 1,000 fields are refused with 413', async () => {
      const before = await dbState(t);
      const big = 'x'.repeat(201 * 1024);
      refused(
        await staff.agent
          .post('/announcements')
          .set('Accept', 'application/json')
          .set('x-csrf-token', staff.token)
          .send({ title: 'Big', body: big, audience: 'everyone' }),
        413,
      );
      refused(
        await staff.agent
          .post('/announcements')
          .type('form')
          .send(`title=Big&audience=everyone&_csrf=${encodeURIComponent(staff.token)}&body=${big}`),
        413,
      );
      const many = Array.from({ length: 1001 }, (_, i) => `f${i}=1`).join('&');
      refused(
        await staff.agent
          .post('/announcements')
          .type('form')
          .send(`${many}&_csrf=${encodeURIComponent(staff.token)}`),
        413,
      );
      // The limit is checked before anything else: a visitor's oversized sign-in is refused too.
      refused(await supertest(t.app).post('/login').set('Accept', 'application/json').send({ email: big, password: 'x' }), 413);
      await expectUnchanged(t, before, 'oversized bodies');
    });

    it('malformed JSON is a 400 naming the problem', async () => {
      const before = await dbState(t);
      for (const body of ['{"title": "x",', '{"title": "x"}}', "{'title': 'x'}", '\u0000', '[', '{"__proto__": {"admin": true}, "title": ']) {
        const res = refused(
          await staff.agent
            .post('/announcements')
            .set('Content-Type', 'application/json')
            .set('Accept', 'application/json')
            .set('x-csrf-token', staff.token)
            .send(body),
          400,
          body,
        );
        expect(res.body.error.code).to.equal('MALFORMED_BODY');
      }
      await expectUnchanged(t, before, 'malformed JSON');
    });

    it('XML, text/plain and other wrong content types where a form is expected are refused, not guessed at', async () => {
      const before = await dbState(t);
      const xml =
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><announcement><title>&e;</title><body>x</body><audience>everyone</audience></announcement>';
      for (const [type, body] of [
        ['application/xml', xml],
        ['text/xml', xml],
        ['text/plain', 'title=Hello&body=World&audience=everyone'],
        ['application/octet-stream', 'title=x'],
        ['application/x-www-form-urlencoded; charset=utf-16', 'title=x'],
      ] as const) {
        // Without the token in a header, the CSRF check cannot find one in a body it does not read.
        refused(await staff.agent.post('/announcements').set('Content-Type', type).send(body), [403, 415], `${type} without token`);
        // With the token in the header, the form is simply missing its fields.
        refused(
          await staff.agent.post('/announcements').set('Content-Type', type).set('x-csrf-token', staff.token).send(body),
          [400, 415],
          `${type} with token`,
        );
      }
      // A multipart body (token in the URL, as upload forms do) sent to a form that takes no files: not read, refused.
      refused(
        await staff.agent
          .post(`/announcements?_csrf=${encodeURIComponent(staff.token)}`)
          .field('title', 'Multipart')
          .field('body', 'x')
          .field('audience', 'everyone'),
        400,
        'multipart to a plain form',
      );
      const visitor = supertest.agent(t.app);
      const token = csrfFrom((await visitor.get('/login').expect(200)).text);
      refused(
        await visitor.post('/login').set('Content-Type', 'text/plain').set('x-csrf-token', token).send(`email=admin@olive.example&password=${DEMO_PASSWORD}`),
        400,
      );
      expect((await visitor.get('/account')).status).to.equal(303);
      await expectUnchanged(t, before, 'wrong content types');
    });
  });

  describe('uploads: malformed multipart and hostile file names', () => {
    /** Every upload endpoint, with the field its file goes in and the text fields it needs. */
    const endpoints = () => [
      {
        name: 'course material',
        agent: trainer,
        url: `/courses/manage/conflict-analysis/modules/${moduleId}/uploads`,
        field: 'files',
        fields: {} as Record<string, string>,
      },
      { name: 'CSV bulk enrolment', agent: staff, url: `/enrolment/manage/editions/${ids.edition('open')}/import`, field: 'file', fields: {} },
      { name: 'certificate template images', agent: staff, url: '/certificates/templates', field: 'logos.programme', fields: TEMPLATE_FIELDS },
      { name: 'PDF verification', agent: visitor, url: '/verify/file', field: 'pdf', fields: {} },
    ];
    const post = (e: ReturnType<typeof endpoints>[number]) =>
      e.agent.agent.post(`${e.url}?_csrf=${encodeURIComponent(e.agent.token)}`).set('Accept', 'text/html');

    it('a multipart body without boundary, cut short, with a wrong boundary, or JSON instead is a 400; nothing is stored', async () => {
      const before = await dbState(t);
      for (const e of endpoints()) {
        const good = multipart([
          ...Object.entries(e.fields).map(([name, data]) => ({ name, data })),
          { name: e.field, filename: 'list.csv', type: 'text/csv', data: 'email\nsomeone@example.org\n' },
        ]);
        const truncated = good.subarray(0, good.length - 30);
        const variants: [string, string, Buffer | string][] = [
          ['no boundary', 'multipart/form-data', good],
          ['cut short', 'multipart/form-data; boundary=HostileBoundary42', truncated],
          ['wrong boundary', 'multipart/form-data; boundary=SomethingElse', good],
          ['empty body', 'multipart/form-data; boundary=HostileBoundary42', ''],
          ['garbage', 'multipart/form-data; boundary=HostileBoundary42', '--HostileBoundary42\r\nnot a header\r\n\r\n\u0000\u0001'],
        ];
        for (const [what, type, body] of variants) {
          refused(await post(e).set('Content-Type', type).send(body), [400], `${e.name}: ${what}`);
        }
        const asJson = await e.agent.agent
          .post(e.url)
          .set('Accept', 'application/json')
          .set('x-csrf-token', e.agent.token)
          .send({ [e.field]: 'x', ...e.fields });
        refused(asJson, [400], `${e.name}: JSON instead of multipart`);
      }
      await expectUnchanged(t, before, 'malformed multipart');
    });

    it('a file sent where a text field is expected, or in an unknown field, is a 400; nothing is stored', async () => {
      const before = await dbState(t);
      for (const e of endpoints()) {
        // The file in a field of another name.
        const body = multipart([
          ...Object.entries(e.fields)
            .filter(([k]) => k !== 'name')
            .map(([name, data]) => ({ name, data })),
          { name: e.name === 'certificate template images' ? 'name' : 'title', filename: 'x.png', type: 'image/png', data: PNG },
        ]);
        refused(await post(e).set('Content-Type', 'multipart/form-data; boundary=HostileBoundary42').send(body), [400], `${e.name}: file in a text field`);
      }
      await expectUnchanged(t, before, 'files in text fields');
    });

    it('files above the limits are refused with 413 (CSV 5 MB, template image 4 × 512 KB, verification 10 MB); nothing is stored', async () => {
      const server = await listen(t.app);
      const staffSession = await cookieSession(t, 'staff@olive.example');
      const before = await dbState(t);
      try {
        const page = await supertest(t.app).get('/verify');
        const visitorCookie = ((page.headers['set-cookie'] ?? []) as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
        const visitorToken = decodeURIComponent(/action="\/verify\/file\?_csrf=([^"]+)"/.exec(page.text)![1]!);
        const line = 'someone@example.org,Some,Body\n';
        const bigCsv = Buffer.from(`email,givenName,familyName\n${line.repeat(Math.ceil((5 * 1024 * 1024 + 10) / line.length))}`);
        const tooLarge: [string, string, string, string, Buffer][] = [
          [
            'CSV over 5 MB',
            `/enrolment/manage/editions/${ids.edition('open')}/import`,
            staffSession.cookie,
            staffSession.token,
            multipart([{ name: 'file', filename: 'big.csv', type: 'text/csv', data: bigCsv }]),
          ],
          [
            'template image over 4 × 512 KB',
            '/certificates/templates',
            staffSession.cookie,
            staffSession.token,
            multipart([
              ...Object.entries(TEMPLATE_FIELDS).map(([name, data]) => ({ name, data })),
              { name: 'logos.programme', filename: 'huge.png', type: 'image/png', data: Buffer.concat([PNG, Buffer.alloc(4 * 512 * 1024 + 1)]) },
            ]),
          ],
          [
            'PDF over 10 MB',
            '/verify/file',
            visitorCookie,
            visitorToken,
            multipart([{ name: 'pdf', filename: 'huge.pdf', type: 'application/pdf', data: Buffer.alloc(10 * 1024 * 1024 + 1, 0x25) }]),
          ],
        ];
        for (const [what, path, cookie, token, body] of tooLarge) {
          const res = await rawPost(
            server.url,
            `${path}?_csrf=${encodeURIComponent(token)}`,
            {
              Cookie: cookie,
              Accept: 'text/html',
              'Content-Type': 'multipart/form-data; boundary=HostileBoundary42',
            },
            body,
          );
          expect(res.status, `${what}: POST ${path} → ${res.status} ${problems(res.text) || res.text.slice(0, 300)}`).to.equal(413);
          expect(problems(res.text) || res.text, what).to.match(/larger|too large|limit|MB|KB/i);
        }
      } finally {
        await server.close();
      }
      await expectUnchanged(t, before, 'oversized files');
    });

    const HOSTILE_NAMES = [
      '../../etc/passwd',
      '..\\..\\win.ini',
      '/etc/shadow',
      'C:\\Windows\\system.ini',
      'a\u0000b.csv',
      `${'n'.repeat(1000)}.csv`,
      '.htaccess',
      '\u202egpj.exe',
      "x\";\tfilename*=UTF-8''evil.exe",
      'x\u0085\u2028y',
    ];

    it('path traversal, NUL and very long names in uploaded material are stored as plain, short names', async () => {
      const db = t.app.olive.connection.db!;
      const accepted: string[] = [];
      // As sent, and with an extension of an allowed type (so that the name, not the type, is what is judged).
      const names = [...HOSTILE_NAMES, ...HOSTILE_NAMES.map((n) => `${n}.txt`)];
      for (const name of names) {
        const before = await db
          .collection('courses_item')
          .find({}, { projection: { _id: 1 } })
          .toArray();
        const res = no5xx(await post(endpoints()[0]!).attach('files', Buffer.from('Notes for the session.\n'), name), name);
        // Which outcome each name gets: a NUL makes the form unreadable; a text file needs a text file's extension.
        const expected = name.includes('\u0000') ? 400 : /\.(txt|md|csv)$/.test(name) ? 303 : 415;
        expect(res.status, `${name} → ${res.status} ${problems(res.text)}`).to.equal(expected);
        const added = await db
          .collection('courses_item')
          .find({ _id: { $nin: before.map((d) => d._id) } })
          .toArray();
        if (res.status !== 303) {
          refused(res, expected, name);
          expect(problems(res.text), name).to.match(expected === 400 ? /could not be read/ : /is not an allowed type/);
          expect(added, name).to.have.length(0);
          continue;
        }
        expect(added, name).to.have.length(1);
        const stored = added[0]!.file.filename as string;
        expect(stored, name).not.to.match(/[/\\\u0000-\u001f\u202e]|^\.|\.\./);
        expect(stored.length, name).to.be.at.most(200);
        const gridfs = await db.collection('courses_material.files').findOne({ _id: added[0]!.file.fileId });
        expect(gridfs?.filename, name).to.equal(stored);
        // The download names the file as stored, never a path.
        const download = await trainer.agent.get(`/courses/conflict-analysis/items/${added[0]!._id}/file?download=1`).expect(200);
        expect(dispositionName(download.headers['content-disposition'] as string), name).to.equal(stored);
        accepted.push(`${name.slice(0, 20)} → ${added[0]!.file.filename.slice(0, 20)}`);
      }
      // The traversal names themselves are accepted as plain names (the file is an ordinary text).
      expect(accepted, accepted.join(', ')).to.have.length(names.filter((n) => !n.includes('\u0000') && /\.(txt|md|csv)$/.test(n)).length);
    });

    it('path traversal, NUL and very long names of a CSV for bulk enrolment are kept as a plain name', async () => {
      const db = t.app.olive.connection.db!;
      for (const name of HOSTILE_NAMES) {
        const batches = await db.collection('enrolment_import_batch').countDocuments();
        const res = no5xx(
          await post(endpoints()[1]!).attach('file', Buffer.from('email,givenName,familyName\nnew.person@example.org,New,Person\n'), name),
          name,
        );
        if (name.includes('\u0000')) {
          // busboy refuses a NUL in the part's header: the form says the upload could not be read.
          refused(res, 400, name);
          expect(problems(res.text)).to.match(/could not be read/);
          expect(await db.collection('enrolment_import_batch').countDocuments()).to.equal(batches);
          continue;
        }
        expect(res.status, `${name} → ${res.status} ${problems(res.text)}`).to.equal(303);
        const batchId = /import\/([0-9a-f]{24})$/.exec(res.headers.location as string)![1]!;
        const batch = await db.collection('enrolment_import_batch').findOne({ _id: oid(batchId) });
        expect(batch!.fileName, name).not.to.match(/[/\\\u0000-\u001f\u202e]/);
        expect(batch!.fileName.length, name).to.be.at.most(200);
        const errors = await staff.agent.get(`${res.headers.location}/errors.csv`).expect(200);
        const saved = dispositionName(errors.headers['content-disposition'] as string);
        expect(saved, name).not.to.match(/[/\\\u0000-\u001f]/);
        expect(saved, name).to.match(/^errors-.*\.csv$/);
      }
    });

    it('path traversal and NUL in the names of template images are not kept as paths', async () => {
      const db = t.app.olive.connection.db!;
      // One template (for the draft course, which has none), saved again with each hostile image name.
      const course = ids.course('mediation-process-design');
      let url = '/certificates/templates';
      let version = 0;
      for (const name of ['../../etc/passwd.png', '..\\..\\win.ini.png', 'a\u0000b.png', `${'n'.repeat(1000)}.png`]) {
        let req = endpoints()[2]!.agent.agent.post(`${url}?_csrf=${encodeURIComponent(staff.token)}`);
        const fields: Record<string, string> = {
          ...TEMPLATE_FIELDS,
          name: 'Hostile image names',
          courseId: course,
          ...(version ? { baseVersion: String(version) } : {}),
        };
        for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
        const res = no5xx(await req.attach('logos.programme', PNG, name), name);
        if (name.includes('\u0000')) {
          // busboy refuses a NUL in the part's header: the form says it could not be read, nothing saved.
          refused(res, 400, name);
          continue;
        }
        expect(res.status, `${name} → ${res.status} ${problems(res.text)}`).to.equal(303);
        const id = /templates\/([0-9a-f]{24})$/.exec(res.headers.location as string)![1]!;
        url = `/certificates/templates/${id}`;
        const latest = (await db.collection('certificates_template_version').find({ templateId: id }).sort({ version: -1 }).limit(1).toArray())[0]!;
        version = latest.version;
        const filenames = JSON.stringify(latest).match(/"filename":"[^"]*"/g) ?? [];
        expect(filenames, name).to.have.length.above(0);
        for (const f of filenames) expect(f, name).not.to.match(/[/\\]|\\u0000/);
        for (const f of filenames) expect(f.length, name).to.be.at.most(200);
      }
    });

    it('path traversal and markup in the name of a PDF to verify: a 404 that shows the name escaped (a NUL: the form cannot be read, 400), nothing stored', async () => {
      const before = await dbState(t);
      const escaped = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');
      for (const name of ['../../etc/passwd', '..\\..\\win.ini', '"><img src=x onerror=alert(1)>.pdf']) {
        const res = no5xx(await post(endpoints()[3]!).attach('pdf', Buffer.from('%PDF-1.4\n%not a certificate\n'), name), name);
        expect(res.status, name).to.equal(404);
        // The name as a file name, without the folders a browser never sends: escaped, never markup.
        expect(res.text, name).to.contain(`File checked: ${escaped(name.split(/[/\\]/).at(-1)!)}.`);
        expect(res.text).not.to.contain('<img src=x');
      }
      const nul = no5xx(await post(endpoints()[3]!).attach('pdf', Buffer.from('%PDF-1.4\n%not a certificate\n'), 'a\u0000b.pdf'));
      refused(nul, 400, 'a NUL in the name');
      await expectUnchanged(t, before, 'verification by file');
    });

    it('CSV cells reading "constructor" or "__proto__" are refused row by row, not stored as objects', async () => {
      const csv = 'email,givenName,familyName,gender,organisationType,country\nproto.person@example.org,Proto,Person,__proto__,constructor,toString\n';
      const res = no5xx(await post(endpoints()[1]!).attach('file', Buffer.from(csv), 'proto.csv'));
      expect(res.status, res.text.slice(0, 400)).to.equal(303);
      const preview = await staff.agent.get(res.headers.location as string).expect(200);
      expect(preview.text).to.contain('proto.person@example.org');
      const batchId = /import\/([0-9a-f]{24})$/.exec(res.headers.location as string)![1]!;
      const batch = await t.app.olive.connection.db!.collection('enrolment_import_batch').findOne({ _id: oid(batchId) });
      const row = batch!.rows[0];
      expect(row.action, JSON.stringify(row)).to.equal('error');
      expect(row.errors.map((e: { code: string }) => e.code)).to.include.members(['gender', 'organisationType', 'country']);
    });
  });
});
