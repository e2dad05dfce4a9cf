import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  allow,
  checkInput,
  fieldErrors,
  formatDate,
  HttpError,
  Users,
  invalidFields,
  localized,
  localizedText,
  nameCollator,
  notFound,
  parseInput,
  refusalFor,
  renderFragment,
  respond,
  sharedRateLimit,
  UN_LANGUAGES,
  wantsJson,
  type ErrorText,
  type PluginContext,
} from '../../../src/index.ts';
import { CourseCatalog, CourseProgress, type CourseSummary } from '../../courses/contract.ts';
import { EditionSections, MyLearningSections, runsEdition } from '../contract.ts';
import { toEnrolmentSummary } from '../services/directory.ts';
import { toEditionSummary } from '../services/editions.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentDoc } from '../models/enrolment.model.ts';
import { enrolmentWindow, normaliseEmail, type EnrolmentService } from '../services/enrolment.service.ts';
import { countryOptions, GENDERS, ORGANISATION_TYPES } from '../services/profile.ts';
import { anyEditionFilter, EDITION_KINDS, editionMatches, readEditionFilters } from '../services/edition-filters.ts';

/** A course's title in the reader's language, else the course's first (the host's rule for text in several languages). */
export function courseTitle(req: Request, course: Pick<CourseSummary, 'title' | 'languages'> | null): string {
  return localized(course?.title, req.language, course?.languages[0]);
}

/** The `lang`/`dir` attributes for the element showing `courseTitle`, when it is in another language than the page. */
export function courseTitleAttrs(req: Request, course: Pick<CourseSummary, 'title' | 'languages'> | null): string {
  return localizedText(course?.title, req.language, course?.languages[0]).attrs;
}

/** Dates as the reader reads them (the page's language), without time: editions are days. */
export function formatDay(req: Request, date: Date | undefined | null): string {
  return formatDate(req.language, date);
}

const profileFields = {
  organisation: z.string().trim().max(200, 'enrolment:errors.apply.tooLong').default(''),
  organisationType: z.enum(ORGANISATION_TYPES, { error: 'enrolment:errors.apply.organisationType' }),
  country: z
    .string()
    .trim()
    .regex(/^[A-Z]{2}$/, 'enrolment:errors.apply.country'),
  gender: z.enum(GENDERS, { error: 'enrolment:errors.apply.gender' }),
  jobTitle: z.string().trim().max(200, 'enrolment:errors.apply.tooLong').default(''),
};

const applicationSchema = z.object({
  motivation: z.string().trim().min(50, 'enrolment:errors.apply.motivation').max(5000, 'enrolment:errors.apply.motivationLong'),
  ...profileFields,
});

/** A person who has nothing to withdraw from in an edition. */
const noPlace = () => notFound('You have no place or application in this edition.', { key: 'enrolment:errors.noPlace' });

/** What "My learning" (and the home page panel) shows a person. */
export async function myLearning(ctx: PluginContext, service: EnrolmentService, req: Request) {
  const user = req.user!;
  const catalog = ctx.get(CourseCatalog);
  const progress = ctx.get(CourseProgress);
  const mine = (await service.memberships.enrolmentsOf({ userId: user.id })).sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
  const editions = await service.editionsById(mine.map((e) => e.editionId));
  const courses = new Map<string, CourseSummary | null>();
  const courseOf = async (id: string) => {
    if (!courses.has(id)) courses.set(id, await catalog.findById(id));
    return courses.get(id)!;
  };
  const current = [];
  const applications = [];
  for (const e of mine) {
    const edition = editions.get(e.editionId);
    const course = await courseOf(e.courseId);
    if (!edition || !course) continue;
    const entry = { enrolment: e, edition, course, courseTitle: courseTitle(req, course), courseTitleAttrs: courseTitleAttrs(req, course) };
    if (e.status === 'enrolled' && edition.status !== 'cancelled') {
      current.push({ ...entry, progress: await progress.progressOf(user.id, e.courseId, e.editionId) });
    } else if (e.status === 'pending' || e.status === 'waitlisted' || e.status === 'rejected') {
      applications.push({ ...entry, position: await service.waitlistPosition(e) });
    }
  }
  // Editions open for enrolment that the person is not in yet, soonest first (not those they teach).
  const taken = new Set(mine.filter((e) => e.status !== 'withdrawn').map((e) => e.editionId));
  const open = (await service.publishedEditions()).filter(
    (e) => ['open', 'key', 'application'].includes(e.method) && !taken.has(e._id.toString()) && enrolmentWindow(e).open && !e.trainerIds.includes(user.id),
  );
  const upcoming = [];
  for (const edition of open.slice(0, 10)) {
    const course = await courseOf(edition.courseId);
    if (course?.status === 'published')
      upcoming.push({ edition, course, courseTitle: courseTitle(req, course), courseTitleAttrs: courseTitleAttrs(req, course) });
  }
  return { current, applications, upcoming, formatDay: (d?: Date) => formatDay(req, d) };
}

