/**
 * Certificates for in-person editions and for people without an account: a completion by a
 * contributed rule (a test-only "attendance" plugin) counts for bulk issuance; a person enrolled by
 * address only waits for their certificate, is invited by mail, creates the account, confirms the
 * name and gets it; staff may issue anyway for them; a direct POST without `anyway` refuses an
 * unconfirmed name; two bulk jobs at once issue nobody twice.
 */
import { expect } from 'chai';
import supertest from 'supertest';
import { definePlugin } from '../../../src/index.ts';
import { csrfFrom, postForm, signIn, tokenFor } from '../../../test/helpers/app.ts';
import { inbox, linkIn, mailTestEnv } from '../../../test/helpers/mail.ts';
import { CompletionRules } from '../contract.ts';
import { createEdition, enrolLearner, startCertificatesApp, type CertificatesWorld } from './setup.ts';

/** Who was present enough, by enrolment id: what the attendance plugin will say. */
const present = new Set<string>();
const attendanceFixture = definePlugin({
  name: 'attendance-fixture',
  version: '1.0.0',
  register(ctx) {
    ctx.contribute(CompletionRules, {
      id: 'attendance',
      async completedOf(_editionId, enrolmentIds) {
        return new Map(enrolmentIds.filter((id) => present.has(id)).map((id) => [id, new Date('2026-03-13T00:00:00Z')]));
      },
    });
    return {};
  },
});

