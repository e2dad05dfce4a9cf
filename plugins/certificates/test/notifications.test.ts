/**
 * What a learner is told by e-mail about their certificates, read from the real mail server the
 * messages went through (Mailpit): issued, reissued and revoked, each with the verification link,
 * the PDF attached when the template says so, once however often staff click.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { tokenFor, type TestApp, postForm } from '../../../test/helpers/app.ts';
import { linkIn, type DeliveredMail, type inbox } from '../../../test/helpers/mail.ts';
import { createEdition, enrolLearner, startCertificatesMailApp, type Agent, type CertificatesWorld } from './setup.ts';

const BASE_URL = 'http://learn.example.org';

describe('certificates: e-mail to the learner', function () {
  this.timeout(180_000);
  let t: TestApp;
  let staff: Agent;
  let courseId: string;
  let mailbox: ReturnType<typeof inbox>;
  let people = 0;

  let world: CertificatesWorld;

  before(async () => {
    ({ mailbox, ...world } = await startCertificatesMailApp('cert_mail', BASE_URL));
    ({ t, staff, courseId } = world);
  });
  after(() => t.stop());

  // Issued before the end date: these tests are about issuance (dates.test.ts shows the wait for the end).
  const newEdition = (title: string) => createEdition(world, title);

  /** A learner enrolled in the edition who completed the whole course. */
  function graduate(editionId: string, options: { locale?: string; name?: string } = {}) {
    const n = ++people;
    return enrolLearner(world, editionId, {
      email: `graduate${n}@example.org`,
      name: options.name ?? `Graduate ${n}`,
      ...(options.locale ? { locale: options.locale } : {}),
      complete: true,
    });
  }

  /** Staff issue one person's certificate, as the edition page's button does; returns its code. */
  async function issue(editionId: string, enrolmentId: string): Promise<string> {
    const res = await postForm(staff, `/certificates/editions/${editionId}/issue`, { enrolmentId, anyway: 'on' }, `/certificates/editions/${editionId}`);
    expect(res.status, res.text.slice(0, 1500)).to.equal(303);
    const Certificate = t.app.olive.connection.model('certificates_certificate');
    return ((await Certificate.findOne({ enrolmentId }).sort({ issuedAt: -1 }).lean()) as unknown as { _id: string })._id;
  }

  const to = (email: string, subject?: RegExp) => (m: DeliveredMail) => m.To.some((x) => x.Address === email) && (!subject || subject.test(m.Subject));
  async function mailOf(email: string): Promise<DeliveredMail[]> {
    await t.app.olive.jobs.idle(['host.mail'], 30_000);
    return mailbox.to(email);
  }
  const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
  const storedSha = async (code: string) =>
    ((await t.app.olive.connection.model('certificates_certificate').findById(code).lean()) as unknown as { sha256: string }).sha256;

  it('an issued certificate is mailed once (staff clicking twice), with the verification link and the PDF itself', async () => {
    const edition = await newEdition('Geneva seminar 2026');
    const learner = await graduate(edition, { name: 'Amina Haddad' });
    const token = await tokenFor(staff, `/certificates/editions/${edition}`);
    const clicks = await Promise.all(
      [1, 2].map(() =>
        staff.post(`/certificates/editions/${edition}/issue`).type('form').send({ enrolmentId: learner.enrolmentId, anyway: 'on', _csrf: token }),
      ),
    );
    expect(clicks.map((r) => r.status)).to.deep.equal([303, 303]);
    const code = (
      (await t.app.olive.connection.model('certificates_certificate').findOne({ enrolmentId: learner.enrolmentId }).lean()) as unknown as { _id: string }
    )._id;

    const [mail] = await mailbox.waitFor(to(learner.email));
    expect(mail!.Subject).to.equal('Your certificate: Conflict Analysis');
    const detail = await mailbox.read(mail!.ID);
    expect(detail.Text).to.contain('Amina Haddad');
    expect(detail.Text).to.contain(code);
    expect(linkIn(detail.Text, `${BASE_URL}/verify/`)).to.equal(`${BASE_URL}/verify/${code}`);
    expect(detail.HTML).to.contain(`href="${BASE_URL}/verify/${code}"`);
    expect(detail.AttachmentsList).to.have.length(1);
    const [attachment] = detail.AttachmentsList;
    expect(attachment!.ContentType).to.equal('application/pdf');
    expect(attachment!.FileName).to.equal(`certificate-${code}.pdf`);
    const pdf = await mailbox.attachment(mail!.ID, attachment!.PartID);
    expect(pdf.subarray(0, 5).toString()).to.equal('%PDF-');
    // The very file that was issued: its hash is the one on record (what /verify checks an upload against).
    expect(sha256(pdf)).to.equal(await storedSha(code));

    expect(await mailOf(learner.email)).to.have.length(1);
  });

  it('a reissue and a revocation are mailed with the reason, in the learner’s language (the course’s French title too)', async () => {
    const edition = await newEdition('Session de Dakar');
    const learner = await graduate(edition, { locale: 'fr', name: 'Jean-Baptiste Nkurunziza' });
    const first = await issue(edition, learner.enrolmentId);
    await mailbox.waitFor(to(learner.email, /^Votre certificat/));

    const reissued = await postForm(
      staff,
      `/certificates/c/${first}/reissue`,
      { name: 'Jean-Baptiste Nkurunziza Mugisha', reason: 'Nom de famille complété à la demande de la personne.' },
      `/certificates/c/${first}/manage`,
    );
    expect(reissued.status, reissued.text.slice(0, 1500)).to.equal(303);
    const second = /\/certificates\/c\/([^/]+)\/manage/.exec(reissued.headers.location as string)![1]!;
    const [newMail] = await mailbox.waitFor(to(learner.email, /nouveau certificat/));
    expect(newMail!.Subject).to.equal('Votre nouveau certificat : Analyse des conflits');
    const newDetail = await mailbox.read(newMail!.ID);
    expect(newDetail.Text).to.contain('Nom de famille complété à la demande de la personne.');
    expect(newDetail.Text).to.contain(first);
    expect(linkIn(newDetail.Text, `${BASE_URL}/verify/`)).to.equal(`${BASE_URL}/verify/${second}`);
    const pdf = await mailbox.attachment(newMail!.ID, newDetail.AttachmentsList[0]!.PartID);
    expect(sha256(pdf)).to.equal(await storedSha(second));

    const revoked = await postForm(
      staff,
      `/certificates/c/${second}/revoke`,
      { reason: 'Participation non confirmée par le bureau régional.' },
      `/certificates/c/${second}/manage`,
    );
    expect(revoked.status).to.equal(303);
    const again = await postForm(
      staff,
      `/certificates/c/${second}/revoke`,
      { reason: 'Participation non confirmée par le bureau régional.' },
      `/certificates/c/${second}/manage`,
    );
    expect(again.status).to.equal(409);
    const [revokedMail] = await mailbox.waitFor(to(learner.email, /révoqué/));
    expect(revokedMail!.Subject).to.equal('Votre certificat a été révoqué : Analyse des conflits');
    const revokedDetail = await mailbox.read(revokedMail!.ID);
    expect(revokedDetail.Text).to.contain('Participation non confirmée par le bureau régional.');
    expect(linkIn(revokedDetail.Text, `${BASE_URL}/verify/`)).to.equal(`${BASE_URL}/verify/${second}`);
    // A revoked certificate is not sent along: it is no longer valid.
    expect(revokedDetail.AttachmentsList).to.have.length(0);

    expect((await mailOf(learner.email)).map((m) => m.Subject).sort()).to.deep.equal(
      [
        'Votre certificat a été révoqué : Analyse des conflits',
        'Votre certificat : Analyse des conflits',
        'Votre nouveau certificat : Analyse des conflits',
      ].sort(),
    );
  });

  it('a template that does not attach the PDF: the e-mail has the link only; the option is kept per version', async () => {
    const form = await staff.get('/certificates/templates/new').expect(200);
    expect(form.text, 'attached by default').to.match(/name="attachPdf" value="on" checked/);

    // A template of this course's own, saved with the box unticked (an unticked box sends nothing).
    const token = await tokenFor(staff, '/certificates/templates/new');
    const fields: Record<string, string> = {
      name: 'Conflict Analysis, no attachment',
      courseId,
      'page.size': 'A4',
      'page.orientation': 'landscape',
      'languages.0.lang': 'en',
      'languages.0.title': 'Certificate of completion',
      'languages.0.wording': 'This is to certify that\r\n{name}\r\nhas completed\r\n{course}',
      'languages.1.lang': '',
      'signatories.0.name': 'Elena Marchetti',
      'signatories.0.title.0': 'Director, Division for Peace',
      'attachPdf.shown': '1',
    };
    let req = staff.post(`/certificates/templates?_csrf=${encodeURIComponent(token)}`);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    const saved = await req;
    expect(saved.status, saved.text.slice(0, 3000)).to.equal(303);
    const edit = await staff.get(saved.headers.location as string).expect(200);
    expect(edit.text).to.match(/name="attachPdf" value="on">/);

    const edition = await newEdition('Bangkok regional training');
    const learner = await graduate(edition);
    const code = await issue(edition, learner.enrolmentId);
    const [mail] = await mailbox.waitFor(to(learner.email));
    const detail = await mailbox.read(mail!.ID);
    expect(detail.AttachmentsList).to.have.length(0);
    expect(linkIn(detail.Text, `${BASE_URL}/verify/`)).to.equal(`${BASE_URL}/verify/${code}`);
    expect(detail.Text).to.contain('You can download the certificate under My learning.');
  });
});
