import type { Request, Response } from 'express';
import mongoose from 'mongoose';
import { z } from 'zod';
import { allow, form, invalidFields, objectIdSchema, parseInput, respond, UN_LANGUAGES, Users, type PluginContext } from '../../../src/index.ts';
import { CourseCatalog } from '../../courses/contract.ts';
import { EDITION_STATUSES, EditionManageLinks, ENROLMENT_METHODS } from '../contract.ts';
import type { ApplicationQuestion, EditionDoc } from '../models/edition.model.ts';
import { toEditionSummary, type EditionInput, type EnrolmentService } from '../services/enrolment.service.ts';
import type { EnrolmentNotices } from '../services/notices.ts';
import { countryName } from '../services/profile.ts';
import { courseTitle, formatDay } from './learner.routes.ts';

/** The six UN languages, in which an edition may be taught. */

const optionalDate = z.preprocess(
  (v) => (v === '' || v === undefined ? undefined : v),
  z.coerce
    .date({ error: 'enrolment:errors.edition.date' })
    .refine((d) => !Number.isNaN(d.getTime()), 'enrolment:errors.edition.date')
    .optional(),
);
const checkbox = z.preprocess((v) => v === 'on' || v === 'true' || v === true, z.boolean());

const editionForm = z
  .object({
    courseId: objectIdSchema('enrolment:errors.edition.course'),
    title: z.string().trim().min(3, 'enrolment:errors.edition.title').max(200, 'enrolment:errors.edition.titleLong'),
    description: z.string().trim().max(5000, 'enrolment:errors.edition.descriptionLong').default(''),
    selfPaced: checkbox.default(false),
    startsAt: optionalDate,
    endsAt: optionalDate,
    materialOpensAt: optionalDate,
    certificatesBeforeEnd: checkbox.default(false),
    enrolmentDeadline: optionalDate,
    place: z.string().trim().max(200).default(''),
    online: checkbox.default(false),
    capacity: z.preprocess(
      (v) => (v === '' || v === undefined ? null : v),
      z.coerce
        .number({ error: 'enrolment:errors.edition.capacity' })
        .int('enrolment:errors.edition.capacityWhole')
        .min(1, 'enrolment:errors.edition.capacityMin')
        .max(100000)
        .nullable(),
    ),
    language: z.enum(UN_LANGUAGES, { error: 'enrolment:errors.edition.language' }),
    method: z.enum(ENROLMENT_METHODS, { error: 'enrolment:errors.edition.method' }),
    enrolmentKey: z.string().trim().max(100).optional(),
    questions: z.string().max(10000, 'enrolment:errors.edition.questionsLong').default(''),
    trainerIds: z.preprocess((v) => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]), z.array(objectIdSchema())),
    // Optional: an empty field means none.
    contactEmail: z.preprocess(
      (v) => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim().toLowerCase() : v),
      z.email({ error: 'enrolment:errors.edition.contactEmail' }).max(254, 'enrolment:errors.edition.contactEmail').optional(),
    ),
    status: z.enum(EDITION_STATUSES, { error: 'enrolment:errors.edition.status' }),
  })
  .superRefine((v, ctx) => {
    if (!v.selfPaced && !v.startsAt) ctx.addIssue({ code: 'custom', path: ['startsAt'], message: 'enrolment:errors.edition.startsAt' });
    if (v.startsAt && v.endsAt && v.endsAt < v.startsAt)
      ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'enrolment:errors.edition.endsBeforeStart' });
    if (v.materialOpensAt && v.startsAt && v.materialOpensAt > v.startsAt)
      ctx.addIssue({ code: 'custom', path: ['materialOpensAt'], message: 'enrolment:errors.edition.opensAfterStart' });
    if (v.enrolmentDeadline && v.endsAt && v.enrolmentDeadline > v.endsAt)
      ctx.addIssue({ code: 'custom', path: ['enrolmentDeadline'], message: 'enrolment:errors.edition.deadlineAfterEnd' });
    if (!v.online && !v.place) ctx.addIssue({ code: 'custom', path: ['place'], message: 'enrolment:errors.edition.place' });
    if (v.method === 'key' && !v.enrolmentKey) ctx.addIssue({ code: 'custom', path: ['enrolmentKey'], message: 'enrolment:errors.edition.key' });
    if (v.enrolmentKey && v.enrolmentKey.length < 6)
      ctx.addIssue({ code: 'custom', path: ['enrolmentKey'], message: 'enrolment:errors.edition.keyShort', params: { min: 6 } });
  });

