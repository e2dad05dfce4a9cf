/**
 * The courses plugin's demo programme: the courses of `fixtures/courses/courses.json`, their
 * lessons, quizzes (written in the trainers' plain-text format) and material files
 * (`fixtures/courses/materials/`), built through the same services trainers use.
 *
 * Seeding only adds: a course whose slug exists is skipped entirely, whatever its content, because
 * people may have edited it. The fixture is checked as a whole (shape, quizzes, material files,
 * trainer accounts) before anything is written, so a mistake in it fails with every problem listed
 * and leaves the database as it was.
 */
import fs from 'node:fs';
import mongoose from 'mongoose';
import { z } from 'zod';
import { HttpError, UN_LANGUAGES, Users, type SeedContext, type SessionUser } from '../../src/index.ts';
import type { ItemDoc, QuizQuestion, StoredFile } from './models/item.model.ts';
import { RESERVED_SLUGS, type CourseService } from './services/courses.service.ts';
import { MAX_DUE_DAYS } from './services/due-dates.ts';
import type { MaterialStore } from './services/materials.service.ts';
import { COVER_TYPES, imageSize } from './services/cover.ts';
import { mergeQuizLanguages, quizMismatch } from './services/quiz-languages.ts';
import { parseQuizText } from './services/quiz.service.ts';
import { asLocalized } from './services/texts.ts';

export const COURSES_FIXTURE = 'courses.json';
/** Material files live here, inside the plugin's fixtures folder. */
export const MATERIALS_DIR = 'materials';
/** Cover images of the demo courses (drawn by fixtures/courses/make-covers.ts). */
export const COVERS_DIR = 'covers';

// ---- The fixture's shape ---------------------------------------------------------------------------

/** Cross-field checks run even on a malformed value: see courseProblems(). */
const everyTime = { when: () => true };
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asRecord = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * Lessons and quizzes are long text; JSON has no multi-line strings, so such a field may also be
 * an array of lines, joined with line breaks. Both forms are accepted everywhere text is long.
 */
const longText = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v.join('\n') : v));

const languageCode = z.enum(UN_LANGUAGES, { error: `Languages are among ${UN_LANGUAGES.join(', ')}.` });

/**
 * A text of the course's content in its languages (`{ "en": …, "fr": … }`), or one text, which
 * is the course's first language's. Which languages, and the first one present, is checked per
 * course (courseProblems()).
 */
const perLanguage = <O>(inner: z.ZodType<O, unknown>) =>
  // Not a union: its failure would hide the text's own problems (a quiz's lines) behind "invalid input".
  z.unknown().transform((value, ctx): O | Record<string, O> => {
    const perLanguage = !!value && typeof value === 'object' && !Array.isArray(value);
    const result = (perLanguage ? z.partialRecord(languageCode, inner) : inner).safeParse(value);
    if (result.success) return result.data as O | Record<string, O>;
    for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  });

const title = perLanguage(z.string().trim().min(1, 'Give a title.').max(200, 'Keep titles under 200 characters.'));

const lessonItem = z.strictObject({
  type: z.literal('lesson'),
  title,
  body: perLanguage(longText.pipe(z.string().trim().min(1, 'A lesson needs its text (Markdown).').max(200000))),
});

const linkItem = z.strictObject({
  type: z.literal('link'),
  title,
  body: perLanguage(longText).default(''),
  url: z.url({ protocol: /^https?$/, error: 'Give a full web address starting with https://' }).max(2000),
});

/** A file name in one of the fixture's folders, without any folder. */
const fixtureFile = (folder: string) =>
  z.string().regex(/^[A-Za-z0-9][\w.-]*$/, `Name a file in fixtures/courses/${folder}/ (letters, digits, ".", "-", "_"; no folders).`);

const fileItem = z.strictObject({
  type: z.literal('file'),
  title,
  body: perLanguage(longText).default(''),
  file: fixtureFile(MATERIALS_DIR),
});

