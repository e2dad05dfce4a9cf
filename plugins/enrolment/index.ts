import mongoose from 'mongoose';
import {
  allow,
  DashboardPanels,
  definePlugin,
  MailTopics,
  Navigation,
  RetryLater,
  UserCreated,
  UserSignedIn,
  Users,
  type ModelCache,
  type PluginContext,
} from '../../src/index.ts';
import { CourseCatalog, CourseDueDates, CourseOfferings, CourseProgress, LearningAccess } from '../courses/contract.ts';
import { enrolmentConfigSchema, type EnrolmentConfig } from './config.ts';
import { CalendarSources, EnrolmentDirectory } from './contract.ts';
import { calendarFeedSchema, type CalendarFeedDoc } from './models/calendar-feed.model.ts';
import { editionSchema, type EditionDoc } from './models/edition.model.ts';
import {
  enrolmentSchema,
  invitationSchema,
  membershipSchema,
  seatSchema,
  type EnrolmentDoc,
  type InvitationDoc,
  type MembershipDoc,
  type SeatDoc,
} from './models/enrolment.model.ts';
import { importBatchSchema, type ImportBatchDoc } from './models/import-batch.model.ts';
import { personSchema, type PersonDoc } from './models/person.model.ts';
import { mountCalendarRoutes } from './routes/calendar.routes.ts';
import { mountLearnerRoutes, myLearning } from './routes/learner.routes.ts';
import { mountImportRoutes } from './routes/import.routes.ts';
import { mountManageRoutes } from './routes/manage.routes.ts';
import { mountReportRoutes } from './routes/reports.routes.ts';
import { seedEnrolment } from './seed.ts';
import { createLearningAccess } from './services/access.ts';
import { createCalendarFeeds, enrolmentCalendarSource } from './services/calendar.ts';
import { createCourseOfferings } from './services/course-offerings.ts';
import { COMMIT_QUEUE, createImportService } from './services/import.service.ts';
import { createEnrolmentService, type EnrolmentModels } from './services/enrolment.service.ts';
import { createReportService } from './services/report.service.ts';
import { createEnrolmentNotices, IMPORT_INVITATIONS_QUEUE, REMINDER_TOPIC, type EnrolmentNotices } from './services/notices.ts';

/** The service; with `notices`, the people concerned are told by e-mail (the demo data is loaded without). */
function serviceFor(ctx: PluginContext<EnrolmentConfig>, models: EnrolmentModels, editionCache: ModelCache, notices?: EnrolmentNotices) {
  return createEnrolmentService(models, {
    editionCache,
    emit: (event, payload) => ctx.emit(event, payload),
    logger: ctx.logger,
    progress: () => ctx.get(CourseProgress),
    users: () => ctx.get(Users),
    notices,
  });
}

/**
 * Enrolment: editions (runs) of courses, the ways people get in (open, key, application with
 * approval, invitation, closed), seats and the waiting list, bulk enrolment from CSV, rosters and
 * donor reports, and each learner's "My learning" page. It decides who may take a course through
 * the courses plugin's `LearningAccess` extension point: only people enrolled in an edition.
 */
