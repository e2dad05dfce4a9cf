/**
 * What people are told by e-mail about their enrolments, read from the real mail server the
 * messages went through (Mailpit): the right person, in their language, with the staff message
 * and a link to the site, once, whatever is clicked twice or races.
 */
import { expect } from 'chai';
import { createDemoPasswordUser, createTestApp, signIn, tokenFor, type TestApp, postForm } from '../../../test/helpers/app.ts';
import { inbox, linkIn, mailTestEnv, type DeliveredMail } from '../../../test/helpers/mail.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';
import { postEdition } from './import-pages.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

const BASE_URL = 'http://learn.example.org';
const MOTIVATION = 'I mediate local land disputes in my district and want to learn how to design a mediation process.';
const PROFILE = { organisation: 'Ministry of Foreign Affairs', organisationType: 'government', country: 'KE', gender: 'woman' };

/** A calendar day `days` from today, as the edition form takes it. */
const dayFromNow = (days: number) => new Date(Date.now() + days * 24 * 3600_000).toISOString().slice(0, 10);

describe('enrolment: e-mail to the people concerned', function () {
  this.timeout(180_000);
  let t: TestApp;
  let staff: Agent;
  let courseId: string;
  let mailbox: ReturnType<typeof inbox>;

  before(async () => {
    const env = mailTestEnv({ BASE_URL });
    mailbox = inbox(env.MAIL_FROM);
    t = await createTestApp({
      plugins: [courses, enrolment],
      seed: true,
      label: 'enrol_mail',
      env,
      // The reminder job looks every 0.6 s here (hourly by default), so that the test sees several runs.
      pluginConfig: { enrolment: { reminderCheckMinutes: 0.01 } },
    });
    staff = await signIn(t.app, 'staff@olive.example');
    const Course = t.app.olive.connection.model('courses_course');
    courseId = String(((await Course.findOne({ slug: 'conflict-analysis' }).lean()) as { _id: unknown })._id);
  });
  after(() => t.stop());

  function newEdition(fields: Record<string, unknown>): Promise<string> {
    return postEdition(staff, {
      courseId,
      title: 'Mail edition',
      language: 'en',
      method: 'application',
      status: 'published',
      place: 'Addis Ababa',
      startsAt: '2026-01-10',
      endsAt: '2099-12-31',
      ...fields,
    });
  }

  let people = 0;
  async function learner(options: { locale?: string; name?: string } = {}) {
    const n = ++people;
    const email = `mail-person${n}@example.org`;
    const name = options.name ?? `Person ${n}`;
    const user = await createDemoPasswordUser(t.app, { email, name, ...(options.locale ? { locale: options.locale } : {}) });
    return { agent: await signIn(t.app, email), email, name, id: user.id };
  }

  const Enrolment = () => t.app.olive.connection.model('enrolment_enrolment');
  const idOf = async (editionId: string, email: string) => String(((await Enrolment().findOne({ editionId, email }).lean()) as { _id: unknown })._id);
  const apply = (agent: Agent, editionId: string) =>
    postForm(agent, `/enrolment/editions/${editionId}/apply`, { motivation: MOTIVATION, ...PROFILE }, `/enrolment/editions/${editionId}`);
  const decide = async (editionId: string, email: string, decision: string, message = '') => {
    const id = await idOf(editionId, email);
    return postForm(staff, `/enrolment/manage/enrolments/${id}/decision`, { decision, message }, `/enrolment/manage/enrolments/${id}`);
  };

  /**
   * Waits until the reminder job has finished `runs` more runs than it had now (so at least
   * `runs - 1` of them began after this call).
   */
  async function reminderRuns(runs: number) {
    const done = () => t.app.olive.connection.collection('host_jobs').countDocuments({ queue: 'enrolment.reminders', state: 'done' });
    const target = (await done()) + runs;
    for (const until = Date.now() + 30_000; (await done()) < target; await new Promise((r) => setTimeout(r, 50)))
      if (Date.now() > until) throw new Error(`the reminder job did not run ${runs} more times within 30 s`);
  }

  /** Every message recorded so far has been handed to the mail server (delivered or given up). */
  const delivered = () => t.app.olive.jobs.idle(['host.mail'], 30_000);
  const to = (email: string, subject?: RegExp) => (m: DeliveredMail) => m.To.some((x) => x.Address === email) && (!subject || subject.test(m.Subject));
  /** The messages this person got (after everything recorded was delivered). */
  async function mailOf(email: string): Promise<DeliveredMail[]> {
    await delivered();
    return mailbox.to(email);
  }

  it('an application is acknowledged once (double click), then accepted with the staff message, in the person’s language', async () => {
    const edition = await newEdition({ title: 'Atelier de médiation, Dakar', language: 'fr' });
    const amina = await learner({ locale: 'fr', name: 'Amina Diallo' });
    const [a, b] = await Promise.all([apply(amina.agent, edition), apply(amina.agent, edition)]);
    expect([a.status, b.status]).to.include(303);

    const [received] = await mailbox.waitFor(to(amina.email, /Candidature reçue/));
    expect(received!.Subject).to.equal('Candidature reçue : Atelier de médiation, Dakar');
    const text = (await mailbox.read(received!.ID)).Text;
    expect(text).to.contain('Amina Diallo');
    expect(linkIn(text, `${BASE_URL}/`)).to.equal(`${BASE_URL}/enrolment/editions/${edition}`);

    // Two staff members accepting at once: one decision, one message.
    const message = 'Bienvenue ! Merci d’apporter une pièce d’identité le premier jour.';
    const decisions = await Promise.all([decide(edition, amina.email, 'accept', message), decide(edition, amina.email, 'accept', message)]);
    expect(decisions.map((r) => r.status)).to.include(303);
    const [accepted] = await mailbox.waitFor(to(amina.email, /acceptée/));
    expect(accepted!.Subject).to.equal('Candidature acceptée : Atelier de médiation, Dakar');
    const detail = await mailbox.read(accepted!.ID);
    expect(detail.Text).to.contain(message);
    expect(detail.HTML).to.contain(`href="${BASE_URL}/enrolment/editions/${edition}"`);

    const all = await mailOf(amina.email);
    expect(all.map((m) => m.Subject).sort()).to.deep.equal([
      'Candidature acceptée : Atelier de médiation, Dakar',
      'Candidature reçue : Atelier de médiation, Dakar',
    ]);
  });

  it('waiting list, rejection and a seat that frees: each person is told, with the staff message', async () => {
    const edition = await newEdition({ title: 'Mediation seminar, Nairobi', capacity: '1' });
    const [first, second, third, fourth] = [await learner(), await learner(), await learner(), await learner()];
    for (const p of [first, second, third, fourth]) expect((await apply(p.agent, edition)).status).to.equal(303);

    expect((await decide(edition, first.email, 'accept')).status).to.equal(303);
    // The only seat is taken: accepting the second puts them on the waiting list, in one message.
    expect((await decide(edition, second.email, 'accept')).status).to.equal(303);
    expect((await decide(edition, third.email, 'waitlist', 'You are first in line should a seat free up.')).status).to.equal(303);
    expect((await decide(edition, fourth.email, 'reject', 'We received many strong applications this year.')).status).to.equal(303);

    const [acceptedWaiting] = await mailbox.waitFor(to(second.email, /accepted/));
    expect(acceptedWaiting!.Subject).to.equal('You are accepted, on the waiting list: Mediation seminar, Nairobi');
    const [waiting] = await mailbox.waitFor(to(third.email, /waiting list/));
    expect(waiting!.Subject).to.equal('You are on the waiting list: Mediation seminar, Nairobi');
    expect((await mailbox.read(waiting!.ID)).Text).to.contain('You are first in line should a seat free up.');
    const [rejected] = await mailbox.waitFor(to(fourth.email, /Your application/));
    expect(rejected!.Subject).to.equal('Your application: Mediation seminar, Nairobi');
    const rejectedText = (await mailbox.read(rejected!.ID)).Text;
    expect(rejectedText).to.contain('We received many strong applications this year.');
    expect(rejectedText).to.contain(`${BASE_URL}/enrolment/my`);

    // The seated person withdraws: the first waiting gets the seat and is told so.
    expect((await postForm(first.agent, `/enrolment/editions/${edition}/withdraw`, {}, `/enrolment/editions/${edition}/withdraw`)).status).to.equal(303);
    const [promoted] = await mailbox.waitFor(to(second.email, /A place for you/));
    expect(promoted!.Subject).to.equal('A place for you: Mediation seminar, Nairobi');

    expect((await mailOf(second.email)).map((m) => m.Subject).sort()).to.deep.equal([
      'A place for you: Mediation seminar, Nairobi',
      'Application received: Mediation seminar, Nairobi',
      'You are accepted, on the waiting list: Mediation seminar, Nairobi',
    ]);
    // A rejection says one thing once; the third is still waiting and was told nothing more.
    expect((await mailOf(fourth.email)).map((m) => m.Subject).sort()).to.deep.equal([
      'Application received: Mediation seminar, Nairobi',
      'Your application: Mediation seminar, Nairobi',
    ]);
    expect(await mailOf(third.email)).to.have.length(2);
  });

  it('a person moved to another edition is told where they are now', async () => {
    const from = await newEdition({ title: 'Negotiation, spring run', method: 'open' });
    const target = await newEdition({ title: 'Negotiation, autumn run', method: 'open' });
    const p = await learner();
    expect((await postForm(p.agent, `/enrolment/editions/${from}/enrol`, {}, `/enrolment/editions/${from}`)).status).to.equal(303);
    // Open enrolment: the person saw it happen on screen, nothing is mailed.
    const id = await idOf(from, p.email);
    const moved = await postForm(staff, `/enrolment/manage/enrolments/${id}/move`, { toEditionId: target }, `/enrolment/manage/enrolments/${id}`);
    expect(moved.status).to.equal(303);
    const [mail] = await mailbox.waitFor(to(p.email, /moved/));
    expect(mail!.Subject).to.equal('You have moved to Negotiation, autumn run');
    const text = (await mailbox.read(mail!.ID)).Text;
    expect(text).to.contain('from “Negotiation, spring run” to “Negotiation, autumn run”');
    expect(text).to.contain(`${BASE_URL}/enrolment/editions/${target}`);
    expect(await mailOf(p.email)).to.have.length(1);
  });

  describe('invitations when staff add people', () => {
    let edition: string;
    before(async () => {
      edition = await newEdition({ title: 'Fellowship 2027, Holmenkollen', method: 'invitation' });
    });
    const add = (email: string, invite: boolean) =>
      postForm(staff, `/enrolment/manage/editions/${edition}/people`, { email, ...(invite ? { invite: 'on' } : {}) }, `/enrolment/manage/editions/${edition}`);

    it('someone without an account gets one invitation naming the edition, however often the form is sent', async () => {
      const email = 'new.fellow@example.org';
      const responses = await Promise.all([add(email, true), add(email, true)]);
      expect(responses.map((r) => r.status)).to.deep.equal([303, 303]);
      expect((await add(email, true)).status).to.equal(303);
      const [invitation] = await mailbox.waitFor(to(email));
      const text = (await mailbox.read(invitation!.ID)).Text;
      expect(text).to.contain('Fellowship 2027, Holmenkollen');
      const link = linkIn(text, `${BASE_URL}/account/invitation/`);
      expect(await mailOf(email)).to.have.length(1);

      // The link works: the person chooses a password and finds the edition under My learning.
      const agent = (await import('supertest')).default.agent(t.app);
      const form = await agent.get(link.slice(BASE_URL.length)).expect(200);
      const token = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]!;
      const set = await agent
        .post(link.slice(BASE_URL.length))
        .type('form')
        .send({ password: 'a long new password', confirm: 'a long new password', _csrf: token });
      expect(set.status, set.text.slice(0, 1000)).to.be.oneOf([200, 303]);
      const signedIn = await signIn(t.app, email, 'a long new password');
      const my = await signedIn.get('/enrolment/my').expect(200);
      expect(my.text).to.contain('Fellowship 2027, Holmenkollen');
    });

    it('someone with an account gets a notice; nobody is mailed when the box is not ticked', async () => {
      const known = await learner({ name: 'Lucas Moreau' });
      expect((await add(known.email, true)).status).to.equal(303);
      const [notice] = await mailbox.waitFor(to(known.email));
      expect(notice!.Subject).to.equal('You are enrolled: Fellowship 2027, Holmenkollen');
      const text = (await mailbox.read(notice!.ID)).Text;
      expect(text).to.contain('Lucas Moreau');
      expect(text).to.contain(`${BASE_URL}/enrolment/editions/${edition}`);

      const quiet = await learner();
      expect((await add(quiet.email, false)).status).to.equal(303);
      expect((await add('quiet.newcomer@example.org', false)).status).to.equal(303);
      expect(await mailOf(quiet.email)).to.have.length(0);
      expect(await mailOf('quiet.newcomer@example.org')).to.have.length(0);
      expect(await mailOf(known.email)).to.have.length(1);
    });

    it('a CSV import with the box ticked invites the people it adds, once, also when confirmed twice', async () => {
      const known = await learner({ name: 'Samuel Okafor' });
      const csv = `email,given name,family name\n${known.email},Samuel,Okafor\nimported.newcomer@example.org,Ana,Pereira\n`;
      const pageUrl = `/enrolment/manage/editions/${edition}/import`;
      const token = await tokenFor(staff, pageUrl);
      const up = await staff
        .post(`${pageUrl}?_csrf=${encodeURIComponent(token)}`)
        .attach('file', Buffer.from(csv), { filename: 'people.csv', contentType: 'text/csv' });
      expect(up.status, up.text.slice(0, 2000)).to.equal(303);
      const url = up.headers.location as string;
      const preview = await staff.get(url).expect(200);
      expect(preview.text).to.contain('name="invite"');
      const commitToken = await tokenFor(staff, url);
      const commits = await Promise.all([1, 2].map(() => staff.post(`${url}/commit`).type('form').send({ _csrf: commitToken, invite: 'on' })));
      expect(commits.map((r) => r.status)).to.deep.equal([303, 303]);

      const [invitation] = await mailbox.waitFor(to('imported.newcomer@example.org'));
      const text = (await mailbox.read(invitation!.ID)).Text;
      expect(text).to.contain('Ana Pereira');
      expect(text).to.contain('Fellowship 2027, Holmenkollen');
      expect(text).to.contain(`${BASE_URL}/account/invitation/`);
      const [notice] = await mailbox.waitFor(to(known.email));
      expect(notice!.Subject).to.equal('You are enrolled: Fellowship 2027, Holmenkollen');

      await t.app.olive.jobs.idle(undefined, 30_000);
      expect(await mailOf('imported.newcomer@example.org')).to.have.length(1);
      expect(await mailOf(known.email)).to.have.length(1);
    });
  });

  it('a reminder goes before an edition starts, once per person enrolled, also when its due time has passed', async () => {
    const fields = { courseId, title: 'Regional training, Addis Ababa', language: 'en', method: 'open', status: 'published', place: 'Addis Ababa' };
    // Far off at first, so that nobody is reminded while the people below enrol, leave and opt out.
    const soon = await newEdition({ ...fields, startsAt: dayFromNow(20), endsAt: dayFromNow(24) });
    const later = await newEdition({ title: 'Regional training, Bangkok', method: 'open', startsAt: dayFromNow(10), endsAt: dayFromNow(14) });
    const enrol = (p: { agent: Agent }, e: string) => postForm(p.agent, `/enrolment/editions/${e}/enrol`, {}, `/enrolment/editions/${e}`);
    const [english, french, optedOut, leaver] = [await learner(), await learner({ locale: 'fr' }), await learner(), await learner()];
    for (const p of [english, french, optedOut, leaver]) expect((await enrol(p, soon)).status).to.equal(303);
    expect((await enrol(english, later)).status).to.equal(303);
    await t.app.olive.mail.setOptedOut(optedOut.id, ['enrolment.reminders']);
    expect((await postForm(leaver.agent, `/enrolment/editions/${soon}/withdraw`, {}, `/enrolment/editions/${soon}/withdraw`)).status).to.equal(303);

    // Now it starts in two days: the reminder (three days before) was due yesterday, and goes now.
    const moved = await postForm(
      staff,
      `/enrolment/manage/editions/${soon}`,
      { ...fields, startsAt: dayFromNow(2), endsAt: dayFromNow(6) },
      `/enrolment/manage/editions/${soon}/edit`,
    );
    expect(moved.status, moved.text.slice(0, 2000)).to.equal(303);
    const [reminder] = await mailbox.waitFor(to(english.email, /starts on/), { timeoutMs: 30_000 });
    expect(reminder!.Subject).to.match(/^Regional training, Addis Ababa starts on /);
    const detail = await mailbox.read(reminder!.ID);
    expect(detail.Text).to.contain('starts in 2 days');
    expect(detail.Text).to.contain('Where: Addis Ababa.');
    expect(detail.Text).to.contain(`${BASE_URL}/enrolment/editions/${soon}`);
    // An optional notice: it says how to stop them, in one click.
    expect(detail.Headers['List-Unsubscribe']?.[0]).to.contain(`${BASE_URL}/mail/unsubscribe`);
    const [rappel] = await mailbox.waitFor(to(french.email, /commence le/));
    expect(rappel!.Subject).to.match(/^Regional training, Addis Ababa commence le /);

    // The job runs every 0.6 s: several more runs add nothing.
    await reminderRuns(4);
    expect((await mailOf(english.email)).filter((m) => /starts on/.test(m.Subject))).to.have.length(1);
    expect(await mailOf(french.email)).to.have.length(1);
    expect(await mailOf(optedOut.email)).to.have.length(0);
    expect(await mailOf(leaver.email)).to.have.length(0);

    // A new start date is news: it is reminded again, once.
    const again = await postForm(
      staff,
      `/enrolment/manage/editions/${soon}`,
      { ...fields, startsAt: dayFromNow(1), endsAt: dayFromNow(6) },
      `/enrolment/manage/editions/${soon}/edit`,
    );
    expect(again.status).to.equal(303);
    await mailbox.waitFor(to(english.email, /starts on/), { count: 2, timeoutMs: 30_000 });
    await reminderRuns(3);
    const reminders = (await mailOf(english.email)).filter((m) => /starts on/.test(m.Subject));
    expect(reminders).to.have.length(2);
    const texts = await Promise.all(reminders.map(async (m) => (await mailbox.read(m.ID)).Text));
    expect(texts.filter((x) => x.includes('starts tomorrow'))).to.have.length(1);
  });

  it('staff see on a person’s enrolment page what was sent to them, when, and whether it went', async () => {
    const edition = await newEdition({ title: 'Dialogue and mediation, Geneva' });
    const p = await learner();
    expect((await apply(p.agent, edition)).status).to.equal(303);
    expect((await decide(edition, p.email, 'reject', 'Not this year.')).status).to.equal(303);
    await mailbox.waitFor(to(p.email), { count: 2 });
    await delivered();
    const page = await staff.get(`/enrolment/manage/enrolments/${await idOf(edition, p.email)}`).expect(200);
    const section = page.text.slice(page.text.indexOf('id="messages"'), page.text.indexOf('id="history"'));
    expect(section).to.contain('Application received: Dialogue and mediation, Geneva');
    expect(section).to.contain('Your application: Dialogue and mediation, Geneva');
    expect(section.match(/>Sent · <time/g)).to.have.length(2);
    expect(section).to.match(/<time datetime="\d{4}-\d\d-\d\dT/);

    const fresh = await learner();
    expect(
      (await postForm(staff, `/enrolment/manage/editions/${edition}/people`, { email: fresh.email }, `/enrolment/manage/editions/${edition}`)).status,
    ).to.equal(303);
    const none = await staff.get(`/enrolment/manage/enrolments/${await idOf(edition, fresh.email)}`).expect(200);
    expect(none.text).to.contain('No e-mail has been sent to this person.');
  });

  it('a bad add-person form changes nothing and mails nobody', async () => {
    const edition = await newEdition({ title: 'Closed seminar', method: 'invitation' });
    const res = await postForm(
      staff,
      `/enrolment/manage/editions/${edition}/people`,
      { email: 'not-an-address', invite: 'on' },
      `/enrolment/manage/editions/${edition}`,
    );
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('Give a valid e-mail address.');
    expect(res.text).to.contain('value="not-an-address"');
    expect(await Enrolment().countDocuments({ editionId: edition })).to.equal(0);
    await delivered();
    expect((await mailbox.messages()).filter((m) => m.To.some((x) => /not-an-address/.test(x.Address)))).to.have.length(0);
  });
});
