/**
 * Certificates and an edition's end date (issue #17, "Dates"): a dated edition's certificates wait
 * for its end date, automatic ones as well as those staff issue (one person or in bulk), unless the
 * edition allows certificates before the end; after the end, a recurring job issues the automatic
 * certificates that waited.
 */
import { expect } from 'chai';
import { postForm, type TestApp } from '../../../test/helpers/app.ts';
import { createEdition, enrolLearner, startCertificatesApp, type Agent, type CertificatesWorld } from './setup.ts';

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

describe('certificates wait for the end of the edition', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Agent;
  let courseId: string;
  let world: CertificatesWorld;

  /** The edition form's fields: from ten days ago to a month ahead, certificates waiting for the end unless `extra` allows them before. */
  const fields = (title: string, extra: Record<string, unknown>) => ({
    courseId,
    title,
    language: 'en',
    method: 'open',
    status: 'published',
    place: 'Geneva',
    startsAt: day(-10),
    endsAt: day(30),
    ...extra,
  });
  /** Such an edition, issuing automatically. */
  const newEdition = (title: string, extra: Record<string, unknown> = {}) =>
    createEdition(world, title, fields(title, extra), { beforeEnd: false, autoIssue: true });

  let people = 0;
  /** A learner enrolled in the edition, their printed name confirmed, then the course completed. */
  function completer(editionId: string) {
    const n = ++people;
    return enrolLearner(world, editionId, { email: `ends${n}@example.org`, name: `Ends ${n}`, printedName: `Ends Person ${n}`, complete: true });
  }
  const certificatesOf = (learnerId: string) => t.app.olive.connection.collection('certificates_certificate').countDocuments({ learnerId });

  before(async () => {
    world = await startCertificatesApp({
      label: 'cert-dates',
      pluginConfig: { certificates: { endCheckMinutes: 0.005 } },
    });
    ({ t, staff, courseId } = world);
  });
  after(() => t.stop());

  it('before the end, completing issues nothing, and staff are told why for one person and in bulk; after the end the job issues it', async () => {
    const edition = await newEdition('Seminar ending next month');
    const learner = await completer(edition);
    expect(await certificatesOf(learner.id), 'no certificate before the end').to.equal(0);

    const one = await postForm(
      staff,
      `/certificates/editions/${edition}/issue`,
      { enrolmentId: learner.enrolmentId, force: 'on' },
      `/certificates/editions/${edition}`,
    );
    expect(one.status).to.be.oneOf([303, 409]);
    const page = (await staff.get(`/certificates/editions/${edition}`).expect(200)).text;
    const why = 'This edition has not ended yet: its certificates are issued from its end date';
    expect(one.status === 409 ? one.text : page).to.contain(why);
    const json = await staff
      .post(`/certificates/editions/${edition}/jobs`)
      .set('Accept', 'application/json')
      .set('x-csrf-token', /name="_csrf" value="([^"]+)"/.exec(page)![1]!)
      .send({ scope: 'all-completed' });
    expect(json.status).to.equal(409);
    expect(json.body.error.code).to.equal('NOT_ENDED');
    expect(await certificatesOf(learner.id)).to.equal(0);

    // The edition ends (staff correct its dates): the recurring job issues what waited.
    const ended = await postForm(
      staff,
      `/enrolment/manage/editions/${edition}`,
      fields('Seminar ending next month', { endsAt: day(-1) }),
      `/enrolment/manage/editions/${edition}/edit`,
    );
    expect(ended.status).to.equal(303);
    for (const until = Date.now() + 30_000; (await certificatesOf(learner.id)) === 0; await new Promise((r) => setTimeout(r, 50)))
      if (Date.now() > until) throw new Error('the job after the end issued nothing within 30 s');
    const cert = (await t.app.olive.connection.collection('certificates_certificate').findOne({ learnerId: learner.id }))!;
    expect(cert.via).to.equal('completion');
  });

  it('with "certificates before the end", completing issues the certificate at once', async () => {
    const edition = await newEdition('Seminar with early certificates', { certificatesBeforeEnd: 'on' });
    const form = (await staff.get(`/enrolment/manage/editions/${edition}/edit`).expect(200)).text;
    expect(form).to.match(/name="certificatesBeforeEnd"[^>]* checked/);
    const learner = await completer(edition);
    expect(await certificatesOf(learner.id)).to.equal(1);
  });
});
