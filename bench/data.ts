/**
 * The benchmarks' programme: the PPCP demo scaled up to a busy year. On top of the demo (loaded
 * first, through the plugins' own seed hooks) it adds learners with accounts and profiles, dated
 * open editions of the two published courses, one enrolment per learner in one edition of each
 * course, and progress records (items, then the modules and course completions they imply).
 *
 * Written in bulk through the plugins' own Mongoose models (schema validation on every document),
 * not through the services one person at a time: 50,000 records one by one would take the
 * benchmark longer to prepare than to run. The progress written obeys the recorder's rules
 * (a module is done when all its items are, a course when all its counted modules are), so no
 * page finds a gap to repair while it is being measured.
 *
 * Deterministic: the same sizes give the same people and the same progress.
 */
import fs from 'node:fs';
import path from 'node:path';
import mongoose, { type Connection } from 'mongoose';
import type { Db } from 'mongodb';
import { progressKey } from '../plugins/courses/models/progress.model.ts';

export interface DataSize {
  learners: number;
  editions: number;
  /** Progress records to write in all (items, modules, course completions); met within one learner's share. */
  progressRecords: number;
}

export const FULL_SIZE: DataSize = { learners: 2000, editions: 20, progressRecords: 50000 };
export const SMOKE_SIZE: DataSize = { learners: 120, editions: 4, progressRecords: 1500 };

export const benchLearnerEmail = (n: number) => `learner.${String(n).padStart(5, '0')}@bench.olive.example`;

export interface GeneratedData {
  learners: number;
  editions: number;
  enrolments: number;
  itemRecords: number;
  moduleRecords: number;
  courseCompletions: number;
  /**
   * Per learner: what is left to do in each course, in course order (the progress benchmark does it):
   * `itemIds` to mark done, `steps` the same with the quizzes to pass among them.
   */
  unfinished: Map<string, { slug: string; itemIds: string[]; steps: { itemId: string; quiz: boolean }[] }[]>;
  /** The e-mail address of every generated learner, in order. */
  emails: string[];
  ms: number;
}

/** A small deterministic random source (mulberry32), so every run builds the same programme. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface CourseShape {
  id: string;
  slug: string;
  title: string;
  /** Modules in course order, each with its items in order. */
  modules: { id: string; required: boolean; itemIds: string[] }[];
  /** Quizzes are completed by passing them, not by marking them done. */
  quizIds: Set<string>;
}

async function publishedCourses(db: Connection): Promise<CourseShape[]> {
  const courses = await db.collection('courses_course').find({ status: 'published' }).sort({ _id: 1 }).toArray();
  const out: CourseShape[] = [];
  for (const c of courses) {
    const modules = await db.collection('courses_module').find({ courseId: c._id }).sort({ position: 1 }).toArray();
    const items = await db.collection('courses_item').find({ courseId: c._id }).sort({ position: 1 }).toArray();
    out.push({
      id: c._id.toString(),
      slug: c.slug as string,
      title: ((c.title as Record<string, string>).en ?? c.slug) as string,
      modules: modules.map((m) => ({
        id: m._id.toString(),
        required: m.required !== false,
        itemIds: items.filter((i) => i.moduleId.toString() === m._id.toString()).map((i) => i._id.toString()),
      })),
      quizIds: new Set(items.filter((i) => i.type === 'quiz').map((i) => i._id.toString())),
    });
  }
  return out;
}

/** The modules whose completion completes the course: the recorder's rule (see progress.service.ts). */
function countedModules(course: CourseShape) {
  const withContent = course.modules.filter((m) => m.itemIds.length);
  const required = withContent.filter((m) => m.required);
  return required.length ? required : withContent;
}

/**
 * What the recorder must have derived from these learners' item records: a module record for every
 * module whose items are all done, a course completion for every course whose counted modules all
 * are. Counts those expected and those missing (each record is inserted once, by whoever emits its
 * event, so a missing one is an event lost; a second one cannot exist under the same key).
 */
