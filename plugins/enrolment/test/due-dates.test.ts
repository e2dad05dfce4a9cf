/**
 * Due dates with editions (issue #17): in a self-paced edition they count from the day the person
 * was enrolled, in a dated one from its first day; the roster counts each person's (on time,
 * late, overdue, to come) and lists them for staff; My calendar and its feed show them.
 */
import { expect } from 'chai';
import { parse as parseCsv } from 'csv-parse/sync';
import supertest from 'supertest';
import { captureLogger, createDemoPasswordUser, createTestApp, postForm, signIn, type TestApp } from '../../../test/helpers/app.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

const DAY = 24 * 60 * 60 * 1000;
const longDay = (d: Date) => new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(d);
const today = () => new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));

describe('enrolment: due dates of modules and quizzes', function () {
  this.timeout(120_000);
  let t: TestApp;
  const log = captureLogger('error');
  let staff: Agent;
  let early: Agent;
  let fresh: Agent;
  let dated: Agent;
  const modules: string[] = [];
  const lessons: string[] = [];
  let selfPaced = '';
  let seminar = '';

  const newEdition = async (fields: Record<string, unknown>, courseId: string) => {
    const res = await postForm(
      staff,
      '/enrolment/manage/editions',
      { courseId, language: 'en', method: 'open', status: 'published', online: 'on', ...fields },
      '/enrolment/manage/editions/new',
    );
    expect(res.status, res.text.slice(0, 2000)).to.equal(303);
    return /editions\/([0-9a-f]{24})/.exec(res.headers.location as string)![1]!;
  };
  const enrol = (agent: Agent, id: string) => postForm(agent, `/enrolment/editions/${id}/enrol`, {}, `/enrolment/editions/${id}`, 303);

  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'due-enrolment', logger: log.logger });
    staff = await signIn(t.app, 'staff@olive.example');
    await postForm(staff, '/courses/manage', { slug: 'due-roster', languages: 'en', title_en: 'Due roster course', hours: '2' }, '/courses/manage', 303);
    for (const [n, days] of [
      [1, '0'],
      [2, '30'],
    ] as const) {
      const res = await postForm(staff, '/courses/manage/due-roster/modules', { title: `Unit ${n}`, required: 'on' }, '/courses/manage', 303);
      const url = res.headers.location as string;
      modules.push(url.split('/').pop()!);
      await postForm(staff, `${url}/items`, { type: 'lesson', title: `Reading ${n}`, body: `Text ${n}.` }, '/courses/manage', 303);
      await postForm(staff, url, { title_en: `Unit ${n}`, required: 'on', dueDays: days }, '/courses/manage', 303);
    }
    await postForm(staff, '/courses/manage/due-roster/status', { status: 'published' }, '/courses/manage', 303);
    const Course = t.app.olive.connection.model('courses_course');
    const courseId = String(((await Course.findOne({ slug: 'due-roster' }).lean()) as { _id: unknown })._id);
    selfPaced = await newEdition({ title: 'Due roster, self-paced', selfPaced: 'on' }, courseId);
    seminar = await newEdition({ title: 'Due roster seminar 2099', startsAt: '2099-03-01', endsAt: '2099-03-05', materialOpensAt: '' }, courseId);

    for (const [email, name] of [
      ['early.due@example.org', 'Early Due'],
      ['fresh.due@example.org', 'Fresh Due'],
      ['dated.due@example.org', 'Dated Due'],
    ] as const)
      await createDemoPasswordUser(t.app, { email, name });
    early = await signIn(t.app, 'early.due@example.org');
    fresh = await signIn(t.app, 'fresh.due@example.org');
    dated = await signIn(t.app, 'dated.due@example.org');
    await enrol(early, selfPaced);
    await enrol(fresh, selfPaced);
    await enrol(dated, seminar);
    // Early was enrolled 40 days ago: both units are past their day.
    const Enrolment = t.app.olive.connection.model('enrolment_enrolment');
    const mine = (await Enrolment.find({ editionId: selfPaced, email: 'early.due@example.org' }).lean()) as unknown as {
      _id: unknown;
      history: { at: Date }[];
    }[];
    const past = new Date(Date.now() - 40 * DAY);
    await Enrolment.collection.updateOne(
      { _id: mine[0]!._id as never },
      { $set: { createdAt: past, history: mine[0]!.history.map((h) => ({ ...h, at: past })) } },
    );
    for (const m of modules) {
      const page = (await fresh.get(`/courses/due-roster/modules/${m}`).expect(200)).text;
      lessons.push(/id="item-([a-f0-9]{24})"/.exec(page)![1]!);
    }
    // Early does unit 1 now: 40 days after its day.
    await postForm(early, `/courses/due-roster/items/${lessons[0]}/done`, {}, `/courses/due-roster/modules/${modules[0]}`, 303);
  });
  after(() => t.stop());

  it('counts a self-paced edition’s due dates from the day each person was enrolled', async () => {
    const freshPage = (await fresh.get('/courses/due-roster').expect(200)).text;
    expect(freshPage).to.contain(`Due ${longDay(today())}`);
    expect(freshPage).to.contain('due today');
    expect(freshPage).to.contain('due in 30 days');
    const earlyPage = (await early.get('/courses/due-roster').expect(200)).text;
    expect(earlyPage).to.contain('done late');
    expect(earlyPage).to.contain('overdue');
    expect(earlyPage).to.contain(`Due ${longDay(new Date(today().getTime() - 10 * DAY))}`);
  });

  it('counts a dated edition’s from its first day', async () => {
    // The material opens on 1 March 2099; the outline already says when things are due.
    const page = (await dated.get('/courses/due-roster').expect(200)).text;
    expect(page).to.contain('Due 1 March 2099');
    expect(page).to.contain('Due 31 March 2099');
  });

  it('shows each person’s count in the roster, and staff the items behind it', async () => {
    const rosterAnswer = await staff.get(`/enrolment/manage/editions/${selfPaced}/roster`);
    expect(rosterAnswer.status, JSON.stringify(log.lines).slice(0, 3000)).to.equal(200);
    const roster = rosterAnswer.text;
    expect(roster).to.contain('<th scope="col">Due dates</th>');
    expect(roster).to.match(/>1 overdue and 1 late<\/a>|>1 overdue, 1 late<\/a>|>1 late and 1 overdue<\/a>/);
    expect(roster).to.match(/>1 to come and 1 due today<\/a>/);
    const link = /href="due\/([0-9a-f]{24})">[^<]*late/.exec(roster)!;
    const answer = await staff.get(`/enrolment/manage/editions/${selfPaced}/due/${link[1]}`);
    expect(answer.status, answer.text.slice(0, 3000)).to.equal(200);
    const detail = answer.text;
    expect(detail).to.contain('Early Due');
    expect(detail).to.contain('Unit 1');
    expect(detail).to.contain('done late');
    expect(detail).to.contain('overdue');
    expect(detail).to.contain('counted from the enrolment');
    // Learners do not see others' due dates.
    await early.get(`/enrolment/manage/editions/${selfPaced}/due/${link[1]}`).expect(403);
    await staff.get(`/enrolment/manage/editions/${seminar}/due/${link[1]}`).expect(404);
  });

  it('puts each person’s counts in the roster’s CSV, one column per state, as numbers', async () => {
    const csv = (await staff.get(`/enrolment/manage/editions/${selfPaced}/roster.csv`).expect(200)).text;
    const [header, ...rows] = parseCsv(csv.replace(/^\uFEFF/, '')) as string[][];
    expect(header!.slice(-5)).to.deep.equal(['Due dates to come', 'Due today', 'Overdue', 'Done on time', 'Done late']);
    const of = (name: string) => Object.fromEntries(header!.map((h, i) => [h, rows.find((r) => r[0] === name)![i]]));
    expect(of('Early Due')).to.include({ 'Due dates to come': '0', 'Due today': '0', Overdue: '1', 'Done on time': '0', 'Done late': '1' });
    expect(of('Fresh Due')).to.include({ 'Due dates to come': '1', 'Due today': '1', Overdue: '0' });
  });

  it('gives the demo learner one due date done on time, one overdue and one to come (self-paced, enrolled 10 days ago)', async () => {
    const learner = await signIn(t.app, 'learner@olive.example');
    const page = (await learner.get('/courses/conflict-analysis').expect(200)).text;
    expect(page).to.contain('done on time');
    expect(page).to.contain('overdue');
    expect(page).to.contain('due in 11 days');
  });

  it('puts the due dates in My calendar and in its feed', async () => {
    const page = (await dated.get('/enrolment/calendar').expect(200)).text;
    expect(page).to.contain('Due: Unit 2 (Due roster course)');
    const res = await postForm(dated, '/enrolment/calendar/address', {}, '/enrolment/calendar', 200);
    const address = /value="(http[^"]+\/enrolment\/calendar\/feed\.ics\?key=[A-Za-z0-9_-]{43})"/.exec(res.text)![1]!;
    const feed = (await supertest(t.app).get(address.slice(t.app.olive.config.BASE_URL.length)).expect(200)).text;
    const unfolded = feed.replace(/\r\n[ \t]/g, '');
    expect(unfolded).to.contain('SUMMARY:Due: Unit 2 (Due roster course)');
    expect(unfolded).to.match(/DTSTART;VALUE=DATE:20990331/);
    expect(unfolded).to.match(/DTSTART;VALUE=DATE:20990301/);
  });
});
