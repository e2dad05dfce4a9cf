/**
 * A course of many lessons, with an open self-paced edition, and fresh learners enrolled in it:
 * for tests that need many completions no seed or earlier test has recorded.
 */
import crypto from 'node:crypto';
import mongoose from 'mongoose';
import type { OliveApp } from '../../src/core/app.ts';
import { Browser } from './faults.ts';
import { DEMO_PASSWORD } from './app.ts';

export interface LargeCourse {
  slug: string;
  courseId: string;
  editionId: string;
  itemIds: string[];
}

/**
 * Writes the course straight to the database (a load to test with, not authoring, which the
 * courses tests cover), then opens an edition through the staff form, as staff would.
 */
export async function addLargeCourse(
  app: OliveApp,
  staff: Browser,
  { slug, modules, lessonsPerModule }: { slug: string; modules: number; lessonsPerModule: number },
): Promise<LargeCourse> {
  const db = app.olive.connection.db!;
  const courseId = new mongoose.Types.ObjectId();
  const now = new Date();
  await db.collection('courses_course').insertOne({
    _id: courseId,
    slug,
    title: { en: `Large course ${slug}` },
    summary: { en: 'Many short lessons.' },
    languages: ['en'],
    hours: 10,
    status: 'published',
    trainerIds: [],
    structureStamp: crypto.randomUUID(),
    createdAt: now,
    updatedAt: now,
  });
  const moduleDocs = Array.from({ length: modules }, (_, m) => ({
    _id: new mongoose.Types.ObjectId(),
    courseId,
    title: `Part ${m + 1}`,
    intro: '',
    position: (m + 1) * 10,
    required: true,
  }));
  await db.collection('courses_module').insertMany(moduleDocs);
  const items = moduleDocs.flatMap((m, mi) =>
    Array.from({ length: lessonsPerModule }, (_, i) => ({
      _id: new mongoose.Types.ObjectId(),
      courseId,
      moduleId: m._id,
      type: 'lesson',
      title: `Lesson ${mi + 1}.${i + 1}`,
      position: (i + 1) * 10,
      body: `Lesson ${mi + 1}.${i + 1}.`,
    })),
  );
  await db.collection('courses_item').insertMany(items);
  const res = await staff.post(
    '/enrolment/manage/editions',
    {
      courseId: String(courseId),
      title: `${slug}, self-paced`,
      language: 'en',
      method: 'open',
      status: 'published',
      online: 'on',
      selfPaced: 'on',
    },
    '/enrolment/manage/editions/new',
  );
  const editionId = /editions\/([0-9a-f]{24})/.exec(String(res.headers.location ?? ''))?.[1];
  if (res.status !== 303 || !editionId) throw new Error(`creating the edition answered ${res.status}: ${res.text.slice(0, 500)}`);
  return { slug, courseId: String(courseId), editionId, itemIds: items.map((i) => String(i._id)) };
}

/** New accounts, signed in and enrolled (through the real forms) in the course's edition. */
export async function enrolledLearners(
  app: OliveApp,
  base: string,
  course: LargeCourse,
  count: number,
  label = course.slug,
): Promise<{ id: string; email: string; browser: Browser }[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, n) => {
      const email = `${label}.learner${n + 1}@example.org`;
      const user = await app.olive.users.create({ email, name: `Learner ${n + 1} of ${label}`, password: DEMO_PASSWORD }, 'test');
      const browser = await new Browser(base).signIn(email);
      const res = await browser.post(`/enrolment/editions/${course.editionId}/enrol`, {}, `/enrolment/editions/${course.editionId}`);
      if (res.status !== 303) throw new Error(`enrolling ${email} answered ${res.status}: ${res.text.slice(0, 500)}`);
      return { id: user.id, email, browser };
    }),
  );
}
