/**
 * The catalogue's kind and date filters, answered where the data lives: a course passes when one
 * of its published editions does, by the same rule the open-editions page filters with
 * (`editionMatches`). Without a start day asked for, only editions that have not ended count (the
 * catalogue finds courses one can still take), unless the end day asked for is already past.
 */
import type { CourseOfferingsProvider } from '../../courses/contract.ts';
import { editionMatches } from './edition-filters.ts';
import type { EnrolmentService } from './enrolment.service.ts';

const DAY = 24 * 3600 * 1000;

export function createCourseOfferings(service: Pick<EnrolmentService, 'publishedEditions'>, now: () => Date = () => new Date()): CourseOfferingsProvider {
  return {
    async matching(courseIds, { kind, from, to }) {
      const wanted = new Set(courseIds);
      const today = new Date(Math.floor(now().getTime() / DAY) * DAY);
      const filter = { q: '', lang: '', kind: kind ?? ('' as const), from: from ?? (to && to < today ? undefined : today), to };
      const found = new Set<string>();
      for (const edition of await service.publishedEditions()) {
        if (wanted.has(edition.courseId) && !found.has(edition.courseId) && editionMatches(filter, edition, '')) found.add(edition.courseId);
      }
      return found;
    },
  };
}
