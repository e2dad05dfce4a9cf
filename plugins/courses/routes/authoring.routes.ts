/**
 * The trainers' pages: courses, modules, items and their material. Over 400 lines because each
 * form's route sits beside the re-rendering it needs; the services hold the logic.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  allow,
  errorMessage,
  fieldErrors,
  form,
  forbidden,
  HttpError,
  invalidFields,
  localized,
  parseInput,
  UN_LANGUAGES,
  Users,
  type PluginContext,
} from '../../../src/index.ts';
import type { CourseSummary } from '../contract.ts';
import type { ItemDoc, StoredFile } from '../models/item.model.ts';
import { canEdit, type CourseInput, type CourseService } from '../services/courses.service.ts';
import type { createMaterialStore } from '../services/materials.service.ts';
import { readQuizLanguages } from '../services/quiz-languages.ts';
import { MAX_DUE_DAYS } from '../services/due-dates.ts';
import { quizToText } from '../services/quiz.service.ts';
import { noSuchModule } from '../services/refusals.ts';
import { byShownText, languageNames, mainLanguage, readText, shownTo, textIn, type TextField } from '../services/texts.ts';

/** The texts of each form, written in each of the course's languages (`title_en`, `title_fr`, …): services/texts.ts. */
const TEXTS = {
  courseTitle: { name: 'title', max: 200, required: true },
  courseSummary: { name: 'summary', max: 5000, required: false },
  moduleTitle: { name: 'title', max: 200, required: true },
  moduleIntro: { name: 'intro', max: 20000, required: false, trim: false },
  itemTitle: { name: 'title', max: 200, required: true },
  lessonBody: { name: 'body', max: 200000, required: true, trim: false },
  itemBody: { name: 'body', max: 200000, required: false, trim: false },
} satisfies Record<string, TextField>;

const asArray = (v: unknown) => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]);
const checkbox = z.preprocess((v) => v === 'on' || v === 'true' || v === true, z.boolean());
/**
 * A module's or quiz's due date: whole days after the learner's start, 0 to MAX_DUE_DAYS; empty
 * means no due date (kept as null).
 */
const dueDays = z.preprocess(
  (v) => (v === undefined || v === null ? null : typeof v === 'string' ? (v.trim() === '' ? null : v.trim()) : v),
  z.coerce
    .number({ error: 'courses:errors.due.days' })
    .int('courses:errors.due.days')
    .min(0, 'courses:errors.due.days')
    .max(MAX_DUE_DAYS, 'courses:errors.due.days')
    .nullable(),
);

const courseFields = {
  languages: z.preprocess(asArray, z.array(z.enum(UN_LANGUAGES, { error: 'courses:errors.course.unknownLanguage' })).min(1, 'courses:errors.course.languages')),
  hours: z.coerce.number({ error: 'courses:errors.course.hours' }).min(0, 'courses:errors.course.hoursNegative').max(1000, 'courses:errors.course.hoursMax'),
  durationWeeks: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int('courses:errors.course.wholeWeeks').min(0).max(104).optional()),
};

const slugField = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'courses:errors.course.slug')
  .min(3, 'courses:errors.course.slugShort')
  .max(80);

/**
 * Reads the course form. The per-language titles are checked alongside the other fields (not
 * after them), so that a person sees every problem of the form at once. The course's first
 * language is `mainLanguage` (else the first one ticked): its title is required, the others'
 * optional.
 */
function parseCourseForm(req: Request, withSlug: boolean): CourseInput {
  const raw = (req.body ?? {}) as Record<string, unknown>;
  const fields: Record<string, string> = {};
  const base = check(req, z.object({ ...(withSlug ? { slug: slugField } : {}), ...courseFields }), raw, fields);
  // An unknown code is said of the languages as a whole (`languages.1` has no place on the page).
  for (const key of Object.keys(fields).filter((k) => k.startsWith('languages.'))) {
    fields.languages ??= fields[key]!;
    delete fields[key];
  }
  const ticked = z.array(z.enum(UN_LANGUAGES)).catch([]).parse(asArray(raw.languages));
  const main = raw.mainLanguage === undefined || raw.mainLanguage === '' ? ticked[0] : z.enum(UN_LANGUAGES).safeParse(raw.mainLanguage).data;
  if (!main && raw.mainLanguage !== undefined && raw.mainLanguage !== '') fields.mainLanguage = req.t('courses:texts.unknownMain');
  const languages = main ? [main, ...ticked.filter((l) => l !== main)] : ticked;
  const title = readText(req, raw, TEXTS.courseTitle, languages, fields);
  const summary = readText(req, raw, TEXTS.courseSummary, languages, fields);
  if (!base || Object.keys(fields).length) throw invalidFields(fields);
  const v = base as { slug?: string; hours: number; durationWeeks?: number };
  return { slug: v.slug ?? '', languages, hours: v.hours, durationWeeks: v.durationWeeks, title, summary };
}

