/**
 * Donor reports and rosters, through pages, CSV and the browser. Over 400 lines: the figures of one
 * seeded programme are checked from every side (counts, filters, sorting, exports, access).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import mongoose from 'mongoose';
import type { Browser, Page } from 'playwright-core';
import supertest from 'supertest';
import { createTestApp, DEMO_PASSWORD, listen, signIn, type TestApp } from '../../../test/helpers/app.ts';
import { launchBrowser } from '../../../test/helpers/browser.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { PersonDoc } from '../models/person.model.ts';
import { editionTitle } from '../seed.ts';
import { escapeXml, horizontalBarChart } from '../services/charts.ts';
import { countryName, regionOf } from '../services/profile.ts';

// ---- The fixture, read as the test's source of truth ---------------------------------------------------

const FIXTURES = path.resolve('fixtures');
type FixturePerson = {
  email: string;
  givenName: string;
  familyName: string;
  gender: string;
  country: string;
  organisation: string;
  organisationType: string;
  account: boolean;
};
type FixtureEdition = {
  course: string;
  title: string;
  method: string;
  selfPaced: boolean;
  startsInDays?: number;
  trainers: string[];
  participants: { email: string; status: string; modulesDone?: number | 'all' }[];
};
const people: FixturePerson[] = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'enrolment/people.json'), 'utf8')).people;
const editions: FixtureEdition[] = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'enrolment/editions.json'), 'utf8')).editions;
const moduleCount: Record<string, number> = Object.fromEntries(
  (JSON.parse(fs.readFileSync(path.join(FIXTURES, 'courses/courses.json'), 'utf8')).courses as { slug: string; modules: unknown[] }[]).map((c) => [
    c.slug,
    c.modules.length,
  ]),
);
const personOf = (email: string) => people.find((p) => p.email === email)!;

/** What the report must say, computed from the fixture: participants are enrolled people; completions those with every module done. */
function expectedFigures(list: FixtureEdition[]) {
  const perEdition = list.map((e) => {
    const enrolled = e.participants.filter((p) => p.status === 'enrolled');
    const completed = enrolled.filter((p) => p.modulesDone === 'all' || (p.modulesDone !== undefined && p.modulesDone === moduleCount[e.course]));
    return { title: editionTitle(e), participants: enrolled.length, completions: completed.length, enrolled, completed };
  });
  const tally = (key: (p: FixturePerson) => string) => {
    const out: Record<string, [number, number]> = {};
    for (const e of perEdition) {
      for (const p of e.enrolled) {
        const k = key(personOf(p.email));
        out[k] ??= [0, 0];
        out[k][0] += 1;
        if (e.completed.includes(p)) out[k][1] += 1;
      }
    }
    return out;
  };
  return {
    perEdition,
    totals: [perEdition.reduce((n, e) => n + e.participants, 0), perEdition.reduce((n, e) => n + e.completions, 0)],
    gender: tally((p) => p.gender),
    region: tally((p) => regionOf(p.country) || 'unknown'),
    organisationType: tally((p) => p.organisationType),
  };
}

// ---- The app: the demo programme with its progress ------------------------------------------------------

/** Splits a CSV body (our own: quoted fields may hold commas and quotes, never line breaks) into rows. */
function parseCsv(text: string): string[][] {
  return text
    .replace(/^\uFEFF/, '')
    .split('\r\n')
    .filter(Boolean)
    .map((line) => {
      const cells: string[] = [];
      const re = /("((?:[^"]|"")*)"|[^,]*)(,|$)/g;
      let m: RegExpExecArray | null;
      while ((m = re.exec(line)) && m[0] !== '') {
        cells.push(m[2] !== undefined ? m[2].replace(/""/g, '"') : m[1]!);
        if (m[3] === '') break;
      }
      return cells;
    });
}

/** Tags open and close in order (a parse-free check that markup is well formed). */
function balanced(markup: string): boolean {
  const stack: string[] = [];
  for (const m of markup.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    if (m[3]) continue;
    if (!m[1]) stack.push(m[2]!);
    else if (stack.pop() !== m[2]) return false;
  }
  return stack.length === 0;
}