/** The trainers' quiz text (see quiz.service.ts), checked with the same parser as the editor's. */
const quizText = longText.transform((text, ctx): QuizQuestion[] => {
  try {
    return parseQuizText(text);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
    return z.NEVER;
  }
});

const quizItem = z.strictObject({
  type: z.literal('quiz'),
  title,
  body: perLanguage(longText).default(''),
  /**
   * The quiz text, or one per language (services/quiz-languages.ts: each translation has the first
   * language's questions and options): as pairs of language ('' for a single text) and questions.
   */
  questions: perLanguage(quizText).transform((v): [string, QuizQuestion[]][] => (Array.isArray(v) ? [['', v]] : Object.entries(v))),
  passMark: z.number().int().min(0).max(100).default(70),
  /** 0 means unlimited. */
  maxAttempts: z.number().int().min(0).max(100).default(3),
  required: z.boolean().default(true),
  /** Due this many days after the learner's start (services/due-dates.ts); absent: no due date. */
  dueDays: z.number().int().min(0).max(MAX_DUE_DAYS).optional(),
});

const item = z.discriminatedUnion('type', [lessonItem, linkItem, fileItem, quizItem], {
  error: 'Each item needs a "type": lesson, link, file or quiz.',
});

const moduleEntry = z.strictObject({
  title,
  intro: perLanguage(longText.pipe(z.string().max(20000))).default(''),
  required: z.boolean().default(true),
  /** Due this many days after the learner's start (services/due-dates.ts); absent: no due date. */
  dueDays: z.number().int().min(0).max(MAX_DUE_DAYS).optional(),
  items: z.array(item),
});

const course = z
  .strictObject({
    slug: z
      .string()
      .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'Use lower-case letters, digits and single dashes, e.g. conflict-analysis.')
      .min(3)
      .max(80)
      .refine((s) => !RESERVED_SLUGS.has(s), 'This address is reserved for a page of its own.'),
    languages: z.array(languageCode).min(1, 'Name at least one language.'),
    title: z.record(z.string(), z.string().trim().min(1).max(200)),
    summary: z.record(z.string(), z.string().trim().max(5000)).default({}),
    hours: z.number().min(0).max(1000),
    durationWeeks: z.number().int().min(0).max(104).optional(),
    /** Demo courses are in progress or open to learners; published ones are published once their content exists. */
    status: z.enum(['draft', 'published']),
    /** E-mail addresses of demo accounts with the trainer role. */
    trainers: z.array(z.email()).min(1, 'Name the course’s trainer (a demo account with the trainer role).'),
    modules: z.array(moduleEntry),
    /** The course's cover (JPEG, PNG or WebP in fixtures/courses/covers/) and its description for those who cannot see it. */
    cover: z.strictObject({ file: fixtureFile(COVERS_DIR), alt: perLanguage(z.string().trim().min(1, 'Describe the image.').max(300)) }).optional(),
  })
  .superRefine((c, ctx) => courseProblems(c, ctx), everyTime);

export const coursesFixtureSchema = z
  .strictObject({
    courses: z.array(course),
  })
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    asArray(f?.courses).forEach((c, i) => {
      const slug = (c as { slug?: unknown } | null)?.slug;
      if (typeof slug !== 'string') return;
      if (seen.has(slug)) ctx.addIssue({ code: 'custom', path: ['courses', i, 'slug'], message: `The slug “${slug}” is used twice.` });
      seen.add(slug);
    });
  }, everyTime);

/**
 * The checks across fields run even when some field is malformed (zod skips them by default), so
 * that one run lists every problem of the fixture. They therefore read the value defensively: a
 * field of the wrong type has its own issue already and is simply not looked at here.
 */
