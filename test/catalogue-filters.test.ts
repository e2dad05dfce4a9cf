/**
 * The course catalogue's kind and date filters (issue #17), on the seeded demo: the courses plugin
 * asks the enrolment plugin (through the CourseOfferings extension point) which courses have an
 * edition of that kind on those days. Conflict Analysis is self-paced (and online); Interest-Based
 * Negotiation has the Fellowship in Holmenkollen in 200 days, an online cohort running now and an
 * in-person programme in Addis Ababa that ended.
 */
import { expect } from 'chai';
import supertest from 'supertest';
import courses from '../plugins/courses/index.ts';
import enrolment from '../plugins/enrolment/index.ts';
import { createTestApp, type TestApp } from './helpers/app.ts';

/** The courses a catalogue page lists, by their links. */
const courseSlugs = (html: string) => [...html.matchAll(/<h2><a href="\/courses\/([a-z0-9-]+)"/g)].map((m) => m[1]!);
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
const BOTH = ['conflict-analysis', 'interest-based-negotiation'];

describe('the course catalogue by kind and dates (issue #17)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'catalogue-filters' });
  });
  after(() => t.stop());
  const get = async (query: string, lang = 'en') => (await supertest(t.app).get(`/courses?${query}`).set('Accept-Language', lang).expect(200)).text;

  it('offers the kinds and the dates in the form, and keeps what was chosen in the address and the form', async () => {
    const page = await get('kind=inPerson&from=' + day(190));
    expect(page).to.match(/<select id="course-kind" name="kind">/);
    expect(page).to.match(/<option value="inPerson" selected>In person<\/option>/);
    expect(page).to.contain(`name="from" type="date" value="${day(190)}"`);
    expect(page).to.contain('name="to" type="date" value=""');
    expect(page).to.contain('1 course found');
  });

  it('narrows by kind: self-paced, in person, online live', async () => {
    expect(courseSlugs(await get(''))).to.have.members(BOTH);
    expect(courseSlugs(await get('kind=selfPaced'))).to.deep.equal(['conflict-analysis']);
    expect(courseSlugs(await get('kind=inPerson'))).to.deep.equal(['interest-based-negotiation']);
    // Online live: a dated edition online; a self-paced course is not one (it is online, but not live).
    expect(courseSlugs(await get('kind=online'))).to.deep.equal(['interest-based-negotiation']);
  });

  it('narrows by the days an edition takes place on, combined with the kind, words and language', async () => {
    // The Fellowship: from day 200 for 12 days. Self-paced courses are open at any date.
    expect(courseSlugs(await get(`from=${day(205)}&to=${day(230)}`))).to.have.members(BOTH);
    expect(courseSlugs(await get(`from=${day(205)}&to=${day(230)}&kind=inPerson`))).to.deep.equal(['interest-based-negotiation']);
    expect(courseSlugs(await get(`from=${day(260)}&kind=inPerson`))).to.deep.equal([]);
    // Until a day to come: the editions running or to come by then (not the one that ended).
    expect(courseSlugs(await get(`to=${day(150)}&kind=inPerson`))).to.deep.equal([]);
    // The Addis Ababa programme ended; asked for its days, it is found.
    expect(courseSlugs(await get(`from=${day(-88)}&to=${day(-85)}&kind=inPerson`))).to.deep.equal(['interest-based-negotiation']);
    expect(courseSlugs(await get(`kind=online&q=negotiation`))).to.deep.equal(['interest-based-negotiation']);
    expect(courseSlugs(await get(`kind=selfPaced&lang=fr`))).to.deep.equal(['conflict-analysis']);
    expect(courseSlugs(await get(`kind=inPerson&lang=fr`))).to.deep.equal([]);
  });

  it('says when no course matches, and offers to clear the filters', async () => {
    const none = await get(`kind=inPerson&from=${day(400)}`);
    expect(courseSlugs(none)).to.deep.equal([]);
    expect(none).to.contain('0 courses found');
    expect(none).to.contain('No course matches these filters.');
    expect(none).to.contain('<a class="button" href="/courses">Show all courses</a>');
    const french = await get(`kind=inPerson&from=${day(400)}`, 'fr');
    expect(french).to.contain('Aucun cours ne correspond à ces critères');
    expect(french).to.contain('Afficher toutes les formations');
  });

  it('leaves out what it cannot read (a kind, a date, reversed dates), says so in the reader’s language, and lists what the rest gives', async () => {
    const cases: [string, string][] = [
      ['kind=underwater', 'The format asked for is not one of the list'],
      ['from=2026-13-45', '“2026-13-45” is not a valid date (write a day as YYYY-MM-DD, such as 2027-03-15)'],
      ['to=31%2F12%2F2026', '“31/12/2026” is not a valid date (write a day as YYYY-MM-DD, such as 2027-03-15)'],
      ['from=2027-02-29', '“2027-02-29” is not a valid date'],
      [`from=${day(30)}&to=${day(10)}`, 'The end date is before the start date'],
    ];
    for (const [query, message] of cases) {
      const page = await get(query);
      expect(page, query).to.contain(message);
      expect(courseSlugs(page), query).to.have.members(BOTH);
    }
    // The other filters still apply, and what was typed is shown again.
    const kept = await get('kind=selfPaced&from=not-a-day');
    expect(courseSlugs(kept)).to.deep.equal(['conflict-analysis']);
    expect(kept).to.contain('value="not-a-day"');
    expect(await get('from=tomorrow', 'fr')).to.contain('« tomorrow » n’est pas une date valide (écrivez un jour au format AAAA-MM-JJ');
    expect(await get(`from=${day(30)}&to=${day(10)}`, 'ar')).to.contain('تاريخ الانتهاء يسبق تاريخ البدء');
    // Repeated or nested parameters are not strings: ignored, never an error.
    expect(courseSlugs(await get('kind=inPerson&kind=online&from[x]=1'))).to.have.members(BOTH);
  });

  describe('a course’s editions page', () => {
    const titles = (html: string) =>
      [...html.matchAll(/<h2><a href="\/enrolment\/editions\/[a-f0-9]{24}"><bdi>([^<]+)</g)].map((m) => m[1]!.replace(/ \d{4}$/, ''));
    const page = async (query: string, lang = 'en') =>
      (await supertest(t.app).get(`/enrolment/courses/interest-based-negotiation?${query}`).set('Accept-Language', lang).expect(200)).text;
    const FELLOWSHIP = 'Fellowship Programme in Peacemaking and Preventive Diplomacy';
    const ADDIS = 'Regional Training Programme for Africa: Negotiation and Mediation';
    const COHORT = 'Interest-Based Negotiation: online cohort';

    it('narrows by kind, dates, language and open for enrolment, with the open editions’ form and rules', async () => {
      const all = await page('');
      expect(titles(all)).to.have.members([FELLOWSHIP, ADDIS, COHORT]);
      expect(all).to.contain('action="/enrolment/courses/interest-based-negotiation"');
      expect(all).to.contain('name="open" value="1"');
      expect(all).not.to.contain('name="q"');
      expect(titles(await page('kind=inPerson'))).to.have.members([FELLOWSHIP, ADDIS]);
      expect(titles(await page('kind=online'))).to.deep.equal([COHORT]);
      expect(titles(await page(`kind=inPerson&from=${day(195)}&to=${day(205)}`))).to.deep.equal([FELLOWSHIP]);
      expect(titles(await page(`to=${day(-80)}`))).to.deep.equal([ADDIS]);
      const open = await page('open=1');
      expect(titles(open)).to.have.members([FELLOWSHIP, COHORT]);
      expect(open).to.match(/name="open" value="1" checked/);
      expect(open).to.contain('2 editions found');
      expect(titles(await page('open=1&kind=inPerson'))).to.deep.equal([FELLOWSHIP]);
      expect(titles(await page('lang=en&kind=online'))).to.deep.equal([COHORT]);
    });

    it('says when none matches, offers all editions again, and leaves out what it cannot read', async () => {
      const none = await page('lang=fr');
      expect(titles(none)).to.deep.equal([]);
      expect(none).to.contain('No edition of this course matches these filters.');
      expect(none).to.contain('<a class="button" href="/enrolment/courses/interest-based-negotiation">Show all editions of this course</a>');
      expect(await page('lang=fr', 'es')).to.contain('Ninguna edición de este curso coincide con estos filtros.');
      const bad = await page('from=2026-02-30&kind=inPerson');
      expect(bad).to.contain('“2026-02-30” is not a valid date (write a day as YYYY-MM-DD, such as 2027-03-15)');
      expect(titles(bad)).to.have.members([FELLOWSHIP, ADDIS]);
      const reversed = await page(`from=${day(30)}&to=${day(10)}`, 'ru');
      expect(reversed).to.contain('Дата окончания предшествует дате начала');
      expect(titles(reversed)).to.have.members([FELLOWSHIP, ADDIS, COHORT]);
    });
  });

  it('without the enrolment plugin, every course is self-paced and open at any date', async () => {
    const alone = await createTestApp({ plugins: [courses], seed: true, label: 'catalogue-alone' });
    try {
      const page = async (query: string) => courseSlugs((await supertest(alone.app).get(`/courses?${query}`).expect(200)).text);
      expect(await page('kind=selfPaced')).to.have.members(BOTH);
      expect(await page(`kind=selfPaced&from=${day(400)}`)).to.have.members(BOTH);
      expect(await page('kind=inPerson')).to.deep.equal([]);
    } finally {
      await alone.stop();
    }
  });
});
