import crypto from 'node:crypto';
import mongoose from 'mongoose';
import { z } from 'zod';
import { allow, DashboardPanels, definePlugin, Navigation } from '../../src/index.ts';
import { CalendarSources } from '../enrolment/contract.ts';
import { CourseCatalog, CourseCompleted, CourseDueDates, CourseProgress, LearningAccess, ModuleCompleted } from './contract.ts';
import { courseSchema, type CourseDoc } from './models/course.model.ts';
import { itemSchema, type ItemDoc } from './models/item.model.ts';
import { moduleSchema, type ModuleDoc } from './models/module.model.ts';
import {
  courseCompletionSchema,
  itemProgressSchema,
  moduleProgressSchema,
  quizAttemptSchema,
  type CourseCompletionDoc,
  type ItemProgressDoc,
  type ModuleProgressDoc,
  type QuizAttemptDoc,
} from './models/progress.model.ts';
import { mountAuthoringRoutes } from './routes/authoring.routes.ts';
import { mountCoverRoutes } from './routes/cover.routes.ts';
import { courseLocals, mountLearnerRoutes } from './routes/learner.routes.ts';
import { seedCourses } from './seed.ts';
import { resolveAccess } from './services/access.ts';
import { shownTo } from './services/texts.ts';
import { createCourseService } from './services/courses.service.ts';
import { dueCalendarSource } from './services/due-calendar.ts';
import { createDueDates } from './services/due-dates.ts';
import { COVER_MAX_BYTES } from './services/cover.ts';
import { createMaterialStore } from './services/materials.service.ts';
import { createProgressService } from './services/progress.service.ts';
import { createQuizAttempts } from './services/quiz.service.ts';

const config = z.object({
  /** Largest material file a trainer may upload, in megabytes. */
  maxUploadMb: z
    .number()
    .positive()
    .max(10 * 1024)
    .default(100),
  /** Files per upload request. */
  maxFilesPerUpload: z.number().int().min(1).max(100).default(20),
});

/**
 * Courses: trainers build courses of modules (lessons, material files, quizzes, links) and upload
 * material; learners work through them; each step a learner completes is recorded durably, and
 * `courses.module.completed` / `courses.course.completed` tell other plugins. Who may take a
 * course comes from the `LearningAccess` extension point (the enrolment plugin implements it).
 */
