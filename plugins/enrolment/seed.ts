/**
 * The enrolment plugin's demo programme: the participants of `fixtures/enrolment/people.json`
 * (profiles, and accounts without a password for most of them: they are roster content, not demo
 * log-ins) and the editions of `fixtures/enrolment/editions.json` with their people in every status
 * (enrolled, pending, waitlisted, rejected, withdrawn) and some progress, so that "My learning", the
 * rosters and the reports look real on a first start.
 *
 * Everything goes through the same service calls people and staff use (apply, accept, add by staff,
 * withdraw...), so seats, the waiting list, history and events are what they would be.
 *
 * Seeding only adds: an edition whose course already has an edition of the same title is skipped
 * with its people; accounts and profiles that exist are left as they are. Both fixtures are checked
 * as a whole before anything is written, every problem listed at once.
 *
 * Edition dates are relative to the day of seeding (days before or after), so that the application
 * edition is always open to applications and the past edition always over; a `{year}` in a title
 * is the year the edition starts.
 */
import countries from 'i18n-iso-countries';
import { z } from 'zod';
import type { Model } from 'mongoose';
import { Users, type SeedContext, type SessionUser } from '../../src/index.ts';
import { CourseCatalog, CourseProgress, type CourseSummary } from '../courses/contract.ts';
import { ENROLMENT_METHODS, ENROLMENT_STATUSES, type EnrolmentStatus } from './contract.ts';
import type { EditionDoc } from './models/edition.model.ts';
import type { EnrolmentDoc } from './models/enrolment.model.ts';
import type { EnrolmentService } from './services/enrolment.service.ts';
import { normaliseEmail } from './services/enrolment.service.ts';
import { GENDERS, ORGANISATION_TYPES } from './services/profile.ts';

export const PEOPLE_FIXTURE = 'people.json';
export const EDITIONS_FIXTURE = 'editions.json';
const DAY = 24 * 60 * 60 * 1000;

// ---- The fixtures' shape ---------------------------------------------------------------------------

const everyTime = { when: () => true };
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const email = z.email({ error: 'Give a valid e-mail address.' }).transform(normaliseEmail);

const person = z.strictObject({
  email,
  givenName: z.string().trim().min(1, 'Give the given name.').max(100),
  familyName: z.string().trim().min(1, 'Give the family name.').max(100),
  gender: z.enum(GENDERS, { error: `Gender is one of ${GENDERS.join(', ')}.` }),
  country: z.string().refine((c) => /^[A-Z]{2}$/.test(c) && countries.isValid(c), 'Give the country as an ISO 3166 alpha-2 code in capitals, e.g. KE.'),
  organisation: z.string().trim().max(200),
  organisationType: z.enum(ORGANISATION_TYPES, { error: `Organisation type is one of ${ORGANISATION_TYPES.join(', ')}.` }),
  jobTitle: z.string().trim().max(200).default(''),
  /** False: pre-enrolled by e-mail, no account yet (matched when they sign up). */
  account: z.boolean(),
});

export const peopleFixtureSchema = z.strictObject({ people: z.array(person) }).superRefine((f, ctx) => {
  const seen = new Set<string>();
  asArray(f?.people).forEach((p, i) => {
    const e = (p as { email?: unknown } | null)?.email;
    if (typeof e !== 'string') return;
    if (seen.has(e)) ctx.addIssue({ code: 'custom', path: ['people', i, 'email'], message: `${e} is listed twice.` });
    seen.add(e);
  });
}, everyTime);

const participant = z.strictObject({
  email,
  status: z.enum(ENROLMENT_STATUSES, { error: `Status is one of ${ENROLMENT_STATUSES.join(', ')}.` }),
  /** Modules completed, in course order ("all": the course is completed). Enrolled or withdrawn people with an account only. */
  modulesDone: z.union([z.number().int().min(0).max(100), z.literal('all')]).optional(),
  motivation: z.string().trim().max(5000).optional(),
  answers: z.record(z.string(), z.string().max(5000)).optional(),
  /** Enrolled this many days before the seed (a self-paced edition's due dates count from it). */
  enrolledDaysAgo: z.number().int().min(1).max(730).optional(),
});