describe('certificates: completion by attendance, and people without an account', function () {
  this.timeout(240_000);
  let w: CertificatesWorld;
  let mailbox: ReturnType<typeof inbox>;
  let n = 0;
  const db = () => w.t.app.olive.connection.db!;

  before(async () => {
    const env = mailTestEnv({ BASE_URL: 'http://olive.test' });
    mailbox = inbox(env.MAIL_FROM);
    w = await startCertificatesApp({ label: 'certificates-rules', env, more: [attendanceFixture] });
  });
  after(async () => w?.t.stop());

  /** Someone pre-enrolled by staff by address only (no account), with an imported-looking name. */
  async function preEnrolled(editionId: string): Promise<{ email: string; enrolmentId: string }> {
    const email = `walkin${++n}@example.org`;
    const token = await tokenFor(w.staff, `/enrolment/manage/editions/${editionId}`);
    const res = await w.staff
      .post(`/enrolment/manage/editions/${editionId}/people`)
      .set('Accept', 'application/json')
      .set('x-csrf-token', token)
      .send({ email });
    expect(res.status, res.text).to.equal(201);
    await db()
      .collection<{ _id: string }>('enrolment_person')
      .updateOne({ _id: email }, { $set: { givenName: 'Amina', familyName: `Walk-in ${n}`, createdAt: new Date(), updatedAt: new Date() } }, { upsert: true });
    return { email, enrolmentId: res.body.enrolmentId as string };
  }

  async function runJob(editionId: string, body: Record<string, unknown>): Promise<string> {
    const token = await tokenFor(w.staff, `/certificates/editions/${editionId}`);
    const res = await w.staff.post(`/certificates/editions/${editionId}/jobs`).set('Accept', 'application/json').set('x-csrf-token', token).send(body);
    expect(res.status, res.text).to.equal(202);
    return res.body.jobId as string;
  }

  async function finished(jobId: string) {
    for (let i = 0; i < 300; i++) {
      const p = (await w.staff.get(`/certificates/jobs/${jobId}`).set('Accept', 'application/json').expect(200)).body;
      if (p.finished) return p;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`job ${jobId} did not finish`);
  }

  const certificatesOf = (enrolmentId: string) => db().collection('certificates_certificate').countDocuments({ enrolmentId });

  it('bulk issues to people who completed by attendance (not online) and to those online; the page says how', async () => {
    const edition = await createEdition(w, 'Holmenkollen seminar');
    const inPerson = await enrolLearner(w, edition, { email: 'inperson@example.org', name: 'In Person', printedName: 'In Person' });
    const online = await enrolLearner(w, edition, { email: 'online@example.org', name: 'On Line', printedName: 'On Line', complete: true });
    const absent = await enrolLearner(w, edition, { email: 'absent@example.org', name: 'Not There', printedName: 'Not There' });
    present.add(inPerson.enrolmentId);

    const page = (await w.staff.get(`/certificates/editions/${edition}`).expect(200)).text;
    expect(page).to.contain('data-how="certificates:edition.how.attendance"').and.contain('data-how="certificates:edition.how.online"');
    expect(page).to.contain('Issue to the 2 people who completed');

    const p = await finished(await runJob(edition, { scope: 'all-completed' }));
    expect(p.issued).to.equal(2);
    expect(await certificatesOf(inPerson.enrolmentId)).to.equal(1);
    expect(await certificatesOf(online.enrolmentId)).to.equal(1);
    expect(await certificatesOf(absent.enrolmentId)).to.equal(0);
  });

  it('a direct POST …/issue without anyway refuses an unconfirmed printed name, with a clear message; nothing is issued', async () => {
    const edition = await createEdition(w, 'Direct post seminar');
    const unconfirmed = await enrolLearner(w, edition, { email: 'unconfirmed@example.org', name: 'Un Confirmed', complete: true });
    const token = await tokenFor(w.staff, `/certificates/editions/${edition}`);
    const json = await w.staff
      .post(`/certificates/editions/${edition}/issue`)
      .set('Accept', 'application/json')
      .set('x-csrf-token', token)
      .send({ enrolmentId: unconfirmed.enrolmentId });
    expect(json.status).to.equal(409);
    expect(json.body.error.code).to.equal('NAME_UNCONFIRMED');
    const page = await postForm(
      w.staff,
      `/certificates/editions/${edition}/issue`,
      { enrolmentId: unconfirmed.enrolmentId },
      `/certificates/editions/${edition}`,
      303,
    );
    expect(page.headers.location).to.equal(`/certificates/editions/${edition}`);
    const shown = (await w.staff.get(`/certificates/editions/${edition}`).expect(200)).text;
    expect(shown).to.contain('The learner has not confirmed the name to print yet');
    expect(await certificatesOf(unconfirmed.enrolmentId)).to.equal(0);
  });

  it('a person without an account who attended: waits, is invited by mail, creates the account, confirms the name and gets the certificate; two jobs at once issue nobody twice', async () => {
    const edition = await createEdition(w, 'Walk-in seminar');
    const walkIn = await preEnrolled(edition);
    const other = await enrolLearner(w, edition, { email: 'colleague@example.org', name: 'Col League', printedName: 'Col League' });
    present.add(walkIn.enrolmentId);
    present.add(other.enrolmentId);

    const before = (await w.staff.get(`/certificates/editions/${edition}`).expect(200)).text;
    expect(before).to.contain('data-status="waiting-for-account"');

    // Two bulk jobs at once.
    const [a, b] = await Promise.all([runJob(edition, { scope: 'all-completed' }), runJob(edition, { scope: 'all-completed' })]);
    const [pa, pb] = await Promise.all([finished(a), finished(b)]);
    expect(pa.issued + pb.issued).to.equal(1);
    // The first job to reach the walk-in invites them (the account is opened then): the other finds the account, its name unconfirmed.
    expect(pa.waitingAccount + pb.waitingAccount).to.be.at.least(1);
    expect(pa.waitingAccount + pb.waitingAccount + pa.waitingName + pb.waitingName).to.equal(2);
    expect(await certificatesOf(other.enrolmentId)).to.equal(1);
    expect(await certificatesOf(walkIn.enrolmentId), 'nothing printed before the person confirms').to.equal(0);
    expect(
      await db()
        .collection('certificates_waiting')
        .countDocuments({ _id: walkIn.enrolmentId as never }),
    ).to.equal(1);

    // One invitation, with the link to create the account with that address.
    const [message] = await mailbox.waitFor((m) => m.To[0]!.Address === walkIn.email);
    await w.t.app.olive.jobs.idle(['host.mail']);
    expect(await mailbox.to(walkIn.email)).to.have.length(1);
    const text = (await mailbox.read(message!.ID)).Text;
    expect(text).to.contain('Walk-in seminar');
    const link = linkIn(text, 'http://olive.test/account/invitation/').slice('http://olive.test'.length);
    const person = supertest.agent(w.t.app);
    const setPage = await person.get(link).expect(200);
    await person
      .post(link)
      .type('form')
      .send({ _csrf: csrfFrom(setPage.text), password: 'a-strong-passphrase', confirm: 'a-strong-passphrase' });
    const agent = await signIn(w.t.app, walkIn.email, 'a-strong-passphrase');
    expect(await certificatesOf(walkIn.enrolmentId)).to.equal(0);
    await postForm(agent, '/certificates/name', { name: 'Amina Walk-in' }, '/certificates/name', 303);
    expect(await certificatesOf(walkIn.enrolmentId), 'issued on confirming the name').to.equal(1);
    const cert = await db().collection('certificates_certificate').findOne({ enrolmentId: walkIn.enrolmentId });
    expect(cert!.snapshot.name).to.equal('Amina Walk-in');
    expect(
      await db()
        .collection('certificates_waiting')
        .countDocuments({ _id: walkIn.enrolmentId as never }),
    ).to.equal(0);
  });

  it('staff may issue anyway for a person without an account: the imported name, an account opened, audited', async () => {
    const edition = await createEdition(w, 'Issue anyway seminar');
    const walkIn = await preEnrolled(edition);
    present.add(walkIn.enrolmentId);
    const ask = await w.staff.get(`/certificates/editions/${edition}/issue/${walkIn.enrolmentId}`).expect(200);
    expect(ask.text).to.contain(`Amina Walk-in ${n}`).and.contain('name="anyway" value="on"');
    // Without anyway: refused, nothing issued.
    await postForm(w.staff, `/certificates/editions/${edition}/issue`, { enrolmentId: walkIn.enrolmentId }, `/certificates/editions/${edition}`, 303);
    expect(await certificatesOf(walkIn.enrolmentId)).to.equal(0);
    await postForm(
      w.staff,
      `/certificates/editions/${edition}/issue`,
      { enrolmentId: walkIn.enrolmentId, anyway: 'on' },
      `/certificates/editions/${edition}/issue/${walkIn.enrolmentId}`,
      303,
    );
    const cert = await db().collection('certificates_certificate').findOne({ enrolmentId: walkIn.enrolmentId });
    expect(cert!.snapshot.name).to.equal(`Amina Walk-in ${n}`);
    expect(cert!.learnerId).to.be.a('string').and.not.equal('');
    const audit = await db().collection('certificates_audit').findOne({ action: 'issued', code: cert!._id });
    expect(audit!.details).to.contain('had no account');
  });
});
