import mongoose from 'mongoose';
import { z } from 'zod';
import { allow, DashboardPanels, definePlugin, Navigation, UserCreated, UserSignedIn, Users, type PluginContext } from '../../src/index.ts';
import { CourseCatalog, CourseProgress, LearningAccess } from '../courses/contract.ts';
import { EnrolmentDirectory } from './contract.ts';
import { editionSchema, type EditionDoc } from './models/edition.model.ts';
import { enrolmentSchema, membershipSchema, seatSchema, type EnrolmentDoc, type MembershipDoc, type SeatDoc } from './models/enrolment.model.ts';
import { personSchema, type PersonDoc } from './models/person.model.ts';
import { mountLearnerRoutes, myLearning } from './routes/learner.routes.ts';
import { mountImportRoutes } from './routes/import.routes.ts';
import { mountManageRoutes } from './routes/manage.routes.ts';
import { mountReportRoutes } from './routes/reports.routes.ts';
import { seedEnrolment } from './seed.ts';
import { createLearningAccess } from './services/access.ts';
import { createEnrolmentService, type EnrolmentModels } from './services/enrolment.service.ts';

const config = z.object({
  /** Largest CSV file staff may upload for a bulk enrolment, in megabytes. */
  maxImportMb: z.number().positive().max(50).default(5),
  /** Rows in one bulk enrolment. */
  maxImportRows: z.number().int().min(1).max(50000).default(5000),
});

export type EnrolmentConfig = z.output<typeof config>;

/** The plugin's collections, by the names `ctx.model` gives them (also reachable from `seed`). */
const MODEL_NAMES = { Edition: 'edition', Enrolment: 'enrolment', Seat: 'seat', Person: 'person', Membership: 'membership' } as const;

export function serviceFor(ctx: PluginContext<EnrolmentConfig>, models: EnrolmentModels) {
  return createEnrolmentService(models, {
    emit: (event, payload) => ctx.emit(event, payload),
    logger: ctx.logger,
    progress: () => ctx.get(CourseProgress),
    users: () => ctx.get(Users),
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
  config,
  requires: [CourseCatalog, CourseProgress, LearningAccess],

  register(ctx) {
    const models: EnrolmentModels = {
      Edition: ctx.model<EditionDoc>(MODEL_NAMES.Edition, editionSchema),
      Enrolment: ctx.model<EnrolmentDoc>(MODEL_NAMES.Enrolment, enrolmentSchema),
      Seat: ctx.model<SeatDoc>(MODEL_NAMES.Seat, seatSchema),
      Person: ctx.model<PersonDoc>(MODEL_NAMES.Person, personSchema),
      Membership: ctx.model<MembershipDoc>(MODEL_NAMES.Membership, membershipSchema),
    };
    const service = serviceFor(ctx, models);

    ctx.provide(EnrolmentDirectory, service.directory);
    ctx.contribute(LearningAccess, createLearningAccess(service));
    ctx.views(new URL('./views', import.meta.url));
    ctx.translations(new URL('./locales', import.meta.url));
    // Staff pages first: '/manage/…' is more specific than the learner pages.
    mountManageRoutes(ctx, service);
    mountReportRoutes(ctx, service);
    mountImportRoutes(ctx, service);
    mountLearnerRoutes(ctx, service);

    ctx.contribute(Navigation, { label: 'enrolment:nav.myLearning', href: '/enrolment/my', policy: allow.signedIn, order: 5 });
    ctx.contribute(Navigation, { label: 'enrolment:nav.editions', href: '/enrolment/manage', policy: allow.roles('staff'), order: 31 });
    ctx.contribute(DashboardPanels, {
      id: 'enrolment',
      order: 4,
      async render(req) {
        return { view: 'enrolment/panel', locals: await myLearning(ctx, service, req) };
      },
    });

    // Pre-enrolments (by e-mail, before the person had an account) are matched to the account.
    ctx.on(UserCreated, (e) => service.linkAccount(e.userId, e.email));
    ctx.on(UserSignedIn, async (e) => {
      const user = await ctx.get(Users).findById(e.userId);
      if (user) await service.linkAccount(user.id, user.email);
    });
  },

  async start(ctx) {
    // Heal seats left inconsistent by a crash between two writes, and fill freed seats.
    const models = modelsOf(ctx);
    const service = serviceFor(ctx, models);
    // Enrolments made before people's lists existed get their entries (once per database).
    const listed = await service.memberships.backfill();
    if (listed) ctx.logger.info({ enrolments: listed }, 'enrolments listed under their people');
    for (const edition of await models.Edition.find({ capacity: mongoose.trusted({ $ne: null }), status: 'published' }, { _id: 1 }).lean()) {
      await service.repairSeats(edition._id.toString());
    }
  },

  async seed(ctx) {
    await seedEnrolment(ctx, { service: serviceFor(ctx, modelsOf(ctx)) });
  },
});

/** The models registered in `register`, looked up on the connection (for start and seed). */
export function modelsOf(ctx: PluginContext<EnrolmentConfig>): EnrolmentModels {
  const get = <T>(name: string) => ctx.connection.model<T>(`${ctx.name}_${name}`);
  return {
    Edition: get<EditionDoc>(MODEL_NAMES.Edition),
    Enrolment: get<EnrolmentDoc>(MODEL_NAMES.Enrolment),
    Seat: get<SeatDoc>(MODEL_NAMES.Seat),
    Person: get<PersonDoc>(MODEL_NAMES.Person),
    Membership: get<MembershipDoc>(MODEL_NAMES.Membership),
  };
}
