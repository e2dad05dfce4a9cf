import type { SessionUser } from '../../../src/index.ts';
import type { AccessDecision, CourseSummary, LearningAccessProvider, Translate } from '../../courses/contract.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { EnrolmentService } from './enrolment.service.ts';
import { dueFrom } from './report.service.ts';

/**
 * When an edition's material opens and whether it is still written to: a dated edition opens on
 * its start date, or on the earlier day staff chose (pre-reading); a self-paced one is always
 * open. An archived edition is closed: readable by its participants, nothing more recorded.
 */
export function materialState(edition: Pick<EditionDoc, 'selfPaced' | 'startsAt' | 'materialOpensAt' | 'status'>, now = new Date()) {
  const opensAt = edition.selfPaced ? undefined : (edition.materialOpensAt ?? edition.startsAt);
  return {
    ...(opensAt && opensAt.getTime() > now.getTime() ? { opensAt } : {}),
    ...(edition.status === 'archived' ? { readOnly: true } : {}),
  };
}

/**
 * The enrolment plugin's answer to "may this person take this course, and in which edition?":
 * only people enrolled in one of the course's editions take it (in that edition); an edition's own
 * trainers see it as a preview; everyone else is told where they stand and where to enrol.
 */
export function createLearningAccess(service: EnrolmentService): LearningAccessProvider {
  return {
    async decide(user: SessionUser, course: CourseSummary, t: Translate): Promise<AccessDecision> {
      // The learner's own enrolments and their editions, by key; the course's other editions only
      // when they matter (a trainer's preview, where to enrol): this runs on every learner page.
      const mine = await service.memberships.enrolmentsOf({ userId: user.id }, course.id);
      const byId = await service.editionsById(mine.map((e) => e.editionId));
      // Enrolled in a live edition; with several (a repeat, a move), the one that started last.
      const enrolled = mine
        .filter((e) => e.status === 'enrolled' && ['published', 'archived'].includes(byId.get(e.editionId)?.status ?? ''))
        .sort(
          (a, b) =>
            (byId.get(b.editionId)!.startsAt?.getTime() ?? 0) - (byId.get(a.editionId)!.startsAt?.getTime() ?? 0) ||
            b.createdAt.getTime() - a.createdAt.getTime(),
        );
      if (enrolled[0]) {
        const edition = byId.get(enrolled[0].editionId)!;
        return { allowed: true, editionId: enrolled[0].editionId, ...materialState(edition), dueFrom: dueFrom(edition, enrolled[0]) };
      }

      const editions = await service.editionsOfCourse(course.id);
      const teaching = user.roles.includes('trainer') && editions.find((e) => e.trainerIds.includes(user.id) && e.status !== 'cancelled');
      if (teaching) return { allowed: true, editionId: teaching._id.toString(), preview: true };

      const href = `/enrolment/courses/${course.slug}`;
      const pending = mine.find((e) => e.status === 'pending');
      const applications = { href: '/enrolment/my', action: t('enrolment:access.seeApplications') };
      if (pending) return { allowed: false, reason: t('enrolment:access.pending', { edition: byId.get(pending.editionId)?.title ?? '' }), ...applications };
      const waiting = mine.find((e) => e.status === 'waitlisted');
      if (waiting) {
        const position = await service.waitlistPosition(waiting);
        return {
          allowed: false,
          reason: t('enrolment:access.waitlisted', { edition: byId.get(waiting.editionId)?.title ?? '', position }),
          ...applications,
        };
      }
      const offered = editions.some((e) => e.status === 'published');
      return {
        allowed: false,
        reason: t(offered ? 'enrolment:access.enrol' : 'enrolment:access.notOffered'),
        ...(offered ? { href, action: t('enrolment:access.seeEditions') } : {}),
      };
    },

    async coursesOf(user: SessionUser) {
      const mine = await service.memberships.enrolmentsOf({ userId: user.id });
      return mine.filter((e) => e.status === 'enrolled').map((e) => ({ courseId: e.courseId, editionId: e.editionId }));
    },
  };
}
