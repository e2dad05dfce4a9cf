/**
 * Accessibility of every main page, in Chromium: an axe-core scan (WCAG 2.1 A and AA rules) of each
 * page as the person who uses it, failing on any serious or critical violation, and a few key flows
 * done with the keyboard alone (Tab, Shift+Tab, Enter, Space, typing), with the focus visible at
 * every step (drawn, and at least 3:1 against its surroundings) and the skip link taking the focus
 * to the content. Also: no page scrolls sideways at 320 px wide (WCAG 1.4.10).
 *
 * axe-core is injected into each page; the contexts bypass the app's CSP for that (test only).
 * Runs on the plugin set of the composition root (olive.config.ts) with the demo data.
 *
 * A handful of the main pages are scanned again in Arabic (right to left) and one in Chinese: the
 * same rules, with each page's texts, directions and languages as their readers get them.
 *
 * Over 400 lines: one browser and one seeded app serve every page scanned.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import mongoose from 'mongoose';
import type { BrowserContext, Page } from 'playwright-core';
import config from '../../olive.config.ts';
import { DEMO_PASSWORD } from '../helpers/app.ts';
import { useBrowserApp } from '../helpers/browser.ts';

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
/** How long a bulk certificate job waits after each person here (its running page must be seen). */
const JOB_PAUSE_MS = 4000;

type Role = 'public' | 'learner' | 'trainer' | 'staff' | 'admin';
const ACCOUNTS: Record<Exclude<Role, 'public'>, string> = {
  learner: 'learner@olive.example',
  trainer: 'trainer@olive.example',
  staff: 'staff@olive.example',
  admin: 'admin@olive.example',
};

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/** Ids of demo records the pages need, read from the database once the demo data is in. */
interface Ids {
  courseId: string;
  moduleId: string;
  quizItemId: string;
  lessonItemId: string;
  lastModuleId: string;
  selfPacedEditionId: string;
  fellowshipEditionId: string;
  enrolmentId: string;
  certificateCode: string;
  templateId: string;
  learnerId: string;
}