export async function derivedRecords(db: Db, learnerIds: readonly string[]) {
  const courses = await publishedCourses(db as unknown as Connection);
  const byLearner = { learnerId: { $in: [...learnerIds] } };
  const keys = async (name: string) =>
    new Set(
      (
        await db
          .collection(name)
          .find(byLearner, { projection: { _id: 1 } })
          .toArray()
      ).map((d) => String(d._id)),
    );
  const items = await db
    .collection('courses_item_progress')
    .find(byLearner, { projection: { learnerId: 1, editionId: 1, courseId: 1 } })
    .toArray();
  const [itemKeys, moduleKeys, courseKeys] = [
    await keys('courses_item_progress'),
    await keys('courses_module_progress'),
    await keys('courses_course_completion'),
  ];
  const out = { modulesExpected: 0, modulesMissing: 0, coursesExpected: 0, coursesMissing: 0 };
  const seen = new Set<string>();
  for (const r of items) {
    const course = courses.find((c) => c.id === String(r.courseId));
    const who = `${r.learnerId}:${r.editionId}`;
    if (!course || seen.has(`${who}:${course.id}`)) continue;
    seen.add(`${who}:${course.id}`);
    const done = (m: CourseShape['modules'][number]) =>
      m.itemIds.length > 0 && m.itemIds.every((i) => itemKeys.has(progressKey(String(r.learnerId), String(r.editionId), i)));
    for (const m of course.modules.filter(done)) {
      out.modulesExpected += 1;
      if (!moduleKeys.has(progressKey(String(r.learnerId), String(r.editionId), m.id))) out.modulesMissing += 1;
    }
    const counted = countedModules(course);
    if (counted.length && counted.every((m) => moduleKeys.has(progressKey(String(r.learnerId), String(r.editionId), m.id)))) {
      out.coursesExpected += 1;
      if (!courseKeys.has(progressKey(String(r.learnerId), String(r.editionId), course.id))) out.coursesMissing += 1;
    }
  }
  return out;
}

/** Records that `done` items (in course order) imply: the items, the modules they finish, the course. */
function recordsFor(course: CourseShape, done: number) {
  const items = course.modules.flatMap((m) => m.itemIds.map((itemId) => ({ moduleId: m.id, itemId })));
  const doneItems = items.slice(0, done);
  const doneSet = new Set(doneItems.map((i) => i.itemId));
  const doneModules = course.modules.filter((m) => m.itemIds.length && m.itemIds.every((id) => doneSet.has(id)));
  const counted = countedModules(course);
  const complete = counted.length > 0 && counted.every((m) => doneModules.includes(m));
  return {
    doneItems,
    doneModules,
    complete,
    left: items.slice(done).map((i) => ({ itemId: i.itemId, quiz: course.quizIds.has(i.itemId) })),
  };
}

/**
 * Scales the demo up. Expects the demo programme to be loaded (the staff and trainer accounts,
 * the published courses, the demo learner's password to copy).
 */