/**
 * Application questions are written one per line; a line starting with "*" is a required question.
 * Ids are kept for questions whose text did not change, so that answers already given still match.
 */
export function parseQuestions(text: string, previous: ApplicationQuestion[] = []): ApplicationQuestion[] {
  // Every line end a browser or a pasted text may use; a lone "*" is no question.
  const lines = text
    .split(/\r\n|\r|\n/)
    .map((l) => l.trim())
    .filter((l) => l.replace(/^\*\s*/, ''));
  if (lines.length > 20) throw invalidFields({ questions: { key: 'enrolment:errors.edition.tooManyQuestions', params: { max: 20 } } });
  const used = new Set<string>();
  return lines.map((line) => {
    const required = line.startsWith('*');
    const label = line.replace(/^\*\s*/, '').slice(0, 500);
    const same = previous.find((q) => q.label === label && !used.has(q.id));
    let id = same?.id ?? `q${new mongoose.Types.ObjectId().toString().slice(-8)}`;
    while (used.has(id)) id = `q${new mongoose.Types.ObjectId().toString().slice(-8)}`;
    used.add(id);
    return { id, label, required };
  });
}

export const questionsToText = (questions: ApplicationQuestion[]) => questions.map((q) => `${q.required ? '* ' : ''}${q.label}`).join('\n');

const decisionSchema = z.object({
  decision: z.enum(['accept', 'reject', 'waitlist'], { error: 'enrolment:errors.decision' }),
  message: z.string().trim().max(2000, 'enrolment:errors.messageLong').optional(),
});

const addPersonSchema = z.object({ email: z.email({ error: 'enrolment:errors.email' }).max(254), invite: checkbox.default(false) });
const moveSchema = z.object({ toEditionId: objectIdSchema('enrolment:errors.move.choose') });
const withdrawSchema = z.object({ message: z.string().trim().max(2000).optional() });

const toDateInput = (d?: Date | null) => (d ? d.toISOString().slice(0, 10) : '');

/** Messages listed on a person's enrolment page (the newest). */
const MESSAGES_SHOWN = 20;