/**
 * The fields a schema reads, its messages (in the reader's language) added to `fields` rather
 * than thrown, so that they are shown with those of the texts: the value when it passed.
 */
function check<T>(req: Request, schema: z.ZodType<T>, body: unknown, fields: Record<string, string>): T | undefined {
  try {
    return parseInput(schema, body);
  } catch (err) {
    const messages = fieldErrors(err, (key, options) => String(req.t(key, options as never)));
    if (!messages) throw err;
    for (const [name, message] of Object.entries(messages)) fields[name] ??= message;
    return undefined;
  }
}

/** Reads a module's form: its title and introduction in the course's languages, and whether it is required. */
function parseModule(req: Request, course: CourseSummary) {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const fields: Record<string, string> = {};
  const title = readText(req, body, TEXTS.moduleTitle, course.languages, fields);
  const intro = readText(req, body, TEXTS.moduleIntro, course.languages, fields);
  const rest = check(req, moduleSchema, body, fields);
  if (Object.keys(fields).length || !rest) throw invalidFields(fields);
  return { title, intro, required: rest.required, dueDays: rest.dueDays };
}

/** A module's fields besides its texts. */
const moduleSchema = z.object({
  required: checkbox.default(false),
  dueDays,
});

// An item's fields besides its texts (title, body, questions: read per language).
const linkSchema = z.object({ url: z.url({ protocol: /^https?$/, error: 'courses:errors.item.url' }).max(2000) });
const quizSchema = z.object({
  passMark: z.coerce.number().int().min(0, 'courses:errors.item.passMark').max(100, 'courses:errors.item.passMark'),
  maxAttempts: z.coerce.number().int().min(0, 'courses:errors.item.maxAttempts').max(100),
  required: checkbox.default(false),
  dueDays,
});

/** A form shown again keeps what was sent; an unticked box sends nothing, which means "off". */
const formValues = (body: Record<string, unknown> | undefined) => ({ ...body, required: body?.required ?? false });

type ItemInput = Partial<ItemDoc> & { type: ItemDoc['type']; title: ItemDoc['title'] };

/**
 * Reads an item's fields for its type, its texts in each of the course's languages; every problem
 * at once (a quiz's text problems line by line, in the field of their language).
 */
function parseItem(req: Request, course: CourseSummary, type: ItemDoc['type']): ItemInput {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const fields: Record<string, string> = {};
  const title = readText(req, body, TEXTS.itemTitle, course.languages, fields);
  const text = readText(req, body, type === 'lesson' ? TEXTS.lessonBody : TEXTS.itemBody, course.languages, fields);
  let item: ItemInput | undefined;
  switch (type) {
    case 'lesson':
    case 'file':
      item = { type, title, body: text };
      break;
    case 'link': {
      const link = check(req, linkSchema, body, fields);
      if (link) item = { type, title, body: text, url: link.url };
      break;
    }
    case 'quiz': {
      const settings = check(req, quizSchema, body, fields);
      const questions = readQuizLanguages(req, body, course.languages, fields);
      if (settings && questions)
        item = {
          type,
          title,
          body: text,
          quiz: { questions, passMark: settings.passMark, maxAttempts: settings.maxAttempts, required: settings.required },
          dueDays: settings.dueDays,
        };
      break;
    }
  }
  if (Object.keys(fields).length || !item) throw invalidFields(fields);
  return item;
}

