/**
 * Automatic certificates wait for the learner's printed name (issue #17): a completion with the
 * name unconfirmed issues nothing and asks by e-mail (once, then once more a few days later);
 * confirming issues it at once; staff see who is waiting and may issue anyway, knowingly, which
 * the audit records. Races end with exactly one certificate (the claim's unique `_id`).
 */
import { expect } from 'chai';
import { signIn, tokenFor, type TestApp, postForm } from '../../../test/helpers/app.ts';
import { linkIn, type DeliveredMail, type inbox } from '../../../test/helpers/mail.ts';
import { NAME_REMINDER_DAYS } from '../services/issuance.service.ts';
import { createEdition, enrolLearner, startCertificatesMailApp, type Agent, type CertificatesWorld } from './setup.ts';

const BASE_URL = 'http://learn.example.org';

describe('certificates: automatic issuance waits for the printed name', function () {
  this.timeout(180_000);
  let t: TestApp;
  let staff: Agent;
  let mailbox: ReturnType<typeof inbox>;
  let people = 0;

  let world: CertificatesWorld;

  before(async () => {
    ({ mailbox, ...world } = await startCertificatesMailApp('cert_printed_name', BASE_URL));
    ({ t, staff } = world);
  });
  after(() => t.stop());

  const db = () => t.app.olive.connection.db!;
  const certificatesOf = (learnerId: string) => db().collection('certificates_certificate').find({ learnerId }).toArray();

  /** An edition that issues certificates on completion (`auto` false: only staff issue them). */
  function autoEdition(title: string, auto = true): Promise<string> {
    return createEdition(world, title, {}, { autoIssue: auto });
  }

  /** A learner enrolled in the edition; `confirm` first confirms their printed name; `complete` does every item. */
  function learner(editionId: string, options: { confirm?: boolean; complete?: boolean } = {}) {
    const n = ++people;
    return enrolLearner(world, editionId, {
      email: `printed${n}@example.org`,
      name: `Learner ${n}`,
      ...(options.confirm ? { printedName: `Printed Learner ${n}` } : {}),
      complete: options.complete !== false,
    });
  }

  const to = (email: string) => (m: DeliveredMail) => m.To.some((x) => x.Address === email);
  async function mailOf(email: string): Promise<DeliveredMail[]> {
    await t.app.olive.jobs.idle(['host.mail'], 30_000);
    return mailbox.to(email);
  }

  it('a completion with the name unconfirmed issues nothing and sends one reminder; a second one comes a few days later, then no more', async () => {
    const edition = await autoEdition('Geneva seminar, waiting for names');
    const l = await learner(edition);
    expect(await certificatesOf(l.id)).to.have.length(0);
    // My learning asks for the name and does not issue the certificate meanwhile.
    const my = await l.agent.get('/enrolment/my').expect(200);
    expect(my.text).to.contain('/certificates/name');
    expect(await certificatesOf(l.id)).to.have.length(0);

    const [reminder] = await mailbox.waitFor(to(l.email));
    expect(reminder!.Subject).to.equal('Confirm how your name is printed: Conflict Analysis');
    const detail = await mailbox.read(reminder!.ID);
    expect(linkIn(detail.Text, `${BASE_URL}/certificates/name`)).to.equal(`${BASE_URL}/certificates/name`);
    expect(await mailOf(l.email)).to.have.length(1);

    // The second reminder is a job of its own, due a few days later.
    const jobId = `certificates.name-reminder:${l.enrolmentId}`;
    const job = await t.app.olive.jobs.get(jobId);
    expect(job?.state).to.equal('waiting');
    const days = (job!.runAt.getTime() - Date.now()) / 86_400_000;
    expect(days).to.be.within(NAME_REMINDER_DAYS - 0.1, NAME_REMINDER_DAYS);
    // Its time come (made due now), it sends the second reminder; running it again sends nothing more.
    await t.app.olive.jobs.drop(jobId);
    await t.app.olive.jobs.retry(jobId);
    await t.app.olive.jobs.idle(['certificates.name-reminder'], 30_000);
    await mailbox.waitFor(to(l.email), { count: 2 });
    await t.app.olive.jobs.drop(jobId);
    await t.app.olive.jobs.retry(jobId);
    await t.app.olive.jobs.idle(['certificates.name-reminder', 'host.mail'], 30_000);
    expect(await mailOf(l.email)).to.have.length(2);

    // Confirming issues the waiting certificate at once, with the confirmed name.
    const confirmed = await postForm(l.agent, '/certificates/name', { name: 'Amina Haddad' }, '/certificates/name', 303);
    const certs = await certificatesOf(l.id);
    expect(certs).to.have.length(1);
    expect(certs[0]!.snapshot.name).to.equal('Amina Haddad');
    expect(certs[0]!.via).to.equal('completion');
    const after = await l.agent.get(confirmed.headers.location as string).expect(200);
    expect(after.text).to.contain(`/certificates/c/${certs[0]!._id}/certificate.pdf`);
    const audit = await db().collection('certificates_audit').findOne({ code: certs[0]!._id, action: 'issued' });
    expect(audit!.details).to.equal('completion');
  });

  it('a learner who confirmed their name gets the certificate on completion at once, without a reminder', async () => {
    const edition = await autoEdition('Geneva seminar, names confirmed');
    const l = await learner(edition, { confirm: true });
    const certs = await certificatesOf(l.id);
    expect(certs).to.have.length(1);
    expect(certs[0]!.snapshot.name).to.equal(`Printed Learner ${people}`);
    expect(await t.app.olive.jobs.get(`certificates.name-reminder:${l.enrolmentId}`)).to.equal(null);
    const mail = await mailOf(l.email);
    expect(mail.map((m) => m.Subject)).to.deep.equal(['Your certificate: Conflict Analysis']);
  });

  it('staff see who waits for a name, and may issue anyway after a confirmation step; the audit says the name was unconfirmed', async () => {
    const edition = await autoEdition('Geneva seminar, issued anyway');
    const waiting = await learner(edition);
    await learner(edition);
    const page = await staff.get(`/certificates/editions/${edition}`).expect(200);
    expect(page.text).to.contain('2 people have completed the course and are waiting to confirm the printed name');
    expect(page.text.match(/data-status="waiting-for-name"/g)).to.have.length(2);
    const confirmUrl = `/certificates/editions/${edition}/issue/${waiting.enrolmentId}`;
    expect(page.text).to.contain(`href="${confirmUrl}"`);

    // The confirmation page says the name is unconfirmed and what will print; opening it changes nothing.
    const ask = await staff.get(confirmUrl).expect(200);
    expect(ask.text).to.contain('This person has not confirmed how their name should be printed.');
    expect(ask.text).to.contain(`Learner ${people - 1}`);
    expect(ask.text).to.contain('name="anyway" value="on"');
    expect(await certificatesOf(waiting.id)).to.have.length(0);

    await postForm(staff, `/certificates/editions/${edition}/issue`, { enrolmentId: waiting.enrolmentId, anyway: 'on' }, confirmUrl, 303);
    const certs = await certificatesOf(waiting.id);
    expect(certs).to.have.length(1);
    expect(certs[0]!.snapshot.name).to.equal(`Learner ${people - 1}`);
    const audit = await db().collection('certificates_audit').findOne({ code: certs[0]!._id, action: 'issued' });
    expect(audit!.details).to.equal('staff; issued with an unconfirmed printed name');
    const admin = await signIn(t.app, 'admin@olive.example');
    expect((await admin.get('/certificates/audit').expect(200)).text).to.contain('staff; issued with an unconfirmed printed name');

    const now = await staff.get(`/certificates/editions/${edition}`).expect(200);
    expect(now.text).to.contain('1 person has completed the course and is waiting to confirm the printed name');
    // Issued, there is nothing left to confirm: the page goes back to the edition.
    expect((await staff.get(confirmUrl)).status).to.equal(303);
  });

  it('confirming twice at the same moment, or confirming while staff issue anyway, gives exactly one certificate', async () => {
    const edition = await autoEdition('Geneva seminar, races');
    const twice = await learner(edition);
    const token = await tokenFor(twice.agent, '/certificates/name');
    const both = await Promise.all(
      ['Twice Confirmed', 'Twice Confirmed'].map((name) => twice.agent.post('/certificates/name').type('form').send({ name, _csrf: token })),
    );
    expect(both.map((r) => r.status)).to.deep.equal([303, 303]);
    expect(await certificatesOf(twice.id)).to.have.length(1);

    const raced = await learner(edition);
    const [learnerToken, staffToken] = await Promise.all([tokenFor(raced.agent, '/certificates/name'), tokenFor(staff, `/certificates/editions/${edition}`)]);
    const answers = await Promise.all([
      raced.agent.post('/certificates/name').type('form').send({ name: 'Raced Learner', _csrf: learnerToken }),
      staff.post(`/certificates/editions/${edition}/issue`).type('form').send({ enrolmentId: raced.enrolmentId, anyway: 'on', _csrf: staffToken }),
    ]);
    expect(answers.map((r) => r.status)).to.deep.equal([303, 303]);
    const certs = await certificatesOf(raced.id);
    expect(certs).to.have.length(1);
    expect(
      await db()
        .collection('certificates_claim')
        .countDocuments({ _id: raced.enrolmentId as never }),
    ).to.equal(1);
    expect(await db().collection('certificates_audit').countDocuments({ code: certs[0]!._id, action: 'issued' })).to.equal(1);
  });

  it('a bulk job lists people with an unconfirmed name as waiting, unless staff tick "issue anyway"', async () => {
    const edition = await autoEdition('Holmenkollen fellowship, bulk', false);
    const confirmed = await learner(edition, { confirm: true });
    const unconfirmed = await learner(edition);
    const page = await staff.get(`/certificates/editions/${edition}`).expect(200);
    expect(page.text).to.contain('name="anyway"');

    const first = await postForm(staff, `/certificates/editions/${edition}/jobs`, { scope: 'all-completed' }, `/certificates/editions/${edition}`, 303);
    await t.app.olive.jobs.idle(['certificates.issue'], 60_000);
    const job = await staff.get(first.headers.location as string).expect(200);
    expect(job.text).to.match(/data-count="issued">1</);
    expect(job.text).to.match(/data-count="waiting-name">1</);
    expect(job.text).to.contain('waiting for the name');
    const csv = await staff.get(`${first.headers.location as string}/codes.csv`).expect(200);
    expect(csv.text).to.contain('waiting_for_name');
    expect(await certificatesOf(confirmed.id)).to.have.length(1);
    expect(await certificatesOf(unconfirmed.id)).to.have.length(0);

    const second = await postForm(
      staff,
      `/certificates/editions/${edition}/jobs`,
      { scope: 'chosen', enrolmentIds: [unconfirmed.enrolmentId], anyway: 'on' },
      `/certificates/editions/${edition}`,
      303,
    );
    await t.app.olive.jobs.idle(['certificates.issue'], 60_000);
    const again = await staff.get(second.headers.location as string).expect(200);
    expect(again.text).to.contain('Issued anyway to people who had not confirmed their printed name.');
    expect(again.text).to.match(/data-count="issued">1</);
    const certs = await certificatesOf(unconfirmed.id);
    expect(certs).to.have.length(1);
    const audit = await db().collection('certificates_audit').findOne({ code: certs[0]!._id, action: 'issued' });
    expect(audit!.details).to.equal('bulk; issued with an unconfirmed printed name');
  });
});
