import type { Request, Response } from 'express';
import { allow, forbidden, formatDate, HttpError, notFound, parseDay, refusalFor, respond, wantsJson, type PluginContext } from '../../../src/index.ts';
import {
  CompletionNotes,
  CourseOfferings,
  LearningAccess,
  OFFERING_KINDS,
  QuizSubmitted,
  type CompletionNote,
  type CourseSummary,
  type OfferingFilter,
  type OfferingKind,
} from '../contract.ts';
import { resolveAccess, type CourseAccess } from '../services/access.ts';
import { canEdit, type CourseService } from '../services/courses.service.ts';
import { datedThings, daysUntil, type DueDates } from '../services/due-dates.ts';
import { renderMarkdown } from '../services/markdown.ts';
import type { createMaterialStore } from '../services/materials.service.ts';
import type { ProgressRecorder } from '../services/progress.service.ts';
import { parseAnswers, type createQuizAttempts, publicQuestions, scoreQuiz } from '../services/quiz.service.ts';
import { noSuchCourse, noSuchModule } from '../services/refusals.ts';
import { byShownText, languageNames, mainLanguage, shownMatches, shownTo } from '../services/texts.ts';

export interface LearnerDeps {
  courses: CourseService;
  progress: ProgressRecorder;
  quizzes: ReturnType<typeof createQuizAttempts>;
  materials: ReturnType<typeof createMaterialStore>;
  dueDates: DueDates;
}

/** A due date as the pages show it: the learner's (with the days left), or in a preview the days set. */
export type ShownDue = { days: number; dueOn?: Date; state?: string; daysLeft?: number };

/**
 * What a page needs to show a course in the reader's language: its title and summary as shown
 * (`.text`, and `.attrs` for the element holding it: services/texts.ts).
 */
export const courseLocals = (req: Request, course: CourseSummary) => ({
  course,
  courseTitle: shownTo(req, course, course.title),
  courseSummary: shownTo(req, course, course.summary),
  // The address names the image's content, so a replaced cover is fetched anew.
  courseCover: course.cover && {
    src: `/courses/${course.slug}/cover?v=${course.cover.sha256.slice(0, 12)}`,
    width: course.cover.width,
    height: course.cover.height,
    alt: shownTo(req, course, course.cover.alt),
  },
});

/**
 * The catalogue's kind and date filters as typed (`kind`, `from`, `to`): a kind not in the list, a
 * day that is not a calendar day, or an end before the start is left out, with a notice in the
 * reader's language added to `notices`.
 */
export function readOfferingFilter(req: Request, notices: string[]): { filter: OfferingFilter; typed: { kind: string; from: string; to: string } } {
  const one = (v: unknown) => (typeof v === 'string' ? v.trim().slice(0, 40) : '');
  const typed = { kind: one(req.query.kind), from: one(req.query.from), to: one(req.query.to) };
  const kind = (OFFERING_KINDS as readonly string[]).includes(typed.kind) ? (typed.kind as OfferingKind) : undefined;
  if (typed.kind && !kind) notices.push(req.t('courses:catalogue.unknownKind'));
  const day = (value: string) => {
    if (!value) return undefined;
    const d = parseDay(value);
    if (!d) notices.push(req.t('courses:catalogue.badDate', { value }));
    return d;
  };
  let from = day(typed.from);
  let to = day(typed.to);
  if (from && to && to < from) {
    notices.push(req.t('courses:catalogue.datesReversed'));
    from = to = undefined;
  }
  return { filter: { kind, from, to }, typed };
}

