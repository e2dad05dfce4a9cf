import type { Request } from 'express';
import { z } from 'zod';
import {
  allow,
  errorMessage,
  form,
  HttpError,
  forbidden,
  invalidFields,
  isObjectId,
  localized,
  notFound,
  objectIdSchema,
  parseInput,
  refusalFor,
  respond,
  Users,
  wantsJson,
  type FormFailure,
  type PluginContext,
} from '../../../src/index.ts';
import { CourseCatalog } from '../../courses/contract.ts';
import { EnrolmentDirectory, type EditionSummary } from '../../enrolment/contract.ts';
import type { CertificatesConfig } from '../config.ts';
import { nameSvg, uncoveredCharacters } from '../render/index.ts';
import { CompletionRules } from '../contract.ts';
import { NO_ACCOUNT, noSuchCertificate, type IssuanceService } from '../services/issuance.service.ts';
import { mayIssue } from '../services/permissions.ts';
import type { TemplateService } from '../services/template.service.ts';
import { publicView } from './verify.routes.ts';

/** A name as people write it: trimmed, single spaces, no control characters, printable with our fonts. `missing`: the key that asks for it. */
const printableName = (missing: string) =>
  z
    .string()
    .transform((s) =>
      s
        .normalize('NFC')
        .replace(/[\u0000-\u001f\u007f]/g, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .pipe(z.string().min(1, missing).max(120, 'certificates:errors.name.long'))
    .superRefine((s, c) => {
      const unprintable = uncoveredCharacters(s);
      if (unprintable.length) c.addIssue({ code: 'custom', message: 'certificates:errors.name.unprintable', params: { characters: unprintable.join(' ') } });
    });

/** "How your name will print": each name given that can be printed, drawn as the certificate will draw it (SVG). */
function namePreviews(values: { name?: unknown; nameAlt?: unknown }): string[] {
  return [values.name, values.nameAlt]
    .map((s) => (typeof s === 'string' ? s.normalize('NFC').replace(/\s+/g, ' ').trim() : ''))
    .filter((s) => s && s.length <= 120 && !uncoveredCharacters(s).length)
    .map((s) => nameSvg(s));
}

const nameSchema = z.object({
  name: printableName('certificates:errors.name.printed'),
  nameAlt: z
    .string()
    .optional()
    .transform((s) => s ?? '')
    .pipe(z.union([z.literal(''), printableName('certificates:errors.name.otherScript')])),
});

const reissueSchema = z.object({
  name: printableName('certificates:errors.name.corrected'),
  nameAlt: z
    .string()
    .optional()
    .transform((s) => s ?? '')
    .pipe(z.union([z.literal(''), printableName('certificates:errors.name.otherScript')])),
  reason: z.string().trim().min(5, 'certificates:manage.reasonReissue').max(2000),
});
const revokeSchema = z.object({ reason: z.string().trim().min(5, 'certificates:manage.reasonRevoke').max(2000) });
const issueSchema = z.object({
  enrolmentId: objectIdSchema('certificates:errors.choosePerson'),
  force: z.preprocess((v) => v === 'on' || v === 'true' || v === true, z.boolean()).default(false),
  /** Staff confirmed issuing with the name unconfirmed (the confirmation page sends it); the audit records it either way. */
  anyway: z.preprocess((v) => v === 'on' || v === 'true' || v === true, z.boolean()).default(false),
});
const settingsSchema = z.object({
  autoIssue: z.preprocess((v) => v === 'on' || v === 'true' || v === true, z.boolean()).default(false),
  templateId: objectIdSchema()
    .optional()
    .or(z.literal('').transform(() => undefined)),
});

export function mountCertificateRoutes(ctx: PluginContext<CertificatesConfig>, issuance: IssuanceService, templates: Pick<TemplateService, 'choices'>) {
  const staff = allow.roles('staff');

  /** The catalogue key that names how a person completed: online, or a contributed rule (its own label, else ours for its id). */
  function howLabel(how: string): string {
    if (how === 'online' || how === 'attendance') return `certificates:edition.how.${how}`;
    return ctx.extensions(CompletionRules).find((r) => r.id === how)?.label ?? 'certificates:edition.how.other';
  }

  /** The edition, if this person may issue its certificates (staff; its trainers when the programme allows). */
  async function issuableEdition(req: Request, editionId: string): Promise<EditionSummary> {
    const edition = isObjectId(editionId) ? await ctx.get(EnrolmentDirectory).edition(editionId) : null;
    if (!edition) throw notFound('No such edition.', { key: 'certificates:errors.noSuchEdition' });
    if (!mayIssue(req.user!, edition, ctx.config))
      throw forbidden('Only programme staff (and, if the programme allows it, the edition’s trainers) issue certificates.', {
        key: 'certificates:errors.mayNotIssue',
      });
    return edition;
  }

  // ---- Learners ----------------------------------------------------------------------------------

  ctx.router.get('/certificates/name', allow.signedIn, async (req, res) => {
    const current = await issuance.printedName(req.user!.id);
    res.render('certificates/name', {
      title: req.t('certificates:name.title'),
      values: current,
      errors: {},
      confirmed: current.confirmed,
      previews: namePreviews(current),
    });
  });

  ctx.router.post(
    '/certificates/name',
    allow.signedIn,
    form({
      schema: nameSchema,
      view: 'certificates/name',
      locals: (req, { values, errors }) => ({ title: req.t('certificates:name.title'), values, errors, confirmed: false, previews: namePreviews(values) }),
      async handle(req, res, input) {
        const issued = await issuance.confirmName(req.user!.id, input.name, input.nameAlt || undefined);
        respond(req, res, {
          json: { name: input.name, issued: issued.map((c) => c._id) },
          flash: ['success', req.t(issued.length ? 'certificates:name.savedIssued' : 'certificates:name.saved', { count: issued.length })],
          redirect: '/enrolment/my',
        });
      },
    }),
  );

  // The PDF as issued, byte for byte. Its holder, and staff (each staff download is audited).
  ctx.router.get('/certificates/c/:code/certificate.pdf', allow.signedIn, async (req, res) => {
    const certificate = await issuance.requireCertificate(String(req.params.code));
    const own = certificate.learnerId === req.user!.id;
    if (own) {
      const status = await issuance.status(certificate._id);
      if (status?.state === 'revoked') throw refusalFor(req, 410, 'REVOKED', 'certificates:my.revokedNoDownload');
    } else {
      const edition = await ctx.get(EnrolmentDirectory).edition(certificate.editionId);
      if (!edition || !mayIssue(req.user!, edition, ctx.config)) throw noSuchCertificate();
      await issuance.audit('downloaded', req.user!.id, { code: certificate._id, editionId: certificate.editionId });
    }
    res.set({
      'Content-Type': 'application/pdf',
      'Content-Length': String(certificate.size),
      'Content-Disposition': `attachment; filename="certificate-${certificate._id}.pdf"`,
      'Cache-Control': 'private, no-store',
    });
    const stream = issuance.openPdf(certificate);
    stream.on('error', (err) => res.destroy(err));
    stream.pipe(res);
  });

  // ---- Staff: an edition's certificates ------------------------------------------------------------

  ctx.router.get('/certificates', staff, async (req, res) => {
    const catalog = ctx.get(CourseCatalog);
    const directory = ctx.get(EnrolmentDirectory);
    const editions: { edition: EditionSummary; course: string; issued: number }[] = [];
    for (const course of await catalog.listPublished()) {
      for (const edition of await directory.editionsOfCourse(course.id)) {
        if (edition.status === 'draft') continue;
        editions.push({ edition, course: localized(course.title, req.language), issued: (await issuance.holdersIn(edition.id)).size });
      }
    }
    res.render('certificates/index', { title: req.t('certificates:manage.title'), editions });
  });

  ctx.router.get('/certificates/editions/:editionId', allow.signedIn, async (req, res) => {
    const edition = await issuableEdition(req, String(req.params.editionId));
    const [course, enrolled, setting, issued] = await Promise.all([
      ctx.get(CourseCatalog).findById(edition.courseId),
      ctx.get(EnrolmentDirectory).enrolmentsOf(edition.id, ['enrolled']),
      issuance.editionSetting(edition.id),
      issuance.issuedIn(edition.id),
    ]);
    const [completions, waiting] = await Promise.all([issuance.completionsOf(edition, enrolled), issuance.waitingIn(edition.id)]);
    const directory = ctx.get(EnrolmentDirectory);
    const confirmed = await issuance.namesConfirmed(enrolled.map((e) => e.userId).filter((x): x is string => !!x));
    // The current certificate of each enrolment is its newest record (a reissue comes after the original).
    const byEnrolment = new Map(issued.map((c) => [c.enrolmentId, c]));
    const rows = [];
    const names = await directory.namesOf(enrolled);
    for (const e of enrolled) {
      const certificate = byEnrolment.get(e.id);
      const completion = completions.get(e.id);
      const nameConfirmed = !!e.userId && confirmed.has(e.userId);
      rows.push({
        enrolment: e,
        name: names.get(e.id)?.name || e.email,
        completedAt: completion?.at,
        completedHow: completion ? howLabel(completion.how) : undefined,
        nameConfirmed,
        // No account yet, or the account opened for them and not yet taken up (a certificate waits for them).
        waitingForAccount: !certificate && (!e.userId || (waiting.has(e.id) && !nameConfirmed)),
        code: certificate?._id,
      });
    }
    res.render('certificates/edition', {
      title: req.t('certificates:edition.title', { edition: edition.title }),
      edition,
      course,
      courseTitle: localized(course?.title, req.language),
      rows,
      setting,
      templates: await templates.choices(),
      completedWithout: rows.filter((r) => r.completedAt && !r.code).length,
      // Completed, no certificate, the printed name not confirmed: an automatic certificate waits for it.
      waitingForName: rows.filter((r) => r.completedAt && !r.code && r.enrolment.userId && !r.nameConfirmed && !r.waitingForAccount).length,
      // Completed, no account: the certificate waits for the person to create one.
      waitingForAccount: rows.filter((r) => r.completedAt && r.waitingForAccount).length,
    });
  });

  // Issuing although the printed name is unconfirmed asks first: the page says so and what prints instead.
  ctx.router.get('/certificates/editions/:editionId/issue/:enrolmentId', allow.signedIn, async (req, res) => {
    const edition = await issuableEdition(req, String(req.params.editionId));
    const enrolmentId = String(req.params.enrolmentId);
    const enrolment = isObjectId(enrolmentId) ? await ctx.get(EnrolmentDirectory).enrolment(enrolmentId) : null;
    if (!enrolment || enrolment.editionId !== edition.id) throw notFound('This person is not in this edition.', { key: 'certificates:errors.notInEdition' });
    const back = `/certificates/editions/${edition.id}`;
    if ((await issuance.holdersIn(edition.id)).has(enrolment.id)) return res.redirect(303, back);
    const completed = !!(await issuance.completionOf(enrolment));
    if (!enrolment.userId) {
      // No account: one is opened for them (an invitation), and the name of their imported profile printed.
      const imported = await ctx.get(EnrolmentDirectory).personName?.(enrolment.email);
      return res.render('certificates/issue-anyway', {
        title: req.t('certificates:issueAnyway.titleNoAccount'),
        edition,
        enrolmentId: enrolment.id,
        name: imported || enrolment.email,
        email: enrolment.email,
        printedName: imported || enrolment.email.split('@')[0],
        completed,
        noAccount: true,
      });
    }
    const [printed, account] = await Promise.all([issuance.printedName(enrolment.userId), ctx.get(Users).findById(enrolment.userId)]);
    // Confirmed meanwhile: nothing to confirm, the edition's page says where it stands.
    if (printed.confirmed) return res.redirect(303, back);
    res.render('certificates/issue-anyway', {
      title: req.t('certificates:issueAnyway.title'),
      edition,
      enrolmentId: enrolment.id,
      name: account?.name ?? enrolment.email,
      email: enrolment.email,
      printedName: printed.name,
      completed,
      noAccount: false,
    });
  });

  ctx.router.post('/certificates/editions/:editionId/settings', staff, async (req, res) => {
    const edition = await issuableEdition(req, String(req.params.editionId));
    const input = parseInput(settingsSchema, req.body);
    if (input.templateId && !(await templates.choices()).some((t) => t.id === input.templateId))
      throw invalidFields({ templateId: { key: 'certificates:errors.chooseTemplate' } }, 'Choose one of the templates.', {
        key: 'certificates:errors.chooseTemplate',
      });
    await issuance.saveEditionSetting(edition.id, input, req.user!.id);
    respond(req, res, {
      json: { autoIssue: input.autoIssue, templateId: input.templateId ?? null },
      flash: ['success', req.t('certificates:edition.settingsSaved')],
      redirect: `/certificates/editions/${edition.id}`,
    });
  });

  // One person's certificate, now (bulk issuance is a background job: see jobs.routes.ts).
  ctx.router.post('/certificates/editions/:editionId/issue', allow.signedIn, async (req, res) => {
    const edition = await issuableEdition(req, String(req.params.editionId));
    const { enrolmentId, force, anyway } = parseInput(issueSchema, req.body);
    const enrolment = await ctx.get(EnrolmentDirectory).enrolment(enrolmentId);
    if (!enrolment || enrolment.editionId !== edition.id) throw notFound('This person is not in this edition.', { key: 'certificates:errors.notInEdition' });
    let result;
    try {
      // An unconfirmed printed name (or no account) is issued only when staff said so on the confirmation page.
      result = await issuance.issue({
        enrolmentId,
        via: 'staff',
        byUserId: req.user!.id,
        requireCompletion: !force,
        unconfirmedName: anyway ? 'issue' : 'wait',
      });
    } catch (err) {
      if (err instanceof HttpError && (err.code === 'NAME_UNCONFIRMED' || err.code === NO_ACCOUNT) && !wantsJson(req)) {
        // The edition's page says why, and its "Issue anyway…" link asks first.
        req.flash('error', `${errorMessage((key, options) => String(req.t(key, options as never)), err)} ${req.t('certificates:edition.useIssueAnyway')}`);
        return res.redirect(303, `/certificates/editions/${edition.id}`);
      }
      throw err;
    }
    const { certificate, created } = result;
    respond(req, res, {
      status: created ? 201 : 200,
      json: { code: certificate._id, created },
      flash: [created ? 'success' : 'info', req.t(created ? 'certificates:edition.issued' : 'certificates:edition.alreadyIssued', { code: certificate._id })],
      redirect: `/certificates/editions/${edition.id}`,
    });
  });

  // ---- Staff: one certificate: reissue, revoke -----------------------------------------------------

  const certificateStatus = async (req: Request) => {
    const status = await issuance.status(String(req.params.code));
    if (!status) throw noSuchCertificate();
    return status;
  };

  /** The certificate's page; a reissue refused comes back to it, with the messages by field. */
  const manageLocals = async (req: Request, failure?: FormFailure) => {
    const status = await certificateStatus(req);
    const facts = await issuance.factsOf(status.certificate._id);
    const saved = { name: status.certificate.snapshot.name, nameAlt: status.certificate.snapshot.nameAlt ?? '' };
    // Templates are never deleted; a name not found shows the id instead.
    const templateName = (await templates.choices()).find((t) => t.id === status.certificate.templateId)?.name;
    return {
      title: status.certificate._id,
      status,
      templateName,
      view: publicView(status, req.language),
      facts,
      values: failure ? { ...saved, ...failure.values } : saved,
      errors: failure?.errors ?? {},
    };
  };

  /** Revoking asks first: a page naming the certificate, its holder and what follows, with the reason; a refusal comes back to it. */
  const revokeLocals = async (req: Request, failure?: FormFailure) => {
    const status = await certificateStatus(req);
    const holder = await ctx.get(Users).findById(status.certificate.learnerId);
    return {
      title: req.t('certificates:revoke.title'),
      view: publicView(status, req.language),
      holderEmail: holder?.email ?? '',
      values: failure?.values ?? {},
      errors: failure?.errors ?? {},
    };
  };

  ctx.router.get('/certificates/c/:code/manage', staff, async (req, res) => {
    res.render('certificates/manage', await manageLocals(req));
  });

  ctx.router.post(
    '/certificates/c/:code/reissue',
    staff,
    form({
      schema: reissueSchema,
      view: 'certificates/manage',
      locals: (req, failure) => manageLocals(req, failure),
      fields: { UNPRINTABLE: 'name' },
      async handle(req, res, input) {
        const status = await certificateStatus(req);
        const next = await issuance.reissue(
          status.certificate._id,
          { name: input.name, nameAlt: input.nameAlt || undefined, reason: input.reason },
          req.user!.id,
        );
        respond(req, res, {
          status: 201,
          json: { code: next._id, replaces: status.certificate._id },
          flash: ['success', req.t('certificates:manage.reissued', { code: next._id })],
          redirect: `/certificates/c/${next._id}/manage`,
        });
      },
    }),
  );

  ctx.router.get('/certificates/c/:code/revoke', staff, async (req, res) => {
    const locals = await revokeLocals(req);
    // Only a valid certificate can be revoked: otherwise its own page says what it is.
    if (locals.view.status !== 'valid') return res.redirect(303, `/certificates/c/${locals.view.code}/manage`);
    res.render('certificates/revoke', locals);
  });

  ctx.router.post(
    '/certificates/c/:code/revoke',
    staff,
    form({
      schema: revokeSchema,
      view: 'certificates/revoke',
      locals: (req, failure) => revokeLocals(req, failure),
      async handle(req, res, { reason }) {
        const status = await certificateStatus(req);
        await issuance.revoke(status.certificate._id, reason, req.user!.id);
        respond(req, res, {
          json: { code: status.certificate._id, status: 'revoked' },
          flash: ['success', req.t('certificates:manage.revoked')],
          redirect: `/certificates/c/${status.certificate._id}/manage`,
        });
      },
    }),
  );

  // ---- Admins: the audit log -----------------------------------------------------------------------

  ctx.router.get('/certificates/audit', allow.roles('admin'), async (req, res) => {
    const page = Math.max(1, Math.min(10000, Number.parseInt(String(req.query.page ?? '1'), 10) || 1));
    const pageSize = 50;
    const { entries, total } = await issuance.auditPage(page, pageSize);
    const users = ctx.get(Users);
    const actors = new Map<string, string>();
    for (const id of new Set(entries.map((e) => e.actorId).filter((x): x is string => !!x))) actors.set(id, (await users.findById(id))?.email ?? id);
    res.render('certificates/audit', { title: req.t('certificates:audit.title'), entries, actors, page, pages: Math.max(1, Math.ceil(total / pageSize)) });
  });
}
