/**
 * The trainers' pages: courses, modules, items and their material. Over 400 lines because each
 * form's route sits beside the re-rendering it needs; the services hold the logic.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { allow, form, forbidden, HttpError, invalidFields, localized, parseInput, UN_LANGUAGES, Users, type PluginContext } from '../../../src/index.ts';
import type { CourseSummary } from '../contract.ts';
import type { ItemDoc, StoredFile } from '../models/item.model.ts';
import { canEdit, type CourseInput, type CourseService } from '../services/courses.service.ts';
import type { createMaterialStore } from '../services/materials.service.ts';
import { parseQuizText, quizToText } from '../services/quiz.service.ts';

/** The six UN languages, in which course titles and summaries may be written. */

const asArray = (v: unknown) => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]);
const checkbox = z.preprocess((v) => v === 'on' || v === 'true' || v === true, z.boolean());

const courseFields = {
  languages: z.preprocess(asArray, z.array(z.enum(UN_LANGUAGES, { error: 'Unknown language.' })).min(1, 'Choose at least one language.')),
  hours: z.coerce.number({ error: 'Give the hours as a number.' }).min(0, 'Hours cannot be negative.').max(1000, 'At most 1,000 hours.'),
  durationWeeks: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int('Whole weeks, please.').min(0).max(104).optional()),
};

const slugField = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'Use lower-case letters, digits and single dashes, e.g. conflict-analysis.')
  .min(3, 'At least 3 characters.')
  .max(80);

/**
 * Reads the course form. The per-language titles are checked alongside the other fields (not
 * after them), so that a person sees every problem of the form at once.
 */
function parseCourseForm(body: unknown, withSlug: boolean): CourseInput {
  const raw = (body ?? {}) as Record<string, unknown>;
  const fields: Record<string, string> = {};
  const base = z.object({ ...(withSlug ? { slug: slugField } : {}), ...courseFields }).safeParse(raw);
  if (!base.success) for (const issue of base.error.issues) fields[issue.path.join('.')] ??= issue.message;
  const languages = z.array(z.enum(UN_LANGUAGES)).catch([]).parse(asArray(raw.languages));
  const title: Record<string, string> = {};
  const summary: Record<string, string> = {};
  for (const lang of languages) {
    const t = String(raw[`title_${lang}`] ?? '').trim();
    const s = String(raw[`summary_${lang}`] ?? '').trim();
    if (!t) fields[`title_${lang}`] = 'Give the title in each language the course is offered in.';
    else if (t.length > 200) fields[`title_${lang}`] = 'Keep the title under 200 characters.';
    if (s.length > 5000) fields[`summary_${lang}`] = 'Keep the summary under 5,000 characters.';
    title[lang] = t;
    if (s) summary[lang] = s;
  }
  if (!base.success || Object.keys(fields).length) throw invalidFields(fields);
  const v = base.data as { slug?: string; languages: CourseInput['languages']; hours: number; durationWeeks?: number };
  return { slug: v.slug ?? '', languages: v.languages, hours: v.hours, durationWeeks: v.durationWeeks, title, summary };
}

const moduleSchema = z.object({
  title: z.string().trim().min(1, 'Give the module a title.').max(200),
  intro: z.string().max(20000, 'Keep the introduction under 20,000 characters.').default(''),
  required: checkbox.default(false),
});

const itemBase = {
  title: z.string().trim().min(1, 'Give it a title.').max(200, 'Keep the title under 200 characters.'),
  body: z.string().max(200000).default(''),
};
const lessonSchema = z.object({ ...itemBase, body: z.string().trim().min(1, 'Write the lesson.').max(200000) });
const linkSchema = z.object({ ...itemBase, url: z.url({ protocol: /^https?$/, error: 'Give a full web address starting with https://' }).max(2000) });
const quizSchema = z.object({
  ...itemBase,
  questions: z.string().min(1, 'Write at least one question.').max(100000),
  passMark: z.coerce.number().int().min(0, 'Between 0 and 100.').max(100, 'Between 0 and 100.'),
  maxAttempts: z.coerce.number().int().min(0, '0 means unlimited.').max(100),
  required: checkbox.default(false),
});
const fileItemSchema = z.object(itemBase);

