import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { definePlugin, type EventRef } from '../../../src/index.ts';
import { signIn, tokenFor, type TestApp, postForm } from '../../../test/helpers/app.ts';
import { CourseCatalog, CourseProgress, type CourseCatalogService, type ProgressService } from '../../courses/contract.ts';
import { isValidCode } from '../code.ts';
import { CertificateIssued, CertificateReissued, CertificateRevoked, type CertificateEvent } from '../contract.ts';
import { createEdition, enrolLearner, startCertificatesApp, type Agent, type CertificatesWorld } from './setup.ts';

/** Gives the test the services another plugin would get, and records certificate events. */
function probe() {
  const seen: { catalog?: CourseCatalogService; progress?: ProgressService; events: string[] } = { events: [] };
  const plugin = definePlugin({
    name: 'probe',
    version: '1.0.0',
    requires: [CourseCatalog, CourseProgress, CertificateIssued],
    register(ctx) {
      for (const ref of [CertificateIssued, CertificateReissued, CertificateRevoked] as EventRef<CertificateEvent>[])
        ctx.on(ref, (e) => {
          seen.events.push(`${ref.id}:${e.code}`);
        });
      return {
        start() {
          seen.catalog = ctx.get(CourseCatalog);
          seen.progress = ctx.get(CourseProgress);
        },
      };
    },
  });
  return { plugin, seen };
}

