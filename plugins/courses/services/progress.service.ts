import type { Model } from 'mongoose';
import mongoose from 'mongoose';
import { findByKeys, insertOnce, readOncePerPage, type EventRef } from '../../../src/index.ts';
import { CourseCompleted, ModuleCompleted, type LearnerProgress, type ProgressService } from '../contract.ts';
import type { ItemDoc } from '../models/item.model.ts';
import { progressKey, type CourseCompletionDoc, type ItemProgressDoc, type ModuleProgressDoc, type QuizAttemptDoc } from '../models/progress.model.ts';
import { noSuchItem } from './refusals.ts';

/** A course's modules in order, each with its items: what the recorder's checks need. */
export type CourseStructure = { _id: { toString(): string }; required: boolean; items: { _id: { toString(): string }; moduleId: { toString(): string } }[] }[];

export interface ProgressModels {
  Item: Model<ItemDoc>;
  ItemProgress: Model<ItemProgressDoc>;
  ModuleProgress: Model<ModuleProgressDoc>;
  CourseCompletion: Model<CourseCompletionDoc>;
  QuizAttempt: Model<QuizAttemptDoc>;
}

type Emit = <P>(event: EventRef<P>, payload: P) => Promise<void>;

/**
 * The modules a course's completion depends on: its required modules that have content; for a
 * course whose modules are all optional, every module with content. Empty modules never block.
 */
function countedModules<M extends { _id: { toString(): string }; required: boolean }>(modules: M[], items: { moduleId: { toString(): string } }[]): M[] {
  const withContent = modules.filter((m) => items.some((i) => i.moduleId.toString() === m._id.toString()));
  const required = withContent.filter((m) => m.required);
  return required.length ? required : withContent;
}

/**
 * Records what learners complete. Every step is an insert of a record keyed by its natural key,
 * followed by a check one level up:
 *   item done → are all items of the module done? → insert the module record → are all required
 *   modules done? → insert the course completion.
 * Whoever's insert succeeds emits the event, so each event fires exactly once per learner and
 * edition. Each writer inserts before it reads, so of two concurrent last completions at least
 * the later one sees both records. A retry re-runs the checks, which also heals a step cut short
 * by a crash between two writes.
 */
