/**
 * The courses tests' form posts: a form sent as the browser sends it (test/helpers/app.ts's
 * postForm, with the CSRF token of the page showing it), its answer's status checked.
 */
import { expect } from 'chai';
import { postForm } from '../../../test/helpers/app.ts';

/** Posts `fields` to `url` with the CSRF token of `page` (by default the course list staff manage) and expects `status`. */
export async function form(agent: Parameters<typeof postForm>[0], url: string, fields: Record<string, unknown>, status: number, page = '/courses/manage') {
  const res = await postForm(agent, url, fields, page);
  expect(res.status, `POST ${url}`).to.equal(status);
  return res;
}