export function mountLearnerRoutes(ctx: PluginContext, service: EnrolmentService) {
  const catalog = () => ctx.get(CourseCatalog);

  async function editionWithCourse(id: string) {
    const edition = await service.requireEdition(id);
    const course = await catalog().findById(edition.courseId);
    // Drafts (of the edition or its course) do not exist for learners.
    if (edition.status === 'draft' || !course || course.status !== 'published') throw notFound('No such edition.', { key: 'enrolment:errors.noSuchEdition' });
    return { edition, course };
  }

  async function renderEdition(
    req: Request,
    res: Response,
    edition: EditionDoc,
    course: CourseSummary,
    form: { values?: Record<string, unknown>; errors?: Record<string, string> } = {},
  ) {
    // The person's own enrolments by key (a query by edition and e-mail reads every enrolment on FerretDB).
    const enrolment = req.user
      ? ((await service.memberships.enrolmentsOf({ email: normaliseEmail(req.user.email) })).find((e) => e.editionId === edition._id.toString()) ?? null)
      : null;
    const person = req.user ? await service.personOf(normaliseEmail(req.user.email)) : null;
    const seatsTaken = edition.capacity != null ? await service.seatsTaken(edition._id.toString()) : 0;
    // Its trainers by name (an account that is gone is left out), sorted as the reader's language sorts.
    const trainers = (await Promise.all(edition.trainerIds.map((id) => ctx.get(Users).findById(id))))
      .filter((u) => u !== null)
      .map((u) => u.name)
      .sort(nameCollator(req.language).compare);
    // Sections other plugins contribute (announcements to the edition, questions to its trainers).
    const reader = {
      edition: toEditionSummary(edition),
      enrolment: enrolment ? toEnrolmentSummary(enrolment) : null,
      runs: runsEdition(req.user, edition),
    };
    const sections: string[] = [];
    for (const section of [...ctx.extensions(EditionSections)].sort((a, b) => (a.order ?? 50) - (b.order ?? 50))) {
      const rendered = await section.render(req, reader);
      if (rendered) sections.push(await renderFragment(res, rendered.view, rendered.locals));
    }
    res.render('enrolment/edition', {
      trainers,
      // A named trainer of this edition runs it: they are shown its roster, not offered a place in it.
      teaches: !!req.user && edition.trainerIds.includes(req.user.id),
      sections,
      title: edition.title,
      edition,
      course,
      courseTitle: courseTitle(req, course),
      courseTitleAttrs: courseTitleAttrs(req, course),
      enrolment,
      position: enrolment ? await service.waitlistPosition(enrolment) : null,
      window: enrolmentWindow(edition),
      seatsLeft: edition.capacity != null ? Math.max(0, edition.capacity - seatsTaken) : null,
      formatDay: (d?: Date) => formatDay(req, d),
      countries: countryOptions(req.language),
      genders: GENDERS,
      organisationTypes: ORGANISATION_TYPES,
      values: form.values ?? { ...person, motivation: '' },
      errors: form.errors ?? {},
    });
  }

  /** Where a person lands after acting on an edition: its page, which says where they stand now. */
  const backTo = (edition: EditionDoc) => `/enrolment/editions/${edition._id}`;

  const statusMessage = (req: Request, e: EnrolmentDoc) => req.t(`enrolment:edition.status.${e.status}`);

  // Open editions, for everyone: what one can join now, narrowed by a plain GET form (words,
  // language, kind, dates; combined). Filters that cannot be read are left out and said so.
  ctx.router.get('/', allow.public, async (req, res) => {
    const filters = readEditionFilters(req.query);
    const editions = (await service.publishedEditions()).filter((e) => enrolmentWindow(e).open);
    const list = [];
    for (const edition of editions) {
      const course = await catalog().findById(edition.courseId);
      if (course?.status !== 'published') continue;
      const title = courseTitle(req, course);
      if (editionMatches(filters, edition, title)) list.push({ edition, course, courseTitle: title, courseTitleAttrs: courseTitleAttrs(req, course) });
    }
    res.render('enrolment/open-editions', {
      title: req.t('enrolment:open.title'),
      list,
      filters: filters.typed,
      filtered: anyEditionFilter(filters),
      notices: filters.notices.map((n) => req.t(n.key, n.params)),
      languages: UN_LANGUAGES,
      kinds: EDITION_KINDS,
      formatDay: (d?: Date) => formatDay(req, d),
    });
  });

  // The editions of one course: where the courses plugin sends people who are not enrolled yet.
  // Narrowed by the open editions' filters (language, kind, dates, and open for enrolment now).
  ctx.router.get('/courses/:slug', allow.public, async (req, res) => {
    const course = await catalog().findBySlug(String(req.params.slug));
    if (!course || course.status !== 'published') throw notFound('No such course.', { key: 'enrolment:errors.noSuchCourse' });
    const filters = readEditionFilters(req.query);
    const title = courseTitle(req, course);
    const offered = (await service.editionsOfCourse(course.id)).filter((e) => e.status === 'published' || e.status === 'archived');
    const editions = offered.filter((e) => editionMatches(filters, e, title) && (!filters.open || enrolmentWindow(e).open));
    const mine = req.user ? await service.memberships.enrolmentsOf({ userId: req.user.id }, course.id) : [];
    res.render('enrolment/course-editions', {
      title,
      course,
      courseTitle: title,
      courseTitleAttrs: courseTitleAttrs(req, course),
      offered: offered.length > 0,
      editions: editions.map((edition) => ({ edition, window: enrolmentWindow(edition), enrolment: mine.find((e) => e.editionId === edition._id.toString()) })),
      filters: filters.typed,
      filtered: anyEditionFilter(filters),
      notices: filters.notices.map((n) => req.t(n.key, n.params)),
      languages: UN_LANGUAGES,
      kinds: EDITION_KINDS,
      formatDay: (d?: Date) => formatDay(req, d),
    });
  });

  ctx.router.get('/editions/:id', allow.public, async (req, res) => {
    const { edition, course } = await editionWithCourse(String(req.params.id));
    await renderEdition(req, res, edition, course);
  });

  // Wrong enrolment keys are limited per person so that a key cannot be guessed by trying.
  const keyLimiter = sharedRateLimit({
    connection: ctx.connection,
    name: 'enrolment.key',
    windowMs: 15 * 60 * 1000,
    limit: 10,
    standardHeaders: 'draft-7',
    skipSuccessfulRequests: true,
    // Ids are hex: upper and lower case name the same edition, so they share one count.
    key: (req) => `${req.user?.id ?? 'anonymous'}:${String(req.params.id).toLowerCase()}`,
    onLimited: (req) => {
      throw refusalFor(req, 429, 'TOO_MANY_ATTEMPTS', 'enrolment:edition.tooManyKeys');
    },
  });

  ctx.router.post('/editions/:id/enrol', allow.signedIn, keyLimiter, async (req, res) => {
    const { edition, course } = await editionWithCourse(String(req.params.id));
    const { key } = parseInput(z.object({ key: z.string().max(100).optional() }), req.body);
    let enrolment: EnrolmentDoc;
    try {
      enrolment = await service.selfEnrol(req.user!, edition._id.toString(), key);
    } catch (err) {
      if (err instanceof HttpError && err.code === 'WRONG_KEY' && !wantsJson(req)) {
        res.status(403);
        return renderEdition(req, res, edition, course, { values: {}, errors: { key: req.t('enrolment:edition.wrongKey') } });
      }
      throw err;
    }
    if (wantsJson(req)) {
      // An earlier application (pending or not accepted) stands: enrolling does not replace it.
      if (enrolment.status !== 'enrolled' && enrolment.status !== 'waitlisted')
        throw refusalFor(req, 409, 'ALREADY_APPLIED', `enrolment:edition.status.${enrolment.status}`);
      return res.status(enrolment.status === 'enrolled' ? 201 : 202).json({ enrolmentId: enrolment._id.toString(), status: enrolment.status });
    }
    req.flash(enrolment.status === 'enrolled' ? 'success' : 'info', statusMessage(req, enrolment));
    res.redirect(303, enrolment.status === 'enrolled' ? `/courses/${course.slug}` : backTo(edition));
  });

  ctx.router.post('/editions/:id/apply', allow.signedIn, async (req, res) => {
    const { edition, course } = await editionWithCourse(String(req.params.id));
    const body = (req.body ?? {}) as Record<string, unknown>;
    const answers = Object.fromEntries(edition.questions.map((q) => [q.id, String(body[`answer_${q.id}`] ?? '').slice(0, 5000)]));
    // Every problem of the form at once: the fields and the edition's required questions.
    const parsed = checkInput(applicationSchema, body);
    const problems: Record<string, ErrorText> = parsed.ok ? {} : { ...parsed.fields };
    for (const q of edition.questions) if (q.required && !answers[q.id]?.trim()) problems[`answer_${q.id}`] = { key: 'enrolment:apply.answerRequired' };
    if (!parsed.ok || Object.keys(problems).length) {
      const refused = invalidFields(problems);
      if (wantsJson(req)) throw refused;
      res.status(400);
      return renderEdition(req, res, edition, course, { values: body, errors: fieldErrors(refused, (key, o) => String(req.t(key, o as never))) ?? {} });
    }
    const input = parsed.data;
    const enrolment = await service.apply(req.user!, edition._id.toString(), { motivation: input.motivation, answers });
    const email = normaliseEmail(req.user!.email);
    // Only once the application is accepted by the service: the profile answers the questions donors ask (gender, region, organisation type).
    await service.saveApplicantProfile(email, req.user!.id, {
      organisation: input.organisation,
      organisationType: input.organisationType,
      country: input.country,
      gender: input.gender,
      jobTitle: input.jobTitle,
    });
    respond(req, res, {
      status: 201,
      json: { enrolmentId: enrolment._id.toString(), status: enrolment.status },
      flash: ['success', req.t('enrolment:apply.sent')],
      redirect: backTo(edition),
    });
  });

  ctx.router.get('/editions/:id/withdraw', allow.signedIn, async (req, res) => {
    const { edition, course } = await editionWithCourse(String(req.params.id));
    const enrolment = (await service.memberships.enrolmentsOf({ userId: req.user!.id }, edition.courseId)).find((e) => e.editionId === edition._id.toString());
    if (!enrolment || !['pending', 'enrolled', 'waitlisted'].includes(enrolment.status)) throw noPlace();
    res.render('enrolment/withdraw', { title: req.t('enrolment:withdraw.title'), edition, enrolment, courseTitle: courseTitle(req, course) });
  });

  ctx.router.post('/editions/:id/withdraw', allow.signedIn, async (req, res) => {
    const { edition } = await editionWithCourse(String(req.params.id));
    const enrolment = (await service.memberships.enrolmentsOf({ userId: req.user!.id }, edition.courseId)).find((e) => e.editionId === edition._id.toString());
    if (!enrolment || !['pending', 'enrolled', 'waitlisted'].includes(enrolment.status)) throw noPlace();
    await service.withdraw(enrolment._id.toString(), undefined);
    respond(req, res, {
      json: { status: 'withdrawn' },
      flash: ['success', req.t('enrolment:withdraw.done', { edition: edition.title })],
      redirect: '/enrolment/my',
    });
  });

  ctx.router.get('/my', allow.signedIn, async (req, res) => {
    const locals = await myLearning(ctx, service, req);
    // Sections other plugins contribute (certificates), rendered with their own views.
    const sections: string[] = [];
    for (const section of [...ctx.extensions(MyLearningSections)].sort((a, b) => (a.order ?? 50) - (b.order ?? 50))) {
      const rendered = await section.render(req);
      if (rendered) sections.push(await renderFragment(res, rendered.view, rendered.locals));
    }
    res.render('enrolment/my', { title: req.t('enrolment:my.title'), ...locals, sections });
  });
}
