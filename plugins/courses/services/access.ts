import type { SessionUser } from '../../../src/index.ts';
import { OPEN_EDITION, type CourseSummary, type LearningAccessProvider, type Translate } from '../contract.ts';
import { canEdit } from './courses.service.ts';

export type CourseAccess =
  /**
   * Takes the course in this edition: progress is recorded. `opensAt`: its material opens then
   * (the pages refuse until that moment); `readOnly`: a closed edition, readable, nothing recorded.
   */
  | { mode: 'learner'; editionId: string; opensAt?: Date | undefined; readOnly?: boolean | undefined; dueFrom?: Date | undefined }
  /** The course's trainers, staff and admins: they see everything, nothing is recorded. */
  | { mode: 'preview' }
  | { mode: 'denied'; reason: string; href?: string | undefined; action?: string | undefined }
  /** Drafts and archived courses do not exist for learners. */
  | { mode: 'hidden' };

/**
 * Decides what a person may do with a course. Editors preview; learners need a published course
 * and the word of the first access provider (the enrolment plugin) that has one; with no provider
 * deciding, a published course is open to everyone signed in, in its always-open edition.
 */
export async function resolveAccess(
  user: SessionUser,
  course: CourseSummary,
  providers: readonly LearningAccessProvider[],
  t: Translate,
): Promise<CourseAccess> {
  if (canEdit(user, course)) return { mode: 'preview' };
  if (course.status !== 'published') return { mode: 'hidden' };
  for (const provider of providers) {
    const decision = await provider.decide(user, course, t);
    if (!decision) continue;
    if (!decision.allowed) return { mode: 'denied', reason: decision.reason, href: decision.href, action: decision.action };
    if (decision.preview) return { mode: 'preview' };
    return {
      mode: 'learner',
      editionId: decision.editionId,
      ...(decision.opensAt && decision.opensAt.getTime() > Date.now() ? { opensAt: decision.opensAt } : {}),
      ...(decision.readOnly ? { readOnly: true } : {}),
      ...(decision.dueFrom ? { dueFrom: decision.dueFrom } : {}),
    };
  }
  return { mode: 'learner', editionId: OPEN_EDITION };
}