/** The main pages, each visited as the person it is for. */
const PAGES: { role: Role; name: string; path: (ids: Ids) => string }[] = [
  // Anyone
  { role: 'public', name: 'home', path: () => '/' },
  { role: 'public', name: 'sign-in', path: () => '/login' },
  { role: 'public', name: 'course catalogue', path: () => '/courses' },
  { role: 'public', name: 'course outline (signed out)', path: () => '/courses/conflict-analysis' },
  { role: 'public', name: 'verify a certificate', path: () => '/verify' },
  { role: 'public', name: 'a verification result', path: (ids) => `/verify/${ids.certificateCode}` },
  { role: 'public', name: 'forgot password', path: () => '/account/forgot' },
  // Learners
  { role: 'learner', name: 'home dashboard', path: () => '/' },
  { role: 'learner', name: 'My learning', path: () => '/enrolment/my' },
  { role: 'learner', name: 'course catalogue', path: () => '/courses' },
  { role: 'learner', name: 'course outline', path: () => '/courses/conflict-analysis' },
  { role: 'learner', name: 'module page', path: (ids) => `/courses/conflict-analysis/modules/${ids.moduleId}` },
  { role: 'learner', name: 'quiz', path: (ids) => `/courses/conflict-analysis/items/${ids.quizItemId}/quiz` },
  { role: 'learner', name: 'editions of a course', path: () => '/enrolment/courses/interest-based-negotiation' },
  { role: 'learner', name: 'edition page (enrolled)', path: (ids) => `/enrolment/editions/${ids.selfPacedEditionId}` },
  { role: 'learner', name: 'withdraw from an edition', path: (ids) => `/enrolment/editions/${ids.selfPacedEditionId}/withdraw` },
  { role: 'learner', name: 'name on certificates', path: () => '/certificates/name' },
  { role: 'learner', name: 'account', path: () => '/account' },
  { role: 'learner', name: 'e-mail notifications', path: () => '/account/notifications' },
  { role: 'learner', name: 'announcements', path: () => '/announcements' },
  // Trainers
  { role: 'trainer', name: 'courses to manage', path: () => '/courses/manage' },
  { role: 'trainer', name: 'course authoring', path: () => '/courses/manage/conflict-analysis' },
  { role: 'trainer', name: 'module editor', path: (ids) => `/courses/manage/conflict-analysis/modules/${ids.moduleId}` },
  { role: 'trainer', name: 'item editor (lesson)', path: (ids) => `/courses/manage/conflict-analysis/items/${ids.lessonItemId}` },
  { role: 'trainer', name: 'item editor (quiz)', path: (ids) => `/courses/manage/conflict-analysis/items/${ids.quizItemId}` },
  { role: 'trainer', name: 'confirm deleting an item', path: (ids) => `/courses/manage/conflict-analysis/items/${ids.lessonItemId}/delete` },
  // Programme staff
  { role: 'staff', name: 'editions', path: () => '/enrolment/manage' },
  { role: 'staff', name: 'edition page with applications', path: (ids) => `/enrolment/manage/editions/${ids.fellowshipEditionId}` },
  { role: 'staff', name: 'edition form', path: (ids) => `/enrolment/manage/editions/${ids.fellowshipEditionId}/edit` },
  { role: 'staff', name: 'new edition form', path: () => '/enrolment/manage/editions/new' },
  { role: 'staff', name: 'roster', path: (ids) => `/enrolment/manage/editions/${ids.selfPacedEditionId}/roster` },
  { role: 'staff', name: 'one enrolment', path: (ids) => `/enrolment/manage/enrolments/${ids.enrolmentId}` },
  { role: 'staff', name: 'reports', path: () => '/enrolment/reports' },
  { role: 'staff', name: 'bulk import', path: (ids) => `/enrolment/manage/editions/${ids.selfPacedEditionId}/import` },
  { role: 'staff', name: 'certificates', path: () => '/certificates' },
  { role: 'staff', name: 'certificates of an edition', path: (ids) => `/certificates/editions/${ids.selfPacedEditionId}` },
  { role: 'staff', name: 'one certificate', path: (ids) => `/certificates/c/${ids.certificateCode}/manage` },
  { role: 'staff', name: 'certificate templates', path: () => '/certificates/templates' },
  { role: 'staff', name: 'template editor', path: (ids) => `/certificates/templates/${ids.templateId}` },
  { role: 'staff', name: 'new template form', path: () => '/certificates/templates/new' },
  { role: 'staff', name: 'new announcement', path: () => '/announcements/new' },
  // Administrators
  { role: 'admin', name: 'users', path: () => '/admin/users' },
  { role: 'admin', name: 'one person', path: (ids) => `/admin/users/${ids.learnerId}` },
  { role: 'admin', name: 'mail', path: () => '/admin/mail' },
  { role: 'admin', name: 'background jobs', path: () => '/admin/jobs' },
  { role: 'admin', name: 'certificates audit log', path: () => '/certificates/audit' },
  { role: 'admin', name: 'single sign-on', path: () => '/auth/saml/admin' },
];

/**
 * Main pages in another interface language than English: most in Arabic, written right to left,
 * one in Chinese. A few of each kind (forms, tables, charts, course content in another language).
 */
const OTHER_LANGUAGE_PAGES: { lang: 'ar' | 'zh'; role: Role; name: string; path: (ids: Ids) => string }[] = [
  { lang: 'ar', role: 'public', name: 'sign-in', path: () => '/login' },
  { lang: 'ar', role: 'public', name: 'a verification result', path: (ids) => `/verify/${ids.certificateCode}` },
  { lang: 'ar', role: 'learner', name: 'home dashboard', path: () => '/' },
  { lang: 'ar', role: 'learner', name: 'course outline', path: () => '/courses/conflict-analysis' },
  { lang: 'ar', role: 'learner', name: 'module page', path: (ids) => `/courses/conflict-analysis/modules/${ids.moduleId}` },
  { lang: 'ar', role: 'learner', name: 'quiz', path: (ids) => `/courses/conflict-analysis/items/${ids.quizItemId}/quiz` },
  { lang: 'ar', role: 'learner', name: 'My learning', path: () => '/enrolment/my' },
  { lang: 'ar', role: 'staff', name: 'roster', path: (ids) => `/enrolment/manage/editions/${ids.selfPacedEditionId}/roster` },
  { lang: 'ar', role: 'staff', name: 'reports', path: () => '/enrolment/reports' },
  { lang: 'ar', role: 'staff', name: 'template editor', path: (ids) => `/certificates/templates/${ids.templateId}` },
  { lang: 'ar', role: 'admin', name: 'users', path: () => '/admin/users' },
  { lang: 'zh', role: 'public', name: 'course catalogue', path: () => '/courses' },
];

