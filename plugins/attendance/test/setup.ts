/**
 * What the attendance tests set up the same way: the seeded app with courses, enrolment,
 * certificates and attendance (and a probe that reads the certificates plugin's completion rules),
 * staff signed in; an in-person edition of five days made through the staff form; people enrolled
 * through the site, and one pre-enrolled by e-mail without an account.
 */
import { createTestApp, DEMO_PASSWORD, postForm, signIn, tokenFor, type TestApp } from '../../../test/helpers/app.ts';
import { defineService, definePlugin } from '../../../src/index.ts';
import { CompletionRules, type CompletionRule } from '../../certificates/contract.ts';
import certificates from '../../certificates/index.ts';
import { CourseCatalog } from '../../courses/contract.ts';
import courses from '../../courses/index.ts';
import enrolment from '../../enrolment/index.ts';
import { postEdition } from '../../enrolment/test/import-pages.ts';
import attendance from '../index.ts';

export type Agent = Awaited<ReturnType<typeof signIn>>;

/** The completion rules other plugins contribute, as the certificates plugin sees them. */
export const Rules = defineService<{ all(): readonly CompletionRule[] }>('probe.completionRules');
export const probe = definePlugin({
  name: 'probe',
  version: '1.0.0',
  register(ctx) {
    ctx.provide(Rules, { all: () => ctx.extensions(CompletionRules) });
  },
});

export interface World {
  t: TestApp;
  staff: Agent;
  courseId: string;
}

export async function startApp(label: string, options: { seed?: boolean } = {}): Promise<World> {
  const t = await createTestApp({ label, plugins: [courses, enrolment, certificates, attendance, probe], seed: options.seed ?? true });
  const staff = await signIn(t.app, 'staff@olive.example');
  const courseId = (await t.app.olive.service(CourseCatalog).findBySlug('interest-based-negotiation'))!.id;
  return { t, staff, courseId };
}

/** An in-person edition from 2 to 6 March 2027 in Geneva, open, taught by trainer@olive.example. Returns its id. */
export async function inPersonEdition(w: World, title: string, fields: Record<string, unknown> = {}): Promise<string> {
  const trainer = await w.t.app.olive.users.findByEmail('trainer@olive.example');
  return postEdition(w.staff, {
    courseId: w.courseId,
    title,
    language: 'en',
    method: 'open',
    status: 'published',
    place: 'Geneva',
    startsAt: '2027-03-02',
    endsAt: '2027-03-06',
    trainerIds: trainer!.id,
    ...fields,
  });
}

/** A new account enrolled in the edition through the site. */
export async function enrol(w: World, editionId: string, email: string, name: string) {
  await w.t.app.olive.users.create({ email, name, password: DEMO_PASSWORD }, 'test');
  const agent = await signIn(w.t.app, email);
  await postForm(agent, `/enrolment/editions/${editionId}/enrol`, {}, `/enrolment/editions/${editionId}`, 303);
  return { agent, email, enrolmentId: await enrolmentId(w, editionId, email) };
}

/** A person added by staff by e-mail only (no account). */
export async function preEnrol(w: World, editionId: string, email: string) {
  await postForm(w.staff, `/enrolment/manage/editions/${editionId}/people`, { email }, `/enrolment/manage/editions/${editionId}`, 303);
  return { email, enrolmentId: await enrolmentId(w, editionId, email) };
}

export async function enrolmentId(w: World, editionId: string, email: string): Promise<string> {
  const row = await w.t.app.olive.connection.db!.collection('enrolment_enrolment').findOne({ editionId, email });
  return String(row!._id);
}

/** The grid form's fields as the page wrote them, to post back with some cells changed. */
export function gridForm(html: string) {
  const hidden = (name: string) => [...html.matchAll(new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`, 'g'))].map((m) => m[1]!);
  const checked = [...html.matchAll(/<input type=checkbox name=c value=([\d.]+) [^>]*?( checked)?>/g)].filter((m) => m[2]).map((m) => m[1]!);
  return { s: hidden('s'), e: hidden('e'), w: hidden('w')[0] ?? '', page: hidden('page')[0], checked };
}

/** Posts the grid: `cells` are the boxes ticked when sending (others unticked), against what `form` showed. */
export async function postGrid(agent: Agent, editionId: string, form: ReturnType<typeof gridForm>, cells: string[], token?: string) {
  return agent
    .post(`/attendance/editions/${editionId}/marks`)
    .type('form')
    .send(
      new URLSearchParams([
        ['_csrf', token ?? (await tokenFor(agent, `/attendance/editions/${editionId}`))],
        ['w', form.w],
        ...(form.page ? [['page', form.page]] : []),
        ...form.s.map((s) => ['s', s]),
        ...form.e.map((e) => ['e', e]),
        ...cells.map((c) => ['c', c]),
      ]).toString(),
    );
}
