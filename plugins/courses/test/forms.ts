/**
 * Course-authoring form posts in tests: test/helpers/app.ts's postForm, with the CSRF token of the
 * page staff manage courses from unless another page is named.
 */
import { postForm } from '../../../test/helpers/app.ts';

/** Posts `fields` to `url` with the CSRF token of `page` (by default /courses/manage) and expects `status`. */
export function form(agent: Parameters<typeof postForm>[0], url: string, fields: Record<string, unknown>, status: number, page = '/courses/manage') {
  return postForm(agent, url, fields, page, status);
}
