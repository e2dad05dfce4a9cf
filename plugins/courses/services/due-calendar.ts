/**
 * The due dates of a person's courses in their calendar ("My calendar" and its feed, the
 * enrolment plugin's `CalendarSources`): one all-day date per module or quiz with a due date, in
 * the courses the person takes, counted from their start as on the course's pages.
 */
import type { TFunction } from 'i18next';
import { localized, type SessionUser } from '../../../src/index.ts';
import type { CalendarDate, CalendarSource } from '../../enrolment/contract.ts';
import type { LearningAccessProvider, Translate } from '../contract.ts';
import { resolveAccess } from './access.ts';
import type { CourseService } from './courses.service.ts';
import { daysUntil, type DueDates } from './due-dates.ts';
import { mainLanguage } from './texts.ts';

export function dueCalendarSource(deps: {
  courses: CourseService;
  dueDates: DueDates;
  providers: () => readonly LearningAccessProvider[];
  activeCourses: (learnerId: string) => Promise<{ courseId: string; editionId: string }[]>;
}): CalendarSource {
  return {
    id: 'courses.due',
    async datesOf(person, t: TFunction, lang: string) {
      // The person as a learner: a calendar shows what they take, not what they teach or run.
      const user: SessionUser = { id: person.userId, email: person.email, name: '', roles: ['learner'] };
      const translate: Translate = (key, options) => String(t(key, options as never));
      const providers = deps.providers();
      const lister = providers.find((p) => p.coursesOf);
      const candidates = lister ? await lister.coursesOf!(user) : await deps.activeCourses(user.id);
      const dates: CalendarDate[] = [];
      const seen = new Set<string>();
      for (const { courseId, editionId } of candidates) {
        if (seen.has(courseId)) continue;
        seen.add(courseId);
        const course = await deps.courses.catalog.findById(courseId);
        if (!course) continue;
        // The edition the course's pages would use, and the start they count from.
        const access = await resolveAccess(user, course, providers, translate);
        if (access.mode !== 'learner' || !access.dueFrom || access.editionId !== editionId) continue;
        const standing = await deps.dueDates.standingOf(user.id, course.id, editionId, access.dueFrom);
        const courseName = localized(course.title, lang, mainLanguage(course));
        for (const d of standing.items) {
          const title = localized(d.title, lang, mainLanguage(course));
          const state = d.state === 'upcoming' ? translate('courses:due.inDays', { count: daysUntil(d.dueOn) }) : translate(`courses:due.state.${d.state}`);
          dates.push({
            // One person's date (self-paced editions count from each person's enrolment).
            uid: `due-${editionId}-${d.id}-${user.id}`,
            kind: 'due',
            kindLabel: translate('courses:calendar.kind'),
            start: d.dueOn,
            summary: translate(d.kind === 'quiz' ? 'courses:calendar.quizDue' : 'courses:calendar.moduleDue', { title, course: courseName }),
            description: `${translate('courses:calendar.courseOf', { course: courseName })}\n${state}`,
            path: d.kind === 'quiz' ? `/courses/${course.slug}/items/${d.id}/quiz` : `/courses/${course.slug}/modules/${d.id}`,
          });
        }
      }
      return dates;
    },
  };
}
