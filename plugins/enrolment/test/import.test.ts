import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import mongoose from 'mongoose';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import supertest from 'supertest';
import { isDatabaseUnavailable, spreadsheetCell, startEmbeddedDatabase, toCsv, type EmbeddedDatabase } from '../../../src/index.ts';
import { createTestApp, signIn, tokenFor, type TestApp } from '../../../test/helpers/app.ts';
import { signedInPage, useBrowserApp } from '../../../test/helpers/browser.ts';
import { inbox, linkIn, mailTestEnv } from '../../../test/helpers/mail.ts';
import { portOutsideEphemeralRange } from '../../../test/helpers/faults.ts';
import type { JobDoc, JobLeaseDoc } from '../../../src/core/jobs/jobs.models.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';
import {
  fieldOfHeader, planRows, readImportFile, type CommitPayload, type ImportFile, type ImportRow, type PlanContext,
} from '../services/import.service.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

const fixture = (name: string) => fs.readFileSync(new URL(`./csv/${name}`, import.meta.url));
const read = (bytes: Uint8Array | string, maxRows = 1000) => readImportFile(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes, { maxRows });
function rowsOf(result: ReturnType<typeof read>): ImportRow[] {
  expect(result.problems, JSON.stringify(result.problems)).to.deep.equal([]);
  return (result as ImportFile).rows;
}
const codes = (row: ImportRow) => row.errors.map((e) => e.code);

