/**
 * An edition's dates and its material (issue #17, "Dates"): the material opens on the start date,
 * or earlier when staff open it for pre-reading; a self-paced edition is always open; an archived
 * (closed) edition stays readable for its participants, and nothing more is recorded in it.
 */
import { expect } from 'chai';
import { createDemoPasswordUser, createTestApp, postForm, signIn, type TestApp } from '../../../test/helpers/app.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;
const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const SLUG = 'conflict-analysis';

describe('edition dates and the material', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Agent;
  let courseId: string;
  /** The course's module and item ids, as staff's preview shows them. */
  let moduleId: string;
  let itemId: string;
  let quizId: string;
  let fileId: string;

  const fields = (extra: Record<string, unknown>) => ({
    courseId,
    title: 'Dated edition',
    language: 'en',
    method: 'open',
    status: 'published',
    online: 'on',
    startsAt: day(90),
    endsAt: day(120),
    ...extra,
  });
  async function newEdition(extra: Record<string, unknown>): Promise<string> {
    const res = await postForm(staff, '/enrolment/manage/editions', fields(extra), '/enrolment/manage/editions/new');
    expect(res.status, res.text.slice(0, 2000)).to.equal(303);
    return /editions\/([0-9a-f]{24})/.exec(res.headers.location as string)![1]!;
  }
  const editEdition = (id: string, extra: Record<string, unknown>) =>
    postForm(staff, `/enrolment/manage/editions/${id}`, fields(extra), `/enrolment/manage/editions/${id}/edit`);

  let people = 0;
  async function enrolled(editionId: string): Promise<Agent> {
    const email = `dates${++people}@example.org`;
    await createDemoPasswordUser(t.app, { email, name: `Dates ${people}` });
    const agent = await signIn(t.app, email);
    const res = await postForm(agent, `/enrolment/editions/${editionId}/enrol`, {}, `/enrolment/editions/${editionId}`);
    expect(res.status).to.equal(303);
    return agent;
  }

  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'dates' });
    staff = await signIn(t.app, 'staff@olive.example');
    const course = (await t.app.olive.connection.model('courses_course').findOne({ slug: SLUG }).lean()) as unknown as { _id: unknown };
    courseId = String(course._id);
    const outline = (await staff.get(`/courses/${SLUG}`).expect(200)).text;
    const modules = [...outline.matchAll(new RegExp(`/courses/${SLUG}/modules/([a-f0-9]{24})`, 'g'))].map((m) => m[1]!);
    moduleId = modules[0]!;
    for (const id of modules) {
      const page = (await staff.get(`/courses/${SLUG}/modules/${id}`).expect(200)).text;
      if (id === moduleId) {
        itemId = /<form method="post" action="\/courses\/[^/]+\/items\/([a-f0-9]{24})\/done"/.exec(page)?.[1] ?? /id="item-([a-f0-9]{24})"/.exec(page)![1]!;
        fileId = /\/items\/([a-f0-9]{24})\/file/.exec(page)![1]!;
      }
      quizId ??= /\/items\/([a-f0-9]{24})\/quiz/.exec(page)?.[1] as string;
    }
    expect(quizId, 'the course has a quiz').to.be.a('string');
  });
  after(() => t.stop());

  it('before the start, the outline says when the material opens and its pages refuse with that date', async () => {
    const edition = await newEdition({ title: 'Starts in three months' });
    const agent = await enrolled(edition);
    const opens = new Date(`${day(90)}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
    const outline = (await agent.get(`/courses/${SLUG}`).expect(200)).text;
    expect(outline).to.contain(`The material of this course opens on ${opens}.`);
    expect(outline, 'no module links before the start').not.to.contain(`/courses/${SLUG}/modules/`);
    const module = await agent.get(`/courses/${SLUG}/modules/${moduleId}`).expect(403);
    expect(module.text).to.contain(`opens on ${opens}`);
    await agent.get(`/courses/${SLUG}/items/${fileId}/file`).expect(403);
    await agent.get(`/courses/${SLUG}/items/${quizId}/quiz`).expect(403);
    const done = await postForm(agent, `/courses/${SLUG}/items/${itemId}/done`, {}, `/courses/${SLUG}`);
    expect(done.status).to.equal(403);
    expect(await t.app.olive.connection.collection('courses_item_progress').countDocuments({ editionId: edition })).to.equal(0);
  });

  it('staff open the material early for pre-reading: learners read and record from that day', async () => {
    const edition = await newEdition({ title: 'Pre-reading edition' });
    const agent = await enrolled(edition);
    await agent.get(`/courses/${SLUG}/modules/${moduleId}`).expect(403);

    // An early opening after the start is refused with a message, and changes nothing.
    const late = await editEdition(edition, { title: 'Pre-reading edition', materialOpensAt: day(100) });
    expect(late.status).to.equal(400);
    expect(late.text).to.contain('The early opening must be on or before the start date.');
    await agent.get(`/courses/${SLUG}/modules/${moduleId}`).expect(403);

    const form = (await staff.get(`/enrolment/manage/editions/${edition}/edit`).expect(200)).text;
    expect(form).to.contain('Open the material early from');
    const saved = await editEdition(edition, { title: 'Pre-reading edition', materialOpensAt: day(-1) });
    expect(saved.status).to.equal(303);
    expect((await staff.get(`/enrolment/manage/editions/${edition}/edit`).expect(200)).text).to.contain(`value="${day(-1)}"`);
    const page = (await agent.get(`/courses/${SLUG}/modules/${moduleId}`).expect(200)).text;
    expect(page).to.contain(`/items/${itemId}/done`);
    const done = await postForm(agent, `/courses/${SLUG}/items/${itemId}/done`, {}, `/courses/${SLUG}/modules/${moduleId}`);
    expect(done.status).to.equal(303);
  });

  it('a self-paced edition has no start lock', async () => {
    const edition = await newEdition({ title: 'Self-paced', selfPaced: 'on', startsAt: '', endsAt: '' });
    const agent = await enrolled(edition);
    const outline = (await agent.get(`/courses/${SLUG}`).expect(200)).text;
    expect(outline).not.to.contain('opens on');
    await agent.get(`/courses/${SLUG}/modules/${moduleId}`).expect(200);
  });

  it('a closed (archived) edition stays readable for its participants; nothing more is recorded', async () => {
    const edition = await newEdition({ title: 'Past edition', startsAt: day(-60), endsAt: day(1) });
    const agent = await enrolled(edition);
    await postForm(agent, `/courses/${SLUG}/items/${fileId}/done`, {}, `/courses/${SLUG}/modules/${moduleId}`).then((r) => expect(r.status).to.equal(303));
    expect((await editEdition(edition, { title: 'Past edition', startsAt: day(-60), endsAt: day(-30), status: 'archived' })).status).to.equal(303);
    const before = await t.app.olive.connection.collection('courses_item_progress').countDocuments({ editionId: edition });

    const outline = (await agent.get(`/courses/${SLUG}`).expect(200)).text;
    expect(outline).to.contain('This edition is closed.');
    const page = (await agent.get(`/courses/${SLUG}/modules/${moduleId}`).expect(200)).text;
    expect(page).to.contain('This edition is closed.');
    expect(page, 'no "mark as done" buttons').not.to.contain('/done"');
    await agent.get(`/courses/${SLUG}/items/${fileId}/file`).expect(200);
    const quiz = (await agent.get(`/courses/${SLUG}/items/${quizId}/quiz`).expect(200)).text;
    expect(quiz).not.to.contain(`action="/courses/${SLUG}/items/${quizId}/quiz"`);

    const done = await postForm(agent, `/courses/${SLUG}/items/${itemId}/done`, {}, `/courses/${SLUG}/modules/${moduleId}`);
    expect(done.status).to.equal(409);
    const attempt = await postForm(agent, `/courses/${SLUG}/items/${quizId}/quiz`, {}, `/courses/${SLUG}/modules/${moduleId}`);
    expect(attempt.status).to.equal(409);
    expect(await t.app.olive.connection.collection('courses_item_progress').countDocuments({ editionId: edition })).to.equal(before);
    expect(await t.app.olive.connection.collection('courses_quiz_attempt').countDocuments({ editionId: edition })).to.equal(0);
  });
});