export function mountAuthoringRoutes(
  ctx: PluginContext,
  { courses, materials }: { courses: CourseService; materials: ReturnType<typeof createMaterialStore> },
) {
  const authors = allow.roles('trainer', 'staff');
  const staff = allow.roles('staff');
  const base = (course: CourseSummary) => `/courses/manage/${course.slug}`;

  /** The course, if this person may change it; trainers of other courses get 403. */
  async function editable(req: Request): Promise<CourseSummary> {
    const course = await courses.requireCourse(String(req.params.slug));
    if (!canEdit(req.user, course)) throw forbidden('Only this course’s trainers and programme staff can change it.', { key: 'courses:errors.mayNotEdit' });
    return course;
  }

  /** A page's forms as they come back: what was typed and the messages by field (the course page also holds the form adding a module). */
  type FormAgain = {
    values?: Record<string, unknown>;
    errors?: Record<string, string>;
    moduleValues?: Record<string, unknown>;
    moduleErrors?: Record<string, string>;
  };

  async function courseEditorPage(req: Request, course: CourseSummary, form: FormAgain = {}) {
    const users = ctx.get(Users);
    const [modules, listed, current] = await Promise.all([
      courses.outline(course.id),
      users.list({ role: 'trainer', pageSize: 200 }),
      Promise.all(course.trainerIds.map((id) => users.findById(id))),
    ]);
    // The course's own trainers are always offered, even beyond the first 200 listed.
    const trainers = [...listed.users];
    for (const person of current) if (person && !trainers.some((t) => t.id === person.id)) trainers.push({ ...person, createdAt: new Date(0) });
    return {
      title: localized(course.title, req.language, mainLanguage(course)),
      course,
      modules: modules.map((m) => ({ ...m, shownTitle: shownTo(req, course, m.title) })),
      trainers,
      languages: UN_LANGUAGES,
      languageNames: languageNames(req),
      values: form.values ?? {
        ...course,
        mainLanguage: mainLanguage(course),
        ...Object.fromEntries(Object.entries(course.title).map(([l, t]) => [`title_${l}`, t])),
        ...Object.fromEntries(Object.entries(course.summary).map(([l, s]) => [`summary_${l}`, s])),
      },
      errors: form.errors ?? {},
      courseLanguages: course.languages,
      moduleValues: form.moduleValues ?? { required: true },
      moduleErrors: form.moduleErrors ?? {},
      isStaff: req.user!.roles.includes('staff') || req.user!.roles.includes('admin'),
    };
  }

  async function listPage(req: Request, form: { values?: Record<string, unknown>; errors?: Record<string, string> } = {}) {
    const list = await courses.editableBy(req.user!);
    return {
      title: req.t('courses:manage.title'),
      courses: list
        .map((c) => ({ ...c, shownTitle: shownTo(req, c, c.title) }))
        .sort((a, b) => byShownText(req.language)(a.shownTitle, b.shownTitle) || a.slug.localeCompare(b.slug)),
      languages: UN_LANGUAGES,
      languageNames: languageNames(req),
      values: form.values ?? { languages: ['en'] },
      errors: form.errors ?? {},
    };
  }

  /** The course form shown again keeps the languages ticked (one box sends a string, several an array). */
  const courseValues = (values: Record<string, unknown>) => ({ ...values, languages: asArray(values.languages) });
  // A module form that comes back says so above it; each message is beside its field.
  const moduleProblem = (req: Request) => ({ module: req.t('courses:manage.fix') });

  /** Receives uploaded files; a refused upload shows the form again with the reason (nothing kept). */
  async function receiveOr(req: Request, res: Response, showForm: (errors: Record<string, string>) => Promise<void>): Promise<StoredFile[] | null> {
    try {
      return (await materials.receive(req)).files;
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      res.status(err.status);
      await showForm({ upload: errorMessage((key, options) => String(req.t(key, options as never)), err) });
      return null;
    }
  }

  ctx.router.get('/manage', authors, async (req, res) => res.render('courses/manage-list', await listPage(req)));

  ctx.router.post(
    '/manage',
    authors,
    form({
      read: (req) => parseCourseForm(req, true),
      view: 'courses/manage-list',
      locals: (req, { values, errors }) => listPage(req, { values: courseValues(values), errors }),
      async handle(req, res, input) {
        const course = await courses.create(input, req.user!);
        req.flash('success', req.t('courses:manage.created'));
        res.redirect(303, base(course));
      },
    }),
  );

  ctx.router.get('/manage/:slug', authors, async (req, res) => res.render('courses/manage-course', await courseEditorPage(req, await editable(req))));

  // The course's page again, with the problem: its forms are refused there (a conflict on `_`).
  const courseEditorAgain =
    (form: (failure: { values: Record<string, unknown>; errors: Record<string, string> }) => FormAgain) =>
    async (req: Request, failure: { values: Record<string, unknown>; errors: Record<string, string> }) =>
      courseEditorPage(req, await editable(req), form(failure));

  ctx.router.post(
    '/manage/:slug/settings',
    authors,
    form({
      read: (req) => parseCourseForm(req, false),
      view: 'courses/manage-course',
      locals: courseEditorAgain(({ values, errors }) => ({ values: courseValues(values), errors })),
      async handle(req, res, { slug: _slug, ...input }) {
        const course = await editable(req);
        await courses.update(course.id, input);
        req.flash('success', req.t('courses:manage.saved'));
        res.redirect(303, base(course));
      },
    }),
  );

  ctx.router.post(
    '/manage/:slug/status',
    authors,
    form({
      read: (req) => {
        const status = z.enum(['draft', 'published', 'archived']).safeParse(req.body?.status);
        if (!status.success) throw new HttpError(400, 'BAD_STATUS', 'Unknown status.', undefined, { key: 'courses:errors.course.status' });
        return status.data;
      },
      view: 'courses/manage-course',
      locals: courseEditorAgain(({ errors }) => ({ errors })),
      async handle(req, res, status) {
        const course = await editable(req);
        await courses.setStatus(course.id, status);
        req.flash('success', req.t(`courses:manage.status.${status}`));
        res.redirect(303, base(course));
      },
    }),
  );

  // Assigning trainers is programme staff's decision, not the trainers' own.
  ctx.router.post('/manage/:slug/trainers', staff, async (req, res) => {
    const course = await editable(req);
    const ids = [...new Set(asArray(req.body?.trainerIds).map(String))];
    for (const id of ids) {
      const person = await ctx.get(Users).findById(id);
      if (!person?.roles.includes('trainer'))
        throw new HttpError(400, 'UNKNOWN_TRAINER', 'Only people with the trainer role can be assigned.', undefined, { key: 'courses:errors.course.trainer' });
    }
    await courses.setTrainers(course.id, ids);
    req.flash('success', req.t('courses:manage.trainersSaved'));
    res.redirect(303, base(course));
  });

  ctx.router.post(
    '/manage/:slug/modules',
    authors,
    form({
      read: async (req) => parseModule(req, await editable(req)),
      view: 'courses/manage-course',
      locals: async (req, { values, errors }) =>
        courseEditorPage(req, await editable(req), { errors: moduleProblem(req), moduleErrors: errors, moduleValues: formValues(values) }),
      async handle(req, res, input) {
        const course = await editable(req);
        const module = await courses.addModule(course.id, input);
        req.flash('success', req.t('courses:manage.moduleAdded'));
        res.redirect(303, `${base(course)}/modules/${module._id}`);
      },
    }),
  );

  async function moduleEditorPage(req: Request, res: Response, course: CourseSummary, moduleId: string, form: FormAgain & { type?: string } = {}) {
    const modules = await courses.outline(course.id);
    const module = modules.find((m) => m.id === moduleId);
    if (!module) throw noSuchModule();
    const main = mainLanguage(course);
    const shownTitle = shownTo(req, course, module.title);
    return {
      title: shownTitle.text,
      course,
      courseTitle: shownTo(req, course, course.title),
      module: { ...module, shownTitle, items: module.items.map((i) => ({ ...i, shownTitle: shownTo(req, course, i.title) })) },
      courseLanguages: course.languages,
      languageNames: languageNames(req),
      values: form.values ?? {},
      errors: form.errors ?? {},
      moduleValues: form.moduleValues ?? {
        required: module.required,
        dueDays: module.dueDays ?? '',
        ...Object.fromEntries(
          course.languages.flatMap((l) => [
            [`title_${l}`, textIn(module.title, l, main)],
            [`intro_${l}`, textIn(module.intro, l, main)],
          ]),
        ),
      },
      moduleErrors: form.moduleErrors ?? {},
      formType: form.type,
      uploadToken: res.locals.csrfToken(),
      maxUploadMb: (ctx.config as { maxUploadMb: number }).maxUploadMb,
    };
  }
  const renderModuleEditor = async (req: Request, res: Response, course: CourseSummary, moduleId: string, form: Parameters<typeof moduleEditorPage>[4] = {}) =>
    res.render('courses/manage-module', await moduleEditorPage(req, res, course, moduleId, form));

  ctx.router.get('/manage/:slug/modules/:moduleId', authors, async (req, res) => {
    const course = await editable(req);
    await renderModuleEditor(req, res, course, String(req.params.moduleId));
  });

  ctx.router.post(
    '/manage/:slug/modules/:moduleId',
    authors,
    form({
      read: async (req) => parseModule(req, await editable(req)),
      view: 'courses/manage-module',
      locals: async (req, { values, errors }, res) =>
        moduleEditorPage(req, res, await editable(req), String(req.params.moduleId), {
          errors: moduleProblem(req),
          moduleErrors: errors,
          moduleValues: formValues(values),
        }),
      async handle(req, res, input) {
        const course = await editable(req);
        const moduleId = String(req.params.moduleId);
        await courses.updateModule(course.id, moduleId, input);
        req.flash('success', req.t('courses:manage.saved'));
        res.redirect(303, `${base(course)}/modules/${moduleId}`);
      },
    }),
  );

  ctx.router.post('/manage/:slug/modules/:moduleId/move', authors, async (req, res) => {
    const course = await editable(req);
    await courses.moveModule(course.id, String(req.params.moduleId), req.body?.direction === 'up' ? 'up' : 'down');
    res.redirect(303, `${base(course)}#modules`);
  });

  ctx.router.post(
    '/manage/:slug/modules/:moduleId/delete',
    authors,
    form({
      // Nothing to read: a module that still has content is refused (a conflict), shown on the course's page.
      read: () => ({}),
      view: 'courses/manage-course',
      locals: courseEditorAgain(({ errors }) => ({ errors })),
      async handle(req, res) {
        const course = await editable(req);
        await courses.deleteModule(course.id, String(req.params.moduleId));
        req.flash('success', req.t('courses:manage.moduleDeleted'));
        res.redirect(303, `${base(course)}#modules`);
      },
    }),
  );

  const newItemType = (req: Request) => {
    const type = z.enum(['lesson', 'link', 'quiz']).safeParse(req.body?.type);
    if (!type.success) throw new HttpError(400, 'BAD_ITEM_TYPE', 'Unknown kind of content.', undefined, { key: 'courses:errors.item.type' });
    return type.data;
  };

  ctx.router.post(
    '/manage/:slug/modules/:moduleId/items',
    authors,
    form({
      read: async (req) => parseItem(req, await editable(req), newItemType(req)),
      view: 'courses/manage-module',
      locals: async (req, { errors }, res) =>
        moduleEditorPage(req, res, await editable(req), String(req.params.moduleId), { values: formValues(req.body), errors, type: newItemType(req) }),
      async handle(req, res, input) {
        const course = await editable(req);
        const moduleId = String(req.params.moduleId);
        await courses.addItem(course.id, moduleId, input);
        req.flash('success', req.t('courses:manage.itemAdded'));
        res.redirect(303, `${base(course)}/modules/${moduleId}#items`);
      },
    }),
  );

  // Several files at once, one item each. The CSRF token is in the form's action URL (multipart).
  ctx.router.post('/manage/:slug/modules/:moduleId/uploads', authors, async (req, res) => {
    const course = await editable(req);
    const moduleId = String(req.params.moduleId);
    await courses.findModule(course.id, moduleId);
    const files = await receiveOr(req, res, (errors) => renderModuleEditor(req, res, course, moduleId, { errors }));
    if (!files) return;
    const created: string[] = [];
    try {
      for (const file of files)
        created.push((await courses.addItem(course.id, moduleId, { type: 'file', title: file.filename, body: '', file }))._id.toString());
    } catch (err) {
      // Listing the files failed part-way: undo the whole upload, items and files, so that no
      // item points at a removed file and no file is left unlisted.
      await Promise.all(created.map((id) => courses.deleteItem(course.id, id).catch(() => undefined)));
      await Promise.all(files.map((f) => materials.remove(f.fileId)));
      throw err;
    }
    req.flash('success', req.t('courses:manage.uploaded', { count: files.length }));
    res.redirect(303, `${base(course)}/modules/${moduleId}#items`);
  });

  async function itemEditorPage(
    req: Request,
    res: Response,
    course: CourseSummary,
    item: ItemDoc,
    form: { values?: Record<string, unknown>; errors?: Record<string, string> } = {},
  ) {
    const main = mainLanguage(course);
    const shownTitle = shownTo(req, course, item.title);
    return {
      title: shownTitle.text,
      course,
      courseTitle: shownTo(req, course, course.title),
      item: { ...item, shownTitle },
      courseLanguages: course.languages,
      languageNames: languageNames(req),
      values: form.values ?? {
        ...Object.fromEntries(
          course.languages.flatMap((l) => [
            [`title_${l}`, textIn(item.title, l, main)],
            [`body_${l}`, textIn(item.body, l, main)],
            [`questions_${l}`, item.quiz ? quizToText(item.quiz.questions, l, main) : ''],
          ]),
        ),
        url: item.url,
        passMark: item.quiz?.passMark,
        maxAttempts: item.quiz?.maxAttempts,
        required: item.quiz?.required,
        dueDays: item.dueDays ?? '',
      },
      errors: form.errors ?? {},
      uploadToken: res.locals.csrfToken(),
      maxUploadMb: (ctx.config as { maxUploadMb: number }).maxUploadMb,
    };
  }
  const renderItemEditor = async (req: Request, res: Response, course: CourseSummary, item: ItemDoc, form: Parameters<typeof itemEditorPage>[4] = {}) =>
    res.render('courses/manage-item', await itemEditorPage(req, res, course, item, form));

  /** The item of the address, in a course this person may change. */
  const editableItem = async (req: Request) => {
    const course = await editable(req);
    return { course, item: await courses.findItem(course.id, String(req.params.itemId)) };
  };

  ctx.router.get('/manage/:slug/items/:itemId', authors, async (req, res) => {
    const { course, item } = await editableItem(req);
    await renderItemEditor(req, res, course, item);
  });

  ctx.router.post(
    '/manage/:slug/items/:itemId',
    authors,
    form({
      // An item's fields are those of its type, which only the stored item tells.
      read: async (req) => {
        const { course, item } = await editableItem(req);
        const { type: _type, ...changes } = parseItem(req, course, item.type);
        return { course, item, changes };
      },
      view: 'courses/manage-item',
      locals: async (req, { errors }, res) => {
        const { course, item } = await editableItem(req);
        return itemEditorPage(req, res, course, item, { values: formValues(req.body), errors });
      },
      async handle(req, res, { course, item, changes }) {
        await courses.updateItem(course.id, item._id.toString(), changes);
        req.flash('success', req.t('courses:manage.saved'));
        res.redirect(303, `${base(course)}/modules/${item.moduleId}#items`);
      },
    }),
  );

  ctx.router.post('/manage/:slug/items/:itemId/move', authors, async (req, res) => {
    const course = await editable(req);
    const item = await courses.findItem(course.id, String(req.params.itemId));
    await courses.moveItem(course.id, item._id.toString(), req.body?.direction === 'up' ? 'up' : 'down');
    res.redirect(303, `${base(course)}/modules/${item.moduleId}#items`);
  });

  // Deleting removes the material file for good, so it takes a second, deliberate step.
  ctx.router.get('/manage/:slug/items/:itemId/delete', authors, async (req, res) => {
    const course = await editable(req);
    const item = await courses.findItem(course.id, String(req.params.itemId));
    const shownTitle = shownTo(req, course, item.title);
    res.render('courses/confirm-delete', { title: shownTitle.text, course, courseTitle: shownTo(req, course, course.title), item: { ...item, shownTitle } });
  });

  ctx.router.post('/manage/:slug/items/:itemId/delete', authors, async (req, res) => {
    const course = await editable(req);
    const item = await courses.deleteItem(course.id, String(req.params.itemId));
    if (item.file) await materials.remove(item.file.fileId);
    req.flash('success', req.t('courses:manage.itemDeleted', { title: shownTo(req, course, item.title).text }));
    res.redirect(303, `${base(course)}/modules/${item.moduleId}#items`);
  });

  ctx.router.post('/manage/:slug/items/:itemId/replace', authors, async (req, res) => {
    const course = await editable(req);
    const item = await courses.findItem(course.id, String(req.params.itemId));
    if (item.type !== 'file' || !item.file)
      throw new HttpError(400, 'NOT_A_FILE', 'Only file items can have their file replaced.', undefined, { key: 'courses:errors.item.notAFile' });
    const files = await receiveOr(req, res, (errors) => renderItemEditor(req, res, course, item, { errors }));
    if (!files) return;
    const [file, ...extra] = files;
    if (!file || extra.length) {
      await Promise.all(files.map((f) => materials.remove(f.fileId)));
      throw new HttpError(400, 'ONE_FILE', 'Choose exactly one file to replace this one.', undefined, { key: 'courses:errors.item.oneFile' });
    }
    try {
      await courses.updateItem(course.id, item._id.toString(), { file });
    } catch (err) {
      await materials.remove(file.fileId);
      throw err;
    }
    // The old file goes only once the item points at the new one: a failure keeps the old intact.
    await materials.remove(item.file.fileId);
    req.flash('success', req.t('courses:manage.replaced', { filename: file.filename }));
    res.redirect(303, `${base(course)}/items/${item._id}`);
  });
}
