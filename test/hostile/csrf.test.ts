/**
 * CSRF: every state-changing route of the app (the host's and every plugin's, found by reading
 * their routes files, so a new route without a row here fails the test) refuses a request without
 * its token, with another session's token, or (upload forms) without the token in the action URL:
 * 403, and nothing changed. Each request is sent by someone the route otherwise lets through, with
 * a valid form, so the token is the only thing missing.
 */
import { expect } from 'chai';
import supertest from 'supertest';
import type { TestApp } from '../helpers/app.ts';
import { as, dbState, declaredRoutes, demoIds, expectUnchanged, oid, refused, sharedHostileApp, type Agent } from './support.ts';

describe('hostile input: CSRF on every state-changing route', function () {
  this.timeout(120_000);
  let t: TestApp;
  const agents: Record<string, { agent: Agent; token: string }> = {};
  let ids: Awaited<ReturnType<typeof demoIds>>;
  let rows: { route: string; who: string; url: string; body?: Record<string, unknown>; multipart?: boolean }[];

  before(async () => {
    t = await sharedHostileApp();
    for (const who of ['admin', 'staff', 'trainer', 'learner']) agents[who] = await as(t, `${who}@olive.example`);
    agents.visitor = { agent: supertest.agent(t.app), token: '' };
    ids = await demoIds(t);
    const db = t.app.olive.connection.db!;
    const course = ids.course('conflict-analysis');
    const module = await db.collection('courses_module').findOne({ courseId: oid(course) });
    const lesson = await db.collection('courses_item').findOne({ courseId: oid(course), type: 'lesson' });
    const file = await db.collection('courses_item').findOne({ courseId: oid(course), type: 'file' });
    const quiz = await db.collection('courses_item').findOne({ courseId: oid(course), type: 'quiz' });
    const announcement = await db.collection('announcements_announcement').findOne({ withdrawnAt: null });
    const template = await db.collection('certificates_template').findOne({});
    const open = ids.edition('open');
    const application = ids.edition('application');
    const learnerEnrolment = ids.enrolmentOf('learner@olive.example', open)!;
    const learnerId = ids.userId('learner@olive.example');
    // A certificate and an import preview to act on (made through the app, before any snapshot).
    let certificate = await db.collection('certificates_certificate').findOne({});
    if (!certificate) {
      await agents
        .staff!.agent.post(`/certificates/editions/${open}/issue`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', agents.staff!.token)
        .send({ enrolmentId: learnerEnrolment, force: 'on', anyway: 'on' })
        .expect(201);
      certificate = await db.collection('certificates_certificate').findOne({});
    }
    const preview = await agents
      .staff!.agent.post(`/enrolment/manage/editions/${open}/import?_csrf=${encodeURIComponent(agents.staff!.token)}`)
      .attach('file', Buffer.from('email,givenName,familyName\ncsrf.person@example.org,Csrf,Person\n'), 'people.csv')
      .expect(303);
    const batch = /import\/([0-9a-f]{24})$/.exec(preview.headers.location as string)![1]!;
    const pending = ids.enrolments.find((e) => e.editionId === application && e.status === 'pending');

    // The in-person edition's attendance (seeded), one of its sessions.
    const inPerson = String((await db.collection('enrolment_edition').findOne({ place: 'Addis Ababa, Ethiopia' }))!._id);
    const session = String((await db.collection('attendance_session').findOne({ editionId: inPerson }))!._id);
    const att = `/attendance/editions/${inPerson}`;
    const slug = 'conflict-analysis';
    const m = String(module!._id);
    const editionForm = {
      courseId: course,
      title: 'Renamed by a forged form',
      language: 'en',
      method: 'open',
      status: 'published',
      online: 'on',
      selfPaced: 'on',
    };
    const templateFields = {
      name: 'Forged',
      'page.size': 'A4',
      'page.orientation': 'landscape',
      'languages.0.lang': 'en',
      'languages.0.title': 'Forged',
      'languages.0.wording': '{name}',
      'signatories.0.name': 'X',
      'signatories.0.title.0': 'Y',
    };
    rows = [
      { route: 'POST /login', who: 'visitor', url: '/login', body: { email: 'admin@olive.example', password: 'olive-demo' } },
      { route: 'POST /logout', who: 'learner', url: '/logout' },
      { route: 'POST /language', who: 'learner', url: '/language', body: { lang: 'fr', returnTo: '/' } },
      {
        route: 'POST /account/password',
        who: 'learner',
        url: '/account/password',
        body: { current: 'olive-demo', password: 'forged password 123', confirm: 'forged password 123' },
      },
      {
        route: 'POST /admin/users',
        who: 'admin',
        url: '/admin/users',
        body: { email: 'forged@example.org', name: 'Forged', password: 'forged password 123', roles: 'admin' },
      },
      { route: 'POST /admin/branding', who: 'admin', url: '/admin/branding', body: { name: 'Forged', brand: '#000000', accent: '#000000' }, multipart: true },
      { route: 'POST /admin/users/:id/roles', who: 'admin', url: `/admin/users/${learnerId}/roles`, body: { roles: ['admin'] } },
      { route: 'POST /announcements', who: 'staff', url: '/announcements', body: { title: 'Forged', body: 'Forged', audience: 'everyone' } },
      { route: 'POST /announcements/:id/withdraw', who: 'staff', url: `/announcements/${announcement!._id}/withdraw` },
      { route: 'POST /announcements/editions/:editionId', who: 'staff', url: `/announcements/editions/${open}`, body: { title: 'Forged', body: 'Forged' } },
      { route: 'POST /questions/editions/:editionId', who: 'learner', url: `/questions/editions/${open}`, body: { text: 'A forged question to the trainers' } },
      {
        route: 'POST /questions/editions/:editionId/:id/answer',
        who: 'staff',
        url: `/questions/editions/${open}/0123456789abcdef01234567/answer`,
        body: { answer: 'Forged' },
      },
      { route: 'POST /certificates/name', who: 'learner', url: '/certificates/name', body: { name: 'Forged Name' } },
      { route: 'POST /certificates/editions/:editionId/settings', who: 'staff', url: `/certificates/editions/${open}/settings`, body: { autoIssue: 'on' } },
      {
        route: 'POST /certificates/editions/:editionId/issue',
        who: 'staff',
        url: `/certificates/editions/${open}/issue`,
        body: { enrolmentId: learnerEnrolment, force: 'on', anyway: 'on' },
      },
      {
        route: 'POST /certificates/c/:code/reissue',
        who: 'staff',
        url: `/certificates/c/${certificate!._id}/reissue`,
        body: { name: 'Forged', reason: 'forged request' },
      },
      { route: 'POST /certificates/c/:code/revoke', who: 'staff', url: `/certificates/c/${certificate!._id}/revoke`, body: { reason: 'forged request' } },
      { route: 'POST /certificates/editions/:editionId/jobs', who: 'staff', url: `/certificates/editions/${open}/jobs`, body: { scope: 'all-completed' } },
      { route: 'POST /certificates/templates', who: 'staff', url: '/certificates/templates', body: templateFields, multipart: true },
      { route: 'POST /certificates/templates/:id', who: 'staff', url: `/certificates/templates/${template!._id}`, body: templateFields, multipart: true },
      { route: 'POST /verify/file', who: 'visitor', url: '/verify/file', body: {}, multipart: true },
      {
        route: 'POST /courses/manage',
        who: 'trainer',
        url: '/courses/manage',
        body: { slug: 'forged-course', languages: 'en', title_en: 'Forged', hours: '1' },
      },
      {
        route: 'POST /courses/manage/:slug/settings',
        who: 'trainer',
        url: `/courses/manage/${slug}/settings`,
        body: { languages: 'en', title_en: 'Forged', hours: '1' },
      },
      { route: 'POST /courses/manage/:slug/status', who: 'trainer', url: `/courses/manage/${slug}/status`, body: { status: 'archived' } },
      { route: 'POST /courses/manage/:slug/cover', who: 'trainer', url: `/courses/manage/${slug}/cover`, body: { alt_en: 'Forged' }, multipart: true },
      { route: 'POST /courses/manage/:slug/cover/delete', who: 'trainer', url: `/courses/manage/${slug}/cover/delete` },
      { route: 'POST /courses/manage/:slug/trainers', who: 'staff', url: `/courses/manage/${slug}/trainers`, body: { trainerIds: [] } },
      { route: 'POST /courses/manage/:slug/modules', who: 'trainer', url: `/courses/manage/${slug}/modules`, body: { title: 'Forged' } },
      { route: 'POST /courses/manage/:slug/modules/:moduleId', who: 'trainer', url: `/courses/manage/${slug}/modules/${m}`, body: { title: 'Forged' } },
      {
        route: 'POST /courses/manage/:slug/modules/:moduleId/move',
        who: 'trainer',
        url: `/courses/manage/${slug}/modules/${m}/move`,
        body: { direction: 'down' },
      },
      { route: 'POST /courses/manage/:slug/modules/:moduleId/delete', who: 'trainer', url: `/courses/manage/${slug}/modules/${m}/delete` },
      {
        route: 'POST /courses/manage/:slug/modules/:moduleId/items',
        who: 'trainer',
        url: `/courses/manage/${slug}/modules/${m}/items`,
        body: { type: 'lesson', title: 'Forged', body: 'Forged' },
      },
      {
        route: 'POST /courses/manage/:slug/modules/:moduleId/uploads',
        who: 'trainer',
        url: `/courses/manage/${slug}/modules/${m}/uploads`,
        body: {},
        multipart: true,
      },
      {
        route: 'POST /courses/manage/:slug/items/:itemId',
        who: 'trainer',
        url: `/courses/manage/${slug}/items/${lesson!._id}`,
        body: { title: 'Forged', body: 'Forged' },
      },
      {
        route: 'POST /courses/manage/:slug/items/:itemId/move',
        who: 'trainer',
        url: `/courses/manage/${slug}/items/${lesson!._id}/move`,
        body: { direction: 'down' },
      },
      { route: 'POST /courses/manage/:slug/items/:itemId/delete', who: 'trainer', url: `/courses/manage/${slug}/items/${lesson!._id}/delete` },
      {
        route: 'POST /courses/manage/:slug/items/:itemId/replace',
        who: 'trainer',
        url: `/courses/manage/${slug}/items/${file!._id}/replace`,
        body: {},
        multipart: true,
      },
      { route: 'POST /courses/:slug/items/:itemId/done', who: 'learner', url: `/courses/${slug}/items/${lesson!._id}/done` },
      { route: 'POST /courses/:slug/items/:itemId/quiz', who: 'learner', url: `/courses/${slug}/items/${quiz!._id}/quiz`, body: { q1: 'a' } },
      { route: 'POST /enrolment/manage/editions/:id/import', who: 'staff', url: `/enrolment/manage/editions/${open}/import`, body: {}, multipart: true },
      { route: 'POST /enrolment/manage/editions/:id/import/:batchId/commit', who: 'staff', url: `/enrolment/manage/editions/${open}/import/${batch}/commit` },
      {
        route: 'POST /enrolment/manage/editions/:id/import/:batchId/encoding',
        who: 'staff',
        url: `/enrolment/manage/editions/${open}/import/${batch}/encoding`,
        body: { encoding: 'windows-1251' },
      },
      { route: 'POST /attendance/editions/:id/marks', who: 'staff', url: `${att}/marks`, body: { s: session, e: 'x', w: '', c: '0.0' } },
      { route: 'POST /attendance/editions/:id/sessions', who: 'staff', url: `${att}/sessions`, body: { day: '2026-09-01', title: 'Forged' } },
      {
        route: 'POST /attendance/editions/:id/sessions/:sessionId',
        who: 'staff',
        url: `${att}/sessions/${session}`,
        body: { day: '2026-09-01', title: 'Forged' },
      },
      { route: 'POST /attendance/editions/:id/sessions/:sessionId/remove', who: 'staff', url: `${att}/sessions/${session}/remove`, body: { confirm: 'on' } },
      { route: 'POST /attendance/editions/:id/sessions/:sessionId/restore', who: 'staff', url: `${att}/sessions/${session}/restore` },
      { route: 'POST /attendance/editions/:id/rule', who: 'staff', url: `${att}/rule`, body: { rule: 'percent', percent: '10' } },
      { route: 'POST /attendance/editions/:id/import', who: 'staff', url: `${att}/import`, body: {}, multipart: true },
      { route: 'POST /attendance/editions/:id/import/:batchId/commit', who: 'staff', url: `${att}/import/${'0'.repeat(24)}/commit` },
      { route: 'POST /enrolment/editions/:id/enrol', who: 'learner', url: `/enrolment/editions/${ids.edition('key')}/enrol`, body: { key: 'anything' } },
      {
        route: 'POST /enrolment/editions/:id/apply',
        who: 'learner',
        url: `/enrolment/editions/${application}/apply`,
        body: { motivation: 'x'.repeat(60), organisationType: 'government', country: 'JO', gender: 'woman' },
      },
      { route: 'POST /enrolment/editions/:id/withdraw', who: 'learner', url: `/enrolment/editions/${open}/withdraw` },
      { route: 'POST /enrolment/calendar/address', who: 'learner', url: '/enrolment/calendar/address' },
      { route: 'POST /enrolment/manage/editions', who: 'staff', url: '/enrolment/manage/editions', body: editionForm },
      { route: 'POST /enrolment/manage/editions/:id', who: 'staff', url: `/enrolment/manage/editions/${open}`, body: editionForm },
      {
        route: 'POST /enrolment/manage/editions/:id/people',
        who: 'staff',
        url: `/enrolment/manage/editions/${open}/people`,
        body: { email: 'forged@example.org' },
      },
      {
        route: 'POST /enrolment/manage/enrolments/:id/decision',
        who: 'staff',
        url: `/enrolment/manage/enrolments/${pending?._id ?? learnerEnrolment}/decision`,
        body: { decision: 'accept' },
      },
      { route: 'POST /enrolment/manage/enrolments/:id/withdraw', who: 'staff', url: `/enrolment/manage/enrolments/${learnerEnrolment}/withdraw` },
      {
        route: 'POST /enrolment/manage/enrolments/:id/move',
        who: 'staff',
        url: `/enrolment/manage/enrolments/${learnerEnrolment}/move`,
        body: { toEditionId: application },
      },
      { route: 'POST /auth/saml/:idp/logout', who: 'learner', url: '/auth/saml/unite/logout' },
      { route: 'POST /account/forgot', who: 'visitor', url: '/account/forgot', body: { email: 'learner@olive.example' } },
      {
        route: 'POST /account/invitation/:token',
        who: 'visitor',
        url: `/account/invitation/${'A'.repeat(43)}`,
        body: { password: 'forged password 123', confirm: 'forged password 123' },
      },
      {
        route: 'POST /account/reset/:token',
        who: 'visitor',
        url: `/account/reset/${'A'.repeat(43)}`,
        body: { password: 'forged password 123', confirm: 'forged password 123' },
      },
      {
        route: 'POST /register',
        who: 'visitor',
        url: '/register',
        body: { name: 'Forged', email: 'forged@example.org', password: 'forged password 123', confirm: 'forged password 123' },
      },
      { route: 'POST /account/verify-again', who: 'visitor', url: '/account/verify-again', body: { email: 'learner@olive.example' } },
      { route: 'POST /account/verify/:token', who: 'visitor', url: `/account/verify/${'A'.repeat(43)}` },
      { route: 'POST /account/email', who: 'learner', url: '/account/email', body: { email: 'forged@example.org', current: 'olive-demo' } },
      { route: 'POST /account/confirm-email/:token', who: 'learner', url: `/account/confirm-email/${'A'.repeat(43)}` },
      { route: 'POST /account/notifications', who: 'learner', url: '/account/notifications', body: {} },
      { route: 'POST /admin/users/:id/deactivate', who: 'admin', url: `/admin/users/${learnerId}/deactivate` },
      { route: 'POST /admin/users/:id/reactivate', who: 'admin', url: `/admin/users/${learnerId}/reactivate` },
      { route: 'POST /admin/users/:id/invite', who: 'admin', url: `/admin/users/${learnerId}/invite` },
      { route: 'POST /admin/users/:id/reset-link', who: 'admin', url: `/admin/users/${learnerId}/reset-link` },
      { route: 'POST /admin/users/:id/allow-local-password', who: 'admin', url: `/admin/users/${learnerId}/allow-local-password` },
      { route: 'POST /admin/jobs/:id/retry', who: 'admin', url: '/admin/jobs/host.sessions-cleanup%3Aperiod-1/retry' },
      { route: 'POST /admin/jobs/:id/drop', who: 'admin', url: '/admin/jobs/host.sessions-cleanup%3Aperiod-1/drop' },
    ];
  });

  /** Routes that take cross-site posts by design: signed SAML messages and signed one-click unsubscribe links, checked by signature instead. */
  const SIGNED_MESSAGE_ROUTES = ['POST /auth/saml/:idp/acs', 'POST /auth/saml/:idp/slo', 'POST /mail/unsubscribe'];

  it('the table covers every state-changing route declared in the routes files', () => {
    const declared = declaredRoutes(['post', 'put', 'patch', 'delete']);
    expect(declared.length, 'routes found in the routes files').to.be.above(40);
    expect([...rows.map((r) => r.route), ...SIGNED_MESSAGE_ROUTES].sort()).to.deep.equal(declared);
  });

  it('each refuses a request without a token, or with another session’s token: 403, nothing changed, still signed in', async () => {
    const before = await dbState(t);
    const failures: string[] = [];
    for (const row of rows) {
      const { agent } = agents[row.who]!;
      const otherToken = agents[row.who === 'learner' ? 'staff' : 'learner']!.token;
      const attempts: [string, () => supertest.Test][] = row.multipart
        ? [
            ['multipart, no token in the URL', () => fields(agent.post(row.url), row.body)],
            ['multipart, another session’s token', () => fields(agent.post(`${row.url}?_csrf=${encodeURIComponent(otherToken)}`), row.body)],
            ['multipart, token in a body field only', () => fields(agent.post(row.url).field('_csrf', agents[row.who]!.token), row.body)],
          ]
        : [
            [
              'form without token',
              () =>
                agent
                  .post(row.url)
                  .type('form')
                  .send(row.body ?? {}),
            ],
            [
              'form with another session’s token',
              () =>
                agent
                  .post(row.url)
                  .type('form')
                  .send({ ...row.body, _csrf: otherToken }),
            ],
            [
              'JSON without token',
              () =>
                agent
                  .post(row.url)
                  .set('Accept', 'application/json')
                  .send(row.body ?? {}),
            ],
            [
              'token in the query string of a form',
              () =>
                agent
                  .post(`${row.url}?_csrf=${encodeURIComponent(agents[row.who]!.token)}`)
                  .type('form')
                  .send(row.body ?? {}),
            ],
          ];
      for (const [what, send] of attempts) {
        const res = await send().set('Accept', 'application/json');
        try {
          refused(res, 403, `${row.route} (${row.who}, ${what})`);
          expect(res.body.error.code, `${row.route} (${what})`).to.equal('CSRF_INVALID');
        } catch (err) {
          failures.push((err as Error).message.slice(0, 300));
        }
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([]);
    await expectUnchanged(t, before, 'forged requests');
    // The forged sign-out and password change did nothing: everyone is still signed in.
    for (const who of ['admin', 'staff', 'trainer', 'learner']) await agents[who]!.agent.get('/account').expect(200);
  });

  it('signed SAML endpoints take no token but refuse an unsigned message (no identity provider here: 404), never a 5xx', async () => {
    const before = await dbState(t);
    for (const url of ['/auth/saml/unite/acs', '/auth/saml/unite/slo']) {
      const res = await supertest(t.app)
        .post(url)
        .type('form')
        .set('Accept', 'application/json')
        .send({ SAMLResponse: Buffer.from('<x/>').toString('base64') });
      refused(res, 404, url);
      expect(/<code>([A-Z_]+)<\/code>/.exec(res.text)?.[1], `${url}: the refusal's reason`).to.equal('UNKNOWN_IDP');
      expect(res.body?.error?.code, url).not.to.equal('CSRF_INVALID');
      expect(res.text, url).not.to.contain('was not sent from this site');
    }
    await expectUnchanged(t, before, 'unsigned SAML posts');
  });
});

function fields(req: supertest.Test, body: Record<string, unknown> = {}): supertest.Test {
  let r = req;
  for (const [k, v] of Object.entries(body)) r = r.field(k, String(v));
  return r.attach(Object.keys(body).length ? 'logos.programme' : 'files', Buffer.from('x\n'), 'x.txt');
}