/** Runs axe-core (WCAG 2.1 A/AA) on the page and returns its serious and critical violations. */
async function seriousViolations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async (tags) => {
    const axe = (window as unknown as { axe: { run(ctx: Document, options: object): Promise<{ violations: Violation[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  }, WCAG_21_AA);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

function describeViolations(where: string, violations: Violation[]): string {
  return violations
    .map((v) =>
      [
        `${where}: ${v.id} (${v.impact}) ${v.help} <${v.helpUrl}>`,
        ...v.nodes.slice(0, 10).map((n) => `    ${n.target.join(' ')}${n.failureSummary ? `\n      ${n.failureSummary.replace(/\n/g, '\n      ')}` : ''}`),
        ...(v.nodes.length > 10 ? [`    … and ${v.nodes.length - 10} more`] : []),
      ].join('\n'),
    )
    .join('\n');
}

/** Asserts that the page has no serious or critical violation, listing each one found. */
async function expectAccessible(page: Page, where: string) {
  const violations = await seriousViolations(page);
  expect(violations, `axe-core found serious or critical violations:\n${describeViolations(where, violations)}\n`).to.deep.equal([]);
}

/**
 * What the keyboard focus is on, and whether a sighted person can see where it is: on screen, matched
 * by :focus-visible, drawn with an outline or a shadow, and an outline that stands out at least 3:1
 * from what is around it (WCAG 2.1, 1.4.11), measured against the colour found just outside it.
 */
async function focused(page: Page): Promise<Focus> {
  return page.evaluate(FOCUS_PROBE) as Promise<Focus>;
}

interface Focus {
  tag: string;
  text: string;
  id: string;
  name: string;
  visible: boolean;
  indicated: boolean;
  focusVisible: boolean;
  inMain: boolean;
  value: string;
  outlineContrast: number;
}

// Plain JavaScript, given as a string: code compiled by tsx carries helpers (__name) the page lacks.
const FOCUS_PROBE = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return { tag: 'body', text: '', id: '', name: '', visible: false, indicated: false, focusVisible: false, inMain: false, value: '', outlineContrast: 0 };
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow !== 'none';
  const rgb = (css) => { const m = /rgba?\\(([\\d.]+), ([\\d.]+), ([\\d.]+)(?:, ([\\d.]+))?\\)/.exec(css); return m ? { c: [m[1], m[2], m[3]].map(Number), a: m[4] === undefined ? 1 : Number(m[4]) } : null; };
  const luminance = (c) => { const [r, g, b] = c.map((v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let outlineContrast = 0;
  if (outline) {
    // The colour the outline is drawn on: the first painted background under a point just outside it.
    const reach = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth) + 1;
    const x = rect.right + reach < innerWidth ? rect.right + reach : rect.left - reach;
    const y = Math.min(Math.max(rect.top + rect.height / 2, 0), innerHeight - 1);
    let around = [255, 255, 255];
    for (const under of document.elementsFromPoint(x, y)) {
      if (under === el || el.contains(under)) continue;
      const bg = rgb(getComputedStyle(under).backgroundColor);
      if (bg && bg.a > 0) { around = bg.c; break; }
    }
    const [hi, lo] = [luminance(rgb(style.outlineColor).c), luminance(around)].sort((p, q) => q - p);
    outlineContrast = Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100;
  }
  return {
    tag: el.tagName.toLowerCase(),
    text: (el.textContent || '').trim().replace(/\\s+/g, ' '),
    id: el.id,
    name: el.getAttribute('name') || '',
    visible: rect.width > 0 && rect.height > 0 && rect.right > 0 && rect.bottom > 0 && rect.left < innerWidth,
    indicated: outline || shadow,
    focusVisible: el.matches(':focus-visible'),
    inMain: !!el.closest('main'),
    value: 'value' in el ? String(el.value) : '',
    outlineContrast,
  };
})()`;

/** Fails unless the focus can be seen where it is. */
function expectVisibleFocus(f: Focus, where: string) {
  expect(f.focusVisible && f.visible && f.indicated, `focus not visible on ${where}`).to.equal(true);
  if (f.outlineContrast) expect(f.outlineContrast, `focus outline contrast on ${where}`).to.be.at.least(3);
}

/**
 * Presses Tab (or Shift+Tab) until the focus is on the element `wanted` describes, checking at every
 * stop that the focus is visible; fails if it does not get there within `max` presses.
 */
async function tabTo(page: Page, wanted: (f: Focus) => boolean, what: string, { max = 80, backwards = false } = {}): Promise<Focus> {
  const path: string[] = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
    const f = await focused(page);
    path.push(`${f.tag}${f.id ? `#${f.id}` : ''} "${f.text.slice(0, 40)}"`);
    if (f.tag === 'body') continue;
    expectVisibleFocus(f, `${path.at(-1)} (on the way to ${what})`);
    if (wanted(f)) return f;
  }
  throw new Error(`could not reach ${what} with the keyboard; focus went through:\n  ${path.join('\n  ')}`);
}

/** How far the page scrolls sideways, and the outermost elements that stick out of it. */
const WIDEST_ELEMENTS = `(() => {
  const width = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > width + 1);
  const outermost = out.filter((e) => !out.includes(e.parentElement));
  return {
    overflow: document.documentElement.scrollWidth - width,
    culprits: outermost.slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '') + ' "' + (e.textContent || '').trim().slice(0, 30) + '"'),
  };
})()`;

/** Presses a key that submits a form, and waits for the page that answers. */
async function pressAndLoad(page: Page, key: string) {
  const loaded = page.waitForEvent('load');
  await page.keyboard.press(key);
  await loaded;
}

describe('accessibility: axe-core scans and the keyboard, in Chromium', function () {
  this.timeout(60_000);
  // A bulk certificate job waits after each person, so its page is always seen (and scanned) while it runs.
  const pluginConfig = { ...config.pluginConfig, certificates: { ...(config.pluginConfig?.certificates as object), jobPauseMs: JOB_PAUSE_MS } };
  const env = useBrowserApp({ plugins: config.plugins, pluginConfig, label: 'a11y' });
  const ids = {} as Ids;
  const contexts = new Map<Role, { context: BrowserContext; page: Page }>();

  /** A browser context (its own cookies) for one person, signed in through the form; CSP bypassed so axe can be injected. */
  async function newContext(email?: string) {
    const context = await env.browser.newContext({ bypassCSP: true });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    if (email) {
      await page.goto(`${env.url}/login`);
      await page.getByLabel('E-mail address').fill(email);
      await page.getByLabel('Password').fill(DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${env.url}/`);
    }
    return { context, page };
  }

  async function pageAs(role: Role): Promise<Page> {
    let entry = contexts.get(role);
    if (!entry) {
      entry = await newContext(role === 'public' ? undefined : ACCOUNTS[role]);
      contexts.set(role, entry);
    }
    return entry.page;
  }

  /** Opens a page and checks it is the one asked for (not an error page or a sign-in redirect). */
  async function open(page: Page, path: string) {
    const response = await page.goto(`${env.url}${path}`);
    expect(response?.status(), `GET ${path}`).to.equal(200);
    expect(new URL(page.url()).pathname, `GET ${path} was redirected`).to.equal(new URL(`${env.url}${path}`).pathname);
  }

  before(async () => {
    const db = env.app.olive.connection.db!;
    const course = await db.collection('courses_course').findOne({ slug: 'conflict-analysis' });
    const courseId = course!._id;
    const modules = await db.collection('courses_module').find({ courseId }).sort({ position: 1 }).toArray();
    const items = await db.collection('courses_item').find({ courseId }).toArray();
    const quiz = items.find((i) => i.type === 'quiz')!;
    // The module with the quiz also has lessons: the module page and its editor show several kinds of item.
    const lesson = items.find((i) => i.type === 'lesson' && String(i.moduleId) === String(quiz.moduleId)) ?? items.find((i) => i.type === 'lesson')!;
    const editions = await db.collection('enrolment_edition').find({}).toArray();
    const selfPaced = editions.find((e) => e.selfPaced && e.courseId === String(courseId))!;
    const fellowship = editions.find((e) => e.method === 'application')!;
    const enrolment = await db.collection('enrolment_enrolment').findOne({ editionId: String(fellowship._id), status: 'pending' });
    const certificate = await db.collection('certificates_certificate').findOne({});
    const template = await db.collection('certificates_template').findOne({});
    Object.assign(ids, {
      courseId: String(courseId),
      moduleId: String(quiz.moduleId ?? modules[0]!._id),
      quizItemId: String(quiz._id),
      lessonItemId: String(lesson._id),
      lastModuleId: String(modules.at(-1)!._id),
      selfPacedEditionId: String(selfPaced._id),
      fellowshipEditionId: String(fellowship._id),
      enrolmentId: String(enrolment!._id),
      certificateCode: String(certificate!._id),
      templateId: String(template!._id),
      learnerId: String((await env.app.olive.users.findByEmail('learner@olive.example'))!.id),
    } satisfies Ids);
  });

  after(async () => {
    for (const { context } of contexts.values()) await context.close();
  });

  describe('every main page passes axe-core (WCAG 2.1 A and AA, no serious or critical violations)', () => {
    for (const { role, name, path } of PAGES) {
      it(`${role}: ${name}`, async () => {
        const page = await pageAs(role);
        await open(page, path(ids));
        await expectAccessible(page, `${role} ${path(ids)}`);
      });
    }

    it('staff: a certificate job page, while it runs and once finished', async () => {
      const page = await pageAs('staff');
      await open(page, `/certificates/editions/${ids.selfPacedEditionId}`);
      // A bulk issuance for one chosen person starts a job and shows its page.
      await page.locator('input[name="enrolmentIds"]').first().check();
      await page.getByRole('button', { name: 'Issue to the people ticked' }).click();
      await page.waitForURL(/\/certificates\/jobs\/[0-9a-f]{24}$/);
      const path = new URL(page.url()).pathname;
      expect(await page.locator('#state').textContent(), 'the job page shows the job running').to.equal('In progress');
      expect(await page.locator('a[download]').count(), 'no ZIP while it runs').to.equal(0);
      const found = await seriousViolations(page);
      const report = describeViolations(`staff ${path} (running)`, found);
      // Reloads until the ZIP link shows (the job has finished), then scans that state too.
      const deadline = Date.now() + JOB_PAUSE_MS + 20_000;
      while (Date.now() < deadline && (await page.locator('a[download]').count()) === 0) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        await open(page, path);
      }
      expect(await page.locator('a[download]').count(), 'the job did not finish').to.be.greaterThan(0);
      const finished = await seriousViolations(page);
      expect(
        [...found, ...finished],
        `axe-core found serious or critical violations:\n${[report, describeViolations(`staff ${path} (finished)`, finished)].filter(Boolean).join('\n')}\n`,
      ).to.deep.equal([]);
    });

    it('staff: a bulk import preview with refused rows', async () => {
      const page = await pageAs('staff');
      await open(page, `/enrolment/manage/editions/${ids.selfPacedEditionId}/import`);
      await page.getByLabel('CSV file').setInputFiles({
        name: 'people.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from(
          'email,given name,family name,country,gender,role\ngood.one@example.org,Good,One,Kenya,woman,learner\nnot-an-address,No,Address,Kenya,woman,learner\n',
        ),
      });
      await page.getByRole('button', { name: /upload/i }).click();
      await page.waitForURL(/\/import\/[0-9a-f]{24}$/);
      await expectAccessible(page, `staff ${new URL(page.url()).pathname}`);
    });

    it('learner: a quiz result', async () => {
      const page = await pageAs('learner');
      await open(page, `/courses/conflict-analysis/items/${ids.quizItemId}/quiz`);
      for (const group of await page.locator('fieldset').all()) await group.locator('input').first().check();
      await page.locator('form[action$="/quiz"] button[type="submit"]').click();
      expect(
        await page
          .getByRole('status')
          .filter({ hasText: /^\s*You scored/ })
          .count(),
      ).to.equal(1);
      await expectAccessible(page, 'learner POST quiz');
    });

    it('learner: an edition page with the application form, then with its errors', async () => {
      const { context, page } = await newContext('ana.ruiz@olive.example');
      await open(page, `/enrolment/editions/${ids.fellowshipEditionId}`);
      expect(await page.getByRole('button', { name: 'Send my application' }).count()).to.equal(1);
      await expectAccessible(page, `learner /enrolment/editions/${ids.fellowshipEditionId} (application form)`);
      // The browser's own checks stop an empty form first; turned off, the server's messages show.
      await page.locator('form[action$="/apply"]').evaluate((form) => {
        (form as HTMLFormElement).noValidate = true;
      });
      await page.getByRole('button', { name: 'Send my application' }).click();
      expect(await page.getByRole('alert').count()).to.be.greaterThan(0);
      expect(await page.locator('[aria-invalid="true"]').count()).to.be.greaterThan(0);
      await expectAccessible(page, `learner POST /enrolment/editions/${ids.fellowshipEditionId}/apply (errors)`);
      await context.close();
    });

    it('public: a sign-in refused, with its error message', async () => {
      const { context, page } = await newContext();
      await page.goto(`${env.url}/login`);
      await page.getByLabel('E-mail address').fill('learner@olive.example');
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      expect(await page.getByRole('alert').count()).to.be.greaterThan(0);
      await expectAccessible(page, 'public POST /login (refused)');
      await context.close();
    });

    it('the scan does catch violations (a planted unlabelled field and low-contrast text fail it)', async () => {
      const page = await pageAs('public');
      await open(page, '/');
      await page.evaluate(() => {
        document
          .querySelector('main')!
          .insertAdjacentHTML('beforeend', '<input type="text" id="planted-field"><p id="planted-text" style="color:#ccc;background:#fff">faint</p>');
      });
      const found = await seriousViolations(page);
      expect(found.map((v) => v.id)).to.include.members(['label', 'color-contrast']);
    });
  });

  describe('on a screen 320 px wide (WCAG 1.4.10, reflow)', () => {
    it('no main page scrolls sideways', async () => {
      const problems: string[] = [];
      for (const { role, path } of PAGES) {
        const page = await pageAs(role);
        await page.setViewportSize({ width: 320, height: 640 });
        try {
          await open(page, path(ids));
          const wide = (await page.evaluate(WIDEST_ELEMENTS)) as { overflow: number; culprits: string[] };
          if (wide.overflow > 0) problems.push(`${role} ${path(ids)}: the page scrolls sideways by ${wide.overflow} px (${wide.culprits.join('; ')})`);
        } finally {
          await page.setViewportSize({ width: 1280, height: 720 });
        }
      }
      expect(problems, problems.join('\n')).to.deep.equal([]);
    });

    it('tables that scroll sideways can be scrolled with the keyboard (axe-core)', async () => {
      const wide: [Role, string][] = [
        ['staff', `/enrolment/manage/editions/${ids.selfPacedEditionId}/roster`],
        ['staff', '/enrolment/reports'],
        ['staff', `/certificates/editions/${ids.selfPacedEditionId}`],
        ['staff', '/enrolment/manage'],
        ['admin', '/admin/users'],
        ['admin', '/certificates/audit'],
        ['admin', '/admin/jobs'],
      ];
      const problems: string[] = [];
      for (const [role, path] of wide) {
        const page = await pageAs(role);
        await page.setViewportSize({ width: 320, height: 640 });
        try {
          await open(page, path);
          const violations = await seriousViolations(page);
          if (violations.length) problems.push(describeViolations(`${role} ${path} (320 px wide)`, violations));
        } finally {
          await page.setViewportSize({ width: 1280, height: 720 });
        }
      }
      expect(problems, `axe-core found serious or critical violations:\n${problems.join('\n')}\n`).to.deep.equal([]);
    });
  });

  describe('in Arabic (right to left) and in Chinese, the main pages pass axe-core too', () => {
    const inLanguage = new Map<string, { context: BrowserContext; page: Page }>();

    /** Chooses the interface language as a person does (the footer's form): their account keeps it. */
    async function chooseLanguage(page: Page, lang: string) {
      await page.goto(`${env.url}/`);
      const token = await page.locator('input[name="_csrf"]').first().inputValue();
      const res = await page.request.post(`${env.url}/language`, { form: { lang, returnTo: '/', _csrf: token }, maxRedirects: 0 });
      expect(res.status(), `choosing ${lang}`).to.equal(303);
    }

    /** One context per language and person (an account holds one language: Arabic and Chinese never share one). */
    async function pageIn(lang: string, role: Role): Promise<Page> {
      let entry = inLanguage.get(`${lang}:${role}`);
      if (!entry) {
        entry = await newContext(role === 'public' ? undefined : ACCOUNTS[role]);
        await chooseLanguage(entry.page, lang);
        inLanguage.set(`${lang}:${role}`, entry);
      }
      return entry.page;
    }

    after(async () => {
      // Back to English for the accounts (the demo learner's own choice; the others had none).
      for (const [key, { context, page }] of inLanguage) {
        if (!key.endsWith(':public')) await chooseLanguage(page, 'en');
        await context.close();
      }
    });

    for (const { lang, role, name, path } of OTHER_LANGUAGE_PAGES) {
      it(`${lang}, ${role}: ${name}`, async () => {
        const page = await pageIn(lang, role);
        await open(page, path(ids));
        expect(await page.evaluate(() => [document.documentElement.lang, document.documentElement.dir])).to.deep.equal([lang, lang === 'ar' ? 'rtl' : 'ltr']);
        await expectAccessible(page, `${lang} ${role} ${path(ids)}`);
      });
    }
  });

  describe('usable with the keyboard alone, the focus always visible', () => {
    /** Tab from the top of a fresh page: the skip link comes first, and Enter on it moves the focus to the content. */
    async function skipToContent(page: Page) {
      await page.keyboard.press('Tab');
      const skip = await focused(page);
      expect(skip.text).to.equal('Skip to main content');
      expectVisibleFocus(skip, 'the skip link');
      await page.keyboard.press('Enter');
      expect(await page.evaluate(() => document.activeElement?.id)).to.equal('main');
    }

    it('every stop of a full page shows the focus: header, content and footer (staff home)', async () => {
      const page = await pageAs('staff');
      await open(page, '/');
      // From the skip link to the footer's language button, the last control of the page.
      const stops: Focus[] = [];
      const last = await tabTo(
        page,
        (f) => {
          stops.push(f);
          return f.tag === 'button' && f.text === 'Change';
        },
        'the language button',
        { max: 150 },
      );
      expect(stops[0]!.text).to.equal('Skip to main content');
      expect(stops.filter((f) => !f.inMain).length, 'header and footer stops').to.be.greaterThan(5);
      expect(stops.filter((f) => f.inMain).length, 'content stops').to.be.greaterThan(0);
      expect(last.inMain).to.equal(false);
    });

    it('signs in: skip link, e-mail, password, Enter', async () => {
      const { context, page } = await newContext();
      await page.goto(`${env.url}/login`);
      await skipToContent(page);
      // The first stop after the skip link is the first field of the form, not the header's links.
      await page.keyboard.press('Tab');
      expect((await focused(page)).id).to.equal('email');
      await page.keyboard.type('learner@olive.example');
      await tabTo(page, (f) => f.id === 'password', 'the password field', { max: 1 });
      await page.keyboard.type(DEMO_PASSWORD);
      // Shift+Tab goes back to the e-mail field with what was typed, Tab returns.
      expect((await tabTo(page, (f) => f.id === 'email', 'the e-mail field', { max: 1, backwards: true })).value).to.equal('learner@olive.example');
      await tabTo(page, (f) => f.id === 'password', 'the password field', { max: 1 });
      await tabTo(page, (f) => f.tag === 'button' && f.text === 'Sign in', 'the Sign in button', { max: 1 });
      await pressAndLoad(page, 'Enter');
      expect(page.url()).to.equal(`${env.url}/`);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Welcome, Leila Haddad');
      await context.close();
    });

    it('a learner marks a lesson as done', async () => {
      const page = await pageAs('learner');
      await open(page, `/courses/conflict-analysis/modules/${ids.lastModuleId}`);
      await skipToContent(page);
      await tabTo(page, (f) => f.tag === 'button' && f.text === 'Mark as done', 'a “Mark as done” button');
      const itemId = await page.evaluate(() => document.activeElement!.closest('li.card')!.id);
      await pressAndLoad(page, 'Space');
      expect(new URL(page.url()).hash).to.equal(`#${itemId}`);
      expect(await page.getByRole('status').textContent()).to.match(/done/i);
      expect(await page.locator(`#${itemId} .badge-done`).textContent()).to.equal('Done');
      expect(await page.locator(`#${itemId} button`, { hasText: 'Mark as done' }).count()).to.equal(0);
    });

    it('a learner applies to an edition, and staff accept the application', async () => {
      const { context, page } = await newContext('joseph.mwangi@olive.example');
      await open(page, `/enrolment/editions/${ids.fellowshipEditionId}`);
      await skipToContent(page);
      await tabTo(page, (f) => f.id === 'motivation', 'the motivation field');
      await page.keyboard.type('I coordinate the mediation support unit and want to design better processes for the region.');
      await tabTo(page, (f) => f.id === 'answer_role', 'the first question', { max: 1 });
      await page.keyboard.type('Senior mediation adviser at the IGAD Mediation Support Unit.');
      await tabTo(page, (f) => f.id === 'organisationType', 'the kind of organisation');
      await page.keyboard.type('Regional');
      await tabTo(page, (f) => f.id === 'country', 'the country');
      await page.keyboard.type('Kenya');
      await tabTo(page, (f) => f.id === 'gender', 'the gender', { max: 1 });
      await page.keyboard.type('Man');
      expect(
        await page.evaluate(() => ['organisationType', 'country', 'gender'].map((id) => (document.getElementById(id) as HTMLSelectElement).value)),
      ).to.deep.equal(['regional-organisation', 'KE', 'man']);
      await tabTo(page, (f) => f.tag === 'button' && f.text === 'Send my application', 'the send button', { max: 1 });
      await pressAndLoad(page, 'Enter');
      expect(await page.getByRole('status').allTextContents()).to.deep.include('Your application is sent. You will find the decision under My learning.');
      await context.close();

      const db = env.app.olive.connection.db!;
      const application = await db.collection('enrolment_enrolment').findOne({ editionId: ids.fellowshipEditionId, email: 'joseph.mwangi@olive.example' });
      expect(application?.status).to.equal('pending');
      const fellowship = await db.collection('enrolment_edition').findOne({ _id: new mongoose.Types.ObjectId(ids.fellowshipEditionId) });
      const seated = await db.collection('enrolment_enrolment').countDocuments({ editionId: ids.fellowshipEditionId, status: 'enrolled' });

      const staff = await pageAs('staff');
      await open(staff, `/enrolment/manage/editions/${ids.fellowshipEditionId}`);
      await skipToContent(staff);
      await tabTo(staff, (f) => f.id === `message-${application!._id}`, 'the message to the applicant', { max: 300 });
      await staff.keyboard.type('Welcome to the Fellowship!');
      await tabTo(staff, (f) => f.tag === 'button' && f.text === 'Accept', 'the Accept button', { max: 1 });
      await pressAndLoad(staff, 'Enter');
      // Accepted: a seat if one is left, else the waiting list (the demo Fellowship is full).
      const decided = await db.collection('enrolment_enrolment').findOne({ _id: application!._id });
      expect(decided?.status).to.equal(seated < fellowship!.capacity ? 'enrolled' : 'waitlisted');
      expect(decided?.decisionMessage).to.equal('Welcome to the Fellowship!');
    });
  });
});
