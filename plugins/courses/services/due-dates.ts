/**
 * Due dates of modules and quizzes (contract.ts, `DueState`): a trainer gives a module or a quiz a
 * number of days after the learner's start; the learner's start (`dueFrom`) comes from the access
 * provider (the edition's first day, or the day the person was enrolled in a self-paced edition).
 * Whole days in UTC, as editions are: the due day is the start's day plus the days, and whatever
 * is done before that day ends is on time.
 */
import type { Model } from 'mongoose';
import { findByKeys } from '../../../src/index.ts';
import { DUE_STATES, type DueDatesService, type DueItem, type DueStanding, type DueState } from '../contract.ts';
import type { ItemDoc } from '../models/item.model.ts';
import type { ModuleDoc } from '../models/module.model.ts';
import { progressKey, type ModuleProgressDoc, type QuizAttemptDoc } from '../models/progress.model.ts';
import { asLocalized } from './texts.ts';

/** The most days after the start a due date may be set (two years). */
export const MAX_DUE_DAYS = 730;

const DAY = 24 * 60 * 60 * 1000;

/** Midnight (UTC) of a date's day. */
export const dayOf = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));

/** The due day: `days` whole days after the start's day. */
export const dueOn = (from: Date, days: number) => new Date(dayOf(from).getTime() + days * DAY);

/** Where a due date stands, done at `doneAt` (or not done), seen on `now`. */
export function dueState(due: Date, doneAt: Date | undefined, now = new Date()): DueState {
  const end = due.getTime() + DAY;
  if (doneAt) return doneAt.getTime() < end ? 'onTime' : 'late';
  const today = dayOf(now).getTime();
  return today < due.getTime() ? 'upcoming' : today === due.getTime() ? 'today' : 'overdue';
}

/** Whole days from today to the due day (negative once it has passed). */
export const daysUntil = (due: Date, now = new Date()) => Math.round((due.getTime() - dayOf(now).getTime()) / DAY);

/** A due date is a whole number of days from 0 to MAX_DUE_DAYS; anything else (old data, null) means none. */
const validDays = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_DUE_DAYS;

type OutlineModule = Pick<ModuleDoc, 'title' | 'dueDays'> & { id: string; items: (Pick<ItemDoc, 'type' | 'title' | 'dueDays'> & { id: string })[] };

/** What carries a due date in a course, in its order: modules, and quizzes. */
export function datedThings(modules: readonly OutlineModule[]) {
  const list: { id: string; kind: 'module' | 'quiz'; moduleId: string; title: ModuleDoc['title']; days: number }[] = [];
  for (const m of modules) {
    for (const i of m.items)
      if (i.type === 'quiz' && validDays(i.dueDays)) list.push({ id: i.id, kind: 'quiz', moduleId: m.id, title: i.title, days: i.dueDays });
    if (validDays(m.dueDays)) list.push({ id: m.id, kind: 'module', moduleId: m.id, title: m.title, days: m.dueDays });
  }
  return list.sort((a, b) => a.days - b.days);
}

export const emptyCounts = (): Record<DueState, number> => Object.fromEntries(DUE_STATES.map((s) => [s, 0])) as Record<DueState, number>;

/** One learner's standing, from when each thing was done (by module id, by quiz item id). */
function standingFrom(things: ReturnType<typeof datedThings>, main: string, dueFrom: Date, doneAt: Map<string, Date>, now: Date): DueStanding {
  const counts = emptyCounts();
  const items = things.map((t): DueItem => {
    const due = dueOn(dueFrom, t.days);
    const done = doneAt.get(t.id);
    const state = dueState(due, done, now);
    counts[state] += 1;
    return { id: t.id, kind: t.kind, moduleId: t.moduleId, title: asLocalized(t.title, main), days: t.days, dueOn: due, state, doneAt: done };
  });
  return { items, counts };
}

export function createDueDates(
  models: { ModuleProgress: Model<ModuleProgressDoc>; QuizAttempt: Model<QuizAttemptDoc> },
  outline: (courseId: string) => Promise<OutlineModule[]>,
  mainLanguageOf: (courseId: string) => Promise<string>,
): DueDatesService & { standingIn: (learnerId: string, editionId: string, dueFrom: Date, modules: OutlineModule[], main: string) => Promise<DueStanding> } {
  const { ModuleProgress, QuizAttempt } = models;

  /** One learner's standing in a course whose outline the caller has (the learner's pages): look-ups by key. */
  async function standingIn(learnerId: string, editionId: string, dueFrom: Date, modules: OutlineModule[], main: string): Promise<DueStanding> {
    const things = datedThings(modules);
    if (!things.length) return { items: [], counts: emptyCounts() };
    const [modulesDone, firstAttempts] = await Promise.all([
      findByKeys(
        ModuleProgress,
        things.filter((t) => t.kind === 'module').map((t) => progressKey(learnerId, editionId, t.id)),
        { moduleId: 1, completedAt: 1 },
      ),
      // A quiz is done when first submitted: its first attempt's slot.
      findByKeys(
        QuizAttempt,
        things.filter((t) => t.kind === 'quiz').map((t) => progressKey(learnerId, editionId, t.id, '1')),
        { itemId: 1, submittedAt: 1 },
      ),
    ]);
    const doneAt = new Map<string, Date>([
      ...modulesDone.map((m) => [m.moduleId, m.completedAt] as const),
      ...firstAttempts.map((a) => [a.itemId, a.submittedAt] as const),
    ]);
    return standingFrom(things, main, dueFrom, doneAt, new Date());
  }

  return {
    standingIn,
    async standingOf(learnerId, courseId, editionId, dueFrom) {
      return standingIn(learnerId, editionId, dueFrom, await outline(courseId), await mainLanguageOf(courseId));
    },
    async editionDueDates(courseId, editionId, learners) {
      const result = new Map<string, DueStanding>();
      const things = datedThings(await outline(courseId));
      if (!things.length || !learners.length) return result;
      // Read the whole collections of the edition once (by course and edition), not per person.
      const [modulesDone, attempts] = await Promise.all([
        things.some((t) => t.kind === 'module') ? ModuleProgress.find({ courseId, editionId }, { learnerId: 1, moduleId: 1, completedAt: 1 }).lean() : [],
        things.some((t) => t.kind === 'quiz') ? QuizAttempt.find({ courseId, editionId, attempt: 1 }, { learnerId: 1, itemId: 1, submittedAt: 1 }).lean() : [],
      ]);
      const doneBy = new Map<string, Map<string, Date>>();
      const mark = (learnerId: string, id: string, at: Date) => doneBy.set(learnerId, (doneBy.get(learnerId) ?? new Map<string, Date>()).set(id, at));
      for (const m of modulesDone) mark(m.learnerId, m.moduleId, m.completedAt);
      for (const a of attempts) mark(a.learnerId, a.itemId, a.submittedAt);
      const main = await mainLanguageOf(courseId);
      const now = new Date();
      for (const { learnerId, dueFrom } of learners) result.set(learnerId, standingFrom(things, main, dueFrom, doneBy.get(learnerId) ?? new Map(), now));
      return result;
    },
    async hasDueDates(courseId) {
      return datedThings(await outline(courseId)).length > 0;
    },
  };
}

export type DueDates = ReturnType<typeof createDueDates>;
