/**
 * Right-to-left pages as an Arabic reader sees them, measured in Chromium: headings, labels and the
 * header's menu start at the right; addresses and certificate codes read left to right inside; a
 * report chart's bars grow from the right; and on a phone (375 px) no page scrolls sideways.
 *
 * Positions are read from the boxes of the text itself (a Range over the element's contents), not
 * from the elements, which are as wide as their container whatever the direction.
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import config from '../../olive.config.ts';
import { DEMO_PASSWORD } from '../helpers/app.ts';
import { useBrowserApp } from '../helpers/browser.ts';

/** A page for one person (or nobody) with the interface in `lang`, chosen as a person does it. */
async function pageIn(browser: Browser, url: string, lang: string, email?: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  if (email) {
    await page.goto(`${url}/login`);
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${url}/`);
  } else {
    await page.goto(`${url}/`);
  }
  const token = await page.locator('input[name="_csrf"]').first().inputValue();
  const res = await page.request.post(`${url}/language`, { form: { lang, returnTo: '/', _csrf: token }, maxRedirects: 0 });
  expect(res.status()).to.equal(303);
  return page;
}

async function open(page: Page, url: string) {
  const response = await page.goto(url);
  expect(response?.status(), `GET ${url}`).to.equal(200);
}

interface Placement {
  /** Gaps (px) between the text and its container's content box, on each side. */
  left: number;
  right: number;
  text: string;
}

/**
 * Where the text of the first element matching `selector` sits in its container (the nearest
 * block ancestor for inline elements, else the parent): how far from the container's left and
 * right inner edges. Plain JavaScript, given as a string (code compiled by tsx carries helpers the
 * page lacks).
 */
const PLACEMENT = `(selector) => {
  const el = document.querySelector(selector);
  if (!el) return null;
  let box = el.parentElement;
  while (box && getComputedStyle(box).display.startsWith('inline')) box = box.parentElement;
  const range = document.createRange();
  range.selectNodeContents(el);
  const text = range.getBoundingClientRect();
  const outer = box.getBoundingClientRect();
  const s = getComputedStyle(box);
  const innerLeft = outer.left + parseFloat(s.borderLeftWidth) + parseFloat(s.paddingLeft);
  const innerRight = outer.right - parseFloat(s.borderRightWidth) - parseFloat(s.paddingRight);
  return { left: Math.round(text.left - innerLeft), right: Math.round(innerRight - text.right), text: el.textContent.trim().slice(0, 60) };
}`;

async function placement(page: Page, selector: string): Promise<Placement> {
  const found = (await page.evaluate(`(${PLACEMENT})(${JSON.stringify(selector)})`)) as Placement | null;
  expect(found, `${selector} on ${page.url()}`).to.not.equal(null);
  return found!;
}

/**
 * Fails unless the element's text touches the right edge of its container and, unless it may fill
 * the line (a long heading on a phone), not the left.
 */
async function expectAtRight(page: Page, selector: string, { mayFill = false } = {}) {
  const p = await placement(page, selector);
  expect(p.right, `"${p.text}" (${selector}) should end at the right edge on ${page.url()}`).to.be.within(-1, 2);
  if (!mayFill) expect(p.left, `"${p.text}" (${selector}) should not start at the left edge on ${page.url()}`).to.be.greaterThan(2);
}

/**
 * The horizontal positions of the first and last characters of an element's text: left to right
 * order means the first character is drawn to the left of the last.
 */
const CHARACTER_ORDER = `(selector) => {
  const node = [...document.querySelector(selector).childNodes].find((n) => n.nodeType === 3 && n.textContent.trim());
  const text = node.textContent;
  const at = (i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1); return r.getBoundingClientRect().left; };
  const first = text.search(/\\S/);
  const last = text.length - 1 - [...text].reverse().join('').search(/\\S/);
  return { text: text.trim(), first: at(first), last: at(last) };
}`;

/** The boxes of the header's parts (site name, menu and its links, account links). */
const HEADER_BOXES = `(() => {
  const box = (el) => el.getBoundingClientRect().toJSON();
  const head = document.querySelector('.site-header');
  return {
    innerRight: box(head).right - parseFloat(getComputedStyle(head).paddingRight),
    brand: box(document.querySelector('.brand')),
    nav: box(document.querySelector('.main-nav ul')),
    links: [...document.querySelectorAll('.main-nav a')].map(box),
    account: box(document.querySelector('.account-box')),
  };
})()`;

describe('right-to-left pages (Arabic), in Chromium', function () {
  this.timeout(60_000);
  const env = useBrowserApp({ plugins: config.plugins, pluginConfig: config.pluginConfig, label: 'rtl' });
  const ids = {} as { moduleId: string; editionId: string; code: string; templateId: string };
  let learner: Page;
  let staff: Page;
  let visitor: Page;

  before(async () => {
    const db = env.app.olive.connection.db!;
    const course = await db.collection('courses_course').findOne({ slug: 'conflict-analysis' });
    const module = await db.collection('courses_module').findOne({ courseId: course!._id }, { sort: { position: 1 } });
    const edition = await db.collection('enrolment_edition').findOne({ selfPaced: true, courseId: String(course!._id) });
    const certificate = await db.collection('certificates_certificate').findOne({});
    const template = await db.collection('certificates_template').findOne({});
    Object.assign(ids, { moduleId: String(module!._id), editionId: String(edition!._id), code: String(certificate!._id), templateId: String(template!._id) });
    learner = await pageIn(env.browser, env.url, 'ar', 'learner@olive.example');
    staff = await pageIn(env.browser, env.url, 'ar', 'staff@olive.example');
    visitor = await pageIn(env.browser, env.url, 'ar');
  });

  it('the page is marked right to left, and the measurement tells sides apart (English starts at the left)', async () => {
    await open(visitor, `${env.url}/login`);
    expect(await visitor.evaluate(() => [document.documentElement.lang, document.documentElement.dir])).to.deep.equal(['ar', 'rtl']);
    const english = await pageIn(env.browser, env.url, 'en');
    await open(english, `${env.url}/login`);
    const h1 = await placement(english, 'main h1');
    expect(h1.left).to.be.within(-1, 2);
    expect(h1.right).to.be.greaterThan(2);
    await english.context().close();
  });

  it('main headings and the first label of a form sit at the right edge of their container', async () => {
    const pages: [Page, string, string[]][] = [
      [visitor, '/login', ['main h1', 'main form label']],
      [visitor, '/verify', ['main h1', 'main form label']],
      [learner, '/', ['main h1', '.panel h2']],
      [learner, '/account', ['main h1', 'main form label']],
      [learner, '/enrolment/my', ['main h1']],
      // A course title in English on an Arabic page reads left to right but keeps to the page's side.
      [learner, '/courses/conflict-analysis', ['main h1']],
      [learner, `/courses/conflict-analysis/modules/${ids.moduleId}`, ['main h1']],
      [staff, '/enrolment/manage', ['main h1', 'form.filters label']],
      [staff, `/enrolment/manage/editions/${ids.editionId}/roster`, ['main h1']],
      [staff, `/certificates/templates/${ids.templateId}`, ['main h1', 'main form label']],
    ];
    for (const [page, path, selectors] of pages) {
      await open(page, `${env.url}${path}`);
      for (const selector of selectors) await expectAtRight(page, selector);
    }
    // The course title is in English, marked as such.
    await open(learner, `${env.url}/courses/conflict-analysis`);
    expect(await learner.locator('main h1').evaluate((h) => [h.getAttribute('lang'), getComputedStyle(h).direction])).to.deep.equal(['en', 'ltr']);
  });

  it('the header starts at the right: the name of the site, then the menu from right to left', async () => {
    await open(learner, `${env.url}/`);
    const header = (await learner.evaluate(HEADER_BOXES)) as {
      innerRight: number;
      brand: DOMRect;
      nav: DOMRect;
      links: { left: number; right: number; top: number }[];
      account: DOMRect;
    };
    expect(header.innerRight - header.brand.right, 'the site name ends at the right').to.be.within(-1, 2);
    expect(header.nav.right, 'the menu is left of the site name').to.be.at.most(header.brand.left);
    const [first, second] = header.links;
    expect(header.nav.right - first!.right, 'the first menu entry ends at the right of the menu').to.be.within(-1, 2);
    expect(second!.top === first!.top && second!.right <= first!.left, 'the second entry is left of the first').to.equal(true);
    expect(header.account.right, 'the account links come last, at the left').to.be.at.most(header.nav.left);
  });

  it('e-mail addresses are typed and shown left to right; certificate codes keep their order', async () => {
    await open(visitor, `${env.url}/login`);
    const email = visitor.locator('input[type="email"]');
    await email.fill('learner@olive.example');
    expect(await email.evaluate((i) => [getComputedStyle(i).direction, getComputedStyle(i).textAlign])).to.deep.equal(['ltr', 'right']);
    // The code field too, and a code shown on the verification page reads as printed.
    await open(visitor, `${env.url}/verify`);
    expect(await visitor.locator('input#code').evaluate((i) => getComputedStyle(i).direction)).to.equal('ltr');
    await open(visitor, `${env.url}/verify/${ids.code}`);
    const order = (await visitor.evaluate(`(${CHARACTER_ORDER})('main dd code')`)) as { text: string; first: number; last: number };
    expect(order.text).to.equal(ids.code);
    expect(order.first, `${order.text}: its first character is drawn left of its last`).to.be.lessThan(order.last);
    // An address in a table cell keeps its order too (its "@" between name and domain).
    await open(staff, `${env.url}/enrolment/manage/editions/${ids.editionId}/roster`);
    const address = (await staff.evaluate(`(${CHARACTER_ORDER})('table.roster tbody td span[dir="ltr"]')`)) as { text: string; first: number; last: number };
    expect(address.text).to.match(/@/);
    expect(address.first).to.be.lessThan(address.last);
  });

  it('a report chart reads from the right: labels on the right, bars growing leftwards, values at their ends', async () => {
    await open(staff, `${env.url}/enrolment/reports`);
    const chart = await staff.evaluate(() => {
      const svg = document.querySelector('svg.chart')!;
      const row = svg.querySelector('g')!;
      const [label, ...values] = [...row.querySelectorAll('text')].map((t) => t.getBoundingClientRect());
      const bar = row.querySelector('rect')!.getBoundingClientRect();
      return { svg: svg.getBoundingClientRect(), label: label!, bar, value: values[0]! };
    });
    expect(chart.svg.right - chart.label.right, 'the label ends at the right edge').to.be.within(-1, 3);
    expect(chart.svg.right - chart.bar.right, 'the bar starts at the right edge').to.be.within(-1, 1);
    expect(chart.value.right, 'the value sits left of the bar').to.be.at.most(chart.bar.left);
    expect(chart.label.bottom, 'the label is above its bar').to.be.at.most(chart.bar.top + 1);
  });

  it('on a phone (375 px), no main page scrolls sideways', async () => {
    const pages: [Page, string][] = [
      [visitor, '/login'],
      [visitor, `/verify/${ids.code}`],
      [learner, '/'],
      [learner, '/courses/conflict-analysis'],
      [learner, `/courses/conflict-analysis/modules/${ids.moduleId}`],
      [learner, '/enrolment/my'],
      [staff, '/enrolment/manage'],
      [staff, `/enrolment/manage/editions/${ids.editionId}/roster`],
      [staff, '/enrolment/reports'],
      [staff, `/certificates/templates/${ids.templateId}`],
    ];
    const problems: string[] = [];
    for (const [page, path] of pages) {
      await page.setViewportSize({ width: 375, height: 800 });
      try {
        await open(page, `${env.url}${path}`);
        const { scrollWidth, width } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth }));
        if (scrollWidth > width) problems.push(`${path}: ${scrollWidth} px wide in a ${width} px window`);
        // The heading stays at the right on a phone too.
        await expectAtRight(page, 'main h1', { mayFill: true });
      } finally {
        await page.setViewportSize({ width: 1280, height: 800 });
      }
    }
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });
});