export default definePlugin({
  name: 'courses',
  version: '1.0.0',
  description: 'Courses, modules, material, quizzes and learner progress.',
  config,

  register(ctx) {
    const Course = ctx.model<CourseDoc>('course', courseSchema);
    const Module = ctx.model<ModuleDoc>('module', moduleSchema);
    const Item = ctx.model<ItemDoc>('item', itemSchema);
    const ItemProgress = ctx.model<ItemProgressDoc>('item_progress', itemProgressSchema);
    const ModuleProgress = ctx.model<ModuleProgressDoc>('module_progress', moduleProgressSchema);
    const CourseCompletion = ctx.model<CourseCompletionDoc>('course_completion', courseCompletionSchema);
    const QuizAttempt = ctx.model<QuizAttemptDoc>('quiz_attempt', quizAttemptSchema);

    const courses = createCourseService({ Course, Module, Item });
    const progress = createProgressService(
      { Item, ItemProgress, ModuleProgress, CourseCompletion, QuizAttempt },
      (event, payload) => ctx.emit(event, payload),
      courses.outline,
    );
    const quizzes = createQuizAttempts(QuizAttempt);
    const dueDates = createDueDates({ ModuleProgress, QuizAttempt }, courses.outline, async (id) => (await courses.catalog.findById(id))?.languages[0] ?? 'en');
    const materials = createMaterialStore(ctx.connection, {
      maxBytes: Math.round(ctx.config.maxUploadMb * 1024 * 1024),
      maxFiles: ctx.config.maxFilesPerUpload,
      logger: ctx.logger,
      // Typically the database is what refused: the job is held until it answers, then recorded.
      retryRemoval: (fileId) => ctx.jobs.enqueue('remove-material', { fileId }, { key: fileId, holdWhileUnavailable: true }),
    });
    // A partial or unlisted file is invisible but takes room: removed, however long it takes.
    ctx.jobs.define<{ fileId: string }>('remove-material', {
      run: ({ fileId }) => materials.removeOnce(fileId),
      maxAttempts: Number.POSITIVE_INFINITY,
      backoffMs: 2000,
      maxBackoffMs: 10 * 60_000,
    });

    ctx.provide(CourseCatalog, courses.catalog);
    ctx.provide(CourseProgress, progress);
    ctx.provide(CourseDueDates, dueDates);
    // Due dates in each learner's calendar (with the enrolment plugin, which draws it).
    ctx.contribute(
      CalendarSources,
      dueCalendarSource({ courses, dueDates, providers: () => ctx.extensions(LearningAccess), activeCourses: (id) => progress.activeCourses(id) }),
    );
    ctx.views(new URL('./views', import.meta.url));
    ctx.translations(new URL('./locales', import.meta.url));
    // Authoring first: '/manage' must win over the learner pages' '/:slug'.
    mountAuthoringRoutes(ctx, { courses, materials });
    // Covers: the same store's checks and GridFS bucket, with a cover's own size limit.
    const covers = createMaterialStore(ctx.connection, {
      maxBytes: COVER_MAX_BYTES,
      maxFiles: 1,
      logger: ctx.logger,
      retryRemoval: (fileId) => ctx.jobs.enqueue('remove-material', { fileId }, { key: fileId, holdWhileUnavailable: true }),
    });
    mountCoverRoutes(ctx, { courses, covers });
    mountLearnerRoutes(ctx, { courses, progress, quizzes, materials, dueDates });

    ctx.contribute(Navigation, { label: 'courses:nav.catalogue', href: '/courses', policy: allow.signedIn, order: 10 });
    ctx.contribute(Navigation, { label: 'courses:nav.manage', href: '/courses/manage', policy: allow.roles('trainer', 'staff'), order: 30 });
    ctx.contribute(DashboardPanels, {
      id: 'courses',
      order: 5,
      async render(req) {
        // The courses this person has worked in, most recent first: from the access provider's
        // list of their courses when it keeps one (look-ups by key), else from their progress
        // records (a query every progress record answers to: fine without enrolment, slow at scale).
        const user = req.user!;
        const providers = ctx.extensions(LearningAccess);
        const lister = providers.find((p) => p.coursesOf);
        const candidates = lister ? await lister.coursesOf!(user) : await progress.activeCourses(user.id);
        const list = [];
        for (const { courseId, editionId } of candidates) {
          const course = await courses.catalog.findById(courseId);
          if (!course) continue;
          const access = await resolveAccess(user, course, providers, req.t);
          if (access.mode !== 'learner' || access.editionId !== editionId) continue;
          const standing = await progress.progressOf(user.id, courseId, editionId);
          if (standing.lastActivityAt) list.push({ ...courseLocals(req, course), progress: standing });
        }
        list.sort((a, b) => b.progress.lastActivityAt!.getTime() - a.progress.lastActivityAt!.getTime());
        // Continue where you left off: the next item in the course touched last that is not complete.
        let next = null;
        const current = list.find((c) => !c.progress.completedAt);
        if (current) {
          const modules = await courses.outlineOf(current.course);
          const item = await progress.nextItem(
            user.id,
            current.progress.editionId,
            modules.flatMap((m) => m.items),
          );
          const module = item && modules.find((m) => m.id === item.moduleId.toString());
          if (item && module) {
            next = {
              ...current,
              href: `/courses/${current.course.slug}/modules/${module.id}#item-${item.id}`,
              itemTitle: shownTo(req, current.course, item.title),
              moduleTitle: shownTo(req, current.course, module.title),
            };
          }
        }
        return { view: 'courses/panel', locals: { list, next } };
      },
    });

    ctx.on(ModuleCompleted, (e) => ctx.logger.info({ learner: e.learnerId, course: e.courseId, module: e.moduleId }, 'module completed'));
    ctx.on(CourseCompleted, (e) => ctx.logger.info({ learner: e.learnerId, course: e.courseId, edition: e.editionId }, 'course completed'));

    return {
      async start() {
        // Courses from before structure stamps get one, so that their outlines are kept like the
        // others' (without, every page read them afresh until the course's first change). A fresh
        // stamp is always safe: at worst an instance reads an outline once more.
        const stamped = await Course.updateMany(
          { structureStamp: mongoose.trusted({ $exists: false }) },
          { $set: { structureStamp: crypto.randomUUID() } },
          { timestamps: false },
        );
        if (stamped.modifiedCount) ctx.logger.info({ courses: stamped.modifiedCount }, 'courses given a structure stamp');
      },
      seed: (seed) => seedCourses(seed, { courses, materials, covers }),
    };
  },
});
