/**
 * My calendar: a learner's dates on the page and in the private iCalendar feed (read back with
 * ical.js), feed addresses that only answer for a valid, current token, and one edition's dates
 * downloaded as .ics. One seeded app; the editions and people are made through the real forms.
 */
import { expect } from 'chai';
import ICAL from 'ical.js';
import supertest from 'supertest';
import { captureLogger, createDemoPasswordUser, createTestApp, postForm, signIn, type TestApp } from '../../../test/helpers/app.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

interface ParsedEvent {
  uid: string;
  summary: string;
  start: string;
  end: string;
  allDay: boolean;
  location: string | null;
  url: string | null;
  description: string | null;
  stamp: string;
}

/** Parses an iCalendar text strictly (ical.js throws on malformed input) and returns its events. */
function parseICalendar(text: string): { name: string; events: ParsedEvent[] } {
  const calendar = new ICAL.Component(ICAL.parse(text));
  expect(calendar.name).to.equal('vcalendar');
  expect(calendar.getFirstPropertyValue('version')).to.equal('2.0');
  expect(String(calendar.getFirstPropertyValue('prodid'))).to.match(/^-\/\/Olive\/\//);
  const events = calendar.getAllSubcomponents('vevent').map((e) => {
    const start = e.getFirstPropertyValue('dtstart') as ICAL.Time;
    const end = e.getFirstPropertyValue('dtend') as ICAL.Time;
    const value = (name: string) => {
      const v = e.getFirstPropertyValue(name);
      return v == null ? null : String(v);
    };
    return {
      uid: value('uid')!,
      summary: value('summary')!,
      start: start.toString(),
      end: end.toString(),
      allDay: start.isDate && end.isDate,
      location: value('location'),
      url: value('url'),
      description: value('description'),
      stamp: value('dtstamp')!,
    };
  });
  return { name: String(calendar.getFirstPropertyValue('x-wr-calname')), events };
}

describe('enrolment: my calendar and iCalendar feeds', function () {
  this.timeout(120_000);
  let t: TestApp;
  const log = captureLogger('info');
  let staff: Agent;
  let amina: Agent;
  let bruno: Agent;
  let courseId: string;
  const editions: Record<string, string> = {};
  const baseUrl = () => t.app.olive.config.BASE_URL;

  async function newEdition(fields: Record<string, unknown>): Promise<string> {
    const res = await postForm(
      staff,
      '/enrolment/manage/editions',
      { courseId, language: 'en', method: 'open', status: 'published', ...fields },
      '/enrolment/manage/editions/new',
    );
    expect(res.status, [...res.text.matchAll(/field-error[^>]*>([^<]*)/g)].map((m) => m[1]).join('; ')).to.equal(303);
    return /editions\/([0-9a-f]{24})/.exec(res.headers.location as string)![1]!;
  }

  const enrol = (agent: Agent, id: string) => postForm(agent, `/enrolment/editions/${id}/enrol`, {}, `/enrolment/editions/${id}`, 303);

  /** Makes a new feed address on the calendar page and returns it as shown there. */
  async function newAddress(agent: Agent): Promise<string> {
    const res = await postForm(agent, '/enrolment/calendar/address', {}, '/enrolment/calendar', 200);
    expect(res.headers['cache-control']).to.contain('no-store');
    const match = /value="(http[^"]+\/enrolment\/calendar\/feed\.ics\?key=[A-Za-z0-9_-]{43})"/.exec(res.text);
    expect(match, 'the new address is shown on the page').to.not.equal(null);
    return match![1]!;
  }

  /** Reads a feed address as a calendar app would: no cookie, no session. */
  const readFeed = (address: string) => supertest(t.app).get(address.slice(baseUrl().length));

  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'calendar', logger: log.logger });
    staff = await signIn(t.app, 'staff@olive.example');
    const Course = t.app.olive.connection.model('courses_course');
    courseId = String(((await Course.findOne({ slug: 'conflict-analysis' }).lean()) as { _id: unknown })._id);
    // The editions' own dates only: the demo course's due dates are left out (plugins/enrolment/test/due-dates.test.ts has them).
    await t.app.olive.connection.model('courses_module').collection.updateMany({}, { $unset: { dueDays: '' } });
    await t.app.olive.connection.model('courses_item').collection.updateMany({}, { $unset: { dueDays: '' } });
    await Course.collection.updateOne({ slug: 'conflict-analysis' }, { $set: { structureStamp: 'calendar-test-without-due-dates' } });
    editions.geneva = await newEdition({ title: 'Geneva seminar 2099', place: 'Geneva, Switzerland', startsAt: '2099-03-01', endsAt: '2099-03-05' });
    editions.online = await newEdition({
      title: 'Online cohort 2099',
      method: 'application',
      online: 'on',
      startsAt: '2099-05-10',
      endsAt: '2099-05-12',
      enrolmentDeadline: '2099-04-01',
    });
    editions.others = await newEdition({ title: 'Nairobi workshop 2099', place: 'Nairobi, Kenya', startsAt: '2099-06-01', endsAt: '2099-06-02' });
    editions.left = await newEdition({ title: 'Left edition 2099', place: 'Vienna', startsAt: '2099-07-01', endsAt: '2099-07-01' });
    editions.draft = await newEdition({ title: 'Draft edition 2099', status: 'draft', online: 'on', startsAt: '2099-08-01', endsAt: '2099-08-02' });
    await createDemoPasswordUser(t.app, { email: 'amina.calendar@example.org', name: 'Amina Calendar' });
    await createDemoPasswordUser(t.app, { email: 'bruno.calendar@example.org', name: 'Bruno Calendar', locale: 'fr' });
    amina = await signIn(t.app, 'amina.calendar@example.org');
    bruno = await signIn(t.app, 'bruno.calendar@example.org');
    // Amina: enrolled in Geneva, applied to the online cohort, left Vienna. Bruno: enrolled in Nairobi.
    await enrol(amina, editions.geneva);
    await postForm(
      amina,
      `/enrolment/editions/${editions.online}/apply`,
      {
        motivation: 'I mediate local land disputes and want to design mediation processes with the parties.',
        organisationType: 'government',
        country: 'KE',
        gender: 'woman',
      },
      `/enrolment/editions/${editions.online}`,
      303,
    );
    await enrol(amina, editions.left);
    await postForm(amina, `/enrolment/editions/${editions.left}/withdraw`, {}, `/enrolment/editions/${editions.left}/withdraw`, 303);
    await enrol(bruno, editions.others);
  });
  after(() => t.stop());

  it('the page lists the learner’s dates: editions enrolled in and applied to, with the deadline of the application', async () => {
    const my = await amina.get('/enrolment/my').expect(200);
    expect(my.text).to.contain('<a href="/enrolment/calendar">My calendar</a>');
    expect((await amina.get('/').expect(200)).text, 'the home page panel links to it').to.contain('<a href="/enrolment/calendar">My calendar</a>');
    const page = (await amina.get('/enrolment/calendar').expect(200)).text;
    expect(page).to.contain('<h1>My calendar</h1>');
    const upcoming = page.slice(page.indexOf('id="calendar-upcoming"'), page.indexOf('id="calendar-subscribe"'));
    const items = [...upcoming.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) =>
      m[1]!
        .replace(/<[^>]+>/g, '')
        .replace(/\s+/g, ' ')
        .trim(),
    );
    expect(items).to.deep.equal([
      '1 March 2099 – 5 March 2099 Edition Geneva seminar 2099 · Geneva, Switzerland',
      '1 April 2099 Deadline Enrolment deadline: Online cohort 2099',
      '10 May 2099 – 12 May 2099 Edition Online cohort 2099',
    ]);
    expect(upcoming).to.contain(`href="/enrolment/editions/${editions.geneva}"`);
    for (const absent of ['Nairobi', 'Left edition', 'Draft edition']) expect(page).to.not.contain(absent);
    // No address yet: the page offers to make one.
    expect(page).to.contain('You have no calendar address yet.');
    expect(page).to.contain('Make my calendar address');
  });

  it('the feed parses as iCalendar and holds the person’s dates only: all-day events with UID, DTSTAMP, LOCATION and URL', async () => {
    const address = await newAddress(amina);
    const res = await readFeed(address).expect(200);
    expect(res.headers['content-type']).to.match(/^text\/calendar; charset=utf-8/);
    expect(res.headers['cache-control']).to.equal('private, no-store');
    expect(res.headers['set-cookie'], 'no session is made for a calendar app').to.equal(undefined);
    const { name, events } = parseICalendar(res.text);
    expect(name).to.equal('My learning calendar');
    const host = new URL(baseUrl()).hostname;
    expect(events.map((e) => [e.uid, e.summary, e.start, e.end, e.allDay])).to.deep.equal([
      [`edition-${editions.geneva}@${host}`, 'Geneva seminar 2099', '2099-03-01', '2099-03-06', true],
      [`deadline-${editions.online}@${host}`, 'Enrolment deadline: Online cohort 2099', '2099-04-01', '2099-04-02', true],
      [`edition-${editions.online}@${host}`, 'Online cohort 2099', '2099-05-10', '2099-05-13', true],
    ]);
    const geneva = events[0]!;
    expect(geneva.location).to.equal('Geneva, Switzerland');
    expect(geneva.url).to.equal(`${baseUrl()}/enrolment/editions/${editions.geneva}`);
    expect(geneva.description).to.contain('Your place: Enrolled');
    expect(geneva.stamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(events[2]!.location, 'online only: no place').to.equal(null);
    expect(events[2]!.description).to.contain('Your place: Application under review');
    // The request log names the route, never the token.
    const token = new URL(address).searchParams.get('key')!;
    expect(JSON.stringify(log.lines)).to.contain('/enrolment/calendar/feed.ics');
    expect(JSON.stringify(log.lines)).to.not.contain(token);
  });

  it('the page says an address exists without showing it again; a new address revokes the old one', async () => {
    const first = await newAddress(amina);
    await readFeed(first).expect(200);
    const page = (await amina.get('/enrolment/calendar').expect(200)).text;
    expect(page).to.contain('You made a private calendar address on');
    expect(page).to.not.contain('feed.ics?key=');
    expect(page).to.contain('Make a new address');
    const second = await newAddress(amina);
    expect(second).to.not.equal(first);
    await readFeed(first).expect(404);
    const res = await readFeed(second).expect(200);
    expect(parseICalendar(res.text).events).to.have.length(3);
  });

  it('a wrong, malformed or missing token gets 404', async () => {
    await supertest(t.app)
      .get(`/enrolment/calendar/feed.ics?key=${'A'.repeat(43)}`)
      .expect(404);
    await supertest(t.app).get('/enrolment/calendar/feed.ics?key=not-a-token').expect(404);
    await supertest(t.app).get('/enrolment/calendar/feed.ics').expect(404);
    await supertest(t.app).get('/enrolment/calendar/feed.ics?key[$ne]=x').expect(404);
  });

  it('another person’s address shows only their dates, in their own language', async () => {
    const res = await readFeed(await newAddress(bruno)).expect(200);
    const { name, events } = parseICalendar(res.text);
    expect(name).to.equal('Mon calendrier de formation');
    expect(events.map((e) => e.summary)).to.deep.equal(['Nairobi workshop 2099']);
    expect(events[0]!.description).to.contain('Votre place : Inscrit');
    expect(res.text).to.not.contain('Geneva');
    expect(res.text).to.not.contain('Online cohort');
  });

  it('the address of an account that was deactivated gets 404', async () => {
    await createDemoPasswordUser(t.app, { email: 'carla.calendar@example.org', name: 'Carla Calendar' });
    const carla = await signIn(t.app, 'carla.calendar@example.org');
    await enrol(carla, editions.geneva!);
    const address = await newAddress(carla);
    await readFeed(address).expect(200);
    const carlaId = String(((await t.app.olive.connection.collection('host_users').findOne({ email: 'carla.calendar@example.org' })) as { _id: unknown })._id);
    const admin = await signIn(t.app, 'admin@olive.example');
    await postForm(admin, `/admin/users/${carlaId}/deactivate`, {}, `/admin/users/${carlaId}`, 303);
    await readFeed(address).expect(404);
  });

  it('an edition’s dates download as .ics from its page, with its days, deadline and place', async () => {
    const visitor = supertest(t.app);
    const page = (await visitor.get(`/enrolment/editions/${editions.online}`).expect(200)).text;
    expect(page).to.contain(`<a href="/enrolment/editions/${editions.online}/calendar.ics">Add these dates to your calendar (.ics file)</a>`);
    const res = await visitor.get(`/enrolment/editions/${editions.online}/calendar.ics`).expect(200);
    expect(res.headers['content-type']).to.match(/^text\/calendar; charset=utf-8/);
    expect(res.headers['content-disposition']).to.equal('attachment; filename="Online cohort 2099.ics"');
    const { events } = parseICalendar(res.text);
    expect(events.map((e) => [e.summary, e.start, e.end])).to.deep.equal([
      ['Online cohort 2099', '2099-05-10', '2099-05-13'],
      ['Enrolment deadline: Online cohort 2099', '2099-04-01', '2099-04-02'],
    ]);
    const geneva = parseICalendar((await visitor.get(`/enrolment/editions/${editions.geneva}/calendar.ics`).expect(200)).text).events;
    expect(geneva.map((e) => [e.summary, e.start, e.end, e.location])).to.deep.equal([
      ['Geneva seminar 2099', '2099-03-01', '2099-03-06', 'Geneva, Switzerland'],
    ]);
    // A draft edition does not exist for learners, nor does an id of no edition.
    await visitor.get(`/enrolment/editions/${editions.draft}/calendar.ics`).expect(404);
    await visitor.get('/enrolment/editions/0123456789abcdef01234567/calendar.ics').expect(404);
  });
});