const rowsOf = (html: string) => [...html.matchAll(/<tr>\s*<td>([\s\S]*?)<\/tr>/g)].map((m) => m[1]!);
const cellsOf = (row: string) =>
  [...`<td>${row}`.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((m) =>
    m[1]!
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );

describe('enrolment: report charts (SVG)', () => {
  const series = [
    { name: 'Participants', colour: '#4e6b1f' },
    { name: 'Completions', colour: '#0b5cad' },
  ];

  it('draws one labelled bar per value, scaled to the largest, each with its value as text', () => {
    const svg = horizontalBarChart({
      id: 'c1',
      title: 'By region',
      series,
      rows: [
        { label: 'Africa', values: [20, 10] },
        { label: 'Asia', values: [5, 0] },
      ],
    });
    expect(balanced(svg)).to.equal(true);
    expect(svg).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]* role="img"/);
    expect(svg).to.include('<title id="c1-title">By region</title>');
    expect(svg).to.include('<desc id="c1-desc">Africa: Participants 20, Completions 10; Asia: Participants 5, Completions 0</desc>');
    const widths = [...svg.matchAll(/<rect x="0" y="[\d.]+" width="([\d.]+)" height="16"/g)].map((m) => Number(m[1]));
    expect(widths).to.have.length(4);
    expect(widths[0]).to.equal(Math.max(...widths));
    expect(widths[1]).to.be.closeTo(widths[0]! / 2, 0.2);
    expect(widths[2]).to.be.closeTo(widths[0]! / 4, 0.2);
    expect(widths[3]).to.equal(1); // a zero keeps a hairline next to its "0"
    for (const v of ['20', '10', '5', '0']) expect(svg).to.match(new RegExp(`>${v}</text>`));
    expect(svg).to.include('>Participants</text>'); // legend
    // Drawn left to right whatever the page's direction (the stylesheet mirrors it in right-to-left
    // pages), each text in its own direction; a label on its own line above its bars.
    expect(svg).to.match(/^<svg [^>]*direction="ltr"/);
    expect(svg).to.match(/<text x="0" y="39" [^>]*unicode-bidi="plaintext">Africa<\/text>/);
    expect(svg).to.match(/<rect x="0" y="45" width="[\d.]+" height="16"/);
  });

  it('escapes every text and refuses colours that are not colours', () => {
    const svg = horizontalBarChart({
      id: 'x" onload="alert(1)',
      title: 'Q&A <script>alert(1)</script>',
      series: [{ name: '<i>a</i>', colour: 'red" onclick="x' }],
      rows: [{ label: 'Peace & "Security" <b>', values: [3] }],
    });
    expect(balanced(svg)).to.equal(true);
    expect(svg).to.not.match(/<script|<i>|<b>|onload=|onclick=/);
    expect(svg).to.include('Q&amp;A &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(svg).to.include('Peace &amp; &quot;Security&quot; &lt;b&gt;');
    expect(svg).to.include('fill="#4e6b1f"');
    expect(escapeXml(`<'&">`)).to.equal('&lt;&#39;&amp;&quot;&gt;');
  });

  it('shortens long labels on the chart and keeps them whole in the row’s title; says when there is nothing', () => {
    const long = 'Fellowship Programme in Peacemaking and Preventive Diplomacy 2027';
    const svg = horizontalBarChart({ id: 'c2', title: 'Editions', series, rows: [{ label: long, values: [12, 0] }] });
    expect(svg).to.include(`<title>${long}: Participants 12, Completions 0</title>`);
    expect(svg).to.match(/>Fellowship Programme in Peacemaking and Preventiv…<\/text>/);
    const empty = horizontalBarChart({ id: 'c3', title: 'Editions', series, rows: [], emptyText: 'No participants.' });
    expect(balanced(empty)).to.equal(true);
    expect(empty).to.include('>No participants.</text>');
    expect(empty).to.not.match(/<rect [^>]*height="16"/);
  });

  it('has every roster and report text in French too', () => {
    const keys = (o: unknown, prefix = ''): string[] =>
      Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => (typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
    const en = JSON.parse(fs.readFileSync('plugins/enrolment/locales/en.json', 'utf8'));
    const fr = JSON.parse(fs.readFileSync('plugins/enrolment/locales/fr.json', 'utf8'));
    for (const part of ['roster', 'reports']) expect(keys(fr[part]).sort(), part).to.deep.equal(keys(en[part]).sort());
  });
});

describe('enrolment: rosters and reports', function () {
  this.timeout(120000);
  let t: TestApp;
  let staff: ReturnType<typeof supertest.agent>;
  const Edition = () => t.app.olive.connection.model<EditionDoc>('enrolment_edition');
  const Person = () => t.app.olive.connection.model<PersonDoc>('enrolment_person');
  const editionId = async (e: FixtureEdition) =>
    (await Edition()
      .findOne({ title: editionTitle(e) })
      .lean())!._id.toString();
  const byMethod = (method: string) => editions.find((e) => e.method === method)!;

  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'enrol_reports' });
    staff = await signIn(t.app, 'staff@olive.example');
  });
  after(async () => {
    await t?.stop();
  });

  describe('the donor report', () => {
    it('shows participants and completions per edition exactly as the fixture has them', async () => {
      const expected = expectedFigures(editions);
      const res = await staff.get('/enrolment/reports').expect(200);
      for (const e of expected.perEdition) {
        const m = new RegExp(
          `<th scope="row"><a href="[^"]+/roster"><bdi>${escapeXml(e.title).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</bdi></a></th>\\s*<td>[^<]*</td>\\s*<td>[^<]*</td>\\s*<td>(\\d+)</td>\\s*<td>(\\d+)</td>`,
        ).exec(res.text);
        expect(m, e.title).to.not.equal(null);
        expect([Number(m![1]), Number(m![2])], e.title).to.deep.equal([e.participants, e.completions]);
      }
      expect(res.text).to.include(`${expected.totals[0]} participants, ${expected.totals[1]} completions.`);
      // The demo has completions to show (the past regional training and the self-paced course).
      expect(expected.totals[1]).to.be.greaterThan(5);
    });

    it('breaks participants and completions down by gender, region and organisation type (CSV, against the fixture)', async () => {
      const expected = expectedFigures(editions);
      const res = await staff.get('/enrolment/reports.csv').expect(200);
      expect(res.headers['content-type']).to.match(/^text\/csv; charset=utf-8/);
      expect(res.headers['content-disposition']).to.match(/^attachment; filename="?report\.csv"?$/);
      expect(res.text.charCodeAt(0)).to.equal(0xfeff);
      const rows = parseCsv(res.text);
      expect(rows[0]).to.deep.equal(['Breakdown', 'Category', 'Course', 'Starts', 'Participants', 'Completions']);
      const figures = (breakdown: string) => Object.fromEntries(rows.filter((r) => r[0] === breakdown).map((r) => [r[1], [Number(r[4]), Number(r[5])]]));
      const labels = {
        gender: { woman: 'Woman', man: 'Man', 'non-binary': 'Non-binary', undisclosed: 'Prefer not to say' } as Record<string, string>,
        organisationType: {
          'un-secretariat': 'UN Secretariat',
          'un-agency': 'UN agency, fund or programme',
          government: 'Government or ministry',
          'regional-organisation': 'Regional organisation',
          'civil-society': 'Civil society / NGO',
          academia: 'Academia',
          'private-sector': 'Private sector',
          other: 'Other',
        } as Record<string, string>,
      };
      const withZeros = (all: Record<string, string>, counts: Record<string, [number, number]>) =>
        Object.fromEntries(Object.entries(all).map(([k, label]) => [label, counts[k] ?? [0, 0]]));
      expect(figures('Gender')).to.deep.equal(withZeros(labels.gender, expected.gender));
      expect(figures('Type of organisation')).to.deep.equal(withZeros(labels.organisationType, expected.organisationType));
      expect(figures('Region')).to.deep.equal(
        withZeros({ Africa: 'Africa', Americas: 'Americas', Asia: 'Asia', Europe: 'Europe', Oceania: 'Oceania' }, expected.region),
      );
      expect(figures('Edition')).to.deep.equal(Object.fromEntries(expected.perEdition.map((e) => [e.title, [e.participants, e.completions]])));
      expect(figures('Total')).to.deep.equal({ 'All editions': expected.totals });
    });

    it('filters by course and by year (dated editions by their start year)', async () => {
      const course = await t.app.olive.connection.db!.collection('courses_course').findOne({ slug: 'interest-based-negotiation' });
      const ofCourse = editions.filter((e) => e.course === 'interest-based-negotiation');
      let res = await staff.get(`/enrolment/reports?course=${course!._id}`).expect(200);
      let expected = expectedFigures(ofCourse);
      expect(res.text).to.include(`${expected.totals[0]} participants, ${expected.totals[1]} completions.`);
      expect(res.text).to.not.include(editionTitle(byMethod('open')));

      const fellowship = byMethod('application');
      const year = new Date(Date.now() + fellowship.startsInDays! * 86400000).getUTCFullYear();
      const inYear = editions.filter((e) => e.selfPaced || new Date(Date.now() + e.startsInDays! * 86400000).getUTCFullYear() === year);
      res = await staff.get(`/enrolment/reports.csv?year=${year}&course=${course!._id}`).expect(200);
      expected = expectedFigures(inYear.filter((e) => e.course === 'interest-based-negotiation'));
      const rows = parseCsv(res.text);
      expect(
        rows
          .find((r) => r[0] === 'Total')!
          .slice(4)
          .map(Number),
      ).to.deep.equal(expected.totals);
      expect(res.headers['content-disposition']).to.match(new RegExp(`^attachment; filename="?report-${year}-interest-based-negotiation\\.csv"?$`));
      // A year with no edition: nothing to count, and the page says so.
      res = await staff.get('/enrolment/reports?year=1995').expect(200);
      expect(res.text).to.include('0 participants, 0 completions.');
    });

    it('refuses a malformed filter with a clear message', async () => {
      expect((await staff.get('/enrolment/reports?year=soon').expect(400)).text).to.include('Choose a year from the list.');
      expect((await staff.get('/enrolment/reports?course=nope').expect(400)).text).to.include('Choose a course from the list.');
      expect((await staff.get(`/enrolment/reports?course=${new mongoose.Types.ObjectId()}`).expect(400)).text).to.include('No course with editions');
    });

    it('draws each breakdown as an accessible SVG chart, with the same figures in a table', async () => {
      const res = await staff.get('/enrolment/reports').expect(200);
      const svgs = [...res.text.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
      expect(svgs).to.have.length(4);
      for (const svg of svgs) {
        expect(svg).to.match(/^<svg [^>]*role="img"[^>]*aria-labelledby="([\w-]+)-title \1-desc"/);
        expect(svg).to.match(/<title id="[\w-]+-title">[^<]+<\/title><desc id="[\w-]+-desc">[^<]+<\/desc>/);
        expect(balanced(svg), 'balanced tags').to.equal(true);
      }
      const expected = expectedFigures(editions);
      const women = expected.gender.woman!;
      expect(svgs[1]).to.include(`Woman: Participants ${women[0]}, Completions ${women[1]}`);
      expect(res.text).to.include(`<tr><th scope="row">Woman</th><td>${women[0]}</td><td>${women[1]}</td></tr>`);
      // Light: no script, and the four charts weigh a few KB.
      expect(res.text).to.not.include('<script');
      expect(svgs.join('').length).to.be.lessThan(40000);
    });

    it('escapes edition titles and stored organisation types in the page, the charts and the CSV', async () => {
      const open = await Edition().findOne({ title: editionTitle(byMethod('open')) });
      const originalTitle = open!.title;
      const person = await Person().findById('lan.nguyen@mofa-vn.example');
      try {
        await Edition().updateOne({ _id: open!._id }, { $set: { title: 'Q&A <script>alert(1)</script>' } });
        await Person().updateOne({ _id: person!._id }, { $set: { organisationType: '<b>think & do</b>' } });
        const res = await staff.get('/enrolment/reports').expect(200);
        expect(res.text).to.not.include('<script>alert(1)');
        expect(res.text).to.not.include('<b>think');
        expect(res.text).to.include('Q&amp;A &lt;script&gt;alert(1)&lt;/script&gt;');
        expect(res.text).to.include('&lt;b&gt;think &amp; do&lt;/b&gt;');
        for (const m of res.text.matchAll(/<svg[\s\S]*?<\/svg>/g)) expect(balanced(m[0])).to.equal(true);
        const csv = parseCsv((await staff.get('/enrolment/reports.csv').expect(200)).text);
        expect(csv.some((r) => r[1] === '<b>think & do</b>')).to.equal(true);
      } finally {
        await Edition().updateOne({ _id: open!._id }, { $set: { title: originalTitle } });
        await Person().updateOne({ _id: person!._id }, { $set: { organisationType: 'government' } });
      }
    });

    it('is for programme staff and admins only', async () => {
      const learner = await signIn(t.app, 'learner@olive.example');
      await learner.get('/enrolment/reports').expect(403);
      await learner.get('/enrolment/reports.csv').expect(403);
      await (await signIn(t.app, 'trainer@olive.example')).get('/enrolment/reports').expect(403);
      await (await signIn(t.app, 'admin@olive.example')).get('/enrolment/reports').expect(200);
      const anonymous = await supertest(t.app).get('/enrolment/reports').set('Accept', 'text/html').expect(303);
      expect(anonymous.headers.location).to.match(/^\/login\?returnTo=/);
    });
  });

  describe('the roster', () => {
    const url = async (e: FixtureEdition, query = '') => `/enrolment/manage/editions/${await editionId(e)}/roster${query}`;

    it('lists everyone in the edition with status, waiting-list position and progress', async () => {
      const fellowship = byMethod('application');
      const res = await staff.get(await url(fellowship)).expect(200);
      const rows = rowsOf(res.text).map(cellsOf);
      expect(rows).to.have.length(fellowship.participants.length);
      expect(res.text).to.include(`${fellowship.participants.length} of ${fellowship.participants.length} people shown.`);
      // Pre-enrolled people: their profile's name and a note that they have no account yet.
      const kaupa = rows.find((r) => r[1] === 'joseph.kaupa@abg.example')!;
      expect(kaupa[0]).to.equal('Joseph Kaupa no account yet (pre-enrolled)');
      expect(kaupa[3]).to.equal('Papua New Guinea');
      expect(kaupa[4]).to.equal('Enrolled');
      const waiting = fellowship.participants.filter((p) => p.status === 'waitlisted').map((p) => p.email);
      waiting.forEach((email, i) => expect(rows.find((r) => r[1] === email)![4]).to.equal(`On the waiting list (no. ${i + 1})`));

      const regional = byMethod('invitation');
      const page = await staff.get(await url(regional)).expect(200);
      const mwangi = rowsOf(page.text)
        .map(cellsOf)
        .find((r) => r[1] === 'joseph.mwangi@olive.example')!;
      expect(mwangi[5]).to.equal('100 %');
      expect(mwangi[6]).to.not.equal('—');
      expect(page.text).to.match(/<progress max="100" value="100" aria-hidden="true"><\/progress> 100 %/);
    });

    it('filters by status and by free text (name, e-mail, organisation; accents ignored)', async () => {
      const fellowship = byMethod('application');
      let rows = rowsOf((await staff.get(await url(fellowship, '?status=pending')).expect(200)).text).map(cellsOf);
      expect(rows.map((r) => r[1]).sort()).to.deep.equal(
        fellowship.participants
          .filter((p) => p.status === 'pending')
          .map((p) => p.email)
          .sort(),
      );
      rows = rowsOf((await staff.get(await url(fellowship, '?q=aicha')).expect(200)).text).map(cellsOf);
      expect(rows.map((r) => r[0])).to.deep.equal(['Aïcha Traoré']);
      rows = rowsOf((await staff.get(await url(fellowship, `?q=${encodeURIComponent('ministry foreign')}&status=enrolled`)).expect(200)).text).map(cellsOf);
      const expected = fellowship.participants.filter(
        (p) => p.status === 'enrolled' && /ministry/i.test(personOf(p.email).organisation) && /foreign/i.test(personOf(p.email).organisation),
      );
      expect(rows.map((r) => r[1]).sort()).to.deep.equal(expected.map((p) => p.email).sort());
      expect(expected.length).to.be.greaterThan(1);
      const none = await staff.get(await url(fellowship, '?q=nobody-like-this')).expect(200);
      expect(none.text).to.include('Nobody matches these filters.');
      // A stale or hand-made value is ignored rather than failing.
      expect(rowsOf((await staff.get(await url(fellowship, '?status=bogus&sort=bogus')).expect(200)).text)).to.have.length(fellowship.participants.length);
    });

    it('sorts by name, progress, status and last activity, with links that work without JavaScript', async () => {
      const selfPaced = byMethod('open');
      const base = await url(selfPaced);
      let res = await staff.get(base).expect(200);
      let names = rowsOf(res.text)
        .map(cellsOf)
        .map((r) => r[0]!);
      expect(names).to.deep.equal([...names].sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' })));
      expect(res.text).to.include('aria-sort="ascending"');
      // The name header's link reverses the order.
      const reverse = /<a href="([^"]*sort=name[^"]*)">Name/.exec(res.text)![1]!.replace(/&amp;/g, '&');
      expect(reverse).to.include('dir=desc');
      names = rowsOf((await staff.get(reverse).expect(200)).text)
        .map(cellsOf)
        .map((r) => r[0]!);
      expect(names).to.deep.equal([...names].sort((a, b) => b.localeCompare(a, 'en', { sensitivity: 'base' })));

      res = await staff.get(`${base}?sort=progress`).expect(200);
      const percents = rowsOf(res.text)
        .map(cellsOf)
        .map((r) => Number(r[5]!.replace(' %', '')));
      expect(percents).to.deep.equal([...percents].sort((a, b) => b - a));
      expect(percents[0]).to.equal(100);
      expect(percents.at(-1)).to.equal(0);

      res = await staff.get(`${base}?sort=status`).expect(200);
      const statuses = rowsOf(res.text)
        .map(cellsOf)
        .map((r) => r[4]);
      expect(statuses.at(-1)).to.equal('Withdrawn');

      res = await staff.get(`${base}?sort=lastActivity`).expect(200);
      const last = rowsOf(res.text)
        .map(cellsOf)
        .map((r) => r[7]);
      // Those who never did anything come last, whatever the direction.
      const noActivity = selfPaced.participants.filter((p) => !p.modulesDone).length;
      expect(last.slice(-noActivity).every((c) => c === '—')).to.equal(true);
      expect(last.slice(0, -noActivity).every((c) => c !== '—')).to.equal(true);
    });

    it('exports the filtered, sorted roster as CSV: BOM, attachment name, formula guard', async () => {
      const regional = byMethod('invitation');
      const person = await Person().findById('grace.otieno@npi.example');
      try {
        await Person().updateOne({ _id: person!._id }, { $set: { organisation: '=HYPERLINK("http://evil.example","click")', familyName: '+Otieno' } });
        const res = await staff.get(await url(regional, '.csv?sort=name&status=enrolled')).expect(200);
        expect(res.headers['content-type']).to.match(/^text\/csv; charset=utf-8/);
        expect(res.headers['content-disposition']).to.match(
          new RegExp(
            `^attachment; filename="?roster-regional-training-programme-for-africa-negotiation-and-mediation-${editionTitle(regional).slice(-4)}\\.csv"?$`,
          ),
        );
        expect(res.text.charCodeAt(0)).to.equal(0xfeff);
        const rows = parseCsv(res.text);
        expect(rows[0]).to.deep.equal([
          'Name',
          'Account',
          'E-mail',
          'Organisation',
          'Country',
          'Status',
          'Waiting list position',
          'Progress (%)',
          'Completed on',
          'Last activity',
          'Enrolled since',
        ]);
        expect(rows).to.have.length(1 + regional.participants.filter((p) => p.status === 'enrolled').length);
        const grace = rows.find((r) => r[2] === 'grace.otieno@npi.example')!;
        expect(grace[3]).to.equal('\'=HYPERLINK("http://evil.example","click")');
        expect(grace[0]).to.equal('Grace Achieng +Otieno');
        const aicha = rows.find((r) => r[2] === 'aicha.traore@undp-ci.example')!;
        expect(aicha[0]).to.equal('Aïcha Traoré');
        expect(aicha[4]).to.equal(countryName('CI', 'en'));
        expect(aicha[7]).to.equal('100');
        expect(aicha[8]).to.match(/^\d{4}-\d{2}-\d{2}$/);
        const chipo = rows.find((r) => r[2] === 'chipo.moyo@sadc.example')!;
        expect(chipo[1]).to.equal('no account yet (pre-enrolled)');
      } finally {
        await Person().updateOne({ _id: person!._id }, { $set: { organisation: person!.organisation, familyName: person!.familyName } });
      }
    });

    it('is refused to learners and to trainers of other editions; an edition’s own trainer reads it', async () => {
      const keyEdition = byMethod('key');
      const regional = byMethod('invitation');
      expect(keyEdition.trainers).to.not.include('trainer@olive.example');
      expect(regional.trainers).to.include('trainer@olive.example');

      const learner = await signIn(t.app, 'learner@olive.example');
      await learner.get(await url(keyEdition)).expect(403);
      await learner.get(await url(keyEdition, '.csv')).expect(403);

      const trainer = await signIn(t.app, 'trainer@olive.example');
      await trainer.get(await url(keyEdition)).expect(403);
      await trainer.get(await url(keyEdition, '.csv')).expect(403);
      const own = await trainer.get(await url(regional)).expect(200);
      expect(own.text).to.include('read-only: you teach this edition');
      // Read-only: no way from here into the staff pages of the edition.
      expect(own.text).to.not.include(`href="/enrolment/manage/editions/${await editionId(regional)}"`);
      await trainer.get(await url(regional, '.csv')).expect(200);

      const staffPage = await staff.get(await url(keyEdition)).expect(200);
      expect(staffPage.text).to.not.include('read-only');
      expect(staffPage.text).to.include(`href="/enrolment/manage/editions/${await editionId(keyEdition)}"`);
      await (await signIn(t.app, 'admin@olive.example')).get(await url(keyEdition)).expect(200);
    });

    it('answers 404 for an unknown or malformed edition', async () => {
      await staff.get(`/enrolment/manage/editions/${new mongoose.Types.ObjectId()}/roster`).expect(404);
      await staff.get('/enrolment/manage/editions/not-an-id/roster').expect(404);
      await staff.get('/enrolment/manage/editions/not-an-id/roster.csv').expect(404);
    });
  });

  describe('in a real browser, as staff', () => {
    let browser: Browser;
    let server: Awaited<ReturnType<typeof listen>>;
    before(async () => {
      server = await listen(t.app);
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await server?.close();
    });

    it('opens the reports, follows an edition to its roster, filters and sorts it', async () => {
      const page: Page = await (await browser.newContext()).newPage();
      await page.goto(`${server.url}/login`);
      await page.getByLabel('E-mail address').fill('staff@olive.example');
      await page.getByLabel('Password').fill(DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${server.url}/`);

      await page.goto(`${server.url}/enrolment/reports`);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Reports');
      const chart = page.getByRole('img', { name: 'By region' });
      expect(await chart.count()).to.equal(1);
      const box = await chart.boundingBox();
      expect(box!.width).to.be.greaterThan(300);
      const expected = expectedFigures(editions);
      expect(await page.getByRole('status').textContent()).to.include(`${expected.totals[0]} participants`);

      const regional = editionTitle(byMethod('invitation'));
      await page.getByRole('link', { name: regional, exact: true }).click();
      await page.waitForURL(/\/roster$/);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(`Participants: ${regional}`);
      await page.getByLabel('Search').fill('kabila');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.waitForURL(/q=kabila/);
      expect(await page.locator('table.roster tbody tr').count()).to.equal(1);
      expect(await page.locator('table.roster tbody tr td').first().textContent()).to.equal('Marie-Claire Kabila');

      await page.getByRole('link', { name: 'Clear the filters' }).click();
      await page.getByRole('link', { name: 'Progress', exact: true }).click();
      await page.waitForURL(/sort=progress/);
      expect(await page.locator('th[aria-sort="descending"]').textContent()).to.include('Progress');
      const first = await page.locator('table.roster tbody tr').first().locator('td').nth(5).textContent();
      expect(first!.trim()).to.equal('100 %');

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
      expect(download.suggestedFilename()).to.match(/^roster-regional-training-programme-for-africa.*\.csv$/);
    });
  });
});