describe('bulk enrolment from CSV: reading files', () => {
  it('reads a Windows-1252 file from a French Excel (semicolons, CRLF) with its accents right', () => {
    const result = read(fixture('windows-1252.csv')) as ImportFile;
    expect(result.encoding).to.equal('windows-1252');
    expect(result.delimiter).to.equal(';');
    const rows = rowsOf(result);
    expect(rows.map((r) => [r.email, r.person.givenName, r.person.familyName, r.person.country, r.person.gender])).to.deep.equal([
      ['jose.nunez@example.org', 'José', 'Núñez', 'CL', 'man'],
      ['chloe.muller@example.org', 'Chloé', 'Müller', 'CH', 'woman'],
      ['francois.begue@example.org', 'François', 'Bégué', 'FR', 'man'],
    ]);
    expect(rows[1]!.person.organisation).to.equal('Département fédéral des affaires étrangères');
    expect(rows.every((r) => r.errors.length === 0)).to.equal(true);
  });

  it('reads UTF-8 with a byte-order mark exactly as without it (the first header is still "email")', () => {
    const withBom = fixture('utf8-bom.csv');
    expect([...withBom.subarray(0, 3)]).to.deep.equal([0xef, 0xbb, 0xbf]);
    const a = read(withBom) as ImportFile;
    const b = read(withBom.subarray(3)) as ImportFile;
    expect(a.bom).to.equal(true);
    expect(b.bom).to.equal(false);
    expect(a.columns[0]).to.deep.equal({ header: 'email', field: 'email' });
    expect(rowsOf(a)).to.deep.equal(rowsOf(b));
    expect(rowsOf(a).map((r) => [r.email, r.person.givenName, r.person.country])).to.deep.equal([
      ['zoe.arnaud@example.org', 'Zoé', 'AT'], ['kwame.mensah@example.org', 'Kwame', 'GH'],
    ]);
  });

  it('reads UTF-16 with a byte-order mark, tab-separated (Excel "Unicode text")', () => {
    const result = read(fixture('utf16.txt')) as ImportFile;
    expect(result.encoding).to.equal('utf-16le');
    expect(result.delimiter).to.equal('\t');
    expect(rowsOf(result).map((r) => [r.email, r.person.givenName, r.person.country])).to.deep.equal([
      ['li.wei@example.org', 'Wei', 'CN'], ['olga.ivanova@example.org', 'Ольга', 'RU'],
    ]);
  });

  it('gives each bad row its own reason and keeps reading the good rows around them', () => {
    const rows = rowsOf(read(fixture('bad-rows.csv')));
    expect(rows.map((r) => [r.line, codes(r)])).to.deep.equal([
      [2, []],
      [3, ['emailInvalid']],
      [4, ['country']],
      [5, ['duplicate']],
      [6, ['columnCount']],
      [7, ['gender']],
      [8, ['role']],
      [9, ['malformed']],
      [10, ['emailMissing']],
      [11, []],
    ]);
    expect(rows[3]!.errors[0]!.params).to.deep.equal({ line: 2 });
    expect(rows[4]!.errors[0]!.params).to.deep.equal({ expected: 6, got: 7 });
    expect(rows[2]!.errors[0]!.params).to.deep.equal({ value: 'Narnia' });
  });

  it('maps English and French headers whatever their case, spaces and accents; reports ignored and doubled columns', () => {
    expect(['E-Mail', ' COURRIEL ', 'Adresse électronique', 'adresse e-mail'].map(fieldOfHeader)).to.deep.equal(['email', 'email', 'email', 'email']);
    expect(['Prénom', 'PRENOM', 'First Name', 'given_name'].map(fieldOfHeader)).to.deep.equal(['givenName', 'givenName', 'givenName', 'givenName']);
    expect(['Nom', 'Last name', 'Surname', 'Nom de famille'].map(fieldOfHeader)).to.deep.equal(['familyName', 'familyName', 'familyName', 'familyName']);
    expect(['Organization', 'Pays', 'Sexe', 'Rôle', 'Fonction', 'Type d’organisation', 'Notes'].map(fieldOfHeader))
      .to.deep.equal(['organisation', 'country', 'gender', 'role', 'jobTitle', 'organisationType', null]);
    const doubled = read('email,courriel\na@example.org,a@example.org\n');
    expect(doubled.problems.map((p) => p.code)).to.deep.equal(['duplicateColumn']);
  });

  it('refuses files that cannot be imported as a whole, saying why', () => {
    const problem = (input: Uint8Array | string, maxRows?: number) => read(input, maxRows).problems.map((p) => p.code);
    expect(problem(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00]))).to.deep.equal(['workbook']);
    expect(problem(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]))).to.deep.equal(['legacyWorkbook']);
    expect(problem(Buffer.from('%PDF-1.7\n'))).to.deep.equal(['pdf']);
    expect(problem(Buffer.from([0x41, 0x00, 0x42, 0x0a]))).to.deep.equal(['binary']);
    expect(problem('')).to.deep.equal(['empty']);
    expect(problem('\n\n  \n')).to.deep.equal(['empty']);
    expect(problem('name,country\nAmina,Senegal\n')).to.deep.equal(['noEmailColumn']);
    expect(problem('email\n')).to.deep.equal(['noRows']);
    expect(problem('email\na@example.org\nb@example.org\nc@example.org\n', 2)).to.deep.equal(['tooManyRows']);
  });

  it('follows Excel\'s "sep=" line, skips blank lines, and counts lines across quoted line breaks', () => {
    const rows = rowsOf(read('sep=;\r\nemail;organisation\r\n\r\na@example.org;"Ministry of\r\nForeign Affairs"\r\nb@example.org;"Say ""hello"""\r\n;\r\n'));
    expect(rows.map((r) => [r.line, r.lastLine, r.email, r.person.organisation])).to.deep.equal([
      [4, 5, 'a@example.org', 'Ministry of Foreign Affairs'],
      [6, 6, 'b@example.org', 'Say "hello"'],
    ]);
  });

  it('reads on after an unclosed quote: only that line is lost', () => {
    const rows = rowsOf(read('email,name\na@example.org,Ann\n"b@example.org,Unclosed\nc@example.org,Cy\n'));
    expect(rows.map((r) => [r.line, r.email, codes(r)])).to.deep.equal([[2, 'a@example.org', []], [3, '', ['quoteNotClosed']], [4, 'c@example.org', []]]);
  });

  it('reads a large file with many bad quotes quickly, one error per bad line; past 500 of them, the rest is one error', () => {
    const lines = ['email,name'];
    for (let i = 0; i < 20_000; i++) lines.push(i % 50 === 7 ? `p${i}@example.org,"bad"quote` : `p${i}@example.org,Name ${i}`);
    let started = Date.now();
    const rows = rowsOf(read(lines.join('\n'), 100_000));
    expect(Date.now() - started).to.be.below(10_000);
    expect(rows).to.have.length(20_000);
    expect(rows.filter((r) => codes(r).includes('malformed'))).to.have.length(400);
    expect(rows[8]!.line).to.equal(10);
    expect(codes(rows[7]!)).to.deep.equal(['malformed']);

    const worse = ['email,name'];
    for (let i = 0; i < 30_000; i++) worse.push(i % 10 === 7 ? `q${i}@example.org,"bad"quote` : `q${i}@example.org,Name ${i}`);
    started = Date.now();
    const cut = rowsOf(read(worse.join('\n'), 100_000));
    expect(Date.now() - started).to.be.below(10_000);
    const last = cut.at(-1)!;
    expect(codes(last)).to.deep.equal(['tooManyMalformed']);
    expect(last.lastLine).to.equal(30_001);
    expect(cut.filter((r) => codes(r).includes('malformed'))).to.have.length(500);
  });

  it('accepts "Name <address>" and mailto: addresses, and knows learner and trainer in English and French', () => {
    const rows = rowsOf(read('email,role\n"Amina Diallo <Amina@Example.org>",Participant\nmailto:li@example.org,Formatrice\nx@example.org,\n'));
    expect(rows.map((r) => [r.email, r.role, codes(r)])).to.deep.equal([
      ['amina@example.org', 'learner', []], ['li@example.org', 'trainer', []], ['x@example.org', 'learner', []],
    ]);
  });

  describe('planning', () => {
    const rowsFor = (text: string) => rowsOf(read(text));
    const empty = (over: Partial<PlanContext> = {}): PlanContext => ({
      seatsLeft: null, persons: new Map(), enrolments: new Map(), accounts: new Map(), trainerIds: new Set(), ...over,
    });

    it('gives the free seats in order down the file and puts the rest on the waiting list', () => {
      const rows = rowsFor('email\na@example.org\nbad\nb@example.org\nc@example.org\nd@example.org\n');
      const plan = planRows(rows, empty({ seatsLeft: 2, enrolments: new Map([['b@example.org', { status: 'enrolled' }]]) }));
      expect(plan.map((p) => p.action)).to.deep.equal(['enrol', 'error', 'already', 'enrol', 'waitlist']);
      expect(plan[2]!.status).to.equal('enrolled');
      expect(planRows(rows, empty()).filter((p) => p.action === 'waitlist')).to.have.length(0);
    });

    it('re-enrols people who had withdrawn; names the profile fields that change; empty cells change nothing', () => {
      const rows = rowsFor('email,organisation,country,gender\na@example.org,New Org,,\nb@example.org,Same Org,KE,\nc@example.org,,,\n');
      const old = { givenName: '', familyName: '', organisation: 'Old Org', organisationType: '', country: 'KE', gender: 'woman', jobTitle: '' };
      const plan = planRows(rows, empty({
        persons: new Map([['a@example.org', old], ['b@example.org', { ...old, organisation: 'Same Org' }]]),
        enrolments: new Map([['a@example.org', { status: 'withdrawn' }]]),
        accounts: new Map([['b@example.org', { id: 'u1', roles: ['learner'] }]]),
      }));
      expect(plan.map((p) => [p.action, p.profile, p.changed, p.account])).to.deep.equal([
        ['enrol', 'update', ['organisation'], false],
        ['enrol', 'unchanged', [], true],
        ['enrol', 'create', [], false],
      ]);
    });

    it('adds trainers only when their account exists and has the trainer role', () => {
      const rows = rowsFor('email,role\nt@example.org,trainer\nl@example.org,trainer\nnobody@example.org,trainer\nold@example.org,trainer\n');
      const plan = planRows(rows, empty({
        accounts: new Map([['t@example.org', { id: 't', roles: ['trainer'] }], ['l@example.org', { id: 'l', roles: ['learner'] }], ['old@example.org', { id: 'o', roles: ['trainer'] }]]),
        trainerIds: new Set(['o']),
      }));
      expect(plan.map((p) => [p.action, p.errors.map((e) => e.code)])).to.deep.equal([
        ['addTrainer', []], ['error', ['trainerNotTrainer']], ['error', ['trainerNoAccount']], ['alreadyTrainer', []],
      ]);
    });
  });

  it('writes CSV that spreadsheets open safely: formulas are neutralised, accents survive (UTF-8 with BOM)', () => {
    expect(['=HYPERLINK("http://x")', '+1', '-2', '@SUM(A1)', 'Núñez', '', 'a=b'].map(spreadsheetCell))
      .to.deep.equal(['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", 'Núñez', '', 'a=b']);
    const csv = toCsv(['line', 'problem'], [['3', '=cmd|\' /C calc\'!A0']]);
    expect(csv.startsWith('\ufeffline,problem\r\n')).to.equal(true);
    expect(csv).to.contain("'=cmd");
  });

  describe('properties', () => {
    const email = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9.]{0,10}$/), fc.constantFrom('example.org', 'un.org', 'example.co.ke'))
      .map(([local, domain]) => `${local.replace(/\.+$/, '').replace(/\.{2,}/g, '.')}@${domain}`);
    const cell = fc.string({ maxLength: 30, unit: 'grapheme' });

    it('never throws on arbitrary bytes; every row gets exactly one outcome, in file order', () => {
      // Random bytes, and random text made of what CSV structure is made of (quotes, separators, line breaks).
      const csvish = fc.string({ unit: fc.constantFrom('a', 'b', '@', '.', ',', ';', '"', '\n', '\r', ' ', '\t', 'é', 'x@y.org'), maxLength: 300 })
        .map((text) => Buffer.from(text, 'utf8'));
      const bytes = fc.oneof(fc.uint8Array({ maxLength: 600 }), csvish);
      fc.assert(fc.property(bytes, fc.constantFrom('', 'email,name\n', 'courriel;nom\r\n', '\ufeffE-mail\n'), (bytes, header) => {
        const input = Buffer.concat([Buffer.from(header), bytes]);
        const result = readImportFile(input, { maxRows: 1000 });
        if (!('rows' in result)) return;
        let previous = 0;
        for (const row of result.rows) {
          expect(row.line).to.be.greaterThan(previous);
          expect(row.lastLine).to.be.at.least(row.line);
          previous = row.lastLine;
          // One outcome: an error, or a valid e-mail to act on.
          expect(row.errors.length > 0 || /@/.test(row.email)).to.equal(true);
        }
        const plan = planRows(result.rows, { seatsLeft: 3, persons: new Map(), enrolments: new Map(), accounts: new Map(), trainerIds: new Set() });
        expect(plan).to.have.length(result.rows.length);
        plan.forEach((p, i) => expect(p.action === 'error').to.equal(result.rows[i]!.errors.length > 0));
      }), { numRuns: 300 });
    });

    it('reads back every row of any CSV a spreadsheet writes, with or without BOM, comma or semicolon', () => {
      const person = fc.record({ email, givenName: cell, organisation: cell });
      fc.assert(fc.property(fc.array(person, { minLength: 1, maxLength: 15 }), fc.constantFrom(',', ';'), fc.constantFrom('\n', '\r\n'), (people, delimiter, eol) => {
        const text = stringify([['E-mail', 'Given name', 'Organisation'], ...people.map((p) => [p.email, p.givenName, p.organisation])], { delimiter, record_delimiter: eol === '\n' ? 'unix' : 'windows', quoted_match: /^\s|\s$|^sep=/ });
        const plain = readImportFile(Buffer.from(text, 'utf8'), { maxRows: 100 }) as ImportFile;
        const bom = readImportFile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]), { maxRows: 100 }) as ImportFile;
        expect(bom.problems).to.deep.equal([]);
        expect(bom.rows).to.deep.equal(plain.rows);
        expect(plain.delimiter).to.equal(delimiter);
        // Rows whose cells are all blank are not rows; every other record is one row.
        expect(plain.rows.map((r) => r.cells.email)).to.deep.equal(people.map((p) => p.email));
        const seen = new Set<string>();
        for (const [i, row] of plain.rows.entries()) {
          const duplicate = seen.has(people[i]!.email);
          seen.add(people[i]!.email);
          expect(codes(row).includes('duplicate')).to.equal(duplicate);
          if (!row.errors.length) expect(row.person.givenName ?? '').to.equal(people[i]!.givenName.replace(/[\s\u00a0]+/gu, ' ').trim());
        }
      }), { numRuns: 200 });
    });
  });
});