/** A form shown again keeps what was sent; an unticked box sends nothing, which means "off". */
const formValues = (body: Record<string, unknown> | undefined) => ({ ...body, required: body?.required ?? false });

type ItemInput = Partial<ItemDoc> & { type: ItemDoc['type']; title: string };

/** Reads an item's fields for its type; quiz text errors are reported per line in `questions`. */
function parseItem(type: ItemDoc['type'], body: unknown): ItemInput {
  switch (type) {
    case 'lesson':
      return { type, ...parseInput(lessonSchema, body) };
    case 'link':
      return { type, ...parseInput(linkSchema, body) };
    case 'file':
      return { type, ...parseInput(fileItemSchema, body) };
    case 'quiz': {
      const input = parseInput(quizSchema, body);
      let questions;
      try {
        questions = parseQuizText(input.questions);
      } catch (err) {
        const lines = (err as HttpError).details as { lines?: { line: number; message: string }[] } | undefined;
        if (!(err instanceof HttpError) || !lines?.lines) throw err;
        throw new HttpError(400, 'VALIDATION_FAILED', err.message, { fields: { questions: lines.lines.map((l) => `Line ${l.line}: ${l.message}`).join(' ') } });
      }
      return {
        type,
        title: input.title,
        body: input.body,
        quiz: { questions, passMark: input.passMark, maxAttempts: input.maxAttempts, required: input.required },
      };
    }
  }
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
    if (!canEdit(req.user, course)) throw forbidden('Only this course’s trainers and programme staff can change it.');
    return course;
  }

  const languageNames = (req: Request) => Object.fromEntries(UN_LANGUAGES.map((l) => [l, req.t(`courses:languages.${l}`)]));

  async function courseEditorPage(req: Request, course: CourseSummary, form: { values?: Record<string, unknown>; errors?: Record<string, string> } = {}) {
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
      title: localized(course.title, req.language),
      course,
      modules,
      trainers,
      languages: UN_LANGUAGES,
      languageNames: languageNames(req),
      values: form.values ?? {
        ...course,
        ...Object.fromEntries(Object.entries(course.title).map(([l, t]) => [`title_${l}`, t])),
        ...Object.fromEntries(Object.entries(course.summary).map(([l, s]) => [`summary_${l}`, s])),
      },
      errors: form.errors ?? {},
      isStaff: req.user!.roles.includes('staff') || req.user!.roles.includes('admin'),
    };
  }

  async function listPage(req: Request, form: { values?: Record<string, unknown>; errors?: Record<string, string> } = {}) {
    const list = await courses.editableBy(req.user!);
    return {
      title: req.t('courses:manage.title'),
      courses: list.map((c) => ({ ...c, displayTitle: localized(c.title, req.language) })),
      languages: UN_LANGUAGES,
      languageNames: languageNames(req),
      values: form.values ?? { languages: ['en'] },
      errors: form.errors ?? {},
    };
  }

  /** The course form shown again keeps the languages ticked (one box sends a string, several an array). */
  const courseValues = (values: Record<string, unknown>) => ({ ...values, languages: asArray(values.languages) });
  const moduleProblem = (errors: Record<string, string>) => ({ module: Object.values(errors).join(' ') });

  /** Receives uploaded files; a refused upload shows the form again with the reason (nothing kept). */
  async function receiveOr(req: Request, res: Response, showForm: (errors: Record<string, string>) => Promise<void>): Promise<StoredFile[] | null> {
    try {
      return (await materials.receive(req)).files;
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      res.status(err.status);
      await showForm({ upload: err.message });
      return null;
    }
  }

  ctx.router.get('/manage', authors, async (req, res) => res.render('courses/manage-list', await listPage(req)));

  ctx.router.post(
    '/manage',
    authors,
    form({
      read: (req) => parseCourseForm(req.body, true),
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
    (
      form: (failure: { values: Record<string, unknown>; errors: Record<string, string> }) => {
        values?: Record<string, unknown>;
        errors: Record<string, string>;
      },
    ) =>
    async (req: Request, failure: { values: Record<string, unknown>; errors: Record<string, string> }) =>
      courseEditorPage(req, await editable(req), form(failure));

  ctx.router.post(
    '/manage/:slug/settings',
    authors,
    form({
      read: (req) => parseCourseForm(req.body, false),
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
        if (!status.success) throw new HttpError(400, 'BAD_STATUS', 'Unknown status.');
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
      if (!person?.roles.includes('trainer')) throw new HttpError(400, 'UNKNOWN_TRAINER', 'Only people with the trainer role can be assigned.');
    }
    await courses.setTrainers(course.id, ids);
    req.flash('success', req.t('courses:manage.trainersSaved'));
    res.redirect(303, base(course));
  });

  ctx.router.post(
    '/manage/:slug/modules',
    authors,
    form({
      schema: moduleSchema,
      view: 'courses/manage-course',
      locals: courseEditorAgain(({ errors }) => ({ errors: moduleProblem(errors) })),
      async handle(req, res, input) {
        const course = await editable(req);
        const module = await courses.addModule(course.id, input);
        req.flash('success', req.t('courses:manage.moduleAdded'));
        res.redirect(303, `${base(course)}/modules/${module._id}`);
      },
    }),
  );

  async function moduleEditorPage(
    req: Request,
    res: Response,
    course: CourseSummary,
    moduleId: string,
    form: { values?: Record<string, unknown>; errors?: Record<string, string>; type?: string } = {},
  ) {
    const modules = await courses.outline(course.id);
    const module = modules.find((m) => m.id === moduleId);
    if (!module) throw new HttpError(404, 'NOT_FOUND', 'No such module in this course.');
    return {
      title: module.title,
      course,
      courseTitle: localized(course.title, req.language),
      module,
      values: form.values ?? {},
      errors: form.errors ?? {},
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
      schema: moduleSchema,
      view: 'courses/manage-module',
      locals: async (req, { errors }, res) => moduleEditorPage(req, res, await editable(req), String(req.params.moduleId), { errors: moduleProblem(errors) }),
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
    if (!type.success) throw new HttpError(400, 'BAD_ITEM_TYPE', 'Unknown kind of content.');
    return type.data;
  };

  ctx.router.post(
    '/manage/:slug/modules/:moduleId/items',
    authors,
    form({
      read: (req) => parseItem(newItemType(req), req.body),
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
    return {
      title: item.title,
      course,
      courseTitle: localized(course.title, req.language),
      item,
      values: form.values ?? {
        title: item.title,
        body: item.body,
        url: item.url,
        questions: item.quiz ? quizToText(item.quiz.questions) : '',
        passMark: item.quiz?.passMark,
        maxAttempts: item.quiz?.maxAttempts,
        required: item.quiz?.required,
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
        const { type: _type, ...changes } = parseItem(item.type, req.body);
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
    res.render('courses/confirm-delete', { title: item.title, course, courseTitle: localized(course.title, req.language), item });
  });

  ctx.router.post('/manage/:slug/items/:itemId/delete', authors, async (req, res) => {
    const course = await editable(req);
    const item = await courses.deleteItem(course.id, String(req.params.itemId));
    if (item.file) await materials.remove(item.file.fileId);
    req.flash('success', req.t('courses:manage.itemDeleted', { title: item.title }));
    res.redirect(303, `${base(course)}/modules/${item.moduleId}#items`);
  });

  ctx.router.post('/manage/:slug/items/:itemId/replace', authors, async (req, res) => {
    const course = await editable(req);
    const item = await courses.findItem(course.id, String(req.params.itemId));
    if (item.type !== 'file' || !item.file) throw new HttpError(400, 'NOT_A_FILE', 'Only file items can have their file replaced.');
    const files = await receiveOr(req, res, (errors) => renderItemEditor(req, res, course, item, { errors }));
    if (!files) return;
    const [file, ...extra] = files;
    if (!file || extra.length) {
      await Promise.all(files.map((f) => materials.remove(f.fileId)));
      throw new HttpError(400, 'ONE_FILE', 'Choose exactly one file to replace this one.');
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
