import crypto from 'node:crypto';
import mongoose, { type Model } from 'mongoose';
import {
  conflict,
  findByKeys,
  hasRole,
  HttpError,
  isDuplicateKey,
  localized,
  notFound,
  readOncePerPage,
  writeThenRenew,
  type SessionUser,
} from '../../../src/index.ts';
import type { CourseCatalogService, CourseStatus, CourseSummary, ModuleSummary, StoredText } from '../contract.ts';
import type { CourseDoc } from '../models/course.model.ts';
import type { ItemDoc } from '../models/item.model.ts';
import type { ModuleDoc } from '../models/module.model.ts';
import { noSuchCourse, noSuchItem, noSuchModule } from './refusals.ts';

export interface CourseModels {
  Course: Model<CourseDoc>;
  Module: Model<ModuleDoc>;
  Item: Model<ItemDoc>;
}

/** Words that are pages of their own under /courses, so they cannot be course addresses. */
export const RESERVED_SLUGS = new Set(['manage', 'new', 'catalogue', 'api', 'static']);

/**
 * A course's title or summary per language, as stored (a Map once mongoose has read it) or, in a
 * course from before titles had languages, a plain string: the first language's.
 */
const perLanguage = (text: CourseDoc['title'] | string | undefined, main: string): Record<string, string> =>
  typeof text === 'string'
    ? text
      ? { [main]: text }
      : {}
    : Object.fromEntries(text instanceof Map ? text : Object.entries((text ?? {}) as Record<string, string>));

export const toCourseSummary = (d: CourseDoc): CourseSummary => ({
  id: d._id.toString(),
  slug: d.slug,
  title: perLanguage(d.title, d.languages[0] ?? 'en'),
  summary: perLanguage(d.summary, d.languages[0] ?? 'en'),
  languages: [...d.languages],
  hours: d.hours,
  durationWeeks: d.durationWeeks,
  status: d.status,
  trainerIds: d.trainerIds.map(String),
  cover: d.cover
    ? { sha256: d.cover.sha256, width: d.cover.width, height: d.cover.height, contentType: d.cover.contentType, alt: { ...d.cover.alt } }
    : undefined,
});

/** A module's or item's text per language: a plain string (from before texts had languages) is the first language's. */
const textPerLanguage = (text: StoredText | undefined, main: string) =>
  typeof text === 'string' ? (text ? { [main]: text } : {}) : Object.fromEntries(Object.entries(text ?? {}).filter(([, t]) => t));

const toModuleSummary = (m: ModuleDoc, main: string): ModuleSummary => ({
  id: m._id.toString(),
  courseId: m.courseId.toString(),
  title: textPerLanguage(m.title, main),
  position: m.position,
  required: m.required,
});

/** Who may change a course: its trainers, programme staff and admins. */
export function canEdit(user: SessionUser | undefined, course: Pick<CourseSummary, 'trainerIds'>): boolean {
  if (!user) return false;
  return hasRole(user, ['staff']) || (user.roles.includes('trainer') && course.trainerIds.includes(user.id));
}

const byPosition = <T extends { position: number; _id: mongoose.Types.ObjectId }>(a: T, b: T) =>
  a.position - b.position || a._id.toString().localeCompare(b._id.toString());

/** A module's fields as the form gives them; `dueDays` null: no due date. */
export interface ModuleInput {
  title: StoredText;
  intro: StoredText;
  required: boolean;
  dueDays?: number | null | undefined;
}

export interface CourseInput {
  slug: string;
  title: Record<string, string>;
  summary: Record<string, string>;
  languages: string[];
  hours: number;
  durationWeeks?: number | undefined;
}

/**
 * `maxKept`: courses this instance keeps an address or an outline for (the oldest is dropped first);
 * more than a programme runs at once, few enough to bound the memory.
 */