function courseProblems(c: Record<string, unknown> | null, ctx: z.RefinementCtx) {
  if (!c || typeof c !== 'object') return;
  const languages = asArray(c.languages).filter((l): l is string => typeof l === 'string');
  const title = asRecord(c.title);
  for (const lang of languages) {
    if (!title[lang]) ctx.addIssue({ code: 'custom', path: ['title', lang], message: `Give the title in each of the course’s languages (missing: ${lang}).` });
  }
  for (const key of [...Object.keys(title), ...Object.keys(asRecord(c.summary))]) {
    if (!languages.includes(key))
      ctx.addIssue({ code: 'custom', path: ['languages'], message: `Text is given in “${key}”, which is not among the course’s languages.` });
  }
  contentProblems(c, languages, ctx);
  // Publishing checks this too, but only after the course is written: say it before writing anything.
  if (c.status === 'draft' || !Array.isArray(c.modules)) return;
  if (c.modules.length === 0) ctx.addIssue({ code: 'custom', path: ['modules'], message: 'A course to be published needs at least one module.' });
  c.modules.forEach((m: unknown, i) => {
    const items = (m as { items?: unknown } | null)?.items;
    if (Array.isArray(items) && items.length === 0)
      ctx.addIssue({ code: 'custom', path: ['modules', i, 'items'], message: 'A course to be published cannot have a module without items.' });
  });
}

/**
 * The texts of modules and items in several languages: only in the course's languages, the first
 * one always given; a quiz's translations have the first language's questions and options.
 */
function contentProblems(c: Record<string, unknown>, languages: string[], ctx: z.RefinementCtx) {
  const [main] = languages;
  const check = (text: unknown, path: (string | number)[]) => {
    // Only texts that parsed (a failed one has its own issue, and its value here is not the text).
    if (!text || typeof text !== 'object' || Array.isArray(text) || !Object.values(text).every((v) => typeof v === 'string')) return;
    const given = Object.keys(text);
    for (const key of given.filter((k) => !languages.includes(k)))
      ctx.addIssue({ code: 'custom', path, message: `Text is given in “${key}”, which is not among the course’s languages.` });
    if (main && given.length && !given.includes(main))
      ctx.addIssue({ code: 'custom', path: [...path, main], message: `Give it in the course’s first language (missing: ${main}).` });
  };
  asArray(c.modules).forEach((m, i) => {
    const module = asRecord(m);
    check(module.title, ['modules', i, 'title']);
    check(module.intro, ['modules', i, 'intro']);
    asArray(module.items).forEach((it, j) => {
      const item = asRecord(it);
      const path = ['modules', i, 'items', j];
      check(item.title, [...path, 'title']);
      check(item.body, [...path, 'body']);
      // As the transform gives them (language, questions), unless the quiz had problems of its own.
      const pairs = Array.isArray(item.questions) && item.questions.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string');
      const texts = (pairs ? item.questions : []) as [string, QuizQuestion[]][];
      if (!texts.length || texts[0]![0] === '') return; // one text: the first language's
      check(Object.fromEntries(texts.map(([lang]) => [lang, ''])), [...path, 'questions']);
      const first = texts.find(([lang]) => lang === main)?.[1];
      for (const [lang, questions] of texts) {
        const problem = first && lang !== main && Array.isArray(questions) ? quizMismatch(first, questions) : null;
        if (problem)
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'questions', lang],
            message: `The ${lang} quiz does not match the ${main} one: ${describe(problem)}.`,
          });
      }
    });
  });
}

const describe = (p: NonNullable<ReturnType<typeof quizMismatch>>) =>
  p.kind === 'questions'
    ? `${p.found} questions instead of ${p.expected}`
    : p.kind === 'options'
      ? `question ${p.number} has ${p.found} options instead of ${p.expected}`
      : `question ${p.number} has other correct options`;

export type CoursesFixture = z.output<typeof coursesFixtureSchema>;
type CourseEntry = CoursesFixture['courses'][number];
type ItemEntry = CourseEntry['modules'][number]['items'][number];

// ---- Seeding ---------------------------------------------------------------------------------------

type SeedDeps = { courses: CourseService; materials: MaterialStore; covers: MaterialStore };