function pdfText(pdf: Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-cert-'));
  const file = path.join(dir, 'c.pdf');
  fs.writeFileSync(file, pdf);
  try {
    return execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const binary = (res: supertest.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
};

describe('certificates: issuance, verification, reissue and revocation', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Agent;
  const p = probe();
  let people = 0;

  let world: CertificatesWorld;

  /** An edition of Conflict Analysis, created by staff through the form (issuing before its end date: these tests are about issuance, dates.test.ts shows the wait for the end). */
  const newEdition = (title: string, fields: Record<string, unknown> = {}) => createEdition(world, title, fields);

  /** A learner enrolled in the edition, optionally with the whole course completed. */
  function participant(editionId: string, options: { complete?: boolean; name?: string } = {}) {
    const n = ++people;
    return enrolLearner(world, editionId, {
      email: `participant${n}@example.org`,
      name: options.name ?? `Participant ${n}`,
      complete: options.complete ?? false,
    });
  }

  // These participants have not confirmed their printed name: staff issue anyway, as the confirmation page sends it.
  const issueOne = (editionId: string, enrolmentId: string, extra: Record<string, unknown> = {}) =>
    postForm(staff, `/certificates/editions/${editionId}/issue`, { enrolmentId, anyway: 'on', ...extra }, `/certificates/editions/${editionId}`);

  const Certificate = () => t.app.olive.connection.model('certificates_certificate');

  before(async () => {
    world = await startCertificatesApp({ more: [p.plugin], label: 'certificates', env: { BASE_URL: 'http://learn.example.org' } });
    ({ t, staff } = world);
  });
  after(() => t.stop());

  it('a completion issues the certificate once the learner has confirmed their name; the PDF reads back right', async () => {
    const edition = await newEdition('Geneva seminar 2026');
    expect((await postForm(staff, `/certificates/editions/${edition}/settings`, { autoIssue: 'on' }, `/certificates/editions/${edition}`)).status).to.equal(
      303,
    );
    const learner = await participant(edition, { complete: true, name: 'Amina Haddad' });
    // Completed, but the name to print is not confirmed yet: nothing is issued, the learner is asked.
    expect(await Certificate().countDocuments({ learnerId: learner.id })).to.equal(0);
    const my = await learner.agent.get('/enrolment/my').expect(200);
    expect(my.text).to.contain('confirm how your name should be printed');

    const confirm = await postForm(learner.agent, '/certificates/name', { name: '  Amina   Haddad ', nameAlt: 'أمينة حداد' }, '/certificates/name');
    expect(confirm.status).to.equal(303);
    const certs = (await Certificate().find({ learnerId: learner.id }).lean()) as unknown as {
      _id: string;
      sha256: string;
      snapshot: { name: string; verificationUrl: string };
    }[];
    expect(certs).to.have.length(1);
    const code = certs[0]!._id;
    expect(isValidCode(code)).to.equal(true);
    expect(certs[0]!.snapshot.name).to.equal('Amina Haddad');
    expect(certs[0]!.snapshot.verificationUrl).to.equal(`http://learn.example.org/verify/${code}`);
    expect(p.seen.events).to.include(`certificates.certificate.issued:${code}`);

    const list = await learner.agent.get('/enrolment/my').expect(200);
    expect(list.text).to.contain(`/certificates/c/${code}/certificate.pdf`);
    const pdf = (await learner.agent.get(`/certificates/c/${code}/certificate.pdf`).buffer(true).parse(binary).expect(200)).body as Buffer;
    expect(pdf.subarray(0, 5).toString()).to.equal('%PDF-');
    expect(crypto.createHash('sha256').update(pdf).digest('hex')).to.equal(certs[0]!.sha256);
    const text = pdfText(pdf);
    expect(text).to.contain('Amina Haddad');
    expect(text).to.contain(code);
    expect(text).not.to.contain('\uFFFD');

    // Another learner cannot download it (it does not exist for them).
    const other = await participant(edition);
    await other.agent.get(`/certificates/c/${code}/certificate.pdf`).expect(404);
  });

  it('staff issue for one person; concurrent and repeated issuance give one certificate', async () => {
    const edition = await newEdition('Addis Ababa regional training');
    const done = await participant(edition, { complete: true });
    const notDone = await participant(edition);
    const refused = await issueOne(edition, notDone.enrolmentId);
    expect(refused.status).to.equal(409);
    expect(refused.text).to.contain('has not completed the course');
    expect(await Certificate().countDocuments({ editionId: edition })).to.equal(0);

    const token = await tokenFor(staff, `/certificates/editions/${edition}`);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        staff
          .post(`/certificates/editions/${edition}/issue`)
          .set('Accept', 'application/json')
          .set('x-csrf-token', token)
          .send({ enrolmentId: done.enrolmentId, anyway: 'on' }),
      ),
    );
    expect(results.map((r) => r.status).every((s) => s === 200 || s === 201)).to.equal(true);
    const codes = new Set(results.map((r) => r.body.code as string));
    expect(codes.size).to.equal(1);
    expect(results.filter((r) => r.body.created)).to.have.length(1);
    expect(await Certificate().countDocuments({ editionId: edition })).to.equal(1);
    expect(await t.app.olive.connection.db!.collection('certificates_pdf.files').countDocuments({ 'metadata.code': [...codes][0] })).to.equal(1);

    // "Although not completed online" (an in-person seminar): staff say so explicitly.
    const forced = await issueOne(edition, notDone.enrolmentId, { force: 'on' });
    expect(forced.status).to.equal(303);
    expect(await Certificate().countDocuments({ editionId: edition })).to.equal(2);
  });

  describe('public verification', () => {
    let code: string;
    let pdf: Buffer;
    before(async () => {
      const edition = await newEdition('Verification run');
      const learner = await participant(edition, { complete: true, name: 'Jean-Baptiste Nkurunziza' });
      const res = await staff
        .post(`/certificates/editions/${edition}/issue`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', await tokenFor(staff, `/certificates/editions/${edition}`))
        .send({ enrolmentId: learner.enrolmentId, anyway: 'on' });
      code = res.body.code;
      pdf = (await learner.agent.get(`/certificates/c/${code}/certificate.pdf`).buffer(true).parse(binary).expect(200)).body as Buffer;
    });

    it('shows a valid certificate to anyone, as a page and as JSON; a lower-case code without dashes leads there', async () => {
      const page = await supertest(t.app).get(`/verify/${code}`).expect(200);
      expect(page.text).to.contain('Valid certificate');
      expect(page.text).to.contain('Jean-Baptiste Nkurunziza');
      expect(page.text).to.contain('Conflict Analysis');
      const json = await supertest(t.app).get(`/verify/${code}`).set('Accept', 'application/json').expect(200);
      expect(json.body).to.include({ code, status: 'valid', valid: true, name: 'Jean-Baptiste Nkurunziza', edition: 'Verification run' });
      expect(json.body).not.to.have.property('learnerId');
      const loose = code.replace(/-/g, '').toLowerCase();
      const redirect = await supertest(t.app).get(`/verify?code=${loose}`).expect(303);
      expect(redirect.headers.location).to.equal(`/verify/${code}`);
    });

    it('a mistyped code is caught by its check character; an unknown one is a clear 404', async () => {
      const chars = code.split('');
      const i = chars.findIndex((c) => c !== '-');
      chars[i] = chars[i] === 'A' ? 'B' : 'A';
      const typo = await supertest(t.app)
        .get(`/verify/${chars.join('')}`)
        .expect(404);
      expect(typo.text).to.contain('a character was probably mistyped');
      const unknown = await supertest(t.app).get('/verify/0000-0000-0000-0000-0').set('Accept', 'application/json').expect(404);
      expect(unknown.body.error.code).to.equal('UNKNOWN_CODE');
      // A broken percent-encoding is the address's fault (400), never a server error.
      expect((await supertest(t.app).get('/verify/%E0%A4%A').expect(400)).text).to.contain('This address is malformed');
      const malformed = await supertest(t.app).get('/verify/%3Cscript%3E').expect(404);
      expect(malformed.text).not.to.contain('<script>');
    });

    it('an uploaded PDF is recognised when it is the exact file, and refused when edited', async () => {
      const visitor = supertest.agent(t.app);
      const form = await visitor.get('/verify').expect(200);
      const token = /_csrf=([^"&]+)/.exec(form.text)![1]!;
      const exact = await visitor.post(`/verify/file?_csrf=${token}`).attach('pdf', pdf, 'certificate.pdf');
      expect(exact.status).to.equal(200);
      expect(exact.text).to.contain('This exact file was issued by Olive');
      const edited = Buffer.from(pdf);
      const middle = Math.floor(edited.length / 2);
      edited[middle] = edited[middle]! ^ 0x01;
      const refused = await visitor.post(`/verify/file?_csrf=${token}`).attach('pdf', edited, 'certificate.pdf');
      expect(refused.status).to.equal(404);
      expect(refused.text).to.contain('was not issued by Olive, or it was changed');
    });

    it('look-ups are rate-limited', async () => {
      let status = 200;
      for (let i = 0; i < 40 && status !== 429; i++) status = (await supertest(t.app).get(`/verify/${code}`)).status;
      expect(status).to.equal(429);
    });
  });

  it('reissue replaces (old page points to the new one); revocation shows the date; neither can happen twice', async () => {
    const edition = await newEdition('Reissue run');
    const learner = await participant(edition, { complete: true, name: 'Jon Smiht' });
    const issued = await staff
      .post(`/certificates/editions/${edition}/issue`)
      .set('Accept', 'application/json')
      .set('x-csrf-token', await tokenFor(staff, `/certificates/editions/${edition}`))
      .send({ enrolmentId: learner.enrolmentId, anyway: 'on' });
    const old = issued.body.code as string;
    const noReason = await postForm(staff, `/certificates/c/${old}/reissue`, { name: 'Jon Smith', reason: '' }, `/certificates/c/${old}/manage`);
    expect(noReason.status).to.equal(400);

    const re = await postForm(staff, `/certificates/c/${old}/reissue`, { name: 'Jon Smith', reason: 'Misspelt family name' }, `/certificates/c/${old}/manage`);
    expect(re.status).to.equal(303);
    const fresh = /\/certificates\/c\/([^/]+)\/manage/.exec(re.headers.location as string)![1]!;
    expect(fresh).not.to.equal(old);
    const oldPage = await supertest(t.app).get(`/verify/${old}`).expect(200);
    expect(oldPage.text).to.contain('Replaced');
    expect(oldPage.text).to.contain(`/verify/${fresh}`);
    const newJson = await supertest(t.app).get(`/verify/${fresh}`).set('Accept', 'application/json').expect(200);
    expect(newJson.body).to.include({ status: 'valid', name: 'Jon Smith' });
    expect(
      (await postForm(staff, `/certificates/c/${old}/reissue`, { name: 'Jon Smith', reason: 'Again' }, `/certificates/c/${fresh}/manage`)).status,
    ).to.equal(409);
    // The learner's list shows the current certificate only.
    const my = await learner.agent.get('/enrolment/my').expect(200);
    expect(my.text).to.contain(fresh);
    expect(my.text).not.to.contain(old);

    // The replaced certificate cannot be revoked: the current one is the one to revoke.
    expect((await postForm(staff, `/certificates/c/${old}/revoke`, { reason: 'Wrong one' }, `/certificates/c/${old}/manage`)).status).to.equal(409);
    const revoke = await postForm(staff, `/certificates/c/${fresh}/revoke`, { reason: 'Issued in error' }, `/certificates/c/${fresh}/manage`);
    expect(revoke.status).to.equal(303);
    const revoked = await supertest(t.app).get(`/verify/${fresh}`).set('Accept', 'application/json').expect(200);
    expect(revoked.body.status).to.equal('revoked');
    expect(revoked.body.revokedOn).to.match(/^\d{4}-\d{2}-\d{2}$/);
    expect((await postForm(staff, `/certificates/c/${fresh}/revoke`, { reason: 'Issued in error' }, `/verify`)).status).to.equal(409);
    // Its holder can no longer download it.
    await learner.agent.get(`/certificates/c/${fresh}/certificate.pdf`).expect(410);
    // Nothing is ever deleted: both records are still there.
    expect(await Certificate().exists({ _id: old })).to.not.equal(null);
    expect(await Certificate().exists({ _id: fresh })).to.not.equal(null);

    const admin = await signIn(t.app, 'admin@olive.example');
    const audit = await admin.get('/certificates/audit').expect(200);
    // This test's three facts, each a row naming who, what, which certificate and why.
    const row = (what: string, code: string, details: string) =>
      `<td>staff@olive.example</td><td>${what}</td><td><a href="/certificates/c/${code}/manage">${code}</a></td><td>${details}</td></tr>`;
    // The learner never confirmed a printed name: the issuance says so.
    expect(audit.text).to.contain(row('issued', old, 'staff; issued with an unconfirmed printed name'));
    expect(audit.text).to.contain(row('reissued', fresh, `replaces ${old}: Misspelt family name`));
    expect(audit.text).to.contain(row('revoked', fresh, 'Issued in error'));
  });

  it('an issuance cut short after its claim is completed later with the same code, announced once', async () => {
    const edition = await newEdition('Crash run');
    const learner = await participant(edition, { complete: true });
    const token = await tokenFor(staff, `/certificates/editions/${edition}`);
    const first = await staff
      .post(`/certificates/editions/${edition}/issue`)
      .set('Accept', 'application/json')
      .set('x-csrf-token', token)
      .send({ enrolmentId: learner.enrolmentId, anyway: 'on' });
    const code = first.body.code as string;
    // As if the process had died after the claim: the record and its PDF are gone, the claim stays.
    const cert = (await Certificate().findById(code).lean()) as unknown as { fileId: unknown };
    await t.app.olive.connection.db!.collection('certificates_pdf.files').deleteOne({ _id: cert.fileId as never });
    await Certificate().deleteOne({ _id: code });
    const eventsBefore = p.seen.events.filter((e) => e.endsWith(code)).length;
    const page = await staff.get(`/certificates/editions/${edition}`).expect(200);
    // (Their printed name is unconfirmed: the button leads to the page that asks first.)
    expect(page.text, 'the person can be issued again').to.contain(`href="/certificates/editions/${edition}/issue/${learner.enrolmentId}"`);
    const again = await staff
      .post(`/certificates/editions/${edition}/issue`)
      .set('Accept', 'application/json')
      .set('x-csrf-token', token)
      .send({ enrolmentId: learner.enrolmentId, anyway: 'on' });
    expect(again.body).to.include({ code, created: true });
    expect(p.seen.events.filter((e) => e.endsWith(code)).length).to.equal(eventsBefore + 1);
    const json = await supertest(t.app).get(`/verify/${code}`).set('Accept', 'application/json').expect(200);
    expect(json.body.status).to.equal('valid');
  });

  it('a name no certificate font can print is refused before anything is issued', async () => {
    const edition = await newEdition('Unprintable name run');
    const learner = await participant(edition, { complete: true });
    const db = t.app.olive.connection.db!;
    const before = {
      names: await db.collection('certificates_printed_name').countDocuments(),
      certificates: await Certificate().countDocuments(),
      claims: await db.collection('certificates_claim').countDocuments(),
    };
    const res = await postForm(learner.agent, '/certificates/name', { name: 'Ur-Nammu \u{12000}' }, '/certificates/name');
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('cannot be printed on a certificate');
    expect(
      {
        names: await db.collection('certificates_printed_name').countDocuments(),
        certificates: await Certificate().countDocuments(),
        claims: await db.collection('certificates_claim').countDocuments(),
      },
      'no name kept, nothing issued',
    ).to.deep.equal(before);
    expect(await Certificate().countDocuments({ editionId: edition })).to.equal(0);
  });

  it('learners and trainers cannot issue (403); staff pages are closed to them', async () => {
    const edition = await newEdition('Permissions run');
    const learner = await participant(edition, { complete: true });
    const trainer = await signIn(t.app, 'trainer@olive.example');
    for (const who of [learner.agent, trainer]) {
      await who.get(`/certificates/editions/${edition}`).expect(403);
      expect((await postForm(who, `/certificates/editions/${edition}/issue`, { enrolmentId: learner.enrolmentId }, '/enrolment/my')).status).to.equal(403);
      await who.get('/certificates').expect(403);
    }
    expect(await Certificate().countDocuments({ editionId: edition })).to.equal(0);
    await learner.agent.get('/certificates/audit').expect(403);
  });
});
