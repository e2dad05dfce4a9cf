import { allow, definePlugin, Navigation, Users } from '../../src/index.ts';
import { CompletionNotes, CourseCatalog, CourseCompleted, CourseProgress, OPEN_EDITION } from '../courses/contract.ts';
import { EnrolmentDirectory, MyLearningSections } from '../enrolment/contract.ts';
import { certificatesConfigSchema } from './config.ts';
import { CompletionRules } from './contract.ts';
import {
  auditSchema,
  certificateSchema,
  claimSchema,
  editionSettingSchema,
  factSchema,
  printedNameSchema,
  waitingSchema,
  type AuditDoc,
  type CertificateDoc,
  type ClaimDoc,
  type EditionSettingDoc,
  type FactDoc,
  type PrintedNameDoc,
  type WaitingDoc,
} from './models/certificate.model.ts';
import { registerJobModels } from './models/job.model.ts';
import { mountCertificateRoutes } from './routes/certificates.routes.ts';
import { mountJobRoutes } from './routes/jobs.routes.ts';
import { mountVerificationRoutes } from './routes/verify.routes.ts';
import { createIssuanceService, NAME_REMINDER_QUEUE, type CertificateModels } from './services/issuance.service.ts';
import { registerTemplateModels } from './models/template.model.ts';
import { mountTemplateRoutes } from './routes/templates.routes.ts';
import { seedTemplates } from './seed-templates.ts';
import { createTemplateService } from './services/template.service.ts';
import { createJobService, ISSUE_QUEUE } from './services/jobs.service.ts';
import { waitsForEnd } from './services/issuance.service.ts';

/**
 * Certificates: PDF certificates in the six UN languages from templates, issued on completion or
 * by staff (one person, or a whole edition as a background job), reissued and revoked as facts,
 * and verified by anyone at /verify from the code, the QR code or the PDF file itself.
 */
