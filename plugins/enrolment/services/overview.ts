/**
 * What the staff pages read of editions and enrolments: the editions listed, how many people are
 * in each status, the applications and waiting list to decide, the editions a person may move to.
 */
import mongoose from 'mongoose';
import { ENROLMENT_STATUSES, type EditionStatus, type EnrolmentStatus } from '../contract.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentDoc } from '../models/enrolment.model.ts';
import type { EnrolmentModels } from './records.ts';

/** Editions listed on the staff page at most (newest start first). */
const EDITIONS_LISTED = 500;

export function createOverview(models: Pick<EnrolmentModels, 'Edition' | 'Enrolment'>) {
  const { Edition, Enrolment } = models;

  function editionsListed(filter: { courseId?: string | undefined; status?: EditionStatus | undefined }): Promise<EditionDoc[]> {
    const query: Record<string, unknown> = {};
    if (filter.courseId) query.courseId = filter.courseId;
    if (filter.status) query.status = filter.status;
    return Edition.find(query).sort({ startsAt: -1, _id: -1 }).limit(EDITIONS_LISTED).lean();
  }

  /** How many enrolments of each edition are in each status (none: 0). */
  async function statusCountsOf(editionIds: readonly string[]): Promise<(editionId: string, status: EnrolmentStatus) => number> {
    // One $group with one accumulator (FerretDB computes only the first).
    const counts = await Enrolment.aggregate<{ _id: { editionId: string; status: string }; n: number }>([
      { $match: { editionId: mongoose.trusted({ $in: [...editionIds] }) } },
      { $group: { _id: { editionId: '$editionId', status: '$status' }, n: { $sum: 1 } } },
    ]);
    return (editionId, status) => counts.find((c) => c._id.editionId === editionId && c._id.status === status)?.n ?? 0;
  }

  /** How many enrolments of one edition are in each status. */
  async function statusCounts(editionId: string): Promise<Record<EnrolmentStatus, number>> {
    return Object.fromEntries(
      await Promise.all(ENROLMENT_STATUSES.map(async (s) => [s, await Enrolment.countDocuments({ editionId, status: s })] as const)),
    ) as Record<EnrolmentStatus, number>;
  }

  /** The applications and the waiting list of an edition, oldest first. */
  function awaitingDecision(editionId: string): Promise<EnrolmentDoc[]> {
    return Enrolment.find({ editionId, status: mongoose.trusted({ $in: ['pending', 'waitlisted'] }) })
      .sort({ createdAt: 1 })
      .lean();
  }

  /** The course's editions other than this one still open to people (drafts and published), soonest first: where a person may move. */
  function otherEditions(courseId: string, except: EditionDoc['_id']): Promise<EditionDoc[]> {
    return Edition.find({ courseId, _id: mongoose.trusted({ $ne: except }), status: mongoose.trusted({ $in: ['draft', 'published'] }) })
      .sort({ startsAt: 1 })
      .lean();
  }

  /** Whether the course has an edition of this title (the demo data is loaded once). */
  async function hasEdition(courseId: string, title: string): Promise<boolean> {
    return !!(await Edition.exists({ courseId, title }));
  }

  return { editionsListed, statusCountsOf, statusCounts, awaitingDecision, otherEditions, hasEdition };
}