export function createProgressService(models: ProgressModels, emit: Emit, outline: (courseId: string) => Promise<CourseStructure>) {
  const { Item, ItemProgress, ModuleProgress, CourseCompletion, QuizAttempt } = models;
  /** The course's modules and all its items, from the course service's outline (kept per instance). */
  const structure = async (courseId: string) => {
    const modules = await outline(courseId);
    return { modules, items: modules.flatMap((m) => m.items) };
  };

  /**
   * Records an item done and runs the checks above it. `structure`: the course's outline when the
   * caller has it already (the learner's request read it), else it is read here.
   */
  async function completeItem(input: {
    learnerId: string;
    courseId: string;
    editionId: string;
    item: Pick<ItemDoc, '_id' | 'moduleId'>;
    structure?: CourseStructure;
  }): Promise<{ recorded: boolean }> {
    const { learnerId, courseId, editionId, item, structure: known } = input;
    const moduleId = item.moduleId.toString();
    const itemId = item._id.toString();
    const recorded = await insertOnce(ItemProgress, {
      _id: progressKey(learnerId, editionId, itemId),
      learnerId,
      courseId,
      editionId,
      moduleId,
      itemId,
      completedAt: new Date(),
    });
    await checkModule(learnerId, courseId, editionId, moduleId, known, itemId);
    return { recorded };
  }

  /** `justDone`: an item whose record the caller has just written (not read again). */
  async function checkModule(
    learnerId: string,
    courseId: string,
    editionId: string,
    moduleId: string,
    known?: CourseStructure,
    justDone?: string,
  ): Promise<void> {
    const modules = known ?? (await outline(courseId));
    const items = modules.find((m) => m._id.toString() === moduleId)?.items ?? [];
    const done = await findByKeys(
      ItemProgress,
      items.filter((i) => i._id.toString() !== justDone).map((i) => progressKey(learnerId, editionId, i._id.toString())),
      { itemId: 1 },
    );
    const doneIds = new Set(done.map((d) => d.itemId));
    if (justDone) doneIds.add(justDone);
    if (!items.length || !items.every((i) => doneIds.has(i._id.toString()))) return;
    const completedAt = new Date();
    if (await insertOnce(ModuleProgress, { _id: progressKey(learnerId, editionId, moduleId), learnerId, courseId, editionId, moduleId, completedAt })) {
      await emit(ModuleCompleted, { learnerId, courseId, editionId, moduleId, completedAt });
    }
    await checkCourse(learnerId, courseId, editionId, modules);
  }

  async function checkCourse(learnerId: string, courseId: string, editionId: string, known?: CourseStructure): Promise<void> {
    const modules = known ?? (await outline(courseId));
    const items = modules.flatMap((m) => m.items);
    const done = await findByKeys(
      ModuleProgress,
      modules.map((m) => progressKey(learnerId, editionId, m._id.toString())),
      { moduleId: 1 },
    );
    const doneIds = new Set(done.map((d) => d.moduleId));
    const counted = countedModules(modules, items);
    if (!counted.length || !counted.every((m) => doneIds.has(m._id.toString()))) return;
    const completedAt = new Date();
    if (await insertOnce(CourseCompletion, { _id: progressKey(learnerId, editionId, courseId), learnerId, courseId, editionId, completedAt })) {
      await emit(CourseCompleted, { learnerId, courseId, editionId, completedAt });
    }
  }

  /**
   * Re-runs the checks for this learner: a module whose items are all done but which has no
   * record (an item was deleted, a write was cut short), and the course. The outline page calls it
   * when what it loaded shows such a gap, so nobody stays stuck.
   */
  async function reconcile(learnerId: string, courseId: string, editionId: string): Promise<void> {
    const [{ modules, items }, completion] = await Promise.all([
      structure(courseId),
      CourseCompletion.exists({ _id: progressKey(learnerId, editionId, courseId) }),
    ]);
    const [itemsDone, modulesDone] = await Promise.all([
      findByKeys(
        ItemProgress,
        items.map((i) => progressKey(learnerId, editionId, i._id.toString())),
        { itemId: 1 },
      ),
      findByKeys(
        ModuleProgress,
        modules.map((m) => progressKey(learnerId, editionId, m._id.toString())),
        { moduleId: 1 },
      ),
    ]);
    const doneItems = new Set(itemsDone.map((d) => d.itemId));
    const doneModules = new Set(modulesDone.map((d) => d.moduleId));
    for (const m of modules) {
      const id = m._id.toString();
      const own = items.filter((i) => i.moduleId.toString() === id);
      if (!doneModules.has(id) && own.length && own.every((i) => doneItems.has(i._id.toString()))) {
        await checkModule(learnerId, courseId, editionId, id);
      }
    }
    if (!completion) await checkCourse(learnerId, courseId, editionId);
  }

  /** The courses (and editions) in which this learner has completed anything, most recent first. */
  async function activeCourses(learnerId: string): Promise<{ courseId: string; editionId: string }[]> {
    const records = await ItemProgress.find({ learnerId }, { courseId: 1, editionId: 1, completedAt: 1 }).sort({ completedAt: -1 }).lean();
    const seen = new Map<string, { courseId: string; editionId: string }>();
    for (const r of records)
      seen.set(`${r.courseId}:${r.editionId}`, seen.get(`${r.courseId}:${r.editionId}`) ?? { courseId: r.courseId, editionId: r.editionId });
    return [...seen.values()];
  }

  /** Which of these items (ids the page has already loaded) this learner has completed in this edition. */
  async function completedItemIds(learnerId: string, editionId: string, itemIds: string[]): Promise<Set<string>> {
    const done = await findByKeys(
      ItemProgress,
      itemIds.map((id) => progressKey(learnerId, editionId, id)),
      { itemId: 1 },
    );
    return new Set(done.map((d) => d.itemId));
  }

  /**
   * "Continue where you left off": the item to do next in a course whose structure the caller has
   * loaded. The first item not done after the one completed last, in the outline's order, else the
   * first not done before it; none when every item is done.
   */
  async function nextItem<I extends { _id: { toString(): string } }>(learnerId: string, editionId: string, items: I[]): Promise<I | undefined> {
    const done = await findByKeys(
      ItemProgress,
      items.map((i) => progressKey(learnerId, editionId, i._id.toString())),
      { itemId: 1, completedAt: 1 },
    );
    const doneIds = new Set(done.map((d) => d.itemId));
    const last = done.reduce<{ itemId: string; completedAt: Date } | undefined>((l, r) => (!l || r.completedAt > l.completedAt ? r : l), undefined);
    const from = last ? items.findIndex((i) => i._id.toString() === last.itemId) + 1 : 0;
    return [...items.slice(from), ...items.slice(0, from)].find((i) => !doneIds.has(i._id.toString()));
  }

  /**
   * A learner's standing in a course whose structure the caller has already loaded (the outline
   * page has it): the items done and the summary, each record read once. `progressOf` is the
   * same for callers without the structure.
   */
  async function standing(
    learnerId: string,
    courseId: string,
    editionId: string,
    modules: { _id: { toString(): string }; required: boolean }[],
    items: { _id: { toString(): string }; moduleId: { toString(): string } }[],
  ): Promise<{ done: Set<string>; summary: LearnerProgress }> {
    const [completion, modulesDone, itemsDone] = await Promise.all([
      CourseCompletion.findById(progressKey(learnerId, editionId, courseId)).lean(),
      findByKeys(
        ModuleProgress,
        modules.map((m) => progressKey(learnerId, editionId, m._id.toString())),
        { moduleId: 1 },
      ),
      findByKeys(
        ItemProgress,
        items.map((i) => progressKey(learnerId, editionId, i._id.toString())),
        { itemId: 1, completedAt: 1 },
      ),
    ]);
    const lastActivity = itemsDone.reduce<Date | undefined>((last, r) => (!last || r.completedAt > last ? r.completedAt : last), undefined);
    const done = new Set(itemsDone.map((d) => d.itemId));
    return {
      done,
      summary: summarise(courseId, editionId, countedModules(modules, items), items, done, modulesDone, completion ?? undefined, lastActivity),
    };
  }

  /**
   * A learner's standing, computed from records already loaded (shared by one and many learners).
   * The percentage is the share of the counted modules' items done, so that three lessons show
   * before a whole module is; a completed course is 100, and nothing else rounds up to it.
   */
  function summarise(
    courseId: string,
    editionId: string,
    counted: { _id: { toString(): string } }[],
    items: { _id: { toString(): string }; moduleId: { toString(): string } }[],
    itemsDone: Set<string>,
    modulesDone: { moduleId: string }[],
    completion: { completedAt: Date } | undefined,
    lastActivityAt: Date | undefined,
  ): LearnerProgress {
    const completed = new Set(modulesDone.map((d) => d.moduleId));
    const requiredCompleted = counted.filter((m) => completed.has(m._id.toString())).length;
    const countedIds = new Set(counted.map((m) => m._id.toString()));
    const required = items.filter((i) => countedIds.has(i.moduleId.toString()));
    const requiredItemsDone = required.filter((i) => itemsDone.has(i._id.toString())).length;
    const percent = completion ? 100 : required.length ? Math.min(99, Math.floor((100 * requiredItemsDone) / required.length)) : 0;
    return {
      courseId,
      editionId,
      completedModuleIds: [...completed],
      requiredModules: counted.length,
      requiredCompleted,
      requiredItems: required.length,
      requiredItemsDone,
      percent,
      completedAt: completion?.completedAt,
      lastActivityAt,
    };
  }

  const service: ProgressService = {
    progressOf(learnerId, courseId, editionId): Promise<LearnerProgress> {
      // The home page's panels both ask (enrolment: not started yet; courses: how far).
      return readOncePerPage(`courses.progress:${learnerId}:${courseId}:${editionId}`, async () => {
        const { modules, items } = await structure(courseId);
        return (await standing(learnerId, courseId, editionId, modules, items)).summary;
      });
    },

    async editionProgress(courseId, editionId) {
      const [{ modules, items }, itemsDone, modulesDone, completions] = await Promise.all([
        structure(courseId),
        ItemProgress.find({ courseId, editionId }, { learnerId: 1, itemId: 1, completedAt: 1 }).lean(),
        ModuleProgress.find({ courseId, editionId }, { learnerId: 1, moduleId: 1 }).lean(),
        CourseCompletion.find({ courseId, editionId }).lean(),
      ]);
      const counted = countedModules(modules, items);
      const group = <T extends { learnerId: string }>(list: T[]) => {
        const map = new Map<string, T[]>();
        for (const r of list) map.set(r.learnerId, [...(map.get(r.learnerId) ?? []), r]);
        return map;
      };
      const lastActivity = new Map<string, Date>();
      const doneBy = new Map<string, Set<string>>();
      for (const r of itemsDone) {
        const seen = lastActivity.get(r.learnerId);
        if (!seen || r.completedAt > seen) lastActivity.set(r.learnerId, r.completedAt);
        doneBy.set(r.learnerId, (doneBy.get(r.learnerId) ?? new Set<string>()).add(r.itemId));
      }
      const byLearnerModules = group(modulesDone);
      const byLearnerCompletion = new Map(completions.map((c) => [c.learnerId, c]));
      const result = new Map<string, LearnerProgress>();
      for (const learnerId of new Set([...lastActivity.keys(), ...byLearnerModules.keys(), ...byLearnerCompletion.keys()])) {
        result.set(
          learnerId,
          summarise(
            courseId,
            editionId,
            counted,
            items,
            doneBy.get(learnerId) ?? new Set<string>(),
            byLearnerModules.get(learnerId) ?? [],
            byLearnerCompletion.get(learnerId),
            lastActivity.get(learnerId),
          ),
        );
      }
      return result;
    },

    async recordItemDone({ learnerId, courseId, editionId, itemId }) {
      // By `_id` alone, the course checked here (FerretDB narrows no other filter).
      const found = mongoose.isValidObjectId(itemId) ? await Item.findById(itemId, { _id: 1, moduleId: 1, courseId: 1 }).lean() : null;
      const item = found && found.courseId.toString() === courseId ? found : null;
      if (!item) throw noSuchItem();
      await completeItem({ learnerId, courseId, editionId, item });
    },

    async carryOver(learnerId, courseId, fromEditionId, toEditionId) {
      if (fromEditionId === toEditionId) return;
      const [items, attempts] = await Promise.all([
        ItemProgress.find({ learnerId, courseId, editionId: fromEditionId }).lean(),
        QuizAttempt.find({ learnerId, courseId, editionId: fromEditionId }).lean(),
      ]);
      // Insert-once copies under the new edition's keys: a repeated move copies nothing twice.
      for (const r of items) {
        await insertOnce(ItemProgress, { ...r, _id: progressKey(learnerId, toEditionId, r.itemId), editionId: toEditionId });
      }
      for (const a of attempts) {
        await insertOnce(QuizAttempt, { ...a, _id: progressKey(learnerId, toEditionId, a.itemId, String(a.attempt)), editionId: toEditionId });
      }
      await reconcile(learnerId, courseId, toEditionId);
    },
  };

  return { ...service, completeItem, completedItemIds, standing, nextItem, checkModule, reconcile, activeCourses };
}

export type ProgressRecorder = ReturnType<typeof createProgressService>;