const edition = z
  .strictObject({
    course: z.string().min(1, 'Name the course by its slug.'),
    title: z.string().trim().min(3).max(190),
    description: z.string().max(5000).default(''),
    selfPaced: z.boolean(),
    /** Days from the day of seeding (negative: in the past). Dated editions only. */
    startsInDays: z.number().int().min(-3650).max(3650).optional(),
    lengthDays: z.number().int().min(1).max(730).optional(),
    deadlineInDays: z.number().int().min(-3650).max(3650).optional(),
    online: z.boolean(),
    place: z.string().trim().max(200),
    contactEmail: z.email().optional(),
    capacity: z.number().int().min(1).max(100000).nullable(),
    language: z.string().min(2).max(10),
    method: z.enum(ENROLMENT_METHODS),
    enrolmentKey: z.string().min(6, 'Use at least 6 characters for a key.').max(100).optional(),
    questions: z
      .array(z.strictObject({ id: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/), label: z.string().min(1).max(500), required: z.boolean() }))
      .default([]),
    /** E-mail addresses of demo accounts with the trainer role. */
    trainers: z.array(email).default([]),
    participants: z.array(participant),
  })
  .superRefine((e, ctx) => editionProblems(e, ctx), everyTime);

export const editionsFixtureSchema = z.strictObject({
  /** The demo staff account that creates the editions and takes the decisions. */
  staff: email,
  editions: z.array(edition),
});

/** Which statuses go through which calls; checked here so that the seed never fails half-way. */
function editionProblems(e: Record<string, unknown> | null, ctx: z.RefinementCtx) {
  if (!e || typeof e !== 'object') return;
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const people = asArray(e.participants) as { email?: unknown; status?: unknown }[];
  const count = (s: string) => people.filter((p) => p?.status === s).length;
  const seen = new Set<unknown>();
  people.forEach((p, i) => {
    if (seen.has(p?.email)) issue(['participants', i, 'email'], `${String(p?.email)} is listed twice in this edition.`);
    seen.add(p?.email);
    if ((p?.status === 'pending' || p?.status === 'rejected') && e.method !== 'application')
      issue(['participants', i, 'status'], 'Only editions taking applications have pending or rejected people.');
  });
  if (e.selfPaced === true && (e.startsInDays !== undefined || e.lengthDays !== undefined)) issue(['selfPaced'], 'A self-paced edition has no dates.');
  if (e.selfPaced === false && (typeof e.startsInDays !== 'number' || typeof e.lengthDays !== 'number'))
    issue(['startsInDays'], 'A dated edition needs startsInDays and lengthDays.');
  if (e.online === false && !e.place) issue(['place'], 'Say where it takes place, or make it online.');
  if (e.method === 'key' && !e.enrolmentKey) issue(['enrolmentKey'], 'An edition with the key method needs its enrolmentKey.');
  const capacity = typeof e.capacity === 'number' ? e.capacity : null;
  if (capacity !== null && count('enrolled') > capacity) issue(['participants'], `${count('enrolled')} people enrolled for ${capacity} seats.`);
  if (count('waitlisted') && (capacity === null || count('enrolled') !== capacity))
    issue(['participants'], 'People wait only when every seat is taken: enrol as many people as there are seats.');
  // Applications and self-enrolment go through the same checks as for people: the window must be open.
  const deadline = typeof e.deadlineInDays === 'number' ? e.deadlineInDays : undefined;
  const ends = typeof e.startsInDays === 'number' && typeof e.lengthDays === 'number' ? e.startsInDays + e.lengthDays : undefined;
  const needsOpenWindow = people.length > 0 && (e.method === 'application' || e.method === 'open' || e.method === 'key');
  if (needsOpenWindow && ((deadline !== undefined && deadline <= 0) || (e.selfPaced === false && ends !== undefined && ends <= 0))) {
    issue(['deadlineInDays'], 'People apply or enrol themselves here: the deadline and the end must be in the future (or use the invitation method).');
  }
}

