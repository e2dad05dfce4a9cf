/**
 * What other plugins may read of editions and enrolments (the `EnrolmentDirectory` contract), as
 * summaries: never the stored documents.
 */
import mongoose from 'mongoose';
import { findByKeys, isObjectId, type UsersService } from '../../../src/index.ts';
import type { EnrolmentDirectoryService, EnrolmentSummary } from '../contract.ts';
import type { EnrolmentDoc } from '../models/enrolment.model.ts';
import { normaliseEmail } from './profile.ts';
import { toEditionSummary } from './editions.ts';
import type { createMemberships } from './memberships.ts';
import type { EnrolmentModels } from './records.ts';

export const toEnrolmentSummary = (d: EnrolmentDoc): EnrolmentSummary => ({
  id: d._id.toString(),
  editionId: d.editionId,
  courseId: d.courseId,
  email: d.email,
  userId: d.userId ?? undefined,
  status: d.status,
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

export function createDirectory(
  models: Pick<EnrolmentModels, 'Edition' | 'Enrolment' | 'Person'>,
  memberships: ReturnType<typeof createMemberships>,
  users: () => UsersService,
): EnrolmentDirectoryService {
  const { Edition, Enrolment, Person } = models;
  return {
    async edition(id) {
      if (!isObjectId(id)) return null;
      const d = await Edition.findById(id).lean();
      return d ? toEditionSummary(d) : null;
    },
    async enrolment(id) {
      if (!isObjectId(id)) return null;
      const d = await Enrolment.findById(id).lean();
      return d ? toEnrolmentSummary(d) : null;
    },
    async editionsOfCourse(courseId) {
      return (await Edition.find({ courseId }).sort({ startsAt: 1, _id: 1 }).lean()).map(toEditionSummary);
    },
    async enrolmentOf(userId, editionId) {
      const d = (await memberships.enrolmentsOf({ userId })).find((e) => e.editionId === editionId);
      return d ? toEnrolmentSummary(d) : null;
    },
    async enrolmentsOfUser(userId) {
      return (await memberships.enrolmentsOf({ userId })).map(toEnrolmentSummary);
    },
    async enrolmentsOf(editionId, statuses) {
      const filter: Record<string, unknown> = { editionId };
      if (statuses?.length) filter.status = mongoose.trusted({ $in: statuses });
      return (await Enrolment.find(filter).sort({ createdAt: 1 }).lean()).map(toEnrolmentSummary);
    },
    async namesOf(enrolments) {
      const [accounts, people] = await Promise.all([
        users().findByIds(enrolments.flatMap((e) => (e.userId ? [e.userId] : []))),
        findByKeys(Person, [...new Set(enrolments.map((e) => normaliseEmail(e.email)))], { givenName: 1, familyName: 1 }),
      ]);
      const profileName = new Map(people.map((p) => [p._id, [p.givenName, p.familyName].filter(Boolean).join(' ')]));
      return new Map(
        enrolments.map((e) => {
          const account = e.userId ? accounts.get(e.userId) : undefined;
          return [e.id, { name: account?.name || profileName.get(normaliseEmail(e.email)) || '', hasAccount: !!account }];
        }),
      );
    },
    async personName(email) {
      // Keyed by the normalised address: an _id look-up.
      const person = await Person.findById(normaliseEmail(email), { givenName: 1, familyName: 1 }).lean();
      return [person?.givenName, person?.familyName].filter(Boolean).join(' ') || null;
    },
  };
}
