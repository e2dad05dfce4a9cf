/**
 * IDOR: every resource with an id, reached by someone it does not belong to (another learner,
 * a trainer of other editions, a learner on staff pages), through ids taken from the real data:
 * 403 or 404, never the resource, nothing changed. And every route with a parameter, given ids of
 * the wrong shape (found by reading the routes files, so a new route is covered by itself): a 4xx,
 * never a 5xx.
 */
import { expect } from 'chai';
import supertest from 'supertest';
import { DEMO_PASSWORD, type TestApp } from '../helpers/app.ts';
import { as, dbState, declaredRoutes, demoIds, expectUnchanged, oid, refused, sharedHostileApp, signInAs, type Agent } from './support.ts';

type Who = { agent: Agent; token: string };

describe('hostile input: IDOR across learners and editions, ids of the wrong shape', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Who;
  let admin: Who;
  let trainer: Who;
  let learner: Who;
  /** A learner enrolled nowhere. */
  let newcomer: Who;
  let ids: Awaited<ReturnType<typeof demoIds>>;
  const data: Record<string, string> = {};

  before(async () => {
    t = await sharedHostileApp();
    [staff, admin, trainer, learner] = [
      await as(t, 'staff@olive.example'),
      await as(t, 'admin@olive.example'),
      await as(t, 'trainer@olive.example'),
      await as(t, 'learner@olive.example'),
    ];
    await t.app.olive.users.create({ email: 'idor.newcomer@example.org', name: 'New Comer', password: DEMO_PASSWORD }, 'test');
    newcomer = await signInAs(t, 'idor.newcomer@example.org', DEMO_PASSWORD);
    ids = await demoIds(t);
    const db = t.app.olive.connection.db!;
    const learnerId = ids.userId('learner@olive.example');
    const ca = ids.course('conflict-analysis');
    const ibn = ids.course('interest-based-negotiation');
    // Someone else's certificate (the demo issues them to people who finished).
    let other = await db.collection('certificates_certificate').findOne({ learnerId: { $ne: learnerId } });
    if (!other) {
      const someone = ids.enrolments.find((e) => e.editionId === ids.edition('open') && e.status === 'enrolled' && e.userId && e.userId !== learnerId)!;
      await staff.agent
        .post(`/certificates/editions/${ids.edition('open')}/issue`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', staff.token)
        .send({ enrolmentId: String(someone._id), force: 'on', anyway: 'on' })
        .expect(201);
      other = await db.collection('certificates_certificate').findOne({ learnerId: { $ne: learnerId } });
    }
    data.otherCode = String(other!._id);
    data.otherEdition = String(other!.editionId);
    // An edition the trainer does not teach, and one he does.
    const editions = await db.collection('enrolment_edition').find({ status: 'published' }).toArray();
    const trainerId = ids.userId('trainer@olive.example');
    data.notTaught = String(editions.find((e) => !e.trainerIds.includes(trainerId))!._id);
    data.taught = String(editions.find((e) => e.trainerIds.includes(trainerId))!._id);
    // Another learner's enrolment, in an edition the learner is not in.
    const mine = new Set(ids.enrolments.filter((e) => e.email === 'learner@olive.example').map((e) => e.editionId));
    const theirs = ids.enrolments.find((e) => e.status === 'enrolled' && e.email !== 'learner@olive.example' && !mine.has(e.editionId))!;
    data.theirEnrolment = String(theirs._id);
    data.theirEdition = String(theirs.editionId);
    data.learnerEnrolment = ids.enrolmentOf('learner@olive.example', ids.edition('open'))!;
    data.ca = ca;
    data.moduleCa = String((await db.collection('courses_module').findOne({ courseId: oid(ca) }))!._id);
    data.itemCa = String((await db.collection('courses_item').findOne({ courseId: oid(ca), type: 'lesson' }))!._id);
    data.quizCa = String((await db.collection('courses_item').findOne({ courseId: oid(ca), type: 'quiz' }))!._id);
    data.fileCa = String((await db.collection('courses_item').findOne({ courseId: oid(ca), type: 'file' }))!._id);
    data.itemIbn = String((await db.collection('courses_item').findOne({ courseId: oid(ibn) }))!._id);
    data.moduleIbn = String((await db.collection('courses_module').findOne({ courseId: oid(ibn) }))!._id);
    data.template = String((await db.collection('certificates_template').findOne({}))!._id);
    data.announcement = String((await db.collection('announcements_announcement').findOne({}))!._id);
    data.learnerId = learnerId;
    // An import preview of one edition, to be asked for under another.
    const preview = await staff.agent
      .post(`/enrolment/manage/editions/${ids.edition('open')}/import?_csrf=${encodeURIComponent(staff.token)}`)
      .attach('file', Buffer.from('email\nidor.import@example.org\n'), 'idor.csv')
      .expect(303);
    data.batch = /import\/([0-9a-f]{24})$/.exec(preview.headers.location as string)![1]!;
    // A course of staff's own that the trainer does not teach.
    await staff.agent
      .post('/courses/manage')
      .type('form')
      .send({ slug: 'idor-course', languages: 'en', title_en: 'Not the trainer’s', hours: '1', _csrf: staff.token })
      .expect(303);
  });

  it('someone else’s certificate PDF is a 404 for another learner and for a trainer; staff see it (the code is real)', async () => {
    const before = await dbState(t);
    const url = `/certificates/c/${data.otherCode}/certificate.pdf`;
    for (const who of [learner, newcomer, trainer]) refused(await who.agent.get(url).set('Accept', 'application/json'), 404, url);
    const visitor = await supertest(t.app).get(url);
    expect(visitor.status).to.equal(303);
    expect(visitor.headers.location).to.match(/^\/login/);
    await expectUnchanged(t, before, 'certificate PDF refused');
    const own = await staff.agent.get(url).expect(200);
    expect(own.headers['content-type']).to.equal('application/pdf');
  });

  it('certificate staff pages and actions by code or edition are 403 for learners and for trainers (trainers may not issue here)', async () => {
    const before = await dbState(t);
    for (const who of [learner, trainer]) {
      for (const url of [
        `/certificates/c/${data.otherCode}/manage`,
        `/certificates/editions/${data.otherEdition}`,
        '/certificates',
        '/certificates/templates',
        `/certificates/templates/${data.template}`,
        `/certificates/templates/${data.template}/preview.pdf`,
      ]) {
        refused(await who.agent.get(url).set('Accept', 'application/json'), 403, url);
      }
      const posts: [string, Record<string, unknown>][] = [
        [`/certificates/c/${data.otherCode}/reissue`, { name: 'Taken Over', reason: 'an attempt to take it' }],
        [`/certificates/c/${data.otherCode}/revoke`, { reason: 'an attempt to revoke it' }],
        [`/certificates/editions/${data.otherEdition}/issue`, { enrolmentId: data.theirEnrolment, force: 'on' }],
        [`/certificates/editions/${data.otherEdition}/settings`, { autoIssue: 'on' }],
        [`/certificates/editions/${data.otherEdition}/jobs`, { scope: 'all-completed' }],
      ];
      for (const [url, body] of posts) refused(await who.agent.post(url).set('Accept', 'application/json').set('x-csrf-token', who.token).send(body), 403, url);
    }
    refused(await staff.agent.get('/certificates/audit').set('Accept', 'application/json'), 403, 'audit is for admins');
    await expectUnchanged(t, before, 'certificate actions refused');
  });

  it('rosters: a learner sees none, a trainer only those of editions he teaches', async () => {
    for (const suffix of ['roster', 'roster.csv']) {
      refused(await learner.agent.get(`/enrolment/manage/editions/${data.taught}/${suffix}`).set('Accept', 'application/json'), 403);
      refused(await trainer.agent.get(`/enrolment/manage/editions/${data.notTaught}/${suffix}`).set('Accept', 'application/json'), 403);
      await trainer.agent.get(`/enrolment/manage/editions/${data.taught}/${suffix}`).expect(200);
    }
  });

  it('enrolments: a learner cannot withdraw, decide, move or read another person’s enrolment', async () => {
    const before = await dbState(t);
    // The learner's own withdraw route acts on their own enrolment only: in an edition they are not in, nothing.
    refused(
      await learner.agent
        .post(`/enrolment/editions/${data.theirEdition}/withdraw`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', learner.token)
        .send({}),
      404,
    );
    refused(await learner.agent.get(`/enrolment/editions/${data.theirEdition}/withdraw`).set('Accept', 'application/json'), [404]);
    for (const [url, body] of [
      [`/enrolment/manage/enrolments/${data.theirEnrolment}/withdraw`, {}],
      [`/enrolment/manage/enrolments/${data.theirEnrolment}/decision`, { decision: 'reject' }],
      [`/enrolment/manage/enrolments/${data.theirEnrolment}/move`, { toEditionId: data.notTaught }],
      [`/enrolment/manage/editions/${data.theirEdition}/people`, { email: 'learner@olive.example' }],
      [`/enrolment/manage/editions/${data.theirEdition}`, { title: 'Taken over' }],
    ] as const) {
      for (const who of [learner, trainer])
        refused(await who.agent.post(url).set('Accept', 'application/json').set('x-csrf-token', who.token).send(body), 403, url);
    }
    for (const url of [
      `/enrolment/manage/enrolments/${data.theirEnrolment}`,
      `/enrolment/manage/editions/${data.theirEdition}`,
      `/enrolment/manage/editions/${data.theirEdition}/edit`,
      `/enrolment/manage/editions/${data.theirEdition}/import`,
      `/enrolment/manage/editions/${ids.edition('open')}/import/${data.batch}`,
      '/enrolment/reports',
      '/admin/users',
      '/auth/saml/admin',
      `/courses/manage/conflict-analysis`,
    ]) {
      refused(await learner.agent.get(url).set('Accept', 'application/json'), 403, url);
    }
    await expectUnchanged(t, before, 'enrolment actions refused');
  });

  it('an import preview belongs to its edition: asked for, or committed, under another edition it is a 404', async () => {
    const before = await dbState(t);
    const other = data.notTaught === ids.edition('open') ? data.taught : data.notTaught;
    refused(await staff.agent.get(`/enrolment/manage/editions/${other}/import/${data.batch}`).set('Accept', 'application/json'), 404);
    refused(await staff.agent.get(`/enrolment/manage/editions/${other}/import/${data.batch}/errors.csv`).set('Accept', 'application/json'), 404);
    refused(
      await staff.agent
        .post(`/enrolment/manage/editions/${other}/import/${data.batch}/commit`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', staff.token)
        .send({}),
      404,
    );
    await expectUnchanged(t, before, 'cross-edition import');
  });

  it('courses: a learner not enrolled gets nothing of a course; ids of another course under this one are 404; trainers edit only their courses', async () => {
    const before = await dbState(t);
    const ca = 'conflict-analysis';
    refused(await newcomer.agent.get(`/courses/${ca}/modules/${data.moduleCa}`).set('Accept', 'application/json'), 403);
    refused(await newcomer.agent.get(`/courses/${ca}/items/${data.fileCa}/file`).set('Accept', 'application/json'), 403);
    refused(await newcomer.agent.get(`/courses/${ca}/items/${data.quizCa}/quiz`).set('Accept', 'application/json'), 403);
    refused(
      await newcomer.agent
        .post(`/courses/${ca}/items/${data.quizCa}/quiz`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', newcomer.token)
        .send({ q1: 'a' }),
      403,
    );
    refused(
      await newcomer.agent.post(`/courses/${ca}/items/${data.itemCa}/done`).set('Accept', 'application/json').set('x-csrf-token', newcomer.token).send({}),
      403,
    );
    // The learner is enrolled in Conflict Analysis: an item or module of another course under its address is not found.
    refused(
      await learner.agent.post(`/courses/${ca}/items/${data.itemIbn}/done`).set('Accept', 'application/json').set('x-csrf-token', learner.token).send({}),
      404,
    );
    refused(await learner.agent.get(`/courses/${ca}/modules/${data.moduleIbn}`).set('Accept', 'application/json'), 404);
    refused(await learner.agent.get(`/courses/${ca}/items/${data.itemIbn}/file`).set('Accept', 'application/json'), 404);
    // The same for the course's trainer in the editor.
    refused(await trainer.agent.get(`/courses/manage/${ca}/items/${data.itemIbn}`).set('Accept', 'application/json'), 404);
    refused(
      await trainer.agent
        .post(`/courses/manage/${ca}/items/${data.itemIbn}/delete`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', trainer.token)
        .send({}),
      404,
    );
    refused(
      await trainer.agent
        .post(`/courses/manage/${ca}/modules/${data.moduleIbn}/delete`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', trainer.token)
        .send({}),
      [404],
    );
    // A course the trainer does not teach, and course-wide staff decisions.
    refused(await trainer.agent.get('/courses/manage/idor-course').set('Accept', 'application/json'), 403);
    refused(
      await trainer.agent
        .post('/courses/manage/idor-course/settings')
        .set('Accept', 'application/json')
        .set('x-csrf-token', trainer.token)
        .send({ languages: 'en', title_en: 'Mine now', hours: 1 }),
      403,
    );
    refused(
      await trainer.agent.post(`/courses/manage/${ca}/trainers`).set('Accept', 'application/json').set('x-csrf-token', trainer.token).send({ trainerIds: [] }),
      403,
    );
    refused(
      await learner.agent.post(`/announcements/${data.announcement}/withdraw`).set('Accept', 'application/json').set('x-csrf-token', learner.token).send({}),
      403,
    );
    refused(
      await learner.agent
        .post(`/admin/users/${data.learnerId}/roles`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', learner.token)
        .send({ roles: ['admin'] }),
      403,
    );
    await expectUnchanged(t, before, 'course IDOR');
  });

  describe('ids of the wrong shape on every route with a parameter', () => {
    const BAD_IDS = ['not-an-id', '{"$ne":1}', 'a'.repeat(25), '0'.repeat(24), 'ffffffffffffffffffffffff'];
    const BAD_SLUGS = ['..%2F..%2Fetc%2Fpasswd', '{"$ne":1}', 'x'.repeat(300), '%00', 'Not%20A%20Slug'];

    /** A value that exists, for the parameters other than the one being tested. */
    function valid(route: string, param: string): string {
      if (param === 'slug') return 'conflict-analysis';
      if (param === 'moduleId') return data.moduleCa!;
      if (param === 'itemId') return /\/file$/.test(route) ? data.fileCa! : /quiz$/.test(route) ? data.quizCa! : data.itemCa!;
      if (param === 'code') return data.otherCode!;
      if (param === 'editionId') return data.otherEdition!;
      if (param === 'batchId') return data.batch!;
      if (param === 'version') return '1';
      if (param === 'idp') return 'unite';
      if (route.startsWith('/certificates/templates')) return data.template!;
      if (route.startsWith('/certificates/jobs')) return '0'.repeat(24);
      if (route.startsWith('/announcements')) return data.announcement!;
      if (route.startsWith('/admin/users')) return data.learnerId!;
      if (route.startsWith('/enrolment/manage/enrolments')) return data.learnerEnrolment!;
      if (route.startsWith('/enrolment/manage/editions/') && route.includes('/import')) return ids.edition('open');
      return ids.edition('open');
    }

    async function sweep(who: Who, label: string, methods: ('get' | 'post')[], badValues: (param: string) => string[]) {
      const failures: string[] = [];
      let sent = 0;
      for (const method of methods) {
        for (const entry of declaredRoutes([method])) {
          // Signing out through an unknown identity provider still signs out (locally): not a refusal,
          // and it would end the session the rest of the sweep needs.
          if (entry === 'POST /auth/saml/:idp/logout') continue;
          const route = entry.slice(entry.indexOf(' ') + 1);
          const params = [...route.matchAll(/:(\w+)/g)].map((m) => m[1]!);
          for (const param of params) {
            for (const bad of badValues(param)) {
              const url = route.replace(/:(\w+)/g, (_s, p: string) => (p === param ? (bad.includes('%') ? bad : encodeURIComponent(bad)) : valid(route, p)));
              const req = method === 'get' ? who.agent.get(url) : who.agent.post(url).set('x-csrf-token', who.token).send({});
              const res = await req.set('Accept', 'application/json');
              sent++;
              const ok = res.status >= 400 && res.status < 500 && (!/json/.test(res.type) || typeof res.body?.error?.message === 'string');
              if (!ok) failures.push(`${method.toUpperCase()} ${url} (${label}) → ${res.status} ${String(res.text).slice(0, 160)}`);
            }
          }
        }
      }
      expect(sent, 'requests sent').to.be.above(50);
      // Still signed in: the answers above were given to the person, not to an anonymous visitor.
      await who.agent.get('/account').expect(200);
      expect(failures, `${failures.length} requests not answered with a 4xx:\n${failures.join('\n')}`).to.deep.equal([]);
    }

    const bads = (param: string) => (param === 'slug' || param === 'idp' ? BAD_SLUGS : BAD_IDS);

    it('as an admin (every policy lets them through, so the handler reads the id): GET → 4xx, never 5xx', async () => {
      await sweep(admin, 'admin', ['get'], bads);
    });

    it('as an admin: POST → 4xx, never 5xx, and nothing changed', async () => {
      const before = await dbState(t);
      await sweep(admin, 'admin', ['post'], bads);
      await expectUnchanged(t, before, 'posts with ids of the wrong shape');
    });

    it('as a learner: GET and POST → 4xx, never 5xx, nothing changed', async () => {
      const before = await dbState(t);
      await sweep(learner, 'learner', ['get', 'post'], (p) => bads(p).slice(0, 2));
      await expectUnchanged(t, before, 'a learner’s posts with ids of the wrong shape');
    });
  });
});