export type PeopleFixture = z.output<typeof peopleFixtureSchema>;
export type EditionsFixture = z.output<typeof editionsFixtureSchema>;
type EditionEntry = EditionsFixture['editions'][number];
type PersonEntry = PeopleFixture['people'][number];

/** The edition's title with `{year}` replaced by its start year (or the current year for self-paced ones). */
export function editionTitle(entry: Pick<EditionEntry, 'title' | 'startsInDays'>, now = new Date()): string {
  const start = entry.startsInDays === undefined ? now : new Date(now.getTime() + entry.startsInDays * DAY);
  return entry.title.replaceAll('{year}', String(start.getUTCFullYear()));
}

/** Midnight UTC, `days` days from now. */
function dayFromNow(days: number, now: Date): Date {
  const d = new Date(now.getTime() + days * DAY);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

/** Checks one fixture file; every problem is listed in the error. */
function parseFixture<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`enrolment: ${where} is not valid:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Runs `work` over the list with at most `limit` calls in flight. */
async function inParallel<T>(list: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, list.length) }, async () => {
      while (next < list.length) await work(list[next++]!);
    }),
  );
}

// ---- Seeding ---------------------------------------------------------------------------------------

export interface SeedDeps {
  service: EnrolmentService;
  now?: Date;
  /** To date enrolments back (`enrolledDaysAgo`). */
  Enrolment?: Model<EnrolmentDoc>;
}

export async function seedEnrolment(ctx: SeedContext, deps: SeedDeps): Promise<{ editions: number; people: number; progressItems: number }> {
  const started = Date.now();
  const now = deps.now ?? new Date();
  const { service } = deps;
  const peopleFile = parseFixture(peopleFixtureSchema, await ctx.readFixture(PEOPLE_FIXTURE), `fixtures/enrolment/${PEOPLE_FIXTURE}`);
  const editionsFile = parseFixture(editionsFixtureSchema, await ctx.readFixture(EDITIONS_FIXTURE), `fixtures/enrolment/${EDITIONS_FIXTURE}`);
  const people = new Map(peopleFile.people.map((p) => [p.email, p]));

  // Across the two files and the database, before the first write.
  const problems: string[] = [];
  const users = ctx.get(Users);
  const catalog = ctx.get(CourseCatalog);
  const staff = await users.findByEmail(editionsFile.staff);
  if (!staff) problems.push(`staff ${editionsFile.staff}: no such account (the host's demo accounts are in fixtures/host/users.json)`);
  else if (!staff.roles.includes('staff') && !staff.roles.includes('admin')) problems.push(`staff ${editionsFile.staff}: the account is not programme staff`);
  const courses = new Map<string, CourseSummary>();
  const moduleIds = new Map<string, string[]>();
  for (const slug of new Set(editionsFile.editions.map((e) => e.course))) {
    const course = await catalog.findBySlug(slug);
    if (!course) {
      problems.push(`course ${slug}: no such course (the demo courses are in fixtures/courses/courses.json)`);
      continue;
    }
    courses.set(slug, course);
    moduleIds.set(
      slug,
      (await catalog.modules(course.id)).map((m) => m.id),
    );
  }
  const trainers = new Map<string, SessionUser>();
  for (const address of new Set(editionsFile.editions.flatMap((e) => e.trainers))) {
    const user = await users.findByEmail(address);
    if (!user) problems.push(`trainer ${address}: no such account`);
    else if (!user.roles.includes('trainer')) problems.push(`trainer ${address}: the account does not have the trainer role`);
    else trainers.set(address, user);
  }
  editionsFile.editions.forEach((e, i) => {
    const where = `editions[${i}] “${e.title}”`;
    for (const p of e.participants) {
      const who = people.get(p.email);
      if (!who) {
        problems.push(`${where}: ${p.email} is not in ${PEOPLE_FIXTURE}`);
        continue;
      }
      const viaApplication = e.method === 'application' && p.status !== 'enrolled';
      if (!who.account && viaApplication) problems.push(`${where}: ${p.email} has no account, so cannot apply (only staff can enrol them)`);
      if (p.modulesDone !== undefined) {
        if (!who.account) problems.push(`${where}: ${p.email} has no account, so has no progress`);
        if (p.status !== 'enrolled' && p.status !== 'withdrawn')
          problems.push(`${where}: ${p.email} is ${p.status}: only enrolled or withdrawn people have progress`);
        const modules = moduleIds.get(e.course);
        if (modules && typeof p.modulesDone === 'number' && p.modulesDone > modules.length)
          problems.push(`${where}: ${p.email} cannot have done ${p.modulesDone} modules of a course with ${modules.length}`);
      }
    }
  });
  if (problems.length)
    throw new Error(`enrolment: the demo editions refer to what does not exist or cannot be:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

  // Which editions are missing (same course, same title).
  const missing: EditionEntry[] = [];
  for (const e of editionsFile.editions) {
    const course = courses.get(e.course)!;
    if (await service.hasEdition(course.id, editionTitle(e, now)))
      ctx.logger.debug({ edition: editionTitle(e, now) }, 'demo edition already present: left as it is');
    else missing.push(e);
  }
  if (!missing.length) return { editions: 0, people: 0, progressItems: 0 };

  // People: accounts (no password) and profiles, only those missing.
  const needed = [...new Set(missing.flatMap((e) => e.participants.map((p) => p.email)))].map((address) => people.get(address)!);
  const accounts = new Map<string, SessionUser>();
  await inParallel(
    needed.filter((p) => p.account),
    6,
    async (p) => {
      const { user } = await users.ensure({ email: p.email, name: `${p.givenName} ${p.familyName}`, roles: ['learner'], organisation: p.organisation }, 'demo');
      accounts.set(p.email, user);
    },
  );
  const existing = await service.profiled(needed.map((p) => p.email));
  const newProfiles = needed
    .filter((p) => !existing.has(p.email))
    .map((p: PersonEntry) => ({
      _id: p.email,
      givenName: p.givenName,
      familyName: p.familyName,
      gender: p.gender,
      country: p.country,
      organisation: p.organisation,
      organisationType: p.organisationType,
      jobTitle: p.jobTitle,
      ...(accounts.get(p.email) ? { userId: accounts.get(p.email)!.id } : {}),
    }));
  // A profile created meanwhile (a second instance seeding, someone importing): theirs stands.
  await service.addProfiles(newProfiles);

  const progress: { learnerId: string; courseId: string; editionId: string; modules: number | 'all' }[] = [];
  for (const entry of missing) {
    const course = courses.get(entry.course)!;
    const editionDoc = await service.createEdition(
      {
        courseId: course.id,
        title: editionTitle(entry, now),
        description: entry.description,
        selfPaced: entry.selfPaced,
        startsAt: entry.startsInDays !== undefined ? dayFromNow(entry.startsInDays, now) : undefined,
        endsAt: entry.startsInDays !== undefined && entry.lengthDays !== undefined ? dayFromNow(entry.startsInDays + entry.lengthDays, now) : undefined,
        enrolmentDeadline: entry.deadlineInDays !== undefined ? dayFromNow(entry.deadlineInDays, now) : undefined,
        place: entry.place,
        contactEmail: entry.contactEmail,
        online: entry.online,
        capacity: entry.capacity,
        language: entry.language,
        method: entry.method,
        enrolmentKey: entry.enrolmentKey,
        questions: entry.questions,
        trainerIds: entry.trainers.map((t) => trainers.get(t)!.id),
        status: 'published',
      },
      staff!.id,
    );
    await seedParticipants(service, editionDoc, entry, people, accounts, staff!.id);
    // Enrolled some days ago, as the demo's due dates need (one write per person, made once with the edition).
    for (const p of entry.participants.filter((x) => x.enrolledDaysAgo && x.status === 'enrolled')) {
      if (!deps.Enrolment) break;
      const at = new Date(now.getTime() - p.enrolledDaysAgo! * 24 * 60 * 60 * 1000);
      const doc = await deps.Enrolment.findOne({ editionId: editionDoc._id.toString(), email: p.email }).lean();
      if (doc)
        await deps.Enrolment.updateOne({ _id: doc._id }, { $set: { createdAt: at, history: doc.history.map((h) => ({ ...h, at })) } }, { timestamps: false });
    }
    for (const p of entry.participants) {
      const account = accounts.get(p.email);
      if (p.modulesDone !== undefined && account)
        progress.push({ learnerId: account.id, courseId: course.id, editionId: editionDoc._id.toString(), modules: p.modulesDone });
    }
    ctx.logger.info({ edition: editionDoc.title, people: entry.participants.length }, 'demo edition added');
  }

  // Progress, learner by learner (several at once: different learners never share a record).
  let progressItems = 0;
  if (progress.length) {
    // Each course's items grouped by module, in course order ("modulesDone: 2" = the first two modules).
    const itemsOf = new Map<string, string[][]>();
    for (const courseId of new Set(progress.map((p) => p.courseId))) {
      const items = await catalog.items(courseId);
      itemsOf.set(
        courseId,
        (await catalog.modules(courseId)).map((m) => items.filter((i) => i.moduleId === m.id).map((i) => i.id)),
      );
    }
    const recorder = ctx.get(CourseProgress);
    await inParallel(progress, 6, async (p) => {
      const modules = itemsOf.get(p.courseId)!;
      const items = modules.slice(0, p.modules === 'all' ? modules.length : p.modules).flat();
      for (const itemId of items) {
        await recorder.recordItemDone({ learnerId: p.learnerId, courseId: p.courseId, editionId: p.editionId, itemId });
        progressItems++;
      }
    });
  }
  ctx.logger.info({ editions: missing.length, people: needed.length, progressItems, ms: Date.now() - started }, 'demo enrolments added');
  return { editions: missing.length, people: needed.length, progressItems };
}

/**
 * Puts the edition's people in their status through the calls people and staff make. Withdrawn
 * people go first (their seat is free again before anyone waits), then those enrolled, then the
 * waiting list (in the fixture's order: its positions), then rejected and pending applications.
 */
async function seedParticipants(
  service: EnrolmentService,
  edition: EditionDoc,
  entry: EditionEntry,
  people: Map<string, PersonEntry>,
  accounts: Map<string, SessionUser>,
  staffId: string,
) {
  const editionId = edition._id.toString();
  const order: EnrolmentStatus[] = ['withdrawn', 'enrolled', 'waitlisted', 'rejected', 'pending'];
  const list = [...entry.participants].sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status));
  for (const p of list) {
    const account = accounts.get(p.email);
    const person = people.get(p.email)!;
    const applies = entry.method === 'application' && !!account;
    const application = () =>
      service.apply(account!, editionId, {
        motivation:
          p.motivation ?? `As ${person.jobTitle || 'a practitioner'} at ${person.organisation}, I want to strengthen my skills in negotiation and mediation.`,
        answers: Object.fromEntries(entry.questions.map((q) => [q.id, p.answers?.[q.id] ?? (q.required ? `${person.jobTitle}, ${person.organisation}.` : '')])),
      });
    /** Enrolled, or waitlisted when full: what staff or the person themselves would do for this method. */
    const enrol = async () => {
      if (applies) return service.decide((await application())._id.toString(), 'accept', undefined, staffId);
      if (account && (entry.method === 'open' || entry.method === 'key')) return service.selfEnrol(account, editionId, entry.enrolmentKey);
      return (await service.addByStaff(editionId, { email: p.email, source: 'staff' }, staffId)).enrolment;
    };
    switch (p.status) {
      case 'enrolled':
        await enrol();
        break;
      case 'withdrawn':
        await service.withdraw((await enrol())._id.toString(), staffId);
        break;
      case 'waitlisted':
        if (applies) await service.decide((await application())._id.toString(), 'waitlist', undefined, staffId);
        else await enrol();
        break;
      case 'rejected':
        await service.decide((await application())._id.toString(), 'reject', 'Thank you for applying: we could not offer you a place this year.', staffId);
        break;
      case 'pending':
        await application();
        break;
    }
  }
}
