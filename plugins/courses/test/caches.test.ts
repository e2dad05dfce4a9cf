/**
 * The per-instance copies of course addresses and outlines keep at most `maxKept` courses (500 in
 * the plugin; 20 here, the same rule on fewer courses). Only a course new to the copy makes room:
 * reading a course already kept must push out no other, or once the copies are full every read of
 * a known course costs another course its place (and its next read a query
 * FerretDB answers by decoding every course, module and item).
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import mongoose from 'mongoose';
import { createTestApp, type TestApp } from '../../../test/helpers/app.ts';
import courses from '../index.ts';
import type { CourseDoc } from '../models/course.model.ts';
import type { ItemDoc } from '../models/item.model.ts';
import type { ModuleDoc } from '../models/module.model.ts';
import { createCourseService } from '../services/courses.service.ts';

/** As many courses as the copies keep: the service is built with this `maxKept`. */
const KEPT = 20;

describe('courses: the address and outline copies make room only for a new course', function () {
  this.timeout(120_000);
  let t: TestApp;
  const ids: string[] = [];
  const slugOf = (i: number) => `kept-${i}`;

  before(async () => {
    t = await createTestApp({ plugins: [courses], label: 'course_caches' });
    const now = new Date();
    const docs = Array.from({ length: KEPT }, (_, i) => ({
      _id: new mongoose.Types.ObjectId(),
      slug: slugOf(i),
      title: { en: `Kept ${i}` },
      summary: {},
      languages: ['en'],
      hours: 1,
      status: 'published',
      trainerIds: [],
      structureStamp: crypto.randomUUID(),
      createdAt: now,
      updatedAt: now,
    }));
    await t.app.olive.connection.db!.collection('courses_course').insertMany(docs);
    ids.push(...docs.map((d) => String(d._id)));
  });
  after(() => t.stop());

  /** The service as an instance builds it, and the queries it sends, by collection and method. */
  function instance() {
    const connection = t.app.olive.connection;
    const service = createCourseService(
      {
        Course: connection.model<CourseDoc>('courses_course'),
        Module: connection.model<ModuleDoc>('courses_module'),
        Item: connection.model<ItemDoc>('courses_item'),
      },
      { maxKept: KEPT },
    );
    const queries: string[] = [];
    connection.set('debug', (collection: string, method: string, filter: Record<string, unknown>) => {
      queries.push(`${collection}.${method}${filter && 'slug' in filter ? ' by address' : ''}`);
    });
    return { service, queries, done: () => connection.set('debug', false) };
  }

  it('a known address, read again when the copies are full, is not looked up by address and pushes none out', async () => {
    const { service, queries, done } = instance();
    try {
      for (let i = 0; i < KEPT; i++) await service.requireCourse(slugOf(i));
      expect(
        queries.filter((q) => q.endsWith('by address')),
        'each address looked up once',
      ).to.have.length(KEPT);
      queries.length = 0;
      // The newest one, again and again, then every other: all known, none looked up by address.
      for (let n = 0; n < 3; n++) await service.requireCourse(slugOf(KEPT - 1));
      for (let i = 0; i < KEPT; i++) await service.requireCourse(slugOf(i));
      expect(
        queries.filter((q) => q.endsWith('by address')),
        'addresses looked up again',
      ).to.deep.equal([]);
    } finally {
      done();
    }
  });

  it('a kept outline loaded again after a change, when the copies are full, pushes none out', async () => {
    const { service, queries, done } = instance();
    try {
      for (const id of ids) await service.outline(id);
      const loads = () => queries.filter((q) => q === 'courses_module.find');
      expect(loads(), 'each outline loaded once').to.have.length(KEPT);
      // The newest course changes three times (as a trainer's edit renews its stamp): its outline
      // is loaded again each time, in the place it already has.
      const Course = t.app.olive.connection.db!.collection('courses_course');
      queries.length = 0;
      for (let n = 0; n < 3; n++) {
        await Course.updateOne({ _id: new mongoose.Types.ObjectId(ids.at(-1)!) }, { $set: { structureStamp: crypto.randomUUID() } });
        await service.outline(ids.at(-1)!);
      }
      expect(loads(), 'the changed outline loaded again each time').to.have.length(3);
      queries.length = 0;
      for (const id of ids) await service.outline(id);
      expect(loads(), 'other outlines loaded again').to.deep.equal([]);
    } finally {
      done();
    }
  });
});