export function createCourseService({ Course, Module, Item }: CourseModels, { maxKept = 500 }: { maxKept?: number } = {}) {
  const oid = (id: string, what: 'course' | 'module' | 'item' | 'trainer' = 'course') => {
    if (!mongoose.isValidObjectId(id)) throw notFound(`No such ${what}.`, { key: `courses:errors.noSuch.${what}` });
    return new mongoose.Types.ObjectId(id);
  };

  /**
   * A course by id, read once per page: the page's own look-up, the outline's stamp check and
   * every panel that names the course all want it.
   */
  const courseDoc = (id: string) => readOncePerPage(`courses.course:${id}`, async () => (await findByKeys(Course, [oid(id)]))[0] ?? null);

  /**
   * Course ids by address, as this instance last found them. A course is read by its address on
   * every learner page, and FerretDB answers a query by anything but `_id` by decoding every course;
   * so the address is looked up here and the course read by `_id`, and the query runs only when the
   * course read no longer has that address (renamed, deleted) or the address is new here.
   */
  const idsBySlug = new Map<string, string>();

  async function docBySlug(address: string): Promise<CourseDoc | null> {
    const slug = String(address).toLowerCase();
    const known = idsBySlug.get(slug);
    const byId = known ? await courseDoc(known) : null;
    const d = byId?.slug === slug ? byId : await Course.findOne({ slug }).lean();
    if (!d) return null;
    // Only a new address makes room: one already known must not push out another on every request.
    if (!idsBySlug.has(slug) && idsBySlug.size >= maxKept) idsBySlug.delete(idsBySlug.keys().next().value!);
    idsBySlug.set(slug, d._id.toString());
    return d;
  }

  /** The document each summary from `requireCourse` was made from: `outlineOf` goes by its stamp. */
  const docOfSummary = new WeakMap<CourseSummary, CourseDoc>();

  const catalog: CourseCatalogService = {
    async findById(id) {
      if (!mongoose.isValidObjectId(id)) return null;
      const d = await courseDoc(String(id));
      return d ? toCourseSummary(d) : null;
    },
    async findBySlug(address) {
      const d = await docBySlug(address);
      return d ? toCourseSummary(d) : null;
    },
    async listPublished() {
      const docs = await Course.find({ status: 'published' }).sort({ slug: 1 }).lean();
      return docs.map(toCourseSummary);
    },
    async modules(courseId) {
      const main = (await courseDoc(courseId))?.languages[0] ?? 'en';
      return (await outline(courseId)).map((m) => toModuleSummary(m, main));
    },
    async items(courseId) {
      const main = (await courseDoc(courseId))?.languages[0] ?? 'en';
      return (await outline(courseId)).flatMap((m) => m.items.map((i) => ({ id: i.id, moduleId: m.id, type: i.type, title: textPerLanguage(i.title, main) })));
    },
  };

  async function requireCourse(slug: string): Promise<CourseSummary> {
    const doc = await docBySlug(slug);
    if (!doc) throw noSuchCourse();
    const course = toCourseSummary(doc);
    docOfSummary.set(course, doc);
    return course;
  }

  async function loadOutline(courseId: string) {
    const [modules, items] = await Promise.all([Module.find({ courseId: oid(courseId) }).lean(), Item.find({ courseId: oid(courseId) }).lean()]);
    return modules.sort(byPosition).map((m) => ({
      ...m,
      id: m._id.toString(),
      items: items
        .filter((i) => i.moduleId.equals(m._id))
        .sort(byPosition)
        .map((i) => ({ ...i, id: i._id.toString() })),
    }));
  }

  /**
   * This instance's copies of course outlines, each valid for one structure stamp. Every page a
   * learner opens and every completion needs the outline; reading it means two queries that
   * FerretDB answers by decoding every module and item of the programme. The stamp is read by
   * `_id` each time (one look-up), so a change made through any instance is seen at once.
   */
  const outlines = new Map<string, { stamp: string; outline: ReturnType<typeof loadOutline> }>();

  /** Modules with their items, in order: the course outline. Shared: callers must not modify it. */
  async function outline(courseId: string): ReturnType<typeof loadOutline> {
    return outlineAt(courseId, (await courseDoc(courseId))?.structureStamp);
  }

  /**
   * The outline of a course as `requireCourse` read it (by the stamp it had then): a request that
   * has read the course needs no second look-up for its outline.
   */
  function outlineOf(course: CourseSummary): ReturnType<typeof loadOutline> {
    const doc = docOfSummary.get(course);
    return doc ? outlineAt(course.id, doc.structureStamp) : outline(course.id);
  }

  /** An item of the course as the learner sees it: from the outline, so no look-up of its own. */
  async function learningItem(course: CourseSummary, itemId: string) {
    const item = (await outlineOf(course)).flatMap((m) => m.items).find((i) => i.id === itemId);
    if (!item) throw noSuchItem();
    return item;
  }

  async function outlineAt(courseId: string, stamp: string | undefined): ReturnType<typeof loadOutline> {
    if (!stamp) return loadOutline(courseId); // a course without a stamp (the plugin stamps them at start): never kept
    const known = outlines.get(courseId);
    if (known?.stamp === stamp) return known.outline;
    const loading = loadOutline(courseId);
    if (!outlines.has(courseId) && outlines.size >= maxKept) outlines.delete(outlines.keys().next().value!);
    outlines.set(courseId, { stamp, outline: loading });
    loading.catch(() => {
      if (outlines.get(courseId)?.outline === loading) outlines.delete(courseId);
    });
    return loading;
  }

  /**
   * Runs a change of a course's modules or items, then renews the course's stamp (after, never
   * before: see CourseDoc.structureStamp; when, exactly: see writeThenRenew).
   */
  function changing<T>(courseId: string, change: () => PromiseLike<T>): Promise<T> {
    return writeThenRenew(change, async () => {
      outlines.delete(courseId);
      await Course.updateOne({ _id: oid(courseId) }, { $set: { structureStamp: crypto.randomUUID() } });
    });
  }

  async function create(input: CourseInput, creator: SessionUser): Promise<CourseSummary> {
    if (RESERVED_SLUGS.has(input.slug))
      throw conflict(`The address “${input.slug}” is reserved: choose another.`, undefined, {
        key: 'courses:errors.slugReserved',
        params: { slug: input.slug },
      });
    try {
      const doc = await Course.create({
        ...input,
        status: 'draft',
        trainerIds: creator.roles.includes('trainer') ? [creator.id] : [],
        structureStamp: crypto.randomUUID(),
      });
      return toCourseSummary(doc.toObject());
    } catch (err) {
      if (isDuplicateKey(err))
        throw conflict(`A course with the address “${input.slug}” already exists.`, undefined, {
          key: 'courses:errors.slugTaken',
          params: { slug: input.slug },
        });
      throw err;
    }
  }

  async function update(courseId: string, input: Omit<CourseInput, 'slug'>): Promise<void> {
    await Course.updateOne({ _id: oid(courseId) }, { $set: { ...input, durationWeeks: input.durationWeeks ?? null } });
  }

  /** Publishing needs content: at least one module, and no module without items. */
  async function setStatus(courseId: string, status: CourseStatus): Promise<void> {
    if (status === 'published') {
      const modules = await outline(courseId);
      if (!modules.length)
        throw new HttpError(409, 'COURSE_EMPTY', 'Add at least one module with content before publishing.', undefined, { key: 'courses:errors.courseEmpty' });
      const empty = modules.filter((m) => !m.items.length);
      // Named in the course's first language: a service has no reader.
      const main = (await courseDoc(courseId))?.languages[0];
      if (empty.length) {
        const names = empty.map((m) => localized(m.title, main ?? 'en', main)).join(', ');
        throw new HttpError(409, 'MODULE_EMPTY', `These modules have no content yet: ${names}.`, undefined, {
          key: 'courses:errors.modulesEmpty',
          params: { count: empty.length, modules: names },
        });
      }
    }
    await Course.updateOne({ _id: oid(courseId) }, { $set: { status } });
  }

  /** Sets (or with null removes) the course's cover; returns the cover it had, whose file the caller removes. */
  async function setCover(courseId: string, cover: NonNullable<CourseDoc['cover']> | null): Promise<CourseDoc['cover']> {
    const before = await Course.findById(oid(courseId)).lean();
    if (!before) throw noSuchCourse();
    await Course.updateOne({ _id: before._id }, cover ? { $set: { cover } } : { $unset: { cover: 1 } });
    return before.cover ?? null;
  }

  /** The cover's stored file (for serving), or null. */
  async function coverFile(courseId: string) {
    const d = await courseDoc(courseId);
    return d?.cover ?? null;
  }

  async function setTrainers(courseId: string, trainerIds: string[]): Promise<void> {
    await Course.updateOne({ _id: oid(courseId) }, { $set: { trainerIds: trainerIds.map((id) => oid(id, 'trainer')) } });
  }

  async function editableBy(user: SessionUser): Promise<CourseSummary[]> {
    const filter = hasRole(user, ['staff']) ? {} : { trainerIds: new mongoose.Types.ObjectId(user.id) };
    return (await Course.find(filter).sort({ slug: 1 }).lean()).map(toCourseSummary);
  }

  // Positions: new things go last; moving swaps with the neighbour. Two writes, not atomic: a
  // concurrent move can leave equal positions, which the _id tie-break still orders stably.
  // Modules and items share this, through the driver's collection (our own values, no input).
  type Positioned = { collection: mongoose.Collection };
  async function nextPosition(model: Positioned, filter: Record<string, unknown>): Promise<number> {
    const last = await model.collection.find(filter).sort({ position: -1 }).limit(1).toArray();
    return (Number(last[0]?.position) || 0) + 10;
  }

  async function swap(model: Positioned, siblings: { _id: mongoose.Types.ObjectId; position: number }[], id: string, direction: 'up' | 'down') {
    const sorted = [...siblings].sort(byPosition);
    const index = sorted.findIndex((s) => s._id.toString() === id);
    if (index < 0) throw notFound('No such entry.', { key: 'courses:errors.noSuchEntry' });
    const other = sorted[direction === 'up' ? index - 1 : index + 1];
    if (!other) return; // already first or last: nothing to do
    const self = sorted[index]!;
    const [a, b] = self.position === other.position ? [other.position + (direction === 'up' ? -1 : 1), self.position] : [other.position, self.position];
    await model.collection.updateOne({ _id: self._id }, { $set: { position: a } });
    await model.collection.updateOne({ _id: other._id }, { $set: { position: b } });
  }

  async function addModule(courseId: string, input: ModuleInput) {
    const position = await nextPosition(Module, { courseId: oid(courseId) });
    return changing(courseId, () => Module.create({ courseId: oid(courseId), ...input, position }));
  }

  async function findModule(courseId: string, moduleId: string) {
    // By `_id` alone, the course checked here: FerretDB narrows no other filter (docs/design-notes.md).
    const m = await Module.findById(oid(moduleId, 'module'))
      .lean()
      .then((d) => (d?.courseId.equals(oid(courseId)) ? d : null));
    if (!m) throw noSuchModule();
    return m;
  }

  async function updateModule(courseId: string, moduleId: string, input: ModuleInput) {
    await findModule(courseId, moduleId);
    await changing(courseId, () => Module.updateOne({ _id: oid(moduleId) }, { $set: input }));
  }

  async function moveModule(courseId: string, moduleId: string, direction: 'up' | 'down') {
    const modules = await Module.find({ courseId: oid(courseId) }).lean();
    await changing(courseId, () => swap(Module, modules, moduleId, direction));
  }

  /** Deletes an empty module; a module with content must be emptied first (nothing is lost by a slip). */
  async function deleteModule(courseId: string, moduleId: string) {
    await findModule(courseId, moduleId);
    if (await Item.exists({ moduleId: oid(moduleId) }))
      throw new HttpError(409, 'MODULE_NOT_EMPTY', 'Remove the module’s content first.', undefined, { key: 'courses:errors.moduleNotEmpty' });
    await changing(courseId, () => Module.deleteOne({ _id: oid(moduleId) }));
  }

  async function findItem(courseId: string, itemId: string) {
    const item = await Item.findById(oid(itemId, 'item'))
      .lean()
      .then((d) => (d?.courseId.equals(oid(courseId)) ? d : null));
    if (!item) throw noSuchItem();
    return item;
  }

  async function addItem(courseId: string, moduleId: string, input: Partial<ItemDoc> & { type: ItemDoc['type']; title: StoredText }) {
    await findModule(courseId, moduleId);
    const position = await nextPosition(Item, { moduleId: oid(moduleId) });
    return changing(courseId, () => Item.create({ ...input, courseId: oid(courseId), moduleId: oid(moduleId), position }));
  }

  async function updateItem(courseId: string, itemId: string, changes: Partial<ItemDoc>) {
    await findItem(courseId, itemId);
    await changing(courseId, () => Item.updateOne({ _id: oid(itemId) }, { $set: changes }));
  }

  async function moveItem(courseId: string, itemId: string, direction: 'up' | 'down') {
    const item = await findItem(courseId, itemId);
    const siblings = await Item.find({ moduleId: item.moduleId }).lean();
    await changing(courseId, () => swap(Item, siblings, itemId, direction));
  }

  async function deleteItem(courseId: string, itemId: string) {
    const item = await findItem(courseId, itemId);
    await changing(courseId, () => Item.deleteOne({ _id: item._id }));
    return item;
  }

  return {
    catalog,
    outline,
    outlineOf,
    learningItem,
    requireCourse,
    create,
    update,
    setStatus,
    setTrainers,
    setCover,
    coverFile,
    editableBy,
    addModule,
    findModule,
    updateModule,
    moveModule,
    deleteModule,
    addItem,
    findItem,
    updateItem,
    moveItem,
    deleteItem,
  };
}

export type CourseService = ReturnType<typeof createCourseService>;