export function mountLearnerRoutes(ctx: PluginContext, { courses, progress, quizzes, materials, dueDates }: LearnerDeps) {
  const providers = () => ctx.extensions(LearningAccess);

  /**
   * The due dates of a course whose outline the page has, by module or quiz id: the learner's,
   * counted from their start (`dueFrom`); in a preview, the days each is set to; else none.
   */
  async function duesOf(req: Request, course: CourseSummary, access: CourseAccess, modules: Awaited<ReturnType<CourseService['outlineOf']>>) {
    const shown = new Map<string, ShownDue>();
    if (access.mode === 'learner' && access.dueFrom) {
      const standing = await dueDates.standingIn(req.user!.id, access.editionId, access.dueFrom, modules, mainLanguage(course));
      for (const d of standing.items) shown.set(d.id, { days: d.days, dueOn: d.dueOn, state: d.state, daysLeft: daysUntil(d.dueOn) });
    } else if (access.mode === 'preview') {
      for (const d of datedThings(modules)) shown.set(d.id, { days: d.days });
    }
    return shown;
  }

  /** The course and the person's access to it, or the error a person should see. */
  async function forLearning(req: Request): Promise<{ course: CourseSummary; access: Exclude<CourseAccess, { mode: 'denied' | 'hidden' }> }> {
    const course = await courses.requireCourse(String(req.params.slug));
    const access = await resolveAccess(req.user!, course, providers(), req.t);
    if (access.mode === 'hidden') throw noSuchCourse();
    if (access.mode === 'denied') throw forbidden(access.reason);
    // Before the edition starts (and before any early opening staff chose), its material is closed.
    if (access.mode === 'learner' && access.opensAt) {
      const params = { date: formatDate(req.language, access.opensAt) };
      throw new HttpError(403, 'NOT_OPEN_YET', `This course's material opens on ${formatDate('en', access.opensAt)}.`, undefined, {
        key: 'courses:access.opensOn',
        params,
      });
    }
    return { course, access };
  }

  /** A closed edition is read, not written: nothing more is recorded in it. */
  function refuseIfClosed(req: Request, access: CourseAccess) {
    if (access.mode === 'learner' && access.readOnly) throw refusalFor(req, 409, 'EDITION_CLOSED', 'courses:access.closed');
  }

  // The catalogue is public: visitors see what the programme offers before they have an account.
  // Filters are a plain GET form, kept in the address: words, a language, a kind of run and the
  // days it takes place on, combined. A filter that cannot be read is left out and said so, never an error.
  ctx.router.get('/', allow.public, async (req, res) => {
    const list = await courses.catalog.listPublished();
    // Found by, and in the order of, the titles (and summaries) the reader sees, by their language's rules.
    const one = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
    const search = one(req.query.q).slice(0, 200);
    const asked = one(req.query.lang);
    const languages = languageNames(req);
    const language = Object.hasOwn(languages, asked) ? asked : '';
    const notices = asked && !language ? [req.t('courses:catalogue.unknownLanguage')] : [];
    const offering = readOfferingFilter(req, notices);
    const order = byShownText(req.language);
    let shown = list
      .filter((c) => !language || c.languages.includes(language))
      .map((c) => courseLocals(req, c))
      .filter((c) => !search || shownMatches(search, c.courseTitle, c.courseSummary))
      .sort((a, b) => order(a.courseTitle, b.courseTitle) || a.course.slug.localeCompare(b.course.slug));
    const { kind, from, to } = offering.filter;
    if (kind || from || to) {
      const provider = ctx.extensions(CourseOfferings)[0];
      // Without a provider every course is taken in its always-open edition: self-paced, open at any date.
      const passing = provider
        ? await provider.matching(
            shown.map((c) => c.course.id),
            offering.filter,
          )
        : new Set(!kind || kind === 'selfPaced' ? shown.map((c) => c.course.id) : []);
      shown = shown.filter((c) => passing.has(c.course.id));
    }
    const filtered = !!(search || language || kind || from || to);
    res.render('courses/catalogue', {
      title: req.t('courses:catalogue.title'),
      search,
      language,
      languages,
      kinds: OFFERING_KINDS,
      offering: offering.typed,
      notices,
      filtered,
      courses: shown,
      canManage: !!req.user && (req.user.roles.includes('trainer') || req.user.roles.includes('staff') || req.user.roles.includes('admin')),
    });
  });

  ctx.router.get('/:slug', allow.public, async (req, res) => {
    const course = await courses.requireCourse(String(req.params.slug));
    const access: CourseAccess = req.user
      ? await resolveAccess(req.user, course, providers(), req.t)
      : course.status === 'published'
        ? { mode: 'denied', reason: '' }
        : { mode: 'hidden' };
    if (access.mode === 'hidden') throw noSuchCourse();
    const modules = await courses.outlineOf(course);
    let done = new Set<string>();
    let summary = null;
    if (access.mode === 'learner') {
      const items = modules.flatMap((m) => m.items);
      const load = async () => {
        const s = await progress.standing(req.user!.id, course.id, access.editionId, modules, items);
        return [s.done, s.summary] as const;
      };
      [done, summary] = await load();
      // A module whose items are all done but which is not recorded (an item was deleted, a write
      // was cut short), or a course complete but not recorded: repair, then show the repaired state.
      const moduleGap = modules.some((m) => m.items.length && m.items.every((i) => done.has(i.id)) && !summary!.completedModuleIds.includes(m.id));
      const courseGap = !summary.completedAt && summary.requiredModules > 0 && summary.requiredCompleted === summary.requiredModules;
      if (moduleGap || courseGap) {
        await progress.reconcile(req.user!.id, course.id, access.editionId);
        [done, summary] = await load();
      }
    }
    // After completion: what other plugins say it leads to (the certificate), each asked once.
    const completionNotes: CompletionNote[] = [];
    if (summary?.completedAt && access.mode === 'learner') {
      for (const provider of ctx.extensions(CompletionNotes)) {
        const note = await provider.note({ learnerId: req.user!.id, course, editionId: access.editionId, t: req.t, language: req.language });
        if (note) completionNotes.push(note);
      }
    }
    const dues = access.mode === 'learner' || access.mode === 'preview' ? await duesOf(req, course, access, modules) : new Map<string, ShownDue>();
    const locals = courseLocals(req, course);
    res.render('courses/outline', {
      completionNotes,
      ...locals,
      title: locals.courseTitle.text,
      access,
      modules: modules.map((m) => ({
        ...m,
        shownTitle: shownTo(req, course, m.title),
        doneCount: m.items.filter((i) => done.has(i.id)).length,
        complete: summary?.completedModuleIds.includes(m.id) ?? false,
        // The module's own due date, then its quizzes'.
        dues: [
          ...(dues.has(m.id) ? [{ label: null, due: dues.get(m.id) }] : []),
          ...m.items.filter((i) => dues.has(i.id)).map((i) => ({ label: shownTo(req, course, i.title), due: dues.get(i.id) })),
        ],
      })),
      progress: summary,
      editable: canEdit(req.user, course),
    });
  });

  ctx.router.get('/:slug/modules/:moduleId', allow.signedIn, async (req, res) => {
    const { course, access } = await forLearning(req);
    const modules = await courses.outlineOf(course);
    const index = modules.findIndex((m) => m.id === req.params.moduleId);
    const module = modules[index];
    if (!module) throw noSuchModule();
    const done =
      access.mode === 'learner'
        ? await progress.completedItemIds(
            req.user!.id,
            access.editionId,
            module.items.map((i) => i.id),
          )
        : new Set<string>();
    const quizState = new Map<string, Awaited<ReturnType<typeof quizzes.history>>>();
    if (access.mode === 'learner') {
      const quizItems = module.items.filter((i) => i.type === 'quiz');
      const histories = await Promise.all(quizItems.map((i) => quizzes.history(req.user!.id, access.editionId, i.id)));
      quizItems.forEach((item, n) => quizState.set(item.id, histories[n]!));
    }
    const dues = await duesOf(req, course, access, modules);
    const shown = (text: Parameters<typeof shownTo>[2]) => shownTo(req, course, text);
    const [title, intro] = [shown(module.title), shown(module.intro)];
    const neighbour = (m: (typeof modules)[number] | undefined) => m && { id: m.id, shownTitle: shown(m.title) };
    res.render('courses/module', {
      ...courseLocals(req, course),
      title: title.text,
      access,
      module: { ...module, shownTitle: title, shownIntro: intro, introHtml: renderMarkdown(intro.text), due: dues.get(module.id) },
      items: module.items.map((i) => {
        const body = shown(i.body);
        return {
          ...i,
          shownTitle: shown(i.title),
          shownBody: body,
          html: renderMarkdown(body.text),
          done: done.has(i.id),
          quizState: quizState.get(i.id),
          due: dues.get(i.id),
        };
      }),
      previous: neighbour(modules[index - 1]),
      next: neighbour(modules[index + 1]),
    });
  });

  ctx.router.post('/:slug/items/:itemId/done', allow.signedIn, async (req, res) => {
    const { course, access } = await forLearning(req);
    const item = await courses.learningItem(course, String(req.params.itemId));
    if (access.mode !== 'learner') throw refusalFor(req, 409, 'PREVIEW', 'courses:preview.notRecorded');
    refuseIfClosed(req, access);
    if (item.type === 'quiz') throw refusalFor(req, 409, 'QUIZ_NOT_MARKABLE', 'courses:quiz.completeBySubmitting');
    // Only answered after the record is written: "done" on the page means it is stored.
    await progress.completeItem({
      learnerId: req.user!.id,
      courseId: course.id,
      editionId: access.editionId,
      item,
      structure: await courses.outlineOf(course),
    });
    respond(req, res, {
      json: { done: true, itemId: item._id.toString() },
      flash: ['success', req.t('courses:item.markedDone', { title: shownTo(req, course, item.title).text })],
      redirect: `/courses/${course.slug}/modules/${item.moduleId}#item-${item._id}`,
    });
  });

  ctx.router.get('/:slug/items/:itemId/quiz', allow.signedIn, async (req, res) => {
    const { course, access } = await forLearning(req);
    const item = await courses.learningItem(course, String(req.params.itemId));
    if (item.type !== 'quiz' || !item.quiz) throw notFound('No such quiz.', { key: 'courses:errors.noSuchQuiz' });
    const history = access.mode === 'learner' ? await quizzes.history(req.user!.id, access.editionId, item._id.toString()) : null;
    const dues = await duesOf(req, course, access, await courses.outlineOf(course));
    const shown = (text: Parameters<typeof shownTo>[2]) => shownTo(req, course, text);
    const shownTitle = shown(item.title);
    res.render('courses/quiz', {
      ...courseLocals(req, course),
      title: shownTitle.text,
      access,
      item: { ...item, shownTitle, due: dues.get(item._id.toString()) },
      questions: publicQuestions(item.quiz.questions).map((q) => ({
        ...q,
        shownText: shown(q.text),
        options: q.options.map((o) => ({ ...o, shownText: shown(o.text) })),
      })),
      history,
      attemptsLeft: history && item.quiz.maxAttempts ? Math.max(0, item.quiz.maxAttempts - history.attemptsUsed) : null,
    });
  });

  ctx.router.post('/:slug/items/:itemId/quiz', allow.signedIn, async (req: Request, res: Response) => {
    const { course, access } = await forLearning(req);
    const item = await courses.learningItem(course, String(req.params.itemId));
    if (item.type !== 'quiz' || !item.quiz) throw notFound('No such quiz.', { key: 'courses:errors.noSuchQuiz' });
    refuseIfClosed(req, access);
    const answers = parseAnswers(item.quiz.questions, req.body);
    let outcome: { score: number; passed: boolean; results: ReturnType<typeof scoreQuiz>['results']; attempt?: number; attemptsLeft?: number | null };
    if (access.mode === 'learner') {
      const learnerId = req.user!.id;
      outcome = await quizzes.submit({ learnerId, courseId: course.id, editionId: access.editionId, itemId: item._id.toString(), quiz: item.quiz, answers });
      await ctx.emit(QuizSubmitted, {
        learnerId,
        courseId: course.id,
        editionId: access.editionId,
        itemId: item._id.toString(),
        score: outcome.score,
        passed: outcome.passed,
        attempt: outcome.attempt!,
      });
      // A required quiz completes its item when passed; an optional one when submitted.
      if (outcome.passed || !item.quiz.required) {
        await progress.completeItem({ learnerId, courseId: course.id, editionId: access.editionId, item, structure: await courses.outlineOf(course) });
      }
    } else {
      outcome = scoreQuiz(item.quiz, answers);
    }
    if (wantsJson(req)) return res.json({ score: outcome.score, passed: outcome.passed, attempt: outcome.attempt ?? null });
    const questions = item.quiz.questions;
    const shown = (text: Parameters<typeof shownTo>[2]) => shownTo(req, course, text);
    const shownTitle = shown(item.title);
    res.render('courses/quiz-result', {
      ...courseLocals(req, course),
      title: shownTitle.text,
      access,
      item: { ...item, shownTitle },
      outcome,
      // Correct answers and feedback once they can no longer help a next attempt.
      reveal: access.mode === 'preview' || outcome.passed || outcome.attemptsLeft === 0,
      questions: questions.map((q) => ({
        ...q,
        shownText: shown(q.text),
        shownFeedback: shown(q.feedback),
        options: q.options.map((o) => ({ ...o, shownText: shown(o.text) })),
        result: outcome.results.find((r) => r.questionId === q.id),
      })),
    });
  });

  ctx.router.get('/:slug/items/:itemId/file', allow.signedIn, async (req, res) => {
    const { course } = await forLearning(req);
    const item = await courses.learningItem(course, String(req.params.itemId));
    if (item.type !== 'file' || !item.file) throw notFound('No such file.', { key: 'courses:errors.noSuchFile' });
    await materials.serve(req, res, item.file, { download: req.query.download === '1' });
  });
}
