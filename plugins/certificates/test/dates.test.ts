/**
 * Certificates and an edition's end date (issue #17, "Dates"): a dated edition's certificates wait
 * for its end date, automatic ones as well as those staff issue (one person or in bulk), unless the
 * edition allows certificates before the end; after the end, a recurring job issues the automatic
 * certificates that waited.
 */
import { expect } from 'chai';
import { definePlugin } from '../../../src/index.ts';
import { createTestApp, DEMO_PASSWORD, postForm, signIn, type TestApp } from '../../../test/helpers/app.ts';
import courses from '../../courses/index.ts';
import { CourseCatalog, CourseProgress, type CourseCatalogService, type ProgressService } from '../../courses/contract.ts';
import enrolment from '../../enrolment/index.ts';
import certificates from '../index.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;
const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

describe('certificates wait for the end of the edition', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Agent;
  let courseId: string;
  const seen: { catalog?: CourseCatalogService; progress?: ProgressService } = {};
  const probe = definePlugin({
    name: 'dates-probe',
    version: '1.0.0',
    requires: [CourseCatalog, CourseProgress],
    register(ctx) {
      return {
        start() {
          seen.catalog = ctx.get(CourseCatalog);
          seen.progress = ctx.get(CourseProgress);
        },
      };
    },
  });

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
  async function newEdition(title: string, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await postForm(staff, '/enrolment/manage/editions', fields(title, extra), '/enrolment/manage/editions/new');
    expect(res.status, res.text.slice(0, 1500)).to.equal(303);
    const id = /editions\/([0-9a-f]{24})/.exec(res.headers.location as string)![1]!;
    const settings = await postForm(staff, `/certificates/editions/${id}/settings`, { autoIssue: 'on' }, `/certificates/editions/${id}`);
    expect(settings.status).to.equal(303);
    return id;
  }

  let people = 0;
  /** A learner enrolled in the edition, their printed name confirmed, then the course completed. */
  async function completer(editionId: string) {
    const email = `ends${++people}@example.org`;
    const user = await t.app.olive.users.create({ email, name: `Ends ${people}`, password: DEMO_PASSWORD }, 'test');
    const agent = await signIn(t.app, email);
    expect((await postForm(agent, `/enrolment/editions/${editionId}/enrol`, {}, `/enrolment/editions/${editionId}`)).status).to.equal(303);
    expect((await postForm(agent, '/certificates/name', { name: `Ends Person ${people}` }, '/certificates/name')).status).to.equal(303);
    for (const item of await seen.catalog!.items(courseId)) {
      await seen.progress!.recordItemDone({ learnerId: user.id, courseId, editionId, itemId: item.id });
    }
    const e = (await t.app.olive.connection.model('enrolment_enrolment').findOne({ editionId, email }).lean()) as unknown as { _id: unknown };
    return { agent, id: user.id, enrolmentId: String(e._id) };
  }
  const certificatesOf = (learnerId: string) => t.app.olive.connection.collection('certificates_certificate').countDocuments({ learnerId });

  before(async () => {
    t = await createTestApp({
      plugins: [courses, enrolment, certificates, probe],
      seed: true,
      label: 'cert-dates',
      pluginConfig: { certificates: { endCheckMinutes: 0.005 } },
    });
    staff = await signIn(t.app, 'staff@olive.example');
    courseId = (await seen.catalog!.findBySlug('conflict-analysis'))!.id;
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