export default definePlugin({
  name: 'certificates',
  version: '1.0.0',
  description: 'Verifiable PDF certificates: templates, issuance, reissue, revocation, public verification.',
  config: certificatesConfigSchema,
  prefix: '/',
  requires: [EnrolmentDirectory, CourseCatalog, CourseProgress, CourseCompleted, MyLearningSections],

  register(ctx) {
    const models: CertificateModels = {
      Certificate: ctx.model<CertificateDoc>('certificate', certificateSchema),
      Claim: ctx.model<ClaimDoc>('claim', claimSchema),
      Fact: ctx.model<FactDoc>('fact', factSchema),
      PrintedName: ctx.model<PrintedNameDoc>('printed_name', printedNameSchema),
      EditionSetting: ctx.model<EditionSettingDoc>('edition_setting', editionSettingSchema),
      Audit: ctx.model<AuditDoc>('audit', auditSchema),
      Waiting: ctx.model<WaitingDoc>('waiting', waitingSchema),
    };
    const templates = createTemplateService(registerTemplateModels(ctx), ctx.connection, {
      maxImageKb: ctx.config.maxImageKb,
      courseExists: async (id) => !!(await ctx.get(CourseCatalog).findById(id)),
    });
    const issuance = createIssuanceService(models, {
      connection: ctx.connection,
      baseUrl: ctx.host.baseUrl,
      logger: ctx.logger,
      emit: (event, payload) => ctx.emit(event, payload),
      enrolments: () => ctx.get(EnrolmentDirectory),
      catalog: () => ctx.get(CourseCatalog),
      progress: () => ctx.get(CourseProgress),
      users: () => ctx.get(Users),
      templates: () => templates,
      mail: ctx.mail,
      jobs: ctx.jobs,
      // Read at each use: other plugins' contributions are all in once every plugin has registered.
      rules: () => ctx.extensions(CompletionRules),
    });
    ctx.jobs.define<{ enrolmentId: string }>(NAME_REMINDER_QUEUE, { run: (payload) => issuance.runNameReminder(payload) });

    ctx.views(new URL('./views', import.meta.url));
    ctx.translations(new URL('./locales', import.meta.url));
    mountVerificationRoutes(ctx, issuance);
    mountCertificateRoutes(ctx, issuance, templates);
    mountTemplateRoutes(ctx, templates);
    const jobs = createJobService(registerJobModels(ctx), {
      issuance,
      logger: ctx.logger,
      jobs: ctx.jobs,
      mail: ctx.mail,
      pauseMs: ctx.config.jobPauseMs,
      enrolments: () => ctx.get(EnrolmentDirectory),
      progress: () => ctx.get(CourseProgress),
      users: () => ctx.get(Users),
    });
    // What fails a run is the database or the mail outbox, never a person (theirs is an outcome):
    // a job is retried until it ends, however long that takes.
    ctx.jobs.define<{ jobId: string }>(ISSUE_QUEUE, { run: (payload, job) => jobs.run(payload, job), maxAttempts: Number.POSITIVE_INFINITY });
    mountJobRoutes(ctx, jobs, issuance);

    ctx.contribute(Navigation, { label: 'certificates:nav.verify', href: '/verify', policy: allow.public, order: 90 });
    ctx.contribute(Navigation, { label: 'certificates:nav.manage', href: '/certificates', policy: allow.roles('staff'), order: 32 });
    ctx.contribute(MyLearningSections, {
      id: 'certificates',
      order: 20,
      async render(req) {
        // Certificates earned on completion that are still waiting (e.g. an issuance that failed) come now.
        await issuance.issueWaiting(req.user!.id);
        const list = await issuance.ofLearner(req.user!.id);
        const name = await issuance.printedName(req.user!.id);
        return { view: 'certificates/my-section', locals: { list, name } };
      },
    });
    // A completed course's page says where its certificate is, or why it is not there yet.
    ctx.contribute(CompletionNotes, {
      async note({ learnerId, editionId, t }) {
        // Certificates come with editions: the always-open run of a course has none.
        if (editionId === OPEN_EDITION) return null;
        const mine = () => issuance.ofLearner(learnerId).then((list) => list.find((s) => s.certificate.editionId === editionId));
        let found = await mine();
        const name = found ? null : await issuance.printedName(learnerId);
        if (!found && name?.confirmed) {
          // As My learning does: a certificate earned on completion and still waiting comes now.
          if ((await issuance.issueWaiting(learnerId)).length) found = await mine();
        }
        if (found?.state === 'revoked') return { text: t('certificates:my.courseRevoked') };
        if (found)
          return {
            text: t('certificates:my.courseReady'),
            href: `/certificates/c/${found.certificate._id}/certificate.pdf`,
            action: t('certificates:my.download'),
          };
        if (!name?.confirmed) return { text: t('certificates:my.courseAwaitsName'), href: '/certificates/name', action: t('certificates:my.confirmLink') };
        return { text: t('certificates:my.courseNotYet'), href: '/enrolment/my', action: t('certificates:my.courseSeeMy') };
      },
    });
    ctx.on(CourseCompleted, (e) => issuance.onCourseCompleted(e));
    // Automatic certificates of dated editions wait for the end date: this job issues them then.
    ctx.jobs.every('after-end', ctx.config.endCheckMinutes * 60_000, async () => {
      const issued = await issuance.issueAfterEnd();
      if (issued) ctx.logger.info({ issued }, 'certificates issued after the end of their editions');
    });

    return {
      async start() {
        // Certificates whose issuance was cut short (a crash between the claim and the record) are completed.
        const completed = await issuance.completeUnfinished();
        if (completed) ctx.logger.warn({ completed }, 'unfinished certificates completed at start');
        await jobs.queueUnfinished();
      },

      async seed(seed) {
        await seedTemplates(seed, templates);
        // The demo's finished participants hold their certificates, so the verification page, the
        // learner's list and the staff pages show real ones on first start. Issuing is idempotent.
        const staff = await ctx.get(Users).findByEmail('staff@olive.example');
        const directory = ctx.get(EnrolmentDirectory);
        for (const course of await ctx.get(CourseCatalog).listPublished()) {
          for (const edition of await directory.editionsOfCourse(course.id)) {
            const progress = await ctx.get(CourseProgress).editionProgress(course.id, edition.id);
            for (const enrolment of await directory.enrolmentsOf(edition.id, ['enrolled'])) {
              if (!enrolment.userId || !progress.get(enrolment.userId)?.completedAt || waitsForEnd(edition)) continue;
              // The demo's participants are not e-mailed about certificates they never asked for.
              await issuance.issue({ enrolmentId: enrolment.id, via: 'staff', byUserId: staff?.id, notify: false });
            }
          }
        }
      },
    };
  },
});
