/**
 * The certificate page's forms on the host's form path: a reissue that fails its schema, or that
 * the issuance service refuses, comes back as the certificate's page with the form and the message
 * by its field, in the reader's language (a revocation as its confirmation page); JSON clients get
 * the error as before. Revoking asks first, on a page of its own.
 */
import { expect } from 'chai';
import { Users } from '../../../src/index.ts';
import { createTestApp, signIn, tokenFor, type TestApp } from '../../../test/helpers/app.ts';
import courses from '../../courses/index.ts';
import enrolment from '../../enrolment/index.ts';
import certificates from '../index.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

describe('certificates: the revoke and reissue forms come back with their messages', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Agent;
  let code: string;

  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment, certificates], seed: true, label: 'cert-forms' });
    staff = await signIn(t.app, 'staff@olive.example');
    // The demo's finished participants hold certificates (see the plugin's seed).
    const issued = (await t.app.olive.connection.models.certificates_certificate!.findOne({}, { _id: 1 }).lean()) as { _id: string } | null;
    expect(issued, 'a demo certificate').to.not.equal(null);
    code = issued!._id;
  });
  after(async () => {
    await t?.stop();
  });

  const manage = () => `/certificates/c/${code}/manage`;
  const post = async (action: 'revoke' | 'reissue', fields: Record<string, string>) =>
    staff
      .post(`/certificates/c/${code}/${action}`)
      .type('form')
      .send({ ...fields, _csrf: await tokenFor(staff, manage()) });
  const fieldError = (html: string, id: string) => new RegExp(`<p class="field-error" id="${id}-error">([^<]*)</p>`).exec(html)?.[1];

  it('the certificate’s page names the template it was printed with and its version, not the template’s id', async () => {
    const cert = (await t.app.olive.connection.models.certificates_certificate!.findById(code, { templateId: 1, templateVersion: 1 }).lean()) as {
      templateId: string;
      templateVersion: number;
    };
    const template = (await t.app.olive.connection.models.certificates_template!.findById(cert.templateId, { name: 1 }).lean()) as { name: string };
    expect(template.name).to.match(/^(Programme default|Interest-Based Negotiation)/);
    const page = await staff.get(manage()).expect(200);
    const row = /<dt>Template<\/dt><dd>(.*?)<\/dd>/s.exec(page.text)?.[1] ?? '';
    expect(row).to.contain(`<a href="/certificates/templates/${cert.templateId}"><bdi>${template.name}</bdi></a>`);
    expect(row).to.contain(
      `<a href="/certificates/templates/${cert.templateId}/versions/${cert.templateVersion}/preview.pdf">Version ${cert.templateVersion} (PDF preview)</a>`,
    );
    expect(row.replace(/href="[^"]*"/g, '')).not.to.contain(cert.templateId);
  });

  it('revoking asks first: the certificate’s page leads to a page naming the certificate, its holder and what revoking does, and only its form revokes', async () => {
    const all = (await t.app.olive.connection.models.certificates_certificate!.find({}, { learnerId: 1, snapshot: 1 }).lean()) as unknown as {
      _id: string;
      learnerId: string;
      snapshot: { name: string };
    }[];
    const other = all.find((c) => c._id !== code);
    expect(other, 'a second demo certificate').to.not.equal(undefined);
    const holder = await t.app.olive.service(Users).findById(other!.learnerId);
    const at = (page: string) => `/certificates/c/${other!._id}/${page}`;
    const status = async () => (await staff.get(`/verify/${other!._id}`).set('Accept', 'application/json').expect(200)).body.status as string;

    // The certificate's page has no form that revokes at once, but a link to the confirmation.
    const page = (await staff.get(at('manage')).expect(200)).text;
    expect(page).not.to.contain(`action="${at('revoke')}"`);
    expect(page).to.contain(`<a class="button" href="${at('revoke')}">Revoke this certificate…</a>`);

    // The confirmation names the certificate, the person and what follows; opening it changes nothing.
    const confirm = (await staff.get(at('revoke')).expect(200)).text;
    expect(confirm).to.contain('<h1>Revoke this certificate?</h1>');
    expect(confirm).to.contain(`<code>${other!._id}</code>`);
    expect(confirm).to.contain(`<bdi>${other!.snapshot.name}</bdi>`);
    expect(confirm).to.contain(`<span dir="ltr">${holder!.email}</span>`);
    expect(confirm).to.contain('The certificate is no longer valid');
    expect(confirm).to.contain('is told by e-mail, with the reason given below');
    expect(confirm).to.contain('This cannot be undone');
    expect(confirm).to.contain(`action="${at('revoke')}"`);
    expect(confirm).to.match(/<input id="v-reason" name="reason"[^>]*required/);
    expect(confirm).to.contain(`<a href="${at('manage')}">No, keep it valid</a>`);
    expect(await status()).to.equal('valid');

    // Confirmed with a reason: revoked, and back to the certificate's page.
    const done = await staff
      .post(at('revoke'))
      .type('form')
      .send({ reason: 'Issued in error', _csrf: await tokenFor(staff, at('revoke')) });
    expect(done.status).to.equal(303);
    expect(done.headers.location).to.equal(at('manage'));
    expect(await status()).to.equal('revoked');
    // Nothing is left to confirm: the confirmation goes back to the certificate's page.
    await staff.get(at('revoke')).expect(303).expect('Location', at('manage'));
  });

  it('a revocation with a too-short reason shows the confirmation page again, the reason kept and its message by the field (400), in English and in French', async () => {
    const english = await post('revoke', { reason: 'oops' });
    expect(english.status).to.equal(400);
    expect(english.text).to.contain(`action="/certificates/c/${code}/revoke"`);
    expect(english.text).to.match(/id="v-reason"[^>]*value="oops"[^>]*aria-invalid="true"/);
    expect(fieldError(english.text, 'v-reason')).to.equal('Say why it is revoked (at least 5 characters).');
    expect(english.text).not.to.contain('error-title');
    expect(english.text.split('<main').length - 1).to.equal(1);

    const reissue = await post('reissue', { name: 'Amina Haddad-Benali', reason: '' });
    expect(reissue.status).to.equal(400);
    expect(reissue.text).to.match(/id="r-name"[^>]*value="Amina Haddad-Benali"/);
    expect(fieldError(reissue.text, 'r-reason')).to.equal('Say why it is reissued (at least 5 characters).');

    await staff
      .post('/language')
      .type('form')
      .send({ lang: 'fr', returnTo: manage(), _csrf: await tokenFor(staff, manage()) })
      .expect(303);
    try {
      const french = await post('revoke', { reason: 'oups' });
      expect(french.status).to.equal(400);
      expect(french.text).to.contain(`action="/certificates/c/${code}/revoke"`);
      expect(fieldError(french.text, 'v-reason')).to.equal('Indiquez pourquoi il est révoqué (au moins 5 caractères).');
    } finally {
      await staff
        .post('/language')
        .type('form')
        .send({ lang: 'en', returnTo: manage(), _csrf: await tokenFor(staff, manage()) })
        .expect(303);
    }
    // Nothing was revoked.
    const verify = await staff.get(`/verify/${code}`).set('Accept', 'application/json').expect(200);
    expect(verify.body.status).to.equal('valid');
  });

  it('JSON clients still get the validation error, in its English words', async () => {
    const res = await staff
      .post(`/certificates/c/${code}/revoke`)
      .set('Accept', 'application/json')
      .set('x-csrf-token', await tokenFor(staff, manage()))
      .send({ reason: 'no' })
      .expect(400);
    expect(res.body).to.deep.equal({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'Some fields need attention.',
        details: { fields: { reason: 'Say why it is revoked (at least 5 characters).' } },
      },
    });
  });

  it('a revocation the service refuses (already revoked) shows the page with the refusal in the reader’s language (409)', async () => {
    expect((await post('revoke', { reason: 'Issued in error' })).status).to.equal(303);
    const again = await post('revoke', { reason: 'Issued in error' });
    expect(again.status).to.equal(409);
    expect(again.text).to.contain('<p class="flash flash-error" role="alert">This certificate is already revoked.</p>');
    expect(again.text).not.to.contain('error-title');

    await staff
      .post('/language')
      .type('form')
      .send({ lang: 'fr', returnTo: manage(), _csrf: await tokenFor(staff, manage()) })
      .expect(303);
    try {
      const french = await post('revoke', { reason: 'Délivré par erreur' });
      expect(french.status).to.equal(409);
      expect(french.text).to.contain('Ce certificat est déjà révoqué.');
      const json = await staff
        .post(`/certificates/c/${code}/revoke`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', await tokenFor(staff, manage()))
        .send({ reason: 'Délivré par erreur' })
        .expect(409);
      expect(json.body.error).to.deep.equal({ code: 'CONFLICT', message: 'This certificate is already revoked.' });
    } finally {
      await staff
        .post('/language')
        .type('form')
        .send({ lang: 'en', returnTo: manage(), _csrf: await tokenFor(staff, manage()) })
        .expect(303);
    }
  });
});
