/**
 * Finding things and seeing how far one is (issue #17), on the seeded demo with every plugin: the
 * catalogue's and the open editions' filters, "continue where you left off" on the home page,
 * progress counted by items on every page that shows it, and a completed course leading to its
 * certificate.
 */
import { expect } from 'chai';
import supertest from 'supertest';
import certificates from '../plugins/certificates/index.ts';
import { CourseCatalog, CourseProgress } from '../plugins/courses/contract.ts';
import courses from '../plugins/courses/index.ts';
import enrolment from '../plugins/enrolment/index.ts';
import { createDemoPasswordUser, createTestApp, postForm, signIn, type TestApp } from './helpers/app.ts';

/** The courses a catalogue page lists, by their links. */
const courseSlugs = (html: string) => [...html.matchAll(/<h2><a href="\/courses\/([a-z0-9-]+)"/g)].map((m) => m[1]!);
/** The editions an open-editions page lists, by their ids. */
const editionIds = (html: string) => [...html.matchAll(/<h2><a href="\/enrolment\/editions\/([a-f0-9]{24})"/g)].map((m) => m[1]!);
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

describe('finding things and progress by items (issue #17)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment, certificates], seed: true, label: 'finding' });
  });
  after(() => t.stop());

  describe('the course catalogue', () => {
    it('narrows by language and by words, combined, with the count, a clear "no results" and a way back', async () => {
      const all = courseSlugs((await supertest(t.app).get('/courses').expect(200)).text);
      expect(all).to.include.members(['conflict-analysis', 'interest-based-negotiation']);

      const french = await supertest(t.app).get('/courses?lang=fr').expect(200);
      expect(courseSlugs(french.text)).to.deep.equal(['conflict-analysis']);
      expect(french.text).to.contain('1 course found');
      expect(french.text).to.match(/<option value="fr" selected>French<\/option>/);
      expect(french.text).to.contain('href="/courses">Clear the filters</a>');

      const words = await supertest(t.app).get('/courses?q=negotiation').expect(200);
      expect(courseSlugs(words.text)).to.deep.equal(['interest-based-negotiation']);

      const both = await supertest(t.app).get('/courses?q=negotiation&lang=fr').expect(200);
      expect(courseSlugs(both.text)).to.deep.equal([]);
      expect(both.text).to.contain('0 courses found');
      expect(both.text).to.contain('No course matches these filters.');
      expect(both.text).to.contain('value="negotiation"');
    });

    it('leaves out a language it does not know, says so, and lists what the other filters give', async () => {
      const all = courseSlugs((await supertest(t.app).get('/courses').expect(200)).text);
      const unknown = await supertest(t.app).get('/courses?lang=xx').expect(200);
      expect(courseSlugs(unknown.text)).to.deep.equal(all);
      expect(unknown.text).to.contain('not one of the catalogue’s languages');
      // Repeated or nested parameters are not strings: ignored, never an error.
      const repeated = await supertest(t.app).get('/courses?lang=fr&lang=en&q[x]=1').expect(200);
      expect(courseSlugs(repeated.text)).to.deep.equal(all);
    });
  });

  describe('the open editions', () => {
    let all: string[];
    let byTitle: (title: string) => string;
    before(async () => {
      const page = (await supertest(t.app).get('/enrolment').expect(200)).text;
      all = editionIds(page);
      byTitle = (title) => {
        const m = new RegExp(`/enrolment/editions/([a-f0-9]{24})"><bdi>${title}`).exec(page);
        if (!m) throw new Error(`no open edition "${title}"`);
        return m[1]!;
      };
    });

    it('narrows by kind, words, language and dates, combined, with the count and a way back', async () => {
      const selfPaced = byTitle('Conflict Analysis: self-paced');
      const oslo = byTitle('Fellowship Programme');
      const cohort = byTitle('Interest-Based Negotiation: online cohort');
      expect(all).to.include.members([selfPaced, oslo, cohort]);

      const get = async (query: string) => (await supertest(t.app).get(`/enrolment?${query}`).expect(200)).text;
      expect(editionIds(await get('kind=selfPaced'))).to.deep.equal([selfPaced]);
      expect(editionIds(await get('kind=inPerson'))).to.deep.equal([oslo]);
      // Online live: dated and online; a self-paced edition is online but not live.
      expect(editionIds(await get('kind=online'))).to.deep.equal([cohort]);
      const words = await get('q=oslo');
      expect(editionIds(words)).to.deep.equal([oslo]);
      expect(words).to.contain('1 edition found');
      expect(words).to.contain('href="/enrolment">Clear the filters</a>');

      const none = await get('q=oslo&kind=online');
      expect(editionIds(none)).to.deep.equal([]);
      expect(none).to.contain('No open edition matches these filters.');
      expect(none).to.contain('0 editions found');

      // The Fellowship starts in 200 days for 12 days; the online cohort runs now; self-paced is open at any date.
      expect(editionIds(await get(`from=${day(205)}&to=${day(230)}`))).to.have.members([oslo, selfPaced]);
      expect(editionIds(await get(`from=${day(205)}&to=${day(230)}&kind=inPerson`))).to.deep.equal([oslo]);
      expect(editionIds(await get(`to=${day(1)}&kind=online`))).to.deep.equal([cohort]);
      expect(editionIds(await get(`from=${day(400)}&kind=inPerson`))).to.deep.equal([]);

      expect(editionIds(await get('lang=en'))).to.have.members(all);
      expect(editionIds(await get('lang=fr'))).to.deep.equal([]);
    });

    it('leaves out filters it cannot read (a language, a kind, a date, reversed dates), says which, and changes nothing else', async () => {
      const get = async (query: string) => (await supertest(t.app).get(`/enrolment?${query}`).expect(200)).text;
      const cases: [string, string][] = [
        ['lang=klingon', 'not one of the six official languages'],
        ['kind=underwater', 'The format asked for is not one of the list'],
        ['from=2026-13-45', '“2026-13-45” is not a valid date (write a day as YYYY-MM-DD, such as 2027-03-15)'],
        ['to=31%2F12%2F2026', '“31/12/2026” is not a valid date (write a day as YYYY-MM-DD, such as 2027-03-15)'],
        ['from=2026-02-30', '“2026-02-30” is not a valid date'],
        [`from=${day(30)}&to=${day(10)}`, 'The end date is before the start date'],
      ];
      for (const [query, message] of cases) {
        const page = await get(query);
        expect(page, query).to.contain(message);
        expect(editionIds(page), query).to.have.members(all);
      }
      const kept = await get('q=oslo&from=not-a-day');
      expect(editionIds(kept)).to.deep.equal([byTitle('Fellowship Programme')]);
      expect(kept).to.contain('value="not-a-day"');
    });
  });

  describe('a learner three lessons in', () => {
    let agent: Awaited<ReturnType<typeof signIn>>;
    let items: { moduleId: string; itemId: string; quiz: boolean }[];
    let editionId: string;
    const name = 'Nadia Rahimi';

    before(async () => {
      await createDemoPasswordUser(t.app, { email: 'nadia.rahimi@olive.example', name, roles: ['learner'] });
      agent = await signIn(t.app, 'nadia.rahimi@olive.example');
      const editions = (await agent.get('/enrolment/courses/conflict-analysis').expect(200)).text;
      editionId = /\/enrolment\/editions\/([a-f0-9]{24})/.exec(editions)![1]!;
      await postForm(agent, `/enrolment/editions/${editionId}/enrol`, {}, `/enrolment/editions/${editionId}`, 303);
      const outline = (await agent.get('/courses/conflict-analysis').expect(200)).text;
      const moduleIds = [...new Set([...outline.matchAll(/\/courses\/conflict-analysis\/modules\/([a-f0-9]{24})/g)].map((m) => m[1]!))];
      items = [];
      for (const moduleId of moduleIds) {
        const page = (await agent.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(200)).text;
        for (const m of page.matchAll(/id="item-([a-f0-9]{24})"/g)) items.push({ moduleId, itemId: m[1]!, quiz: page.includes(`/items/${m[1]}/quiz`) });
      }
      expect(items.length).to.be.greaterThan(6);
    });

    const markDone = (item: { moduleId: string; itemId: string }) =>
      postForm(agent, `/courses/conflict-analysis/items/${item.itemId}/done`, {}, `/courses/conflict-analysis/modules/${item.moduleId}`, 303);

    it('opens the home page on the next item to do, after the one done last', async () => {
      const firstModule = items.filter((i) => i.moduleId === items[0]!.moduleId);
      const lessons = firstModule.filter((i) => !i.quiz);
      expect(lessons.length).to.be.at.least(3);
      for (const lesson of lessons.slice(0, 3)) await markDone(lesson);
      const home = (await agent.get('/').expect(200)).text;
      expect(home).to.contain('Continue where you left off');
      const next = items[items.indexOf(lessons[2]!) + 1]!;
      expect(home).to.contain(`href="/courses/conflict-analysis/modules/${next.moduleId}#item-${next.itemId}"`);
    });

    it('shows a share of the required items done on the outline, the home page, My learning and the roster, the same everywhere', async () => {
      const percent = Math.floor((3 * 100) / items.length);
      expect(percent).to.be.greaterThan(0);
      const outline = (await agent.get('/courses/conflict-analysis').expect(200)).text;
      expect(outline).to.contain(`${percent} % done`);
      expect(outline).to.contain(`3 of ${items.length} required items done`);
      expect(outline).to.contain(`0 of 6 required modules done`);
      expect(outline).to.contain(`value="${percent}"`);
      expect((await agent.get('/').expect(200)).text).to.contain(`${percent}%</progress> ${percent}%`);
      expect((await agent.get('/enrolment/my').expect(200)).text).to.contain(`${percent}%</progress> ${percent}%`);
      const staff = await signIn(t.app, 'staff@olive.example');
      const roster = (await staff.get(`/enrolment/manage/editions/${editionId}/roster`).expect(200)).text;
      const row = roster.split('<tr').find((r) => r.includes(name));
      expect(row, 'the learner’s roster row').to.be.a('string');
      expect(row).to.contain(`${percent} %`);
    });

    it('moves on when the learner works in another module', async () => {
      const laterModule = items.filter((i) => i.moduleId === items.at(-1)!.moduleId && !i.quiz);
      await markDone(laterModule[0]!);
      const after = items[items.indexOf(laterModule[0]!) + 1];
      expect(after, 'an item after the one done').to.not.equal(undefined);
      const home = (await agent.get('/').expect(200)).text;
      expect(home).to.contain(`href="/courses/conflict-analysis/modules/${after!.moduleId}#item-${after!.itemId}"`);
    });
    it('once completed, says the certificate waits for the printed name, and leads to it once confirmed', async () => {
      const course = (await t.app.olive.service(CourseCatalog).findBySlug('conflict-analysis'))!;
      const learnerId = (await t.app.olive.users.findByEmail('nadia.rahimi@olive.example'))!.id;
      for (const { itemId } of items) await t.app.olive.service(CourseProgress).recordItemDone({ learnerId, courseId: course.id, editionId, itemId });
      const waiting = (await agent.get('/courses/conflict-analysis').expect(200)).text;
      expect(waiting).to.contain('You completed this course on');
      expect(waiting).to.contain('100 % done');
      expect(waiting).to.contain('Your certificate will be issued once you have confirmed how your name should be printed.');
      expect(waiting).to.contain('href="/certificates/name">Confirm my name</a>');

      await postForm(agent, '/certificates/name', { name }, '/certificates/name', 303);
      const after = (await agent.get('/courses/conflict-analysis').expect(200)).text;
      expect(after).to.not.contain('once you have confirmed how your name should be printed');
      // Issued at once when the edition issues on completion; otherwise staff issue it later.
      expect(after).to.match(
        /Your certificate for this course is ready\. <a href="\/certificates\/c\/[^"]+\/certificate\.pdf">|Your certificate has not been issued yet/,
      );
    });
  });

  describe('a completed course', () => {
    it('leads from its outline to the learner’s certificate', async () => {
      const learner = await signIn(t.app, 'joseph.mwangi@olive.example');
      const outline = (await learner.get('/courses/interest-based-negotiation').expect(200)).text;
      expect(outline).to.contain('You completed this course on');
      expect(outline).to.contain('Your certificate for this course is ready.');
      const link = /href="(\/certificates\/c\/[^"]+\/certificate\.pdf)"/.exec(outline);
      expect(link, 'a link to the certificate').to.not.equal(null);
      await learner.get(link![1]!).expect(200).expect('Content-Type', /pdf/);
      expect(outline).to.contain('100 % done');
    });
  });
});