/** The host job of a batch's commit (the first one, keyed by the batch id). */
const COMMIT_QUEUE = 'enrolment.import-commit';
const commitJobId = (batchId: string) => `${COMMIT_QUEUE}:${batchId}`;

describe('bulk enrolment from CSV: pages and database', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Agent;
  let courseId: string;

  async function post(agent: Agent, url: string, fields: Record<string, unknown>, page: string) {
    return agent.post(url).type('form').send({ ...fields, _csrf: await tokenFor(agent, page) });
  }

  async function newEdition(fields: Record<string, unknown> = {}): Promise<string> {
    const res = await post(staff, '/enrolment/manage/editions', {
      courseId, title: 'Import test edition', language: 'en', method: 'invitation', status: 'published', online: 'on',
      startsAt: '2026-01-10', endsAt: '2099-12-31', ...fields,
    }, '/enrolment/manage/editions/new');
    expect(res.status, res.text.slice(0, 2000)).to.equal(303);
    return /editions\/([0-9a-f]{24})/.exec(res.headers.location as string)![1]!;
  }

  /** Uploads a file through the import form (multipart, the CSRF token in the action URL). */
  async function upload(agent: Agent, edition: string, name: string, bytes: Buffer | string) {
    const token = await tokenFor(agent, `/enrolment/manage/editions/${edition}/import`);
    return agent.post(`/enrolment/manage/editions/${edition}/import?_csrf=${encodeURIComponent(token)}`)
      .attach('file', typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes, { filename: name, contentType: 'text/csv' });
  }

  /** Uploads, checks the redirect to the preview, and returns the preview's address and page. */
  async function previewOf(edition: string, name: string, bytes: Buffer | string) {
    const res = await upload(staff, edition, name, bytes);
    expect(res.status, res.text.slice(0, 3000)).to.equal(303);
    const url = res.headers.location as string;
    expect(url).to.match(new RegExp(`^/enrolment/manage/editions/${edition}/import/[0-9a-f]{24}$`));
    return { url, page: (await staff.get(url).expect(200)).text };
  }

  const commit = (url: string, agent = staff) => post(agent, `${url}/commit`, {}, url);

  const db = () => t.app.olive.connection;
  const enrolmentsOf = (editionId: string) => db().collection('enrolment_enrolment').find({ editionId }).sort({ email: 1 }).toArray();
  const Jobs = () => db().collection<JobDoc>('host_jobs');
  let env: ReturnType<typeof mailTestEnv>;

  before(async () => {
    // Mail through the test run's mail server (the person who confirms an import is told), fast job polling.
    env = mailTestEnv();
    t = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'enrol_import', env });
    staff = await signIn(t.app, 'staff@olive.example');
    const course = await db().collection('courses_course').findOne({ slug: 'conflict-analysis' });
    courseId = String(course!._id);
  });
  after(() => t.stop());

  it('is for programme staff and admins only; unknown editions and imports are 404', async () => {
    const edition = await newEdition();
    const page = `/enrolment/manage/editions/${edition}/import`;
    await supertest(t.app).get(page).expect(303).expect('location', `/login?returnTo=${encodeURIComponent(page)}`);
    for (const email of ['learner@olive.example', 'trainer@olive.example']) {
      const agent = await signIn(t.app, email);
      await agent.get(page).expect(403);
      await agent.get(`${page}/template.csv`).expect(403);
      const token = await tokenFor(agent, '/');
      await agent.post(`${page}?_csrf=${encodeURIComponent(token)}`).attach('file', Buffer.from('email\na@example.org\n'), 'people.csv').expect(403);
    }
    expect(await db().collection('enrolment_import_batch').countDocuments()).to.equal(0);
    const admin = await signIn(t.app, 'admin@olive.example');
    const form = await admin.get(page).expect(200);
    expect(form.text).to.contain('Enrol people from a file');
    await staff.get('/enrolment/manage/editions/000000000000000000000000/import').expect(404);
    await staff.get('/enrolment/manage/editions/not-an-id/import').expect(404);
    await staff.get(`${page}/000000000000000000000000`).expect(404);
    await staff.get(`${page}/nope`).expect(404);
    // A preview belongs to its edition: it is not reachable through another one.
    const { url } = await previewOf(edition, 'p.csv', 'email\nsomeone@example.org\n');
    const other = await newEdition({ title: 'Other edition' });
    await staff.get(url.replace(edition, other)).expect(404);
    await post(staff, `${url.replace(edition, other)}/commit`, {}, url).then((r) => expect(r.status).to.equal(404));
  });

  it('refuses an upload without the CSRF token, changing nothing', async () => {
    const edition = await newEdition();
    const res = await staff.post(`/enrolment/manage/editions/${edition}/import`).attach('file', Buffer.from('email\na@example.org\n'), 'people.csv');
    expect(res.status).to.equal(403);
    expect(await db().collection('enrolment_import_batch').countDocuments({ editionId: edition })).to.equal(0);
  });

  it('offers a template that reads back without a problem', async () => {
    const edition = await newEdition();
    const res = await staff.get(`/enrolment/manage/editions/${edition}/import/template.csv`).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    }).expect(200);
    expect(res.headers['content-type']).to.match(/^text\/csv/);
    expect(res.headers['content-disposition']).to.match(/^attachment; filename="?enrolment-template\.csv"?$/);
    const rows = rowsOf(read(res.body as Buffer));
    expect(rows).to.have.length(2);
    expect(rows.every((r) => r.errors.length === 0)).to.equal(true);
  });

  it('previews bad rows with their reasons, changes nothing, then commits only the good rows, once', async () => {
    const edition = await newEdition();
    const { url, page } = await previewOf(edition, 'participants.csv', fixture('bad-rows.csv'));
    for (const message of [
      '“not-an-address” is not a valid e-mail address.',
      'Unknown country “Narnia”',
      'Same e-mail address as line 2',
      'This row has 7 cells where the header has 6',
      'Unknown gender “robot”',
      'Unknown role “director”',
      'This line could not be read: a quote is misplaced.',
      'The e-mail address is missing.',
      '2 to enrol',
      '8 rows in error',
      'No account yet: matched at their first sign-in',
      'Confirm: import 2 people',
    ]) expect(page, message).to.contain(message);
    // Nothing has changed yet.
    expect(await enrolmentsOf(edition)).to.have.length(0);
    expect(await db().collection('enrolment_person').countDocuments({ _id: 'good.one@example.org' as never })).to.equal(0);

    // The rows in error, downloadable with their reasons.
    const errorsCsv = await staff.get(`${url}/errors.csv`).expect(200);
    expect(errorsCsv.text).to.contain('Unknown country “Narnia”');
    expect(errorsCsv.text.split('\r\n').filter(Boolean)).to.have.length(1 + 8);

    const done = await commit(url);
    expect(done.status).to.equal(303);
    expect(done.headers.location).to.equal(url);
    const result = (await staff.get(url).expect(200)).text;
    expect(result).to.contain('Import done');
    expect(result).to.match(/<dt>Enrolled<\/dt><dd>2<\/dd>/);
    expect(result).to.match(/<dt>Not imported<\/dt><dd>8 · <a href="[^"]+\/errors\.csv"/);
    const enrolled = await enrolmentsOf(edition);
    expect(enrolled.map((e) => [e.email, e.status, e.source, e.userId])).to.deep.equal([
      ['good.one@example.org', 'enrolled', 'import', undefined], ['good.two@example.org', 'enrolled', 'import', undefined],
    ]);
    const person = await db().collection('enrolment_person').findOne({ _id: 'good.one@example.org' as never });
    expect([person!.givenName, person!.familyName, person!.country, person!.gender]).to.deep.equal(['Good', 'One', 'KE', 'woman']);

    // Committing again (a second click, the back button) does nothing twice.
    const again = await commit(url);
    expect(again.status).to.equal(303);
    const after = (await staff.get(url).expect(200)).text;
    expect(after).to.contain('This file had already been imported: nothing was done twice.');
    const twice = await enrolmentsOf(edition);
    expect(twice).to.have.length(2);
    expect(twice.map((e) => (e.history as unknown[]).length)).to.deep.equal([1, 1]);
  });

  it('counts the seats left down the file: the rest go on the waiting list', async () => {
    const edition = await newEdition({ capacity: '3' });
    await post(staff, `/enrolment/manage/editions/${edition}/people`, { email: 'first.in@example.org' }, `/enrolment/manage/editions/${edition}`);
    const file = 'email\nfirst.in@example.org\nseat.one@example.org\nseat.two@example.org\nwait.one@example.org\nwait.two@example.org\n';
    const { url, page } = await previewOf(edition, 'seats.csv', file);
    expect(page).to.contain('2 to enrol');
    expect(page).to.contain('2 to the waiting list');
    expect(page).to.contain('1 already there');
    await commit(url);
    const statuses = Object.fromEntries((await enrolmentsOf(edition)).map((e) => [e.email, e.status]));
    expect(statuses).to.deep.equal({
      'first.in@example.org': 'enrolled', 'seat.one@example.org': 'enrolled', 'seat.two@example.org': 'enrolled',
      'wait.one@example.org': 'waitlisted', 'wait.two@example.org': 'waitlisted',
    });
    const result = (await staff.get(url).expect(200)).text;
    expect(result).to.match(/<dt>On the waiting list<\/dt><dd>2<\/dd>/);
    expect(result).to.match(/<dt>Already there<\/dt><dd>1<\/dd>/);
  });

  it('re-plans at commit time: someone enrolled between preview and commit is "already there"', async () => {
    const edition = await newEdition({ capacity: '1' });
    const { url, page } = await previewOf(edition, 'race.csv', 'email\nlate.comer@example.org\n');
    expect(page).to.contain('1 to enrol');
    await post(staff, `/enrolment/manage/editions/${edition}/people`, { email: 'late.comer@example.org' }, `/enrolment/manage/editions/${edition}`);
    await commit(url);
    expect((await staff.get(url).expect(200)).text).to.match(/<dt>Already there<\/dt><dd>1<\/dd>/);
    expect(await enrolmentsOf(edition)).to.have.length(1);
  });

  it('reads a Windows-1252 file, says so, and stores the names with their accents', async () => {
    const edition = await newEdition();
    const { url, page } = await previewOf(edition, 'liste-excel.csv', fixture('windows-1252.csv'));
    expect(page).to.contain('it was read as Windows-1252');
    expect(page).to.contain('José Núñez');
    expect(page).to.contain('Chloé Müller');
    await commit(url);
    const person = await db().collection('enrolment_person').findOne({ _id: 'jose.nunez@example.org' as never });
    expect([person!.givenName, person!.familyName, person!.country, person!.jobTitle]).to.deep.equal(['José', 'Núñez', 'CL', 'Conseiller']);
    expect(await enrolmentsOf(edition)).to.have.length(3);
  });

  it('updates only the profile fields given: empty cells never wipe what is known', async () => {
    const edition = await newEdition();
    await db().collection('enrolment_person').insertOne({
      _id: 'known.person@example.org' as never, givenName: 'Known', familyName: 'Person', organisation: 'Old Org', organisationType: 'government',
      country: 'KE', gender: 'woman', jobTitle: 'Adviser', createdAt: new Date(), updatedAt: new Date(),
    });
    const { url, page } = await previewOf(edition, 'update.csv', 'email,given name,organisation,country,gender\nknown.person@example.org,Known,New Org,,\n');
    expect(page).to.contain('Updates: Organisation');
    await commit(url);
    const person = await db().collection('enrolment_person').findOne({ _id: 'known.person@example.org' as never });
    expect([person!.organisation, person!.country, person!.gender, person!.jobTitle, person!.organisationType]).to.deep.equal(['New Org', 'KE', 'woman', 'Adviser', 'government']);
  });

  it('adds trainers to the edition when their account has the trainer role, and explains the rows it cannot', async () => {
    const edition = await newEdition();
    const { url, page } = await previewOf(edition, 'trainers.csv', 'email,role\ntrainer@olive.example,trainer\nlearner@olive.example,Formateur\nno.account@example.org,trainer\n');
    expect(page).to.contain('Add as a trainer of the edition');
    expect(page).to.contain('This account does not have the trainer role');
    expect(page).to.contain('A trainer needs an account first');
    await commit(url);
    const trainer = await t.app.olive.users.findByEmail('trainer@olive.example');
    const doc = await db().collection('enrolment_edition').findOne({ _id: new mongoose.Types.ObjectId(edition) });
    expect(doc!.trainerIds).to.deep.equal([trainer!.id]);
    expect(await enrolmentsOf(edition)).to.have.length(0);
  });

  it('refuses what is not a CSV, too large a file, or no file, with a clear message and nothing stored', async () => {
    const edition = await newEdition();
    const xlsx = await upload(staff, edition, 'participants.xlsx', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00]));
    expect(xlsx.status).to.equal(415);
    expect(xlsx.text).to.contain('This is a spreadsheet workbook (Excel .xlsx or OpenDocument .ods), not a CSV file.');
    const noEmail = await upload(staff, edition, 'names.csv', 'name,country\nAmina,Senegal\n');
    expect(noEmail.status).to.equal(400);
    expect(noEmail.text).to.contain('No e-mail column was found');
    const token = await tokenFor(staff, `/enrolment/manage/editions/${edition}/import`);
    const none = await staff.post(`/enrolment/manage/editions/${edition}/import?_csrf=${encodeURIComponent(token)}`).field('note', 'no file');
    expect(none.status).to.equal(400);
    expect(none.text).to.contain('Choose a CSV file to upload.');
    expect(await db().collection('enrolment_import_batch').countDocuments({ editionId: edition })).to.equal(0);

    // A cancelled edition takes nobody: no form, uploads refused, a preview made before cannot be committed.
    const { url } = await previewOf(edition, 'before-cancel.csv', 'email\nbefore.cancel@example.org\n');
    await db().collection('enrolment_edition').updateOne({ _id: new mongoose.Types.ObjectId(edition) }, { $set: { status: 'cancelled' } });
    const closedForm = (await staff.get(`/enrolment/manage/editions/${edition}/import`).expect(200)).text;
    expect(closedForm).to.contain('This edition is cancelled or archived: nobody can be added.');
    expect(closedForm).not.to.contain('type="file"');
    expect((await upload(staff, edition, 'late.csv', 'email\nlate@example.org\n')).status).to.equal(409);
    expect((await commit(url)).status).to.equal(409);
    expect(await enrolmentsOf(edition)).to.have.length(0);

    const small = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'enrol_import_small', pluginConfig: { enrolment: { maxImportMb: 0.001 } } });
    try {
      const smallStaff = await signIn(small.app, 'staff@olive.example');
      const course = await small.app.olive.connection.collection('courses_course').findOne({ slug: 'conflict-analysis' });
      const created = await post(smallStaff, '/enrolment/manage/editions', {
        courseId: String(course!._id), title: 'Small', language: 'en', method: 'invitation', status: 'published', online: 'on', startsAt: '2026-01-10',
      }, '/enrolment/manage/editions/new');
      const smallEdition = /editions\/([0-9a-f]{24})/.exec(created.headers.location as string)![1]!;
      const big = await upload(smallStaff, smallEdition, 'big.csv', `email\n${'someone@example.org\n'.repeat(100)}`);
      expect(big.status).to.equal(413);
      expect(big.text).to.contain('The file is larger than the 1 KB limit');
    } finally {
      await small.stop();
    }
  });

  it('two commits of one preview at the same time import each person once', async () => {
    const edition = await newEdition({ capacity: '5' });
    const people = Array.from({ length: 8 }, (_, i) => `racer${i}@example.org`);
    const { url } = await previewOf(edition, 'double.csv', `email\n${people.join('\n')}\n`);
    const token = await tokenFor(staff, url);
    const [a, b] = await Promise.all([1, 2].map(() => staff.post(`${url}/commit`).type('form').send({ _csrf: token })));
    expect([a!.status, b!.status]).to.deep.equal([303, 303]);
    const list = await enrolmentsOf(edition);
    expect(list).to.have.length(8);
    expect(list.filter((e) => e.status === 'enrolled')).to.have.length(5);
    expect(list.every((e) => (e.history as unknown[]).length === 1)).to.equal(true);
    // One commit ran, once.
    const commits = await Jobs().find({ queue: COMMIT_QUEUE, key: { $regex: `^${url.split('/').pop()}` } }).toArray();
    expect(commits.map((j) => [j.state, j.attempts])).to.deep.equal([['done', 1]]);
    // Once it has finished, the page shows the result and committing again changes nothing.
    expect((await staff.get(url).expect(200)).text).to.match(/<dt>Enrolled<\/dt><dd>5<\/dd>/);
  });

  /**
   * The commit job of a batch as the host's job service would hold it after an instance took it
   * and was lost (`leaseMs`: how long its lease still runs), or after its retries were used up
   * (`failed`). It started a minute ago (what counts as its own work).
   */
  async function commitLeftBehind(batchId: string, how: { leaseMs: number } | { failed: string }): Promise<Date> {
    const startedAt = new Date(Date.now() - 60_000);
    const staffUser = (await t.app.olive.users.findByEmail('staff@olive.example'))!;
    const payload: CommitPayload = { batchId, by: { id: staffUser.id, name: staffUser.name } };
    const id = commitJobId(batchId);
    const failed = 'failed' in how;
    await Jobs().insertOne({
      _id: id, queue: COMMIT_QUEUE, key: batchId, payload, state: failed ? 'failed' : 'running', attempts: failed ? 8 : 0, runAt: startedAt,
      createdAt: startedAt, startedAt, updatedAt: new Date(), ...(failed ? { lastError: how.failed, finishedAt: new Date() } : {}),
    });
    const expiresAt = new Date(Date.now() + ('leaseMs' in how ? how.leaseMs : 0));
    if (!failed) await db().collection<JobLeaseDoc>('host_job_leases').insertOne({ _id: `${id}#1`, jobId: id, queue: COMMIT_QUEUE, generation: 1, holder: 'lost-instance', expiresAt });
    await db().collection('enrolment_import_batch').updateOne({ _id: new mongoose.Types.ObjectId(batchId) }, { $set: { status: 'committing', commitStartedAt: startedAt } });
    return expiresAt;
  }

  it('a commit whose instance was lost half-way is left alone while its lease runs, then finished by another instance: nobody placed twice', async () => {
    const edition = await newEdition({ capacity: '2' });
    const file = 'email\nhalf.one@example.org\nhalf.two@example.org\nhalf.three@example.org\n';
    const { url } = await previewOf(edition, 'outage.csv', file);
    const batchId = url.split('/').pop()!;
    // The lost attempt placed the first person (an import, as the commit does) before it was cut off.
    const { url: first } = await previewOf(edition, 'first-row.csv', 'email\nhalf.one@example.org\n');
    expect((await commit(first)).status).to.equal(303);
    const expiresAt = await commitLeftBehind(batchId, { leaseMs: 5000 });

    // While the first attempt may still be alive (its lease runs), nobody else runs it.
    const busy = await commit(url);
    expect(busy.status).to.equal(303);
    expect(busy.headers.location).to.equal(url);
    const running = await staff.get(url).expect(200);
    expect(running.text).to.contain('This file is being imported: 0 of 3 rows done.');
    expect(running.headers.refresh).to.equal('3');
    expect(running.text).not.to.contain('Confirm: import');
    const json = await staff.post(`${url}/commit`).set('Accept', 'application/json').set('x-csrf-token', await tokenFor(staff, url)).send({});
    expect(json.status).to.equal(409);
    expect(json.body.error.code).to.equal('IMPORT_RUNNING');
    expect(await enrolmentsOf(edition)).to.have.length(1);

    // Its lease expires: this app's job runner takes the commit over and finishes it, unasked.
    let result = '';
    for (let i = 0; i < 120 && !result.includes('Import done'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      result = (await staff.get(url).expect(200)).text;
    }
    expect(result).to.match(/<dt>Enrolled<\/dt><dd>2<\/dd>/);
    expect(result).to.match(/<dt>On the waiting list<\/dt><dd>1<\/dd>/);
    expect(result).to.match(/<dt>Already there<\/dt><dd>0<\/dd>/);
    const list = await enrolmentsOf(edition);
    expect(list.map((e) => [e.email, e.status, (e.history as unknown[]).length])).to.deep.equal([
      ['half.one@example.org', 'enrolled', 1], ['half.three@example.org', 'waitlisted', 1], ['half.two@example.org', 'enrolled', 1],
    ]);
    expect((list[2]!.createdAt as Date).getTime(), 'the rest only after the lost lease expired').to.be.at.least(expiresAt.getTime());
    expect((await Jobs().findOne({ _id: commitJobId(batchId) }))!.state).to.equal('done');
  });

  it('a commit that stopped for good (its retries used up) is offered again: confirming again finishes it, nobody placed twice', async () => {
    const edition = await newEdition({ capacity: '2' });
    const { url } = await previewOf(edition, 'stopped.csv', 'email\nstop.one@example.org\nstop.two@example.org\nstop.three@example.org\n');
    const batchId = url.split('/').pop()!;
    const { url: first } = await previewOf(edition, 'first-row.csv', 'email\nstop.one@example.org\n');
    expect((await commit(first)).status).to.equal(303);
    await commitLeftBehind(batchId, { failed: 'the relay of an earlier attempt refused' });

    const offered = await staff.get(url).expect(200);
    expect(offered.text).to.contain('Confirming again finishes it: nobody is added twice.');
    expect(offered.text).to.contain('Confirm: import');
    expect(offered.headers.refresh).to.equal(undefined);
    const finish = await commit(url);
    expect(finish.status).to.equal(303);
    const result = (await staff.get(url).expect(200)).text;
    expect(result).to.match(/<dt>Enrolled<\/dt><dd>2<\/dd>/);
    expect(result).to.match(/<dt>On the waiting list<\/dt><dd>1<\/dd>/);
    expect(result).to.match(/<dt>Already there<\/dt><dd>0<\/dd>/);
    const list = await enrolmentsOf(edition);
    expect(list.map((e) => [e.email, e.status, (e.history as unknown[]).length])).to.deep.equal([
      ['stop.one@example.org', 'enrolled', 1], ['stop.three@example.org', 'waitlisted', 1], ['stop.two@example.org', 'enrolled', 1],
    ]);
    const commits = await Jobs().find({ queue: COMMIT_QUEUE, key: { $regex: `^${batchId}` } }).sort({ createdAt: 1 }).toArray();
    expect(commits.map((j) => [j.key, j.state])).to.deep.equal([[batchId, 'failed'], [`${batchId}.2`, 'done']]);
  });

  it('a long import goes on after the answer: its page shows the progress and reloads itself until the result', async () => {
    // An instance whose confirmations do not wait for the import at all.
    const quick = await createTestApp({ plugins: [courses, enrolment], dbName: t.dbName, env, pluginConfig: { enrolment: { importCommitWaitMs: 0 } } });
    try {
      const edition = await newEdition();
      const people = Array.from({ length: 30 }, (_, i) => `long${i}@example.org`);
      const { url } = await previewOf(edition, 'long.csv', `email\n${people.join('\n')}\n`);
      const quickStaff = await signIn(quick.app, 'staff@olive.example');
      const answer = await quickStaff.post(`${url}/commit`).set('Accept', 'application/json').set('x-csrf-token', await tokenFor(quickStaff, url)).send({});
      expect(answer.status).to.equal(202);
      expect(answer.body.status).to.equal('committing');
      const running = await staff.get(url).expect(200);
      expect(running.headers.refresh).to.equal('3');
      expect(running.text).to.match(/This file is being imported: \d+ of 30 rows done\./);
      let page = running.text;
      for (let i = 0; i < 120 && !page.includes('Import done'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        page = (await staff.get(url).expect(200)).text;
      }
      expect(page).to.match(/<dt>Enrolled<\/dt><dd>30<\/dd>/);
      expect(await enrolmentsOf(edition)).to.have.length(30);
    } finally {
      await quick.app.olive.stop();
    }
  });

  it('tells the person who confirmed an import by e-mail once it is done: what it did and a link to the result', async () => {
    const edition = await newEdition({ title: 'Mediation Fellowship 2027' });
    const { url } = await previewOf(edition, 'told.csv', 'email\ntold.one@example.org\ntold.two@example.org\nnot-an-address\n');
    await commit(url);
    const mails = inbox(env.MAIL_FROM);
    const subject = (m: { Subject: string }) => m.Subject === 'Import done: Mediation Fellowship 2027';
    const [message] = await mails.waitFor(subject);
    expect(message!.To.map((to) => to.Address)).to.deep.equal(['staff@olive.example']);
    const text = (await mails.read(message!.ID)).Text;
    expect(text).to.contain('told.csv, which you confirmed for Mediation Fellowship 2027, has been imported.');
    expect(text).to.contain('Imported: 2 enrolled, 0 on the waiting list, 0 already there, 1 not imported.');
    expect(linkIn(text, t.app.olive.config.BASE_URL)).to.equal(`${t.app.olive.config.BASE_URL}${url}`);
    // Confirming again (the back button) sends nothing more.
    expect((await commit(url)).status).to.equal(303);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await mails.messages()).filter(subject)).to.have.length(1);
  });

  it('pre-enrols people without an account: at their first sign-in they find the edition and its course', async () => {
    const edition = await newEdition({ title: 'Fellowship 2027' });
    const { url, page } = await previewOf(edition, 'new.csv', 'email,given name,family name\nNew.Person@Example.org,New,Person\n');
    expect(page).to.contain('No account yet: matched at their first sign-in');
    await commit(url);
    const [pre] = await enrolmentsOf(edition);
    expect([pre!.email, pre!.status, pre!.userId]).to.deep.equal(['new.person@example.org', 'enrolled', undefined]);

    // An admin creates the account later (the admin users page), and the person signs in.
    const admin = await signIn(t.app, 'admin@olive.example');
    const created = await post(admin, '/admin/users', { email: 'new.person@example.org', name: 'New Person', password: 'a-long-password-1', roles: 'learner' }, '/admin/users');
    expect(created.status).to.equal(303);
    const person = await signIn(t.app, 'new.person@example.org', 'a-long-password-1');
    const my = await person.get('/enrolment/my').expect(200);
    expect(my.text).to.contain('Fellowship 2027');
    expect(my.text).to.contain('/courses/conflict-analysis');
    const outline = (await person.get('/courses/conflict-analysis').expect(200)).text;
    const moduleId = /\/courses\/conflict-analysis\/modules\/([a-f0-9]{24})/.exec(outline)![1]!;
    await person.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(200);
    const user = await t.app.olive.users.findByEmail('new.person@example.org');
    const [linked] = await enrolmentsOf(edition);
    expect(linked!.userId).to.equal(user!.id);
  });

  it('removes previews older than a day when the next file comes', async () => {
    const edition = await newEdition();
    const { url } = await previewOf(edition, 'old.csv', 'email\nold.preview@example.org\n');
    const batchId = url.split('/').pop()!;
    await db().collection('enrolment_import_batch').updateOne({ _id: new mongoose.Types.ObjectId(batchId) }, { $set: { createdAt: new Date(Date.now() - 25 * 3600_000) } });
    const expired = await staff.get(url).expect(404);
    expect(expired.text).to.contain('This preview has expired');
    await previewOf(edition, 'new.csv', 'email\nnew.preview@example.org\n');
    expect(await db().collection('enrolment_import_batch').countDocuments({ _id: new mongoose.Types.ObjectId(batchId) })).to.equal(0);
  });

  it('shows the pages in French', async () => {
    const edition = await newEdition();
    const marie = await signIn(t.app, 'admin@olive.example');
    await post(marie, '/language', { lang: 'fr', returnTo: '/' }, '/');
    const form = (await marie.get(`/enrolment/manage/editions/${edition}/import`).expect(200)).text;
    expect(form).to.contain('Inscrire des personnes à partir d&#39;un fichier');
    const res = await upload(marie, edition, 'liste.csv', fixture('bad-rows.csv'));
    const preview = (await marie.get(res.headers.location as string).expect(200)).text;
    expect(preview).to.contain('Pays inconnu « Narnia »');
    expect(preview).to.contain('8 lignes en erreur');
  });
});

