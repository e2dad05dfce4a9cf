/**
 * Enrolment against the real database: every way in (open, key, application, invitation, closed),
 * seats and the waiting list under concurrency, moves, withdrawal, access. Over 400 lines: the
 * rules share one seeded programme and its helpers.
 */
import { expect } from 'chai';
import mongoose from 'mongoose';
import supertest from 'supertest';
import { definePlugin } from '../../../src/index.ts';
import { createDemoPasswordUser, createTestApp, DEMO_PASSWORD, signIn, tokenFor, type TestApp, postForm } from '../../../test/helpers/app.ts';
import { progressRecords } from '../../../test/helpers/progress.ts';
import courses from '../../courses/index.ts';
import {
  EnrolmentApproved,
  EnrolmentCreated,
  EnrolmentMoved,
  EnrolmentPromoted,
  EnrolmentRejected,
  EnrolmentWaitlisted,
  EnrolmentWithdrawn,
  type EnrolmentEvent,
} from '../contract.ts';
import enrolment from '../index.ts';
import { createMemberships } from '../services/memberships.ts';
import { postEdition } from './import-pages.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

/** Records enrolment events, the way another plugin (certificates) would see them. */
function eventRecorder() {
  const events: { name: string; e: EnrolmentEvent }[] = [];
  const plugin = definePlugin({
    name: 'recorder',
    version: '1.0.0',
    requires: [EnrolmentCreated],
    register(ctx) {
      for (const ref of [EnrolmentCreated, EnrolmentApproved, EnrolmentWaitlisted, EnrolmentPromoted, EnrolmentRejected, EnrolmentWithdrawn, EnrolmentMoved]) {
        ctx.on(ref, (e) => {
          events.push({ name: ref.id, e });
        });
      }
    },
  });
  return { plugin, events, of: (name: string, editionId: string) => events.filter((x) => x.name === name && x.e.editionId === editionId) };
}

const MOTIVATION = 'I mediate local land disputes in my district and want to learn how to design a mediation process.';