export function mountManageRoutes(ctx: PluginContext, service: EnrolmentService, notices?: EnrolmentNotices) {
  const staff = allow.roles('staff');
  const catalog = () => ctx.get(CourseCatalog);

  async function formLocals(req: Request) {
    const [courses, trainers] = await Promise.all([catalog().listPublished(), ctx.get(Users).list({ role: 'trainer', pageSize: 200 })]);
    return {
      courses: courses.map((c) => ({ id: c.id, title: courseTitle(req, c) })),
      trainers: trainers.users,
      languages: UN_LANGUAGES,
      methods: ENROLMENT_METHODS,
      statuses: EDITION_STATUSES,
    };
  }

  async function editionFormPage(req: Request, edition: EditionDoc | null, values: Record<string, unknown>, errors: Record<string, string> = {}) {
    return {
      title: edition ? req.t('enrolment:manage.editTitle', { edition: edition.title }) : req.t('enrolment:manage.newTitle'),
      edition,
      values,
      errors,
      ...(await formLocals(req)),
    };
  }

  const valuesOf = (e: EditionDoc) => ({
    ...e,
    startsAt: toDateInput(e.startsAt),
    endsAt: toDateInput(e.endsAt),
    materialOpensAt: toDateInput(e.materialOpensAt),
    enrolmentDeadline: toDateInput(e.enrolmentDeadline),
    capacity: e.capacity ?? '',
    questions: questionsToText(e.questions),
  });

  /** The edition form's input, once it passed its schema: the course must exist, the questions read. */
  async function editionInput(v: z.output<typeof editionForm>, previous: ApplicationQuestion[] = []): Promise<EditionInput> {
    const course = await catalog().findById(v.courseId);
    if (!course) throw invalidFields({ courseId: { key: 'enrolment:errors.edition.course' } });
    return {
      ...v,
      enrolmentKey: v.enrolmentKey || undefined,
      questions: parseQuestions(v.questions, previous),
      trainerIds: [...new Set(v.trainerIds)],
    };
  }

  // ---- Editions ------------------------------------------------------------------------------------

  ctx.router.get('/manage', staff, async (req, res) => {
    const filter = parseInput(
      z.object({
        courseId: objectIdSchema().optional().catch(undefined),
        status: z.enum(EDITION_STATUSES).optional().catch(undefined),
      }),
      req.query,
    );
    const editions = await service.editionsListed(filter);
    const count = await service.statusCountsOf(editions.map((e) => e._id.toString()));
    const courses = new Map((await catalog().listPublished()).map((c) => [c.id, c]));
    res.render('enrolment/manage-list', {
      title: req.t('enrolment:manage.title'),
      filter,
      courses: [...courses.values()].map((c) => ({ id: c.id, title: courseTitle(req, c) })),
      statuses: EDITION_STATUSES,
      editions: editions.map((e) => ({
        edition: e,
        courseTitle: courseTitle(req, courses.get(e.courseId) ?? null),
        enrolled: count(e._id.toString(), 'enrolled'),
        pending: count(e._id.toString(), 'pending'),
        waitlisted: count(e._id.toString(), 'waitlisted'),
      })),
      formatDay: (d?: Date) => formatDay(req, d),
    });
  });

  ctx.router.get('/manage/editions/new', staff, async (req, res) => {
    const courseId = typeof req.query.courseId === 'string' ? req.query.courseId : '';
    res.render('enrolment/edition-form', await editionFormPage(req, null, { courseId, method: 'application', status: 'draft', language: 'en', questions: '' }));
  });

  ctx.router.post(
    '/manage/editions',
    staff,
    form({
      schema: editionForm,
      view: 'enrolment/edition-form',
      locals: (req, { values, errors }) => editionFormPage(req, null, values, errors),
      async handle(req, res, v) {
        const edition = await service.createEdition(await editionInput(v), req.user!.id);
        respond(req, res, {
          status: 201,
          json: { id: edition._id.toString() },
          flash: ['success', req.t('enrolment:manage.created', { edition: edition.title })],
          redirect: `/enrolment/manage/editions/${edition._id}`,
        });
      },
    }),
  );

  ctx.router.get('/manage/editions/:id/edit', staff, async (req, res) => {
    const edition = await service.requireEdition(String(req.params.id));
    res.render('enrolment/edition-form', await editionFormPage(req, edition, valuesOf(edition)));
  });

  ctx.router.post(
    '/manage/editions/:id',
    staff,
    form({
      schema: editionForm,
      view: 'enrolment/edition-form',
      locals: async (req, { values, errors }) => editionFormPage(req, await service.requireEdition(String(req.params.id)), values, errors),
      async handle(req, res, v) {
        const edition = await service.requireEdition(String(req.params.id));
        const updated = await service.updateEdition(edition._id.toString(), await editionInput(v, edition.questions));
        respond(req, res, {
          json: { id: updated._id.toString() },
          flash: ['success', req.t('enrolment:manage.saved')],
          redirect: `/enrolment/manage/editions/${updated._id}`,
        });
      },
    }),
  );

  // The edition's page for staff: its facts, the applications to decide, the waiting list.
  ctx.router.get('/manage/editions/:id', staff, async (req, res) => {
    res.render('enrolment/manage-edition', await editionPage(req, await service.requireEdition(String(req.params.id))));
  });

  /** The edition's staff page; `errors` and `values`: the add-person form shown again with what was wrong. */
  async function editionPage(req: Request, edition: EditionDoc, errors: Record<string, string> = {}, values: Record<string, unknown> = {}) {
    const editionId = edition._id.toString();
    await service.repairSeats(editionId);
    const [course, people, seatsTaken] = await Promise.all([
      catalog().findById(edition.courseId),
      service.awaitingDecision(editionId),
      service.seatsTaken(editionId),
    ]);
    const counts = await service.statusCounts(editionId);
    const profiles = new Map((await service.peopleOf(people.map((p) => p.email))).map((p) => [p._id, p]));
    const describe = (e: (typeof people)[number]) => {
      const p = profiles.get(e.email);
      return {
        enrolment: e,
        name: p ? `${p.givenName} ${p.familyName}`.trim() : '',
        organisation: p?.organisation ?? '',
        country: p?.country ? countryName(p.country, req.language) : '',
        answers: e.answers.map((a) => ({ question: edition.questions.find((q) => q.id === a.questionId)?.label ?? '', answer: a.answer })),
      };
    };
    const waiting = people.filter((e) => e.status === 'waitlisted').sort((a, b) => (a.waitlistedAt?.getTime() ?? 0) - (b.waitlistedAt?.getTime() ?? 0));
    const summary = toEditionSummary(edition);
    const links = [...ctx.extensions(EditionManageLinks)]
      .sort((a, b) => (a.order ?? 50) - (b.order ?? 50))
      .flatMap((link) => {
        const href = link.href(summary);
        return href ? [{ label: req.t(link.label), href }] : [];
      });
    return {
      links,
      title: edition.title,
      edition,
      course,
      courseTitle: courseTitle(req, course),
      counts,
      seatsTaken,
      pending: people.filter((e) => e.status === 'pending').map(describe),
      waiting: waiting.map(describe),
      formatDay: (d?: Date) => formatDay(req, d),
      errors,
      values,
    };
  }

  ctx.router.post(
    '/manage/editions/:id/people',
    staff,
    form({
      schema: addPersonSchema,
      // The edition's page again, with the reason next to the form; nothing was changed.
      view: 'enrolment/manage-edition',
      locals: async (req, { errors }) =>
        editionPage(req, await service.requireEdition(String(req.params.id)), errors, {
          email: typeof req.body?.email === 'string' ? req.body.email : '',
          invite: req.body?.invite === 'on',
        }),
      handle: addPerson,
    }),
  );

  async function addPerson(req: Request, res: Response, { email, invite }: z.output<typeof addPersonSchema>) {
    const edition = await service.requireEdition(String(req.params.id));
    const account = await ctx.get(Users).findByEmail(email);
    const { enrolment, created, placed } = await service.addByStaff(edition._id.toString(), { email, source: 'staff' }, req.user!.id);
    // Only the request that placed the person invites them: a second click finds them there already.
    let invited: Awaited<ReturnType<EnrolmentNotices['invited']>> = 'none';
    if (invite && placed && notices) {
      try {
        invited = await notices.invited(enrolment, req.user!.id);
      } catch (err) {
        ctx.logger.error({ err, enrolment: enrolment._id.toString() }, 'invitation not recorded');
      }
    }
    respond(req, res, {
      status: created ? 201 : 200,
      json: { enrolmentId: enrolment._id.toString(), status: enrolment.status, created, invited },
      flash: [
        created ? 'success' : 'info',
        created
          ? req.t(`enrolment:manage.added.${enrolment.status}`, { email }) +
            (invited !== 'none' ? ` ${req.t(`enrolment:manage.added.${invited}`)}` : account ? '' : ` ${req.t('enrolment:manage.added.noAccount')}`)
          : req.t('enrolment:manage.added.already', { email, status: req.t(`enrolment:status.${enrolment.status}`) }),
      ],
      redirect: `/enrolment/manage/editions/${edition._id}`,
    });
  }

  // ---- One person's enrolment --------------------------------------------------------------------

  ctx.router.get('/manage/enrolments/:id', staff, async (req, res) => {
    const enrolment = await service.requireEnrolment(String(req.params.id));
    const edition = await service.requireEdition(enrolment.editionId);
    const [course, person, account, others, position] = await Promise.all([
      catalog().findById(enrolment.courseId),
      service.personOf(enrolment.email),
      enrolment.userId ? ctx.get(Users).findById(enrolment.userId) : null,
      service.otherEditions(enrolment.courseId, edition._id),
      service.waitlistPosition(enrolment),
    ]);
    const staffNames = new Map<string, string>();
    for (const id of new Set(enrolment.history.map((h) => h.byUserId).filter((x): x is string => !!x))) {
      staffNames.set(id, (await ctx.get(Users).findById(id))?.name ?? '');
    }
    // What was sent to the person, whatever it was about (an application here, an invitation, a
    // certificate): staff answering "did you write to me?" need all of it. Their account's address
    // too, should it differ from the one they were enrolled with.
    const addresses = [...new Set([enrolment.email, ...(account ? [account.email.toLowerCase()] : [])])];
    const messages = (await Promise.all(addresses.map((to) => ctx.mail.list({ to, pageSize: MESSAGES_SHOWN }))))
      .flatMap((r) => r.messages)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .slice(0, MESSAGES_SHOWN);
    res.render('enrolment/manage-enrolment', {
      title: account?.name ?? enrolment.email,
      enrolment,
      edition,
      course,
      courseTitle: courseTitle(req, course),
      person,
      account,
      others,
      position,
      answers: enrolment.answers.map((a) => ({ question: edition.questions.find((q) => q.id === a.questionId)?.label ?? '', answer: a.answer })),
      staffNames,
      messages,
      countryName: (c: string) => countryName(c, req.language),
      formatDay: (d?: Date) => formatDay(req, d),
    });
  });

  ctx.router.post('/manage/enrolments/:id/decision', staff, async (req, res) => {
    const enrolment = await service.requireEnrolment(String(req.params.id));
    const { decision, message } = parseInput(decisionSchema, req.body);
    const after = await service.decide(enrolment._id.toString(), decision, message || undefined, req.user!.id);
    respond(req, res, {
      json: { status: after.status },
      flash: ['success', req.t(`enrolment:manage.decided.${after.status}`, { email: after.email })],
      redirect: safeBack(req, `/enrolment/manage/editions/${after.editionId}`),
    });
  });

  ctx.router.post('/manage/enrolments/:id/withdraw', staff, async (req, res) => {
    const enrolment = await service.requireEnrolment(String(req.params.id));
    const { message } = parseInput(withdrawSchema, req.body);
    await service.withdraw(enrolment._id.toString(), req.user!.id, message || undefined);
    respond(req, res, {
      json: { status: 'withdrawn' },
      flash: ['success', req.t('enrolment:manage.withdrawn', { email: enrolment.email })],
      redirect: `/enrolment/manage/enrolments/${enrolment._id}`,
    });
  });

  ctx.router.post('/manage/enrolments/:id/move', staff, async (req, res) => {
    const enrolment = await service.requireEnrolment(String(req.params.id));
    const { toEditionId } = parseInput(moveSchema, req.body);
    const moved = await service.move(enrolment._id.toString(), toEditionId, req.user!.id);
    const target = await service.requireEdition(toEditionId);
    respond(req, res, {
      json: { enrolmentId: moved._id.toString(), status: moved.status },
      flash: [
        'success',
        req.t(`enrolment:manage.moved.${moved.status === 'enrolled' ? 'enrolled' : 'waitlisted'}`, { email: enrolment.email, edition: target.title }),
      ],
      redirect: `/enrolment/manage/enrolments/${moved._id}`,
    });
  });
}

/** Back to the page the decision was made on (the edition page or the person's page), never elsewhere. */
function safeBack(req: Request, fallback: string): string {
  const back = typeof req.body?.back === 'string' ? req.body.back : '';
  return /^\/enrolment\/manage\/(editions|enrolments)\/[0-9a-f]{24}$/.test(back) ? back : fallback;
}
