/**
 * Editions (runs of a course): reading them (the published ones and a course's ones are cached per
 * instance and renewed when any instance writes one), when people may enrol, and staff's edits,
 * which move the waiting list when seats are added.
 */
import mongoose from 'mongoose';
import { conflict, findByKeys, invalidFields, isObjectId, notFound, readEachOncePerPage } from '../../../src/index.ts';
import type { EditionSummary } from '../contract.ts';
import type { ApplicationQuestion, EditionDoc } from '../models/edition.model.ts';
import { objectIdOr404, type EnrolmentModels, type EnrolmentServiceDeps } from './records.ts';
import type { Seats } from './seats.ts';

export const toEditionSummary = (d: EditionDoc): EditionSummary => ({
  id: d._id.toString(),
  courseId: d.courseId,
  title: d.title,
  selfPaced: d.selfPaced,
  startsAt: d.startsAt ?? undefined,
  endsAt: d.endsAt ?? undefined,
  materialOpensAt: d.materialOpensAt ?? undefined,
  certificatesBeforeEnd: !!d.certificatesBeforeEnd,
  enrolmentDeadline: d.enrolmentDeadline ?? undefined,
  place: d.place,
  online: d.online,
  capacity: d.capacity ?? null,
  language: d.language,
  method: d.method,
  trainerIds: [...d.trainerIds],
  contactEmail: d.contactEmail || undefined,
  status: d.status,
});

/** Why a person can or cannot enrol in an edition by themselves right now. */
export type EnrolmentWindow = { open: true } | { open: false; reason: 'notPublished' | 'closed' | 'invitationOnly' | 'deadlinePassed' | 'ended' };

export function enrolmentWindow(
  edition: Pick<EditionDoc, 'status' | 'method' | 'enrolmentDeadline' | 'endsAt' | 'selfPaced'>,
  now = new Date(),
): EnrolmentWindow {
  if (edition.status !== 'published') return { open: false, reason: 'notPublished' };
  if (edition.method === 'closed') return { open: false, reason: 'closed' };
  if (edition.method === 'invitation') return { open: false, reason: 'invitationOnly' };
  if (edition.enrolmentDeadline && now > edition.enrolmentDeadline) return { open: false, reason: 'deadlinePassed' };
  if (!edition.selfPaced && edition.endsAt && now > edition.endsAt) return { open: false, reason: 'ended' };
  return { open: true };
}

export interface EditionInput {
  courseId: string;
  title: string;
  description: string;
  selfPaced: boolean;
  startsAt?: Date | undefined;
  endsAt?: Date | undefined;
  materialOpensAt?: Date | undefined;
  certificatesBeforeEnd?: boolean | undefined;
  enrolmentDeadline?: Date | undefined;
  place: string;
  online: boolean;
  capacity: number | null;
  language: string;
  method: EditionDoc['method'];
  enrolmentKey?: string | undefined;
  questions: ApplicationQuestion[];
  trainerIds: string[];
  contactEmail?: string | undefined;
  status: EditionDoc['status'];
}

export function createEditions(models: Pick<EnrolmentModels, 'Edition' | 'Enrolment'>, deps: Pick<EnrolmentServiceDeps, 'editionCache'>, seats: Seats) {
  const { Edition, Enrolment } = models;
  const { promote, announcePromotion, repairSeats, promoteWaiting } = seats;
  /** Editions is a cached model: every write through it renews what this cache keeps, on every instance. */
  const { editionCache } = deps;

  /**
   * The published editions, soonest first (then by id): every learner's home page lists those open
   * for enrolment, and FerretDB answers this query by decoding every edition. Kept per instance
   * until an edition changes on any instance. Shared: callers must not modify what they get.
   */
  function publishedEditions(): Promise<EditionDoc[]> {
    return editionCache.get('published', async () => Edition.find({ status: 'published' }).sort({ startsAt: 1, _id: 1 }).lean<EditionDoc[]>());
  }

  /**
   * Every edition of a course, whatever its status (newest start first): the course's enrolment
   * page and the access decision for people not enrolled read them. Kept like `publishedEditions`.
   */
  function editionsOfCourse(courseId: string): Promise<EditionDoc[]> {
    return editionCache.get(`course:${courseId}`, async () => Edition.find({ courseId }).sort({ startsAt: -1, _id: 1 }).lean<EditionDoc[]>());
  }

  async function requireEdition(id: string): Promise<EditionDoc> {
    const doc = await Edition.findById(objectIdOr404(id, 'edition')).lean();
    if (!doc) throw notFound('No such edition.', { key: 'enrolment:errors.noSuchEdition' });
    return doc;
  }

  /**
   * Editions by id, in one query; on a page, each read once for all its parts (the home page's
   * panels and the access decision all want the learner's editions).
   */
  function editionsById(ids: readonly string[]): Promise<Map<string, EditionDoc>> {
    return readEachOncePerPage(
      'enrolment.edition',
      ids.filter(isObjectId),
      async (missing) =>
        new Map(
          (
            await findByKeys(
              Edition,
              missing.map((id) => new mongoose.Types.ObjectId(id)),
            )
          ).map((e) => [e._id.toString(), e]),
        ),
    );
  }

  async function createEdition(input: EditionInput, by: string): Promise<EditionDoc> {
    const doc = await Edition.create({ ...input, createdBy: by });
    return doc.toObject();
  }

  async function updateEdition(id: string, input: EditionInput): Promise<EditionDoc> {
    const before = await requireEdition(id);
    if (input.courseId !== before.courseId && (await Enrolment.exists({ editionId: id }))) {
      throw conflict('People are enrolled in this edition: it cannot move to another course.', undefined, { key: 'enrolment:errors.courseLocked' });
    }
    if (input.capacity != null) {
      const enrolled = await Enrolment.countDocuments({ editionId: id, status: 'enrolled' });
      if (enrolled > input.capacity) {
        throw invalidFields({ capacity: { key: 'enrolment:errors.capacityBelowEnrolled', params: { count: enrolled } } });
      }
    }
    const unset = Object.fromEntries(
      ['startsAt', 'endsAt', 'materialOpensAt', 'enrolmentDeadline', 'enrolmentKey', 'contactEmail']
        .filter((k) => input[k as keyof EditionInput] === undefined)
        .map((k) => [k, 1]),
    );
    const set = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    const doc = await Edition.findByIdAndUpdate(
      id,
      { $set: set, ...(Object.keys(unset).length ? { $unset: unset } : {}) },
      { returnDocument: 'after', runValidators: true },
    ).lean();
    if (!doc) throw notFound('No such edition.', { key: 'enrolment:errors.noSuchEdition' });
    if (doc.capacity == null) {
      // No limit any more: everyone waiting is in.
      for (const w of await Enrolment.find({ editionId: id, status: 'waitlisted' }).sort({ waitlistedAt: 1 }).lean()) {
        if ((await promote(w._id)).modifiedCount) await announcePromotion(w);
      }
    } else if (before.capacity == null) {
      // A limit where there was none: the people already enrolled take the first seats.
      await repairSeats(id);
    } else if (doc.capacity > before.capacity) {
      // More seats: the waiting list moves up at once.
      await promoteWaiting(id);
    }
    return doc;
  }

  return { requireEdition, editionsById, publishedEditions, editionsOfCourse, createEdition, updateEdition };
}

export type Editions = ReturnType<typeof createEditions>;
