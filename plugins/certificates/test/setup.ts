/**
 * What the certificates tests set up the same way (certificates, dates, notifications and
 * printed-name): the app with courses, enrolment and certificates, staff signed in and the seeded
 * Conflict Analysis course; an edition of it made through the staff form; a learner enrolled
 * through the site, their printed name confirmed and the course completed when asked.
 */
import { createTestApp, DEMO_PASSWORD, postForm, signIn, type TestApp } from '../../../test/helpers/app.ts';
import { inbox, mailTestEnv } from '../../../test/helpers/mail.ts';
import courses from '../../courses/index.ts';
import { CourseCatalog, CourseProgress } from '../../courses/contract.ts';
import enrolment from '../../enrolment/index.ts';
import { postEdition } from '../../enrolment/test/import-pages.ts';
import certificates from '../index.ts';

export type Agent = Awaited<ReturnType<typeof signIn>>;
type AppOptions = NonNullable<Parameters<typeof createTestApp>[0]>;

export interface CertificatesWorld {
  t: TestApp;
  staff: Agent;
  /** Conflict Analysis, from the seed. */
  courseId: string;
}

/** The seeded app with courses, enrolment and certificates (then `more` plugins), staff signed in. */
export async function startCertificatesApp(options: Omit<AppOptions, 'plugins' | 'seed'> & { more?: AppOptions['plugins'] }): Promise<CertificatesWorld> {
  const { more = [], ...rest } = options;
  const t = await createTestApp({ ...rest, plugins: [courses, enrolment, certificates, ...more], seed: true });
  const staff = await signIn(t.app, 'staff@olive.example');
  const courseId = (await t.app.olive.service(CourseCatalog).findBySlug('conflict-analysis'))!.id;
  return { t, staff, courseId };
}

/** The same app sending its mail through the test mail server at `baseUrl`, and the inbox that reads it. */
export async function startCertificatesMailApp(label: string, baseUrl: string): Promise<CertificatesWorld & { mailbox: ReturnType<typeof inbox> }> {
  const env = mailTestEnv({ BASE_URL: baseUrl });
  const mailbox = inbox(env.MAIL_FROM);
  return { ...(await startCertificatesApp({ label, env })), mailbox };
}

/**
 * An edition of the course made by staff through the form: open, published, in English, in
 * Geneva from 2 March 2026 to 2099, unless `fields` say otherwise. `beforeEnd` (default true)
 * lets it issue certificates before its end date; `autoIssue` then turns on automatic issuance
 * in its certificate settings. Each answer is checked to be a redirect (303). Returns its id.
 */
export async function createEdition(
  w: CertificatesWorld,
  title: string,
  fields: Record<string, unknown> = {},
  options: { beforeEnd?: boolean; autoIssue?: boolean } = {},
): Promise<string> {
  const { beforeEnd = true, autoIssue = false } = options;
  const id = await postEdition(w.staff, {
    courseId: w.courseId,
    title,
    language: 'en',
    method: 'open',
    status: 'published',
    place: 'Geneva',
    startsAt: '2026-03-02',
    endsAt: '2099-03-13',
    ...(beforeEnd ? { certificatesBeforeEnd: 'on' } : {}),
    ...fields,
  });
  if (autoIssue) await postForm(w.staff, `/certificates/editions/${id}/settings`, { autoIssue: 'on' }, `/certificates/editions/${id}`, 303);
  return id;
}

/**
 * A new account enrolled in the edition through the site (checked: 303); then, when given, its
 * printed name confirmed (checked: 303) and, when `complete`, every item of the course done.
 */
export async function enrolLearner(
  w: CertificatesWorld,
  editionId: string,
  person: { email: string; name: string; locale?: string; printedName?: string; complete?: boolean },
) {
  const { t, courseId } = w;
  const { email, name, locale, printedName, complete = false } = person;
  const user = await t.app.olive.users.create({ email, name, password: DEMO_PASSWORD, ...(locale ? { locale } : {}) }, 'test');
  const agent = await signIn(t.app, email);
  await postForm(agent, `/enrolment/editions/${editionId}/enrol`, {}, `/enrolment/editions/${editionId}`, 303);
  if (printedName !== undefined) await postForm(agent, '/certificates/name', { name: printedName }, '/certificates/name', 303);
  if (complete) {
    for (const item of await t.app.olive.service(CourseCatalog).items(courseId))
      await t.app.olive.service(CourseProgress).recordItemDone({ learnerId: user.id, courseId, editionId, itemId: item.id });
  }
  const row = await t.app.olive.connection.db!.collection('enrolment_enrolment').findOne({ editionId, email });
  return { agent, email, id: user.id, enrolmentId: String(row!._id) };
}
