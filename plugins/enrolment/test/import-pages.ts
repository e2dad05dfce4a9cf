/**
 * Staff steps the enrolment tests share: an edition made through the edition form (postEdition,
 * used by enrolment.test.ts and notifications.test.ts too), and, for the import tests
 * (import.test.ts, import-languages.test.ts), an edition to import into and a file sent through
 * the import form.
 */
import { expect } from 'chai';
import { postForm, tokenFor } from '../../../test/helpers/app.ts';

type Agent = Parameters<typeof postForm>[0];

/** Creates an edition through the staff form with exactly these fields, checks the answer is a redirect (303) and returns the new edition's id. */
export async function postEdition(staff: Agent, fields: Record<string, unknown>): Promise<string> {
  const res = await postForm(staff, '/enrolment/manage/editions', fields, '/enrolment/manage/editions/new');
  expect(res.status, res.text.slice(0, 3000)).to.equal(303);
  return /editions\/([0-9a-f]{24})/.exec(res.headers.location as string)![1]!;
}

/**
 * Creates an edition of the course through the staff form: published, online, by invitation, in
 * English, open from 10 January 2026 to the end of 2099, unless `fields` say otherwise. Returns its id.
 */
export function createEdition(staff: Agent, courseId: string, fields: Record<string, unknown> = {}): Promise<string> {
  return postEdition(staff, {
    courseId,
    title: 'Import test edition',
    language: 'en',
    method: 'invitation',
    status: 'published',
    online: 'on',
    startsAt: '2026-01-10',
    endsAt: '2099-12-31',
    ...fields,
  });
}

/**
 * Uploads a file through the edition's import form (multipart, the CSRF token in the action URL),
 * as a person reading the pages in `lang` when one is given. Returns the answer unchecked.
 */
export async function uploadImport(agent: Agent, edition: string, name: string, bytes: Buffer | string, lang?: string) {
  const token = await tokenFor(agent, `/enrolment/manage/editions/${edition}/import`);
  const req = agent.post(`/enrolment/manage/editions/${edition}/import?_csrf=${encodeURIComponent(token)}`);
  if (lang !== undefined) req.set('Accept-Language', lang);
  return req.attach('file', typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes, { filename: name, contentType: 'text/csv' });
}