export default definePlugin({
  name: 'enrolment',
  version: '1.0.0',
  description: 'Editions, enrolment methods, approvals, waiting lists, bulk enrolment, rosters and reports.',
  config: enrolmentConfigSchema,
  requires: [CourseCatalog, CourseProgress, CourseDueDates, LearningAccess],

  register(ctx) {
    const { model: Edition, cache: editionCache } = ctx.cachedModel<EditionDoc>('edition', editionSchema);
    const models: EnrolmentModels = {
      Edition,
      Enrolment: ctx.model<EnrolmentDoc>('enrolment', enrolmentSchema),
      Seat: ctx.model<SeatDoc>('seat', seatSchema),
      Person: ctx.model<PersonDoc>('person', personSchema),
      Membership: ctx.model<MembershipDoc>('membership', membershipSchema),
    };
    const ImportBatch = ctx.model<ImportBatchDoc>('import_batch', importBatchSchema);
    const notices = createEnrolmentNotices({
      mail: ctx.mail,
      users: () => ctx.get(Users),
      catalog: () => ctx.get(CourseCatalog),
      logger: ctx.logger,
      reminderDays: ctx.config.reminderDays,
      models: { ...models, Invitation: ctx.model<InvitationDoc>('invitation', invitationSchema) },
    });
    const service = serviceFor(ctx, models, editionCache, notices);
    const imports = createImportService({ ImportBatch, Edition, Enrolment: models.Enrolment, Person: models.Person }, service, {
      users: () => ctx.get(Users),
      jobs: ctx.jobs,
      mail: ctx.mail,
      jobId: (queue, key) => `${ctx.name}.${queue}:${key}`,
    });
    ctx.jobs.define(COMMIT_QUEUE, { run: imports.runCommit });

    ctx.provide(EnrolmentDirectory, service.directory);
    ctx.contribute(LearningAccess, createLearningAccess(service));
    // The catalogue's kind and date filters, by this plugin's editions.
    ctx.contribute(CourseOfferings, createCourseOfferings(service));
    ctx.views(new URL('./views', import.meta.url));
    ctx.translations(new URL('./locales', import.meta.url));
    // Staff pages first: '/manage/…' is more specific than the learner pages.
    mountManageRoutes(ctx, service, notices);
    mountReportRoutes(
      ctx,
      service,
      createReportService({
        models,
        progress: () => ctx.get(CourseProgress),
        catalog: () => ctx.get(CourseCatalog),
        users: () => ctx.get(Users),
        dueDates: () => ctx.get(CourseDueDates),
      }),
    );
    mountImportRoutes(ctx, service, imports);
    mountLearnerRoutes(ctx, service);
    // My calendar: the editions' dates, and those other plugins contribute (CalendarSources).
    mountCalendarRoutes(ctx, service, createCalendarFeeds(ctx.model<CalendarFeedDoc>('calendar_feed', calendarFeedSchema)));
    ctx.contribute(
      CalendarSources,
      enrolmentCalendarSource(service, (id) => ctx.get(CourseCatalog).findById(id)),
    );

    ctx.contribute(Navigation, { label: 'enrolment:nav.myLearning', href: '/enrolment/my', policy: allow.signedIn, order: 5 });
    ctx.contribute(Navigation, { label: 'enrolment:nav.editions', href: '/enrolment/manage', policy: allow.roles('staff'), order: 31 });
    ctx.contribute(DashboardPanels, {
      id: 'enrolment',
      order: 4,
      async render(req) {
        return { view: 'enrolment/panel', locals: await myLearning(ctx, service, req) };
      },
    });

    ctx.contribute(MailTopics, { id: REMINDER_TOPIC, label: 'enrolment:mail.topics.reminders' });
    ctx.jobs.every('reminders', ctx.config.reminderCheckMinutes * 60_000, async () => {
      const recorded = await notices.remind(await service.publishedEditions());
      if (recorded) ctx.logger.info({ reminders: recorded }, 'reminders before editions start recorded');
    });
    ctx.jobs.define<{ batchId: string; by: string }>(IMPORT_INVITATIONS_QUEUE, {
      async run({ batchId, by }) {
        const batch = mongoose.isValidObjectId(batchId) ? await ImportBatch.findById(batchId).lean() : null;
        if (!batch) return; // expired (a day old) or never there: nobody left to invite
        if (batch.status !== 'committed') {
          // The commit may still run for a while (a large file, or one resumed later): look less often as it ages.
          throw new RetryLater('the import is not committed yet', Math.min(60_000, 1000 + (Date.now() - batch.updatedAt.getTime()) / 10));
        }
        for (const row of batch.rows) {
          // Only the people this import placed: those already there were not invited by it.
          if (row.result !== 'enrolled' && row.result !== 'waitlisted') continue;
          const enrolment = (await service.memberships.enrolmentsOf({ email: row.email })).find((e) => e.editionId === batch.editionId);
          if (!enrolment) continue;
          const name = [row.person.givenName, row.person.familyName].filter(Boolean).join(' ');
          await notices.invited(enrolment, by, { name: name || undefined });
        }
      },
    });

    // Pre-enrolments (by e-mail, before the person had an account) are matched to the account.
    ctx.on(UserCreated, (e) => service.linkAccount(e.userId, e.email));
    ctx.on(UserSignedIn, async (e) => {
      const user = await ctx.get(Users).findById(e.userId);
      if (user) await service.linkAccount(user.id, user.email);
    });

    return {
      async start() {
        // Enrolments made before people's lists existed get their entries (once per database).
        const listed = await service.memberships.backfill();
        if (listed) ctx.logger.info({ enrolments: listed }, 'enrolments listed under their people');
        // Heal seats left inconsistent by a crash between two writes, and fill freed seats (people promoted are told).
        for (const edition of await models.Edition.find({ capacity: mongoose.trusted({ $ne: null }), status: 'published' }, { _id: 1 }).lean()) {
          await service.repairSeats(edition._id.toString());
        }
      },
      // The demo's people are not e-mailed: the demo is loaded through a service without notices
      // (the same models and the same edition cache stamp, so nothing else differs).
      seed: (seed) => seedEnrolment(seed, { service: serviceFor(ctx, models, editionCache), Enrolment: models.Enrolment }),
    };
  },
});