describe('bulk enrolment from CSV when the database goes away during a commit', function () {
  // 120 rows twice over a restarted database: a minute or more on a loaded machine.
  this.timeout(300_000);
  let dir: string;
  let database: EmbeddedDatabase;
  let t: TestApp;

  before(async () => {
    // A database of this test's own, so stopping it disturbs no other test.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-import-'));
    database = await startEmbeddedDatabase({ dataDir: dir, port: await portOutsideEphemeralRange() });
    // Confirmations answer at once (the commit goes on as a job); jobs are looked for often; mail as in the other tests.
    t = await createTestApp({
      mongodbUri: database.uri, plugins: [courses, enrolment], seed: true, label: 'import_outage',
      env: mailTestEnv(), pluginConfig: { enrolment: { importCommitWaitMs: 0 } },
    });
  });
  after(async () => {
    await t?.app.olive.stop();
    await database?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a commit cut off half-way resumes by itself once the database is back: everyone placed once, seats right', async () => {
    const staff = await signIn(t.app, 'staff@olive.example');
    const conn = t.app.olive.connection;
    const course = await conn.collection('courses_course').findOne({ slug: 'conflict-analysis' });
    const form = await staff.post('/enrolment/manage/editions').type('form').send({
      courseId: String(course!._id), title: 'Outage edition', language: 'en', method: 'invitation', status: 'published', online: 'on',
      startsAt: '2026-01-10', capacity: '20', _csrf: await tokenFor(staff, '/enrolment/manage/editions/new'),
    });
    const edition = /editions\/([0-9a-f]{24})/.exec(form.headers.location as string)![1]!;
    const people = Array.from({ length: 120 }, (_, i) => `outage${String(i).padStart(3, '0')}@example.org`);
    const token = await tokenFor(staff, `/enrolment/manage/editions/${edition}/import`);
    const up = await staff.post(`/enrolment/manage/editions/${edition}/import?_csrf=${encodeURIComponent(token)}`)
      .attach('file', Buffer.from(`email,country\n${people.map((p) => `${p},Kenya`).join('\n')}\n`), 'outage.csv');
    expect(up.status).to.equal(303);
    const url = up.headers.location as string;
    const batchId = url.split('/').pop()!;

    const started = await staff.post(`${url}/commit`).set('Accept', 'application/json').set('x-csrf-token', await tokenFor(staff, url)).send({});
    expect(started.status, 'the confirmation answers before the import is done').to.equal(202);
    const placed = () => conn.collection('enrolment_enrolment').countDocuments({ editionId: edition });
    for (let i = 0; i < 400 && (await placed()) < 8; i++) await new Promise((resolve) => setTimeout(resolve, 25));

    // The database goes away mid-commit, long enough for the commit's next query to fail.
    await database.stop();
    await new Promise((resolve) => setTimeout(resolve, 6000));
    database = await startEmbeddedDatabase({ dataDir: dir, port: database.port });
    const backBy = Date.now() + 90_000;
    while ((await supertest(t.app).get('/readyz')).status !== 200) {
      if (Date.now() > backBy) throw new Error(`the app did not see the database again within 90 s; the database's log:\n${database.recentLog()}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    // The driver may still hold a connection from before the restart: the first read on it fails
    // (in a loaded run), the next ones go through. Only the test's own reads are retried, for as
    // long as the app took to see the database again.
    const read = async <T>(run: () => Promise<T>): Promise<T> => {
      for (const until = Date.now() + 60_000; ;) {
        try {
          return await run();
        } catch (err) {
          if (Date.now() > until || !isDatabaseUnavailable(err)) throw new Error(`${(err as Error).message}; the database's log:\n${database.recentLog()}`, { cause: err });
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    };
    const halfway = await read(placed);
    expect(halfway, 'the commit was cut off part-way').to.be.within(8, 119);
    const batch = await read(() => conn.collection('enrolment_import_batch').findOne({ _id: new mongoose.Types.ObjectId(batchId) }));
    expect(batch!.status).to.equal('committing');

    // Nobody confirms again: the commit job runs again (after its retry delay, or once the lease of
    // the attempt cut off expires) and finishes.
    let done = batch!;
    for (let i = 0; i < 960 && done.status !== 'committed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      done = (await read(() => conn.collection('enrolment_import_batch').findOne({ _id: new mongoose.Types.ObjectId(batchId) })))!;
    }
    expect(done.status).to.equal('committed');
    expect(done.counts).to.deep.equal({ enrolled: 20, waitlisted: 100, already: 0, trainers: 0, errors: 0 });
    const list = await conn.collection('enrolment_enrolment').find({ editionId: edition }).toArray();
    expect(list).to.have.length(120);
    expect(list.every((e) => (e.history as unknown[]).length === 1), 'nobody placed twice').to.equal(true);
    expect(list.filter((e) => e.status === 'enrolled')).to.have.length(20);
    expect(await conn.collection('enrolment_seat').countDocuments({ editionId: edition })).to.equal(20);
    expect(await conn.collection('enrolment_person').countDocuments({ _id: { $regex: /^outage\d{3}@example\.org$/ } as never, country: 'KE' })).to.equal(120);
    const page = (await staff.get(url).expect(200)).text;
    expect(page).to.match(/<dt>Enrolled<\/dt><dd>20<\/dd>/);
  });
});

describe('bulk enrolment from CSV in a real browser', function () {
  this.timeout(90_000);
  const env = useBrowserApp({ plugins: [courses, enrolment], label: 'enrol_import_e2e' });

  const signedIn = (email: string) => signedInPage(env.browser, env.url, email);

  it('staff upload a file, read the preview, confirm, and find the people on the edition page', async () => {
    const db = env.app.olive.connection;
    const course = await db.collection('courses_course').findOne({ slug: 'conflict-analysis' });
    const staffUser = await env.app.olive.users.findByEmail('staff@olive.example');
    const { insertedId } = await db.collection('enrolment_edition').insertOne({
      courseId: String(course!._id), title: 'Negotiation Seminar, Addis Ababa', description: '', selfPaced: false, startsAt: new Date('2026-03-01'),
      endsAt: new Date('2099-03-05'), place: 'Addis Ababa', online: false, capacity: 2, language: 'en', method: 'invitation', questions: [],
      trainerIds: [], status: 'published', createdBy: staffUser!.id, createdAt: new Date(), updatedAt: new Date(),
    });
    const edition = insertedId.toString();

    const page = await signedIn('staff@olive.example');
    await page.goto(`${env.url}/enrolment/manage/editions/${edition}`);
    await page.getByRole('link', { name: 'Bulk enrolment (CSV)' }).click();
    await page.waitForURL(`${env.url}/enrolment/manage/editions/${edition}/import`);
    const file = 'Courriel;Prénom;Nom;Pays\r\nhanna.tesfaye@example.org;Hanna;Tesfaye;Éthiopie\r\nsamuel.okello@example.org;Samuel;Okello;Ouganda\r\nrita.mbeki@example.org;Rita;Mbeki;Afrique du Sud\r\nnot-an-address;Bad;Row;Kenya\r\n';
    await page.getByLabel('CSV file').setInputFiles({ name: 'seminar.csv', mimeType: 'text/csv', buffer: Buffer.from(file, 'latin1') });
    await page.getByRole('button', { name: 'Upload and preview' }).click();
    await page.waitForURL(new RegExp(`/enrolment/manage/editions/${edition}/import/[0-9a-f]{24}$`));

    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Preview of the import');
    const table = page.locator('table').first();
    expect(await table.locator('tbody tr').count()).to.equal(4);
    const rowOf = (email: string) => table.locator('tbody tr', { hasText: email });
    expect(await rowOf('not-an-address').textContent()).to.contain('is not a valid e-mail address');
    expect(await rowOf('hanna.tesfaye@example.org').textContent()).to.contain('Enrol');
    expect(await rowOf('rita.mbeki@example.org').textContent()).to.contain('Waiting list (no seat left)');
    expect(await page.locator('main').textContent()).to.contain('read as Windows-1252');

    await page.getByRole('button', { name: 'Confirm: import 3 people' }).click();
    await page.waitForURL(new RegExp(`/enrolment/manage/editions/${edition}/import/[0-9a-f]{24}$`));
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Import done');
    expect(await page.getByRole('status').allTextContents()).to.deep.equal(['Imported: 2 enrolled, 1 on the waiting list, 0 already there, 1 not imported.']);

    await page.getByRole('link', { name: 'Back to the edition' }).first().click();
    await page.waitForURL(`${env.url}/enrolment/manage/editions/${edition}`);
    const main = (await page.locator('main').textContent())!;
    expect(main).to.contain('Enrolled: 2');
    // The waiting list names the person who did not get a seat.
    expect(await page.locator('#waiting ~ ol li').allTextContents()).to.satisfy((items: string[]) => items.length === 1 && items[0]!.includes('rita.mbeki@example.org'));
    const stored = await db.collection('enrolment_person').findOne({ _id: 'hanna.tesfaye@example.org' as never });
    expect(stored!.country).to.equal('ET');
  });
});