export async function generateBenchData(db: Connection, size: DataSize, log: (line: string) => void = () => undefined): Promise<GeneratedData> {
  const t0 = performance.now();
  const rnd = random(20270607);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const courses = await publishedCourses(db);
  if (courses.length === 0) throw new Error('No published course: load the demo programme first.');
  const users = db.collection('host_users');
  const staff = await users.findOne({ email: 'staff@olive.example' });
  const trainer = await users.findOne({ email: 'trainer@olive.example' });
  const demoLearner = await users.findOne({ email: 'learner@olive.example' });
  const credential = demoLearner && (await db.collection('host_credentials').findOne({ _id: demoLearner._id }));
  if (!staff || !trainer || !credential) throw new Error('The demo accounts are missing: load the demo programme first.');

  // People: names, countries and organisations recombined from the demo's participants.
  const fixture = JSON.parse(fs.readFileSync(path.resolve('fixtures/enrolment/people.json'), 'utf8')).people as {
    givenName: string;
    familyName: string;
    gender: string;
    country: string;
    organisation: string;
    organisationType: string;
    jobTitle: string;
  }[];
  const now = new Date();
  const emails = Array.from({ length: size.learners }, (_, i) => benchLearnerEmail(i + 1));
  const userIds = emails.map(() => new mongoose.Types.ObjectId());
  const people = emails.map((email, i) => {
    const a = pick(fixture),
      b = pick(fixture),
      c = pick(fixture);
    return {
      email,
      userId: userIds[i]!.toString(),
      givenName: a.givenName,
      familyName: b.familyName,
      gender: a.gender,
      country: c.country,
      organisation: c.organisation,
      organisationType: c.organisationType,
      jobTitle: c.jobTitle,
    };
  });
  const User = db.model('host_user');
  const Credential = db.model('host_credential');
  const Person = db.model('enrolment_person');
  const batch = 1000;
  for (let i = 0; i < people.length; i += batch) {
    const slice = people.slice(i, i + batch);
    await User.insertMany(
      slice.map((p) => ({
        _id: new mongoose.Types.ObjectId(p.userId),
        email: p.email,
        name: `${p.givenName} ${p.familyName}`,
        roles: ['learner'],
        organisation: p.organisation,
        locale: 'en',
      })),
    );
    // Every generated learner signs in with the demo password: the demo learner's hash, copied.
    await Credential.insertMany(slice.map((p) => ({ _id: new mongoose.Types.ObjectId(p.userId), passwordHash: credential.passwordHash })));
    await Person.insertMany(
      slice.map((p) => ({
        _id: p.email,
        userId: p.userId,
        givenName: p.givenName,
        familyName: p.familyName,
        gender: p.gender,
        country: p.country,
        organisation: p.organisation,
        organisationType: p.organisationType,
        jobTitle: p.jobTitle,
      })),
    );
  }
  log(`${people.length} learners with accounts and profiles`);

  // Editions: dated, open for self-enrolment, spread over the published courses, running now.
  const Edition = db.model('enrolment_edition');
  const DAY = 86400000;
  const places = ['Geneva', 'Nairobi', 'Addis Ababa', 'Bangkok', 'Panama City', 'Amman', 'online'];
  const editionDocs = Array.from({ length: size.editions }, (_, i) => {
    const course = courses[i % courses.length]!;
    const place = places[i % places.length]!;
    const startsAt = new Date(now.getTime() - (20 + i) * DAY);
    return {
      courseId: course.id,
      title: `${course.title}: cohort ${Math.floor(i / courses.length) + 1} (${place})`,
      description: 'A cohort generated for the benchmarks.',
      selfPaced: false,
      startsAt,
      endsAt: new Date(startsAt.getTime() + 90 * DAY),
      enrolmentDeadline: new Date(startsAt.getTime() + 14 * DAY),
      place: place === 'online' ? '' : place,
      online: place === 'online',
      capacity: null,
      language: 'en',
      method: 'open',
      trainerIds: [trainer._id.toString()],
      status: 'published',
      createdBy: staff._id.toString(),
    };
  });
  const editions = await Edition.insertMany(editionDocs);
  const editionsOf = new Map(courses.map((c) => [c.id, editions.filter((e) => e.get('courseId') === c.id)]));
  log(`${editions.length} editions`);

  // Enrolments: each learner in one edition of each published course.
  const Enrolment = db.model('enrolment_enrolment');
  const enrolments = people.flatMap((p, i) =>
    courses.flatMap((c) => {
      const choices = editionsOf.get(c.id)!;
      if (!choices.length) return [];
      const edition = choices[i % choices.length]!;
      return [
        {
          editionId: edition._id.toString(),
          courseId: c.id,
          email: p.email,
          userId: p.userId,
          status: 'enrolled',
          source: 'import',
          history: [{ at: now, status: 'enrolled', action: 'imported', byUserId: staff._id.toString() }],
        },
      ];
    }),
  );
  const inserted = [];
  for (let i = 0; i < enrolments.length; i += batch) inserted.push(...(await Enrolment.insertMany(enrolments.slice(i, i + batch))));
  // Each person's list of enrolments, by e-mail and by account (what the enrolment service writes
  // with every enrolment; see MembershipDoc): every learner is new, so each list starts at 1.
  const Membership = db.model('enrolment_membership');
  const entries = new Map<string, number>();
  const membershipDocs = inserted.flatMap((e) =>
    [`e:${e.get('email')}`, `u:${e.get('userId')}`].map((owner) => {
      const n = (entries.get(owner) ?? 0) + 1;
      entries.set(owner, n);
      return { _id: `${owner}:${n}`, owner, n, enrolmentId: e._id.toString(), editionId: e.get('editionId'), courseId: e.get('courseId'), createdAt: now };
    }),
  );
  for (let i = 0; i < membershipDocs.length; i += batch) await Membership.insertMany(membershipDocs.slice(i, i + batch));
  log(`${enrolments.length} enrolments`);

  // Progress: each enrolment gets a share of its course done, f^a of it with f uniform, a chosen so
  // that the records written add up to the requested total (people are spread from none to all).
  const byId = new Map(courses.map((c) => [c.id, c]));
  const fractions = enrolments.map(() => rnd());
  const itemsIn = (c: CourseShape) => c.modules.reduce((n, m) => n + m.itemIds.length, 0);
  const doneCount = (a: number, i: number) => Math.round(itemsIn(byId.get(enrolments[i]!.courseId)!) * fractions[i]! ** a);
  const total = (a: number) =>
    enrolments.reduce((n, e, i) => {
      const r = recordsFor(byId.get(e.courseId)!, doneCount(a, i));
      return n + r.doneItems.length + r.doneModules.length + (r.complete ? 1 : 0);
    }, 0);
  let lo = 0.01,
    hi = 50;
  for (let k = 0; k < 40; k++) {
    const mid = Math.sqrt(lo * hi);
    if (total(mid) > size.progressRecords) lo = mid;
    else hi = mid;
  }
  const a = hi;
  const ItemProgress = db.model('courses_item_progress');
  const ModuleProgress = db.model('courses_module_progress');
  const CourseCompletion = db.model('courses_course_completion');
  const unfinished: GeneratedData['unfinished'] = new Map();
  const counts = { itemRecords: 0, moduleRecords: 0, courseCompletions: 0 };
  let items: object[] = [],
    modules: object[] = [],
    completions: object[] = [];
  const flush = async (force = false) => {
    if (items.length >= batch || force) {
      await ItemProgress.insertMany(items);
      counts.itemRecords += items.length;
      items = [];
    }
    if (modules.length >= batch || force) {
      await ModuleProgress.insertMany(modules);
      counts.moduleRecords += modules.length;
      modules = [];
    }
    if (completions.length >= batch || force) {
      await CourseCompletion.insertMany(completions);
      counts.courseCompletions += completions.length;
      completions = [];
    }
  };
  for (const [i, e] of enrolments.entries()) {
    const course = byId.get(e.courseId)!;
    const r = recordsFor(course, doneCount(a, i));
    // Completed a little while ago, in order, so "last activity" on rosters varies.
    let at = now.getTime() - Math.floor(rnd() * 20) * DAY;
    const base = { learnerId: e.userId, courseId: e.courseId, editionId: e.editionId };
    for (const d of r.doneItems)
      items.push({
        _id: progressKey(e.userId, e.editionId, d.itemId),
        ...base,
        moduleId: d.moduleId,
        itemId: d.itemId,
        completedAt: new Date((at += 3600000)),
      });
    for (const m of r.doneModules) modules.push({ _id: progressKey(e.userId, e.editionId, m.id), ...base, moduleId: m.id, completedAt: new Date(at) });
    if (r.complete) completions.push({ _id: progressKey(e.userId, e.editionId, e.courseId), ...base, completedAt: new Date(at) });
    if (r.left.length) {
      const left = { slug: course.slug, itemIds: r.left.filter((s) => !s.quiz).map((s) => s.itemId), steps: r.left };
      unfinished.set(e.email, [...(unfinished.get(e.email) ?? []), left]);
    }
    await flush();
  }
  await flush(true);
  log(`${counts.itemRecords} item, ${counts.moduleRecords} module and ${counts.courseCompletions} course progress records`);
  return { learners: people.length, editions: editions.length, enrolments: enrolments.length, ...counts, unfinished, emails, ms: performance.now() - t0 };
}