export async function seedCourses(ctx: SeedContext, deps: SeedDeps): Promise<void> {
  const { courses } = deps;
  const where = `fixtures/courses/${COURSES_FIXTURE}`;
  const parsed = coursesFixtureSchema.safeParse(await ctx.readFixture(COURSES_FIXTURE));
  if (!parsed.success) throw new Error(`courses: ${where} is not valid:\n${z.prettifyError(parsed.error)}`);

  const missing: CourseEntry[] = [];
  for (const entry of parsed.data.courses) {
    if (await courses.catalog.findBySlug(entry.slug)) {
      ctx.logger.debug({ course: entry.slug }, 'demo course already present: left as it is');
    } else {
      missing.push(entry);
    }
  }
  if (missing.length === 0) return;

  // Everything the missing courses refer to outside the fixture is checked before the first write.
  const trainers = new Map<string, SessionUser>();
  const problems: string[] = [];
  for (const email of new Set(missing.flatMap((c) => c.trainers))) {
    const user = await ctx.get(Users).findByEmail(email);
    if (!user) problems.push(`trainer ${email}: no such account (the host's demo accounts are in fixtures/host/users.json)`);
    else if (!user.roles.includes('trainer')) problems.push(`trainer ${email}: the account does not have the trainer role`);
    else trainers.set(email, user);
  }
  for (const name of new Set(missing.flatMap(filesOf))) {
    const file = ctx.fixturePath(`${MATERIALS_DIR}/${name}`);
    if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) problems.push(`material ${name}: no such file in fixtures/courses/${MATERIALS_DIR}/`);
  }
  for (const name of new Set(missing.flatMap((c) => (c.cover ? [c.cover.file] : [])))) {
    const file = ctx.fixturePath(`${COVERS_DIR}/${name}`);
    if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) problems.push(`cover ${name}: no such file in fixtures/courses/${COVERS_DIR}/`);
  }
  if (problems.length) throw new Error(`courses: ${where} refers to what does not exist:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

  for (const entry of missing)
    await seedCourse(
      ctx,
      deps,
      entry,
      entry.trainers.map((email) => trainers.get(email)!),
    );
}

function filesOf(entry: CourseEntry): string[] {
  return entry.modules.flatMap((m) => m.items.flatMap((i) => (i.type === 'file' ? [i.file] : [])));
}

/**
 * Creates one course with all its content, then publishes it if the fixture says so. There are no
 * transactions (docs/architecture.md), so a failure part-way removes what this call wrote: otherwise the
 * half-built course would exist, and every later seed would skip it as "already present".
 */
async function seedCourse(ctx: SeedContext, { courses, materials, covers }: SeedDeps, entry: CourseEntry, trainers: SessionUser[]) {
  let courseId: string;
  try {
    const created = await courses.create(
      {
        slug: entry.slug,
        title: entry.title,
        summary: entry.summary,
        languages: entry.languages,
        hours: entry.hours,
        durationWeeks: entry.durationWeeks,
      },
      trainers[0]!,
    );
    courseId = created.id;
  } catch (err) {
    // Another seed (a second instance starting on the same empty database) created it meanwhile.
    if (err instanceof HttpError && err.status === 409) {
      ctx.logger.info({ course: entry.slug }, 'demo course created concurrently: left as it is');
      return;
    }
    throw err;
  }

  const storedFiles: StoredFile[] = [];
  try {
    await courses.setTrainers(
      courseId,
      trainers.map((t) => t.id),
    );
    let items = 0;
    // Texts are stored per language, as the editor stores them: one text is the first language's.
    const main = entry.languages[0]!;
    for (const m of entry.modules) {
      const created = await courses.addModule(courseId, {
        title: asLocalized(m.title, main),
        intro: asLocalized(m.intro, main),
        required: m.required,
        dueDays: m.dueDays ?? null,
      });
      for (const it of m.items) {
        await courses.addItem(courseId, created._id.toString(), await itemInput(ctx, materials, it, storedFiles, entry.languages));
        items += 1;
      }
    }
    if (entry.cover) await seedCover(ctx, covers, courseId, entry.cover, main, storedFiles, courses);
    if (entry.status !== 'draft') await courses.setStatus(courseId, entry.status);
    ctx.logger.info({ course: entry.slug, status: entry.status, modules: entry.modules.length, items, files: storedFiles.length }, 'demo course added');
  } catch (err) {
    await removeCourse(ctx, materials, courseId, storedFiles).catch((cleanupErr: unknown) => {
      ctx.logger.error({ err: cleanupErr, course: entry.slug }, 'could not remove all of a half-seeded demo course');
    });
    // Named, because a refused material file or a database failure says nothing of which course it hit.
    throw new Error(`courses: the demo course “${entry.slug}” could not be added: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The course's cover, stored and checked as an upload's would be (a type pages can show, its size in pixels). */
async function seedCover(
  ctx: SeedContext,
  covers: MaterialStore,
  courseId: string,
  cover: NonNullable<CourseEntry['cover']>,
  main: string,
  storedFiles: StoredFile[],
  courses: CourseService,
) {
  const path = ctx.fixturePath(`${COVERS_DIR}/${cover.file}`);
  const file = await covers.store(cover.file, fs.createReadStream(path));
  storedFiles.push(file);
  const size = (COVER_TYPES as readonly string[]).includes(file.contentType) ? imageSize(fs.readFileSync(path).subarray(0, 65536)) : null;
  if (!size) throw new Error(`the cover ${cover.file} is not a JPEG, PNG or WebP image`);
  await courses.setCover(courseId, {
    fileId: file.fileId,
    contentType: file.contentType,
    size: file.size,
    sha256: file.sha256,
    ...size,
    alt: asLocalized(cover.alt, main),
  });
}

type ItemInput = Partial<ItemDoc> & { type: ItemDoc['type']; title: ItemDoc['title'] };

async function itemInput(ctx: SeedContext, materials: MaterialStore, it: ItemEntry, storedFiles: StoredFile[], languages: string[]): Promise<ItemInput> {
  const main = languages[0]!;
  const [title, body] = [asLocalized(it.title, main), asLocalized(it.body, main)];
  switch (it.type) {
    case 'lesson':
      return { type: 'lesson', title, body };
    case 'link':
      return { type: 'link', title, body, url: it.url };
    case 'quiz':
      return {
        type: 'quiz',
        title,
        body,
        quiz: { questions: quizQuestions(it.questions, languages), passMark: it.passMark, maxAttempts: it.maxAttempts, required: it.required },
        dueDays: it.dueDays ?? null,
      };
    case 'file': {
      // Through the material store, as an upload would be: sniffed type, size, sha256, GridFS metadata.
      const file = await materials.store(it.file, fs.createReadStream(ctx.fixturePath(`${MATERIALS_DIR}/${it.file}`)));
      storedFiles.push(file);
      return { type: 'file', title, body, file };
    }
  }
}

/**
 * A quiz's questions: a single text as the editor keeps one in the first language; texts per
 * language merged, the first language's first (checked to match by courseProblems()).
 */
function quizQuestions(texts: [string, QuizQuestion[]][], languages: string[]): QuizQuestion[] {
  const main = languages[0] ?? 'en';
  const named = texts.map(([lang, questions]) => [lang || main, questions] as const);
  return mergeQuizLanguages(languages.flatMap((l) => named.filter(([lang]) => lang === l)));
}

/**
 * Undoes a partly written course. The course goes first: once it is gone the next seed builds it
 * again, and should a later step fail, what remains is unreachable (no course refers to it).
 */
async function removeCourse(ctx: SeedContext, materials: MaterialStore, courseId: string, storedFiles: StoredFile[]) {
  const id = new mongoose.Types.ObjectId(courseId);
  await ctx.connection.model('courses_course').deleteOne({ _id: id });
  await ctx.connection.model('courses_item').deleteMany({ courseId: id });
  await ctx.connection.model('courses_module').deleteMany({ courseId: id });
  for (const file of storedFiles) await materials.remove(file.fileId);
}