describe('enrolment plugin', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Agent;
  let courseId: string;
  let otherCourseId: string;
  const recorder = eventRecorder();

  /** Creates an edition through the staff form, as staff do, and returns its id. */
  function newEdition(fields: Record<string, unknown>, course = courseId): Promise<string> {
    return postEdition(staff, {
      courseId: course,
      title: 'Test edition',
      language: 'en',
      method: 'open',
      status: 'published',
      online: 'on',
      startsAt: '2026-01-10',
      endsAt: '2099-12-31',
      ...fields,
    });
  }

  let people = 0;
  /** A fresh account, signed in through the real form. */
  async function learner(): Promise<{ agent: Agent; email: string; id: string }> {
    const email = `person${++people}@example.org`;
    const user = await createDemoPasswordUser(t.app, { email, name: `Person ${people}` });
    return { agent: await signIn(t.app, email), email, id: user.id };
  }

  const enrol = (agent: Agent, editionId: string, fields: Record<string, unknown> = {}) =>
    postForm(agent, `/enrolment/editions/${editionId}/enrol`, fields, `/enrolment/editions/${editionId}`);

  const Enrolment = () => t.app.olive.connection.model('enrolment_enrolment');
  const Seat = () => t.app.olive.connection.model('enrolment_seat');
  const statusOf = async (editionId: string, email: string) => ((await Enrolment().findOne({ editionId, email }).lean()) as { status?: string } | null)?.status;

  /** Module and item ids of a course, read from its pages (as a learner's browser would). */
  async function firstModule(agent: Agent, slug: string) {
    const outline = (await agent.get(`/courses/${slug}`).expect(200)).text;
    const moduleId = new RegExp(`/courses/${slug}/modules/([a-f0-9]{24})`).exec(outline)![1]!;
    const page = (await agent.get(`/courses/${slug}/modules/${moduleId}`).expect(200)).text;
    const items = [...page.matchAll(/id="item-([a-f0-9]{24})"/g)].map((m) => m[1]!);
    const file = /\/items\/([a-f0-9]{24})\/file/.exec(page)?.[1];
    return { moduleId, items, file };
  }

  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment, recorder.plugin], seed: true, label: 'enrolment' });
    staff = await signIn(t.app, 'staff@olive.example');
    const Course = t.app.olive.connection.model('courses_course');
    const ids = async (slug: string) => String(((await Course.findOne({ slug }).lean()) as { _id: unknown })._id);
    courseId = await ids('conflict-analysis');
    otherCourseId = await ids('interest-based-negotiation');
  });
  after(() => t.stop());

  describe('open enrolment and access to the course', () => {
    let edition: string;
    before(async () => {
      edition = await newEdition({ title: 'Conflict Analysis, open run' });
    });

    it('a person who is not enrolled is sent to the editions, and gets 403 on modules and material', async () => {
      const staffView = await firstModule(staff, 'conflict-analysis');
      expect(staffView.file, 'the first module has a material file').to.be.a('string');
      const { agent } = await learner();
      const outline = await agent.get('/courses/conflict-analysis').expect(200);
      expect(outline.text).to.contain('enrol in one to start');
      // The link says where it leads.
      expect(outline.text).to.contain('<a href="/enrolment/courses/conflict-analysis">See the editions and enrol</a>');
      await agent.get(`/courses/conflict-analysis/modules/${staffView.moduleId}`).expect(403);
      await agent.get(`/courses/conflict-analysis/items/${staffView.file}/file`).expect(403);
      const done = await postForm(agent, `/courses/conflict-analysis/items/${staffView.items[0]}/done`, {}, '/enrolment/my');
      expect(done.status).to.equal(403);
    });

    it('self-enrolment gives access; progress is recorded in the edition', async () => {
      const { agent, id } = await learner();
      const res = await enrol(agent, edition);
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal('/courses/conflict-analysis');
      const { moduleId, items, file } = await firstModule(agent, 'conflict-analysis');
      await agent.get(`/courses/conflict-analysis/items/${file}/file`).expect(200);
      await postForm(agent, `/courses/conflict-analysis/items/${items[0]}/done`, {}, `/courses/conflict-analysis/modules/${moduleId}`).then((r) =>
        expect(r.status).to.equal(303),
      );
      const progress = (await t.app.olive.connection.model('courses_item_progress').findOne({ learnerId: id }).lean()) as { editionId?: string } | null;
      expect(progress?.editionId).to.equal(edition);
      const my = await agent.get('/enrolment/my').expect(200);
      expect(my.text).to.contain('Conflict Analysis, open run');
      expect(my.text).to.match(/<progress max="100" value="\d+"/);
      // One enrolment, one event: for this person, enrolled by themselves.
      expect(
        recorder
          .of('enrolment.enrolment.created', edition)
          .filter((x) => x.e.userId === id)
          .map((x) => ({ status: x.e.status, byUserId: x.e.byUserId })),
      ).to.deep.equal([{ status: 'enrolled', byUserId: undefined }]);
    });

    it('a learner of another course’s edition gets 403 on this course’s modules and material', async () => {
      const other = await newEdition({ title: 'Negotiation run' }, otherCourseId);
      const { agent } = await learner();
      expect((await enrol(agent, other)).status).to.equal(303);
      await agent.get('/courses/interest-based-negotiation').expect(200);
      const staffView = await firstModule(staff, 'conflict-analysis');
      await agent.get(`/courses/conflict-analysis/modules/${staffView.moduleId}`).expect(403);
      await agent.get(`/courses/conflict-analysis/items/${staffView.file}/file`).expect(403);
    });

    it('enrolling twice (a double click) keeps one enrolment', async () => {
      const { agent, email } = await learner();
      const token = await tokenFor(agent, `/enrolment/editions/${edition}`);
      const click = () => agent.post(`/enrolment/editions/${edition}/enrol`).type('form').send({ _csrf: token });
      const [a, b] = await Promise.all([click(), click()]);
      expect([a.status, b.status]).to.deep.equal([303, 303]);
      expect(await Enrolment().countDocuments({ editionId: edition, email })).to.equal(1);
    });

    it('a learner withdraws and loses access; what they completed stays', async () => {
      const { agent, id } = await learner();
      await enrol(agent, edition);
      const { moduleId, items } = await firstModule(agent, 'conflict-analysis');
      await postForm(agent, `/courses/conflict-analysis/items/${items[0]}/done`, {}, `/courses/conflict-analysis/modules/${moduleId}`);
      await agent.get(`/enrolment/editions/${edition}/withdraw`).expect(200);
      const res = await postForm(agent, `/enrolment/editions/${edition}/withdraw`, {}, `/enrolment/editions/${edition}/withdraw`);
      expect(res.status).to.equal(303);
      await agent.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(403);
      expect(await t.app.olive.connection.model('courses_item_progress').countDocuments({ learnerId: id })).to.equal(1);
    });
  });

  describe('enrolment key', () => {
    it('a wrong key is refused with a message and changes nothing; the right key enrols', async () => {
      const edition = await newEdition({ title: 'Regional seminar (key)', method: 'key', enrolmentKey: 'HORN-2026' });
      const { agent, email } = await learner();
      const wrong = await enrol(agent, edition, { key: 'guess' });
      expect(wrong.status).to.equal(403);
      expect(wrong.text).to.contain('This key is not right');
      expect(await Enrolment().countDocuments({ editionId: edition })).to.equal(0);
      const right = await enrol(agent, edition, { key: ' HORN-2026 ' });
      expect(right.status).to.equal(303);
      expect(await statusOf(edition, email)).to.equal('enrolled');
    });

    it('a key edition needs a key of at least 6 characters: the form says so and creates nothing', async () => {
      const before = await t.app.olive.connection.model('enrolment_edition').countDocuments();
      const res = await postForm(
        staff,
        '/enrolment/manage/editions',
        {
          courseId,
          title: 'No key',
          language: 'en',
          method: 'key',
          enrolmentKey: 'abc',
          status: 'published',
          online: 'on',
          startsAt: '2026-01-10',
        },
        '/enrolment/manage/editions/new',
      );
      expect(res.status).to.equal(400);
      expect(res.text).to.contain('at least 6 characters');
      expect(await t.app.olive.connection.model('enrolment_edition').countDocuments()).to.equal(before);
    });
  });

  describe('application with approval', () => {
    let edition: string;
    before(async () => {
      edition = await newEdition({
        title: 'Fellowship 2027',
        method: 'application',
        capacity: '1',
        questions: '* Describe a conflict you worked on.\nWhich language do you work in?',
      });
    });

    it('an incomplete application is shown again with the problems and stores nothing', async () => {
      const { agent } = await learner();
      const res = await postForm(
        agent,
        `/enrolment/editions/${edition}/apply`,
        { motivation: 'Too short.', organisationType: 'government', country: 'KE', gender: 'woman' },
        `/enrolment/editions/${edition}`,
      );
      expect(res.status).to.equal(400);
      expect(res.text).to.contain('at least 50 characters');
      expect(res.text).to.contain('Answer this question.');
      expect(await Enrolment().countDocuments({ editionId: edition })).to.equal(0);
    });

    it('applicants wait; staff accept (seat), waitlist and reject with a message the applicant sees', async () => {
      const apply = async () => {
        const p = await learner();
        const res = await postForm(
          p.agent,
          `/enrolment/editions/${edition}/apply`,
          {
            motivation: MOTIVATION,
            organisation: 'Ministry of Foreign Affairs',
            organisationType: 'government',
            country: 'KE',
            gender: 'woman',
            jobTitle: 'Desk officer',
            [`answer_${await questionId()}`]: 'A dispute over grazing land between two communities.',
          },
          `/enrolment/editions/${edition}`,
        );
        expect(res.status, res.text.slice(0, 2000)).to.equal(303);
        return p;
      };
      const questionId = async () => {
        const doc = (await t.app.olive.connection.model('enrolment_edition').findById(edition).lean()) as unknown as {
          questions: { id: string; required: boolean }[];
        };
        return doc.questions.find((q) => q.required)!.id;
      };
      const [a, b, c] = [await apply(), await apply(), await apply()];
      expect(await statusOf(edition, a.email)).to.equal('pending');
      const outline = await a.agent.get('/courses/conflict-analysis').expect(200);
      expect(outline.text).to.contain('is being reviewed');
      expect(outline.text).to.contain('<a href="/enrolment/my">See my applications</a>');

      const page = await staff.get(`/enrolment/manage/editions/${edition}`).expect(200);
      expect(page.text).to.contain('3 applications to decide');
      expect(page.text).to.contain('A dispute over grazing land');
      const idOf = async (email: string) => String(((await Enrolment().findOne({ editionId: edition, email }).lean()) as { _id: unknown })._id);
      const decide = (email: string, decision: string, message = '') =>
        idOf(email).then((id) =>
          postForm(staff, `/enrolment/manage/enrolments/${id}/decision`, { decision, message }, `/enrolment/manage/editions/${edition}`),
        );

      expect((await decide(a.email, 'accept', 'Welcome: we look forward to seeing you in Oslo.')).status).to.equal(303);
      expect(await statusOf(edition, a.email)).to.equal('enrolled');
      // The message stays with the course under My learning, as on the edition's page.
      const aMine = (await a.agent.get('/enrolment/my').expect(200)).text;
      const aCourses = aMine.slice(aMine.indexOf('id="my-current"'), aMine.indexOf('</section>', aMine.indexOf('id="my-current"')));
      expect(aCourses).to.contain('Message from the programme team:');
      expect(aCourses).to.contain('Welcome: we look forward to seeing you in Oslo.');
      await a.agent
        .get('/courses/conflict-analysis')
        .expect(200)
        .then((r) => expect(r.text).not.to.contain('being reviewed'));

      // The only seat is taken: accepting B puts B on the waiting list.
      expect((await decide(b.email, 'accept')).status).to.equal(303);
      expect(await statusOf(edition, b.email)).to.equal('waitlisted');
      const bPage = await b.agent.get(`/enrolment/editions/${edition}`).expect(200);
      expect(bPage.text).to.contain('(position 1)');

      expect((await decide(c.email, 'reject', 'We received many strong applications this year.')).status).to.equal(303);
      expect(await statusOf(edition, c.email)).to.equal('rejected');
      const cPage = await c.agent.get('/enrolment/my').expect(200);
      expect(cPage.text).to.contain('We received many strong applications this year.');
      expect(cPage.text).to.contain('Message from the programme team:');
      expect(recorder.of('enrolment.enrolment.rejected', edition)).to.have.length(1);

      // A rejected person cannot be rejected again: a clear 409, nothing changes.
      const again = await decide(c.email, 'reject');
      expect(again.status).to.equal(409);

      // A withdraws: the seat goes to B, first on the waiting list, without anyone doing anything.
      await postForm(a.agent, `/enrolment/editions/${edition}/withdraw`, {}, `/enrolment/editions/${edition}/withdraw`);
      expect(await statusOf(edition, b.email)).to.equal('enrolled');
      expect(recorder.of('enrolment.enrolment.promoted', edition).map((x) => x.e.email)).to.deep.equal([b.email]);
      expect(await Seat().countDocuments({ editionId: edition })).to.equal(1);
    });

    it('self-enrolment is refused on an application edition', async () => {
      const { agent } = await learner();
      const res = await agent
        .post(`/enrolment/editions/${edition}/enrol`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', await tokenFor(agent, `/enrolment/editions/${edition}`))
        .send({});
      expect(res.status).to.equal(409);
      expect(res.body.error.code).to.equal('APPLICATION_REQUIRED');
    });
  });

  describe('invitation and closed editions', () => {
    it('nobody enrols themselves; staff add people, also people without an account yet, matched at their first sign-in', async () => {
      const edition = await newEdition({ title: 'SRSG seminar', method: 'invitation', capacity: '10' });
      const { agent } = await learner();
      const page = await agent.get(`/enrolment/editions/${edition}`).expect(200);
      expect(page.text).to.contain('by invitation');
      const self = await enrol(agent, edition);
      expect(self.status).to.equal(409);

      const email = 'Envoy.Newcomer@Example.org';
      const add = await postForm(staff, `/enrolment/manage/editions/${edition}/people`, { email }, `/enrolment/manage/editions/${edition}`);
      expect(add.status).to.equal(303);
      const pre = (await Enrolment().findOne({ editionId: edition, email: 'envoy.newcomer@example.org' }).lean()) as unknown as {
        status: string;
        userId?: string;
      };
      expect(pre.status).to.equal('enrolled');
      expect(pre.userId).to.equal(undefined);

      // The admin creates the account later; the person signs in and finds the seminar.
      const admin = await signIn(t.app, 'admin@olive.example');
      const created = await postForm(
        admin,
        '/admin/users',
        { email: 'envoy.newcomer@example.org', name: 'Envoy Newcomer', password: 'a-long-password-1', roles: 'learner' },
        '/admin/users',
      );
      expect(created.status).to.equal(303);
      const envoy = await signIn(t.app, 'envoy.newcomer@example.org', 'a-long-password-1');
      const my = await envoy.get('/enrolment/my').expect(200);
      expect(my.text).to.contain('/courses/conflict-analysis');
      const { moduleId } = await firstModule(staff, 'conflict-analysis');
      await envoy.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(200);
    });

    it('a closed edition takes nobody', async () => {
      const edition = await newEdition({ title: 'Closed run', method: 'closed' });
      const { agent } = await learner();
      expect((await enrol(agent, edition)).status).to.equal(409);
      expect(await Enrolment().countDocuments({ editionId: edition })).to.equal(0);
    });

    it('draft editions do not exist for learners', async () => {
      const edition = await newEdition({ title: 'Draft run', status: 'draft' });
      const { agent } = await learner();
      await agent.get(`/enrolment/editions/${edition}`).expect(404);
      expect((await postForm(agent, `/enrolment/editions/${edition}/enrol`, {}, '/enrolment/my')).status).to.equal(404);
    });
  });

  describe('capacity and the waiting list', () => {
    it('100 simultaneous self-enrolments into a 40-seat edition give exactly 40 enrolled and 60 waitlisted', async function () {
      this.timeout(300_000);
      const edition = await newEdition({ title: 'Popular e-learning run', capacity: '40' });
      const agents: Agent[] = [];
      for (let batch = 0; batch < 10; batch++) {
        agents.push(...(await Promise.all(Array.from({ length: 10 }, async () => (await learner()).agent))));
      }
      const tokens = await Promise.all(agents.map((a) => tokenFor(a, `/enrolment/editions/${edition}`)));
      const results = await Promise.all(
        agents.map((a, i) => a.post(`/enrolment/editions/${edition}/enrol`).set('Accept', 'application/json').set('x-csrf-token', tokens[i]!).send({})),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).to.have.length(40);
      expect(statuses.filter((s) => s === 202)).to.have.length(60);
      expect(await Enrolment().countDocuments({ editionId: edition, status: 'enrolled' })).to.equal(40);
      expect(await Enrolment().countDocuments({ editionId: edition, status: 'waitlisted' })).to.equal(60);
      expect(await Seat().countDocuments({ editionId: edition })).to.equal(40);

      // Raising the capacity moves the waiting list up at once, in order.
      const form = await staff.get(`/enrolment/manage/editions/${edition}/edit`).expect(200);
      expect(form.text).to.contain('value="40"');
      const first = (await Enrolment().find({ editionId: edition, status: 'waitlisted' }).sort({ waitlistedAt: 1, _id: 1 }).limit(5).lean()) as unknown as {
        email: string;
      }[];
      const save = await postForm(
        staff,
        `/enrolment/manage/editions/${edition}`,
        {
          courseId,
          title: 'Popular e-learning run',
          language: 'en',
          method: 'open',
          status: 'published',
          online: 'on',
          startsAt: '2026-01-10',
          endsAt: '2099-12-31',
          capacity: '45',
        },
        `/enrolment/manage/editions/${edition}/edit`,
      );
      expect(save.status).to.equal(303);
      expect(await Enrolment().countDocuments({ editionId: edition, status: 'enrolled' })).to.equal(45);
      for (const w of first) expect(await statusOf(edition, w.email)).to.equal('enrolled');
    });

    it('a full open edition puts new people on the waiting list, and a freed seat goes to the first in line', async () => {
      const edition = await newEdition({ title: 'Small workshop', capacity: '1' });
      const a = await learner();
      const b = await learner();
      const c = await learner();
      await enrol(a.agent, edition);
      const page = await b.agent.get(`/enrolment/editions/${edition}`).expect(200);
      expect(page.text).to.contain('Join the waiting list');
      await enrol(b.agent, edition);
      await enrol(c.agent, edition);
      expect(await statusOf(edition, b.email)).to.equal('waitlisted');
      const denied = await b.agent.get('/courses/conflict-analysis').expect(200);
      expect(denied.text).to.contain('waiting list');
      // Staff withdraw A: B (not C) gets the seat.
      const id = String(((await Enrolment().findOne({ editionId: edition, email: a.email }).lean()) as { _id: unknown })._id);
      expect(
        (await postForm(staff, `/enrolment/manage/enrolments/${id}/withdraw`, { message: 'Could not travel.' }, `/enrolment/manage/enrolments/${id}`)).status,
      ).to.equal(303);
      expect(await statusOf(edition, b.email)).to.equal('enrolled');
      expect(await statusOf(edition, c.email)).to.equal('waitlisted');
    });
  });

  describe('races and repairs (found in review)', () => {
    it('a withdrawn person double-clicking "Enrol" keeps exactly one seat, and the edition is never overbooked', async () => {
      const edition = await newEdition({ title: 'Race: re-enrol', capacity: '2' });
      const a = await learner();
      await enrol(a.agent, edition);
      await postForm(a.agent, `/enrolment/editions/${edition}/withdraw`, {}, `/enrolment/editions/${edition}/withdraw`);
      const token = await tokenFor(a.agent, `/enrolment/editions/${edition}`);
      const click = () => a.agent.post(`/enrolment/editions/${edition}/enrol`).type('form').send({ _csrf: token });
      await Promise.all([click(), click(), click()]);
      expect(await statusOf(edition, a.email)).to.equal('enrolled');
      const id = String(((await Enrolment().findOne({ editionId: edition, email: a.email }).lean()) as unknown as { _id: unknown })._id);
      expect(await Seat().countDocuments({ enrolmentId: id })).to.equal(1);
      for (const p of [await learner(), await learner()]) await enrol(p.agent, edition);
      expect(await Enrolment().countDocuments({ editionId: edition, status: 'enrolled' })).to.equal(2);
      expect(await Seat().countDocuments({ editionId: edition })).to.equal(2);
    });

    it('two staff accepting the same application at once leave one enrolled person holding one seat', async () => {
      const edition = await newEdition({ title: 'Race: accept', method: 'application', capacity: '3' });
      const p = await learner();
      await postForm(
        p.agent,
        `/enrolment/editions/${edition}/apply`,
        { motivation: MOTIVATION, organisationType: 'government', country: 'GH', gender: 'man' },
        `/enrolment/editions/${edition}`,
      );
      const id = String(((await Enrolment().findOne({ editionId: edition, email: p.email }).lean()) as unknown as { _id: unknown })._id);
      const other = await signIn(t.app, 'admin@olive.example');
      const [t1, t2] = [await tokenFor(staff, `/enrolment/manage/editions/${edition}`), await tokenFor(other, `/enrolment/manage/editions/${edition}`)];
      await Promise.all([
        staff.post(`/enrolment/manage/enrolments/${id}/decision`).type('form').send({ decision: 'accept', _csrf: t1 }),
        other.post(`/enrolment/manage/enrolments/${id}/decision`).type('form').send({ decision: 'accept', _csrf: t2 }),
      ]);
      expect(await statusOf(edition, p.email)).to.equal('enrolled');
      expect(await Seat().countDocuments({ enrolmentId: id })).to.equal(1);
    });

    it('setting a seat limit counts the people already enrolled, and refuses fewer seats than them', async () => {
      const edition = await newEdition({ title: 'Race: limit later' });
      for (let i = 0; i < 3; i++) await enrol((await learner()).agent, edition);
      const fields = {
        courseId,
        title: 'Race: limit later',
        language: 'en',
        method: 'open',
        status: 'published',
        online: 'on',
        startsAt: '2026-01-10',
        endsAt: '2099-12-31',
      };
      const tooFew = await postForm(staff, `/enrolment/manage/editions/${edition}`, { ...fields, capacity: '2' }, `/enrolment/manage/editions/${edition}/edit`);
      expect(tooFew.status).to.equal(400);
      expect(tooFew.text).to.contain('3 people are enrolled');
      expect(
        (await postForm(staff, `/enrolment/manage/editions/${edition}`, { ...fields, capacity: '4' }, `/enrolment/manage/editions/${edition}/edit`)).status,
      ).to.equal(303);
      expect(await Seat().countDocuments({ editionId: edition })).to.equal(3);
      const late = [await learner(), await learner()];
      for (const p of late) await enrol(p.agent, edition);
      expect(await Enrolment().countDocuments({ editionId: edition, status: 'enrolled' })).to.equal(4);
      expect(await statusOf(edition, late[1]!.email)).to.equal('waitlisted');
    });

    it('putting an applicant on the waiting list while seats are free gives them a seat at once', async () => {
      const edition = await newEdition({ title: 'Race: waitlist with seats', method: 'application', capacity: '5' });
      const p = await learner();
      await postForm(
        p.agent,
        `/enrolment/editions/${edition}/apply`,
        { motivation: MOTIVATION, organisationType: 'academia', country: 'PE', gender: 'woman' },
        `/enrolment/editions/${edition}`,
      );
      const id = String(((await Enrolment().findOne({ editionId: edition, email: p.email }).lean()) as unknown as { _id: unknown })._id);
      await postForm(staff, `/enrolment/manage/enrolments/${id}/decision`, { decision: 'waitlist' }, `/enrolment/manage/editions/${edition}`);
      expect(await statusOf(edition, p.email)).to.equal('enrolled');
    });

    it('a seat lost between two writes is healed when staff open the edition', async () => {
      const edition = await newEdition({ title: 'Race: heal', capacity: '2' });
      const [a, b] = [await learner(), await learner()];
      await enrol(a.agent, edition);
      const id = String(((await Enrolment().findOne({ editionId: edition, email: a.email }).lean()) as unknown as { _id: unknown })._id);
      await Seat().deleteMany({ enrolmentId: id }); // as if a racing withdrawal had taken it
      await staff.get(`/enrolment/manage/editions/${edition}`).expect(200);
      expect(await Seat().countDocuments({ enrolmentId: id })).to.equal(1);
      await enrol(b.agent, edition);
      await enrol((await learner()).agent, edition);
      expect(await Enrolment().countDocuments({ editionId: edition, status: 'enrolled' })).to.equal(2);
    });
  });

  describe('each person’s enrolments, found by key', () => {
    const Membership = () => t.app.olive.connection.model('enrolment_membership');
    const entriesOf = async (owner: string) =>
      ((await Membership().find({ owner }).lean()) as unknown as { n: number; enrolmentId: string }[]).sort((a, b) => a.n - b.n);

    it('enrolling in ten editions at once lists all ten under the person, numbered without gaps, each once', async () => {
      const editions: string[] = [];
      for (let i = 0; i < 10; i++) editions.push(await newEdition({ title: `Many at once ${i}` }, i % 2 ? courseId : otherCourseId));
      const p = await learner();
      const token = await tokenFor(p.agent, `/enrolment/editions/${editions[0]}`);
      const results = await Promise.all(editions.map((e) => p.agent.post(`/enrolment/editions/${e}/enrol`).type('form').send({ _csrf: token })));
      expect(results.map((r) => r.status)).to.deep.equal(editions.map(() => 303));

      const enrolled = (await Enrolment().find({ email: p.email }).lean()) as unknown as { _id: unknown }[];
      expect(enrolled).to.have.length(10);
      for (const owner of [`u:${p.id}`, `e:${p.email}`]) {
        const entries = await entriesOf(owner);
        expect(
          entries.map((e) => e.n),
          owner,
        ).to.deep.equal(entries.map((_, i) => i + 1));
        expect(new Set(entries.map((e) => e.enrolmentId)), owner).to.deep.equal(new Set(enrolled.map((e) => String(e._id))));
      }
      // Read back as every page reads them: through the list, by key.
      const listed = await createMemberships(Membership() as never, Enrolment() as never).enrolmentsOf({ userId: p.id });
      expect(listed.map((e) => e.editionId).sort()).to.deep.equal([...editions].sort());
    });

    it('skips an entry whose enrolment was never written, and lists the next enrolment after it', async () => {
      const p = await learner();
      const first = await newEdition({ title: 'Dangling: first' });
      await enrol(p.agent, first);
      // What a crash between writing the entry and writing the enrolment leaves behind.
      await Membership().create({
        _id: `u:${p.id}:2`,
        owner: `u:${p.id}`,
        n: 2,
        enrolmentId: '0123456789abcdef01234567',
        editionId: first,
        courseId,
        createdAt: new Date(),
      });
      const second = await newEdition({ title: 'Dangling: second' }, otherCourseId);
      await enrol(p.agent, second);
      expect((await entriesOf(`u:${p.id}`)).map((e) => e.n)).to.deep.equal([1, 2, 3]);
      const page = (await p.agent.get('/enrolment/my').expect(200)).text;
      expect(page).to.contain('Dangling: first').and.to.contain('Dangling: second');
      expect(await statusOf(second, p.email)).to.equal('enrolled');
    });

    it('enrolments made before the lists existed are listed at the next start, and the person finds their course', async () => {
      const p = await learner();
      const edition = await newEdition({ title: 'Before the lists' });
      await enrol(p.agent, edition);
      // As a database from before this change: no entries, no mark that the backfill ran.
      await Membership().deleteMany({ owner: mongoose.trusted({ $in: [`u:${p.id}`, `e:${p.email}`, '~backfilled'] }) });
      expect(await Membership().countDocuments({ owner: mongoose.trusted({ $in: [`u:${p.id}`, `e:${p.email}`, '~backfilled'] }) }), 'removed').to.equal(0);
      const slug = (await t.app.olive.connection.collection('courses_course').findOne({ _id: new mongoose.Types.ObjectId(courseId) }))!.slug as string;
      const module = await t.app.olive.connection.collection('courses_module').findOne({ courseId: new mongoose.Types.ObjectId(courseId) });
      const modulePage = `/courses/${slug}/modules/${String(module!._id)}`;
      await p.agent.get(modulePage).expect(403);

      const memberships = createMemberships(Membership() as never, Enrolment() as never);
      expect(await memberships.backfill()).to.be.at.least(2);
      expect((await entriesOf(`u:${p.id}`)).map((e) => e.n)).to.deep.equal([1]);
      expect((await entriesOf(`e:${p.email}`)).map((e) => e.n)).to.deep.equal([1]);
      await p.agent.get(modulePage).expect(200);
      // Once is enough: a second start finds the mark and does nothing.
      expect(await memberships.backfill()).to.equal(0);
    });
  });

  describe('moving a person to another edition', () => {
    it('keeps their progress, frees their seat for the waiting list, and records the move', async () => {
      const from = await newEdition({ title: 'Spring run', capacity: '1' });
      const to = await newEdition({ title: 'Autumn run' });
      const mover = await learner();
      const waiting = await learner();
      await enrol(mover.agent, from);
      await enrol(waiting.agent, from);
      const { moduleId, items } = await firstModule(mover.agent, 'conflict-analysis');
      await postForm(mover.agent, `/courses/conflict-analysis/items/${items[0]}/done`, {}, `/courses/conflict-analysis/modules/${moduleId}`);
      const moduleBefore = (await mover.agent.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(200)).text;
      const doneBefore = (moduleBefore.match(/badge-done/g) ?? []).length;
      expect(doneBefore).to.be.greaterThan(0);

      const id = String(((await Enrolment().findOne({ editionId: from, email: mover.email }).lean()) as { _id: unknown })._id);
      const res = await postForm(staff, `/enrolment/manage/enrolments/${id}/move`, { toEditionId: to }, `/enrolment/manage/enrolments/${id}`);
      expect(res.status).to.equal(303);
      expect(await statusOf(from, mover.email)).to.equal('withdrawn');
      expect(await statusOf(to, mover.email)).to.equal('enrolled');
      expect(await statusOf(from, waiting.email)).to.equal('enrolled');
      const progress = await t.app.olive.connection.model('courses_item_progress').find({ learnerId: mover.id, editionId: to }).lean();
      expect(progress).to.have.length(1);
      const moduleAfter = (await mover.agent.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(200)).text;
      expect((moduleAfter.match(/badge-done/g) ?? []).length).to.equal(doneBefore);
      expect(recorder.events.filter((x) => x.name === 'enrolment.enrolment.moved' && x.e.editionId === to)).to.have.length(1);
    });

    it('refuses an edition of another course', async () => {
      const from = await newEdition({ title: 'Analysis run' });
      const other = await newEdition({ title: 'Negotiation run 2' }, otherCourseId);
      const p = await learner();
      await enrol(p.agent, from);
      const id = String(((await Enrolment().findOne({ editionId: from, email: p.email }).lean()) as { _id: unknown })._id);
      const res = await postForm(staff, `/enrolment/manage/enrolments/${id}/move`, { toEditionId: other }, `/enrolment/manage/enrolments/${id}`);
      expect(res.status).to.equal(400);
      expect(await statusOf(from, p.email)).to.equal('enrolled');
    });
  });

  describe('who may do what', () => {
    it('learners and trainers cannot use the staff pages or decide on enrolments (403), unknown ids are 404', async () => {
      const edition = await newEdition({ title: 'Guarded run', method: 'application' });
      const { agent } = await learner();
      const trainer = await signIn(t.app, 'trainer@olive.example');
      for (const who of [agent, trainer]) {
        await who.get('/enrolment/manage').expect(403);
        await who.get(`/enrolment/manage/editions/${edition}`).expect(403);
      }
      const victim = await learner();
      await postForm(
        victim.agent,
        `/enrolment/editions/${edition}/apply`,
        { motivation: MOTIVATION, organisationType: 'academia', country: 'FR', gender: 'man' },
        `/enrolment/editions/${edition}`,
      );
      const id = String(((await Enrolment().findOne({ editionId: edition, email: victim.email }).lean()) as { _id: unknown })._id);
      const res = await postForm(agent, `/enrolment/manage/enrolments/${id}/decision`, { decision: 'reject' }, '/enrolment/my');
      expect(res.status).to.equal(403);
      const withdraw = await postForm(agent, `/enrolment/manage/enrolments/${id}/withdraw`, {}, '/enrolment/my');
      expect(withdraw.status).to.equal(403);
      expect(await statusOf(edition, victim.email)).to.equal('pending');
      await staff.get('/enrolment/manage/editions/000000000000000000000000').expect(404);
      await staff.get('/enrolment/manage/editions/not-an-id').expect(404);
      await staff.get('/enrolment/manage/enrolments/%24ne').expect(404);
      await supertest(t.app).get('/enrolment/editions/zzz').expect(404);
    });

    it('an edition’s own trainer sees the course as a preview, nothing recorded', async () => {
      // A guest trainer teaches one edition, not the course: they preview it; other trainers are refused.
      const guest = await t.app.olive.users.create(
        { email: 'guest.trainer@example.org', name: 'Guest Trainer', password: DEMO_PASSWORD, roles: ['trainer'] },
        'test',
      );
      await t.app.olive.users.create({ email: 'other.trainer@example.org', name: 'Other Trainer', password: DEMO_PASSWORD, roles: ['trainer'] }, 'test');
      await newEdition({ title: 'Negotiation with guest trainer', trainerIds: guest.id }, otherCourseId);
      const trainer = await signIn(t.app, 'guest.trainer@example.org');
      const outline = await trainer.get('/courses/interest-based-negotiation').expect(200);
      expect(outline.text).to.contain('Preview');
      const { moduleId, items } = await firstModule(staff, 'interest-based-negotiation');
      await trainer.get(`/courses/interest-based-negotiation/modules/${moduleId}`).expect(200);
      // Marking the module's items done: refused as a preview, and not a record is written.
      const before = await progressRecords(t.app.olive.connection.db!);
      for (const item of items) {
        const done = await postForm(
          trainer,
          `/courses/interest-based-negotiation/items/${item}/done`,
          {},
          `/courses/interest-based-negotiation/modules/${moduleId}`,
        );
        expect(done.status).to.equal(409);
        expect(done.text).to.contain('This is a preview: nothing was recorded.');
      }
      expect(await progressRecords(t.app.olive.connection.db!)).to.deep.equal(before);
      const other = await signIn(t.app, 'other.trainer@example.org');
      await other.get(`/courses/interest-based-negotiation/modules/${moduleId}`).expect(403);
    });

    it('CSRF: an enrolment without the form token is refused and creates nothing', async () => {
      const edition = await newEdition({ title: 'CSRF run' });
      const { agent } = await learner();
      const res = await agent.post(`/enrolment/editions/${edition}/enrol`).type('form').send({});
      expect(res.status).to.equal(403);
      expect(await Enrolment().countDocuments({ editionId: edition })).to.equal(0);
    });
  });
});
