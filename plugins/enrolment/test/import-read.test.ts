/** Bulk enrolment from CSV, the file itself: encodings, headers, rows and the plan, without a database. */
import fs from 'node:fs';
import { expect } from 'chai';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { spreadsheetCell, toCsv } from '../../../src/index.ts';
import { fieldOfHeader, planRows, readImportFile, type ImportFile, type ImportRow, type PlanContext } from '../services/import.service.ts';

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
      ['zoe.arnaud@example.org', 'Zoé', 'AT'],
      ['kwame.mensah@example.org', 'Kwame', 'GH'],
    ]);
  });

  it('reads UTF-16 with a byte-order mark, tab-separated (Excel "Unicode text")', () => {
    const result = read(fixture('utf16.txt')) as ImportFile;
    expect(result.encoding).to.equal('utf-16le');
    expect(result.delimiter).to.equal('\t');
    expect(rowsOf(result).map((r) => [r.email, r.person.givenName, r.person.country])).to.deep.equal([
      ['li.wei@example.org', 'Wei', 'CN'],
      ['olga.ivanova@example.org', 'Ольга', 'RU'],
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
    expect(['Organization', 'Pays', 'Sexe', 'Rôle', 'Fonction', 'Type d’organisation', 'Notes'].map(fieldOfHeader)).to.deep.equal([
      'organisation',
      'country',
      'gender',
      'role',
      'jobTitle',
      'organisationType',
      null,
    ]);
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
    expect(rows.map((r) => [r.line, r.email, codes(r)])).to.deep.equal([
      [2, 'a@example.org', []],
      [3, '', ['quoteNotClosed']],
      [4, 'c@example.org', []],
    ]);
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
      ['amina@example.org', 'learner', []],
      ['li@example.org', 'trainer', []],
      ['x@example.org', 'learner', []],
    ]);
  });

  describe('planning', () => {
    const rowsFor = (text: string) => rowsOf(read(text));
    const empty = (over: Partial<PlanContext> = {}): PlanContext => ({
      seatsLeft: null,
      persons: new Map(),
      enrolments: new Map(),
      accounts: new Map(),
      trainerIds: new Set(),
      ...over,
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
      const plan = planRows(
        rows,
        empty({
          persons: new Map([
            ['a@example.org', old],
            ['b@example.org', { ...old, organisation: 'Same Org' }],
          ]),
          enrolments: new Map([['a@example.org', { status: 'withdrawn' }]]),
          accounts: new Map([['b@example.org', { id: 'u1', roles: ['learner'] }]]),
        }),
      );
      expect(plan.map((p) => [p.action, p.profile, p.changed, p.account])).to.deep.equal([
        ['enrol', 'update', ['organisation'], false],
        ['enrol', 'unchanged', [], true],
        ['enrol', 'create', [], false],
      ]);
    });

    it('adds trainers only when their account exists and has the trainer role', () => {
      const rows = rowsFor('email,role\nt@example.org,trainer\nl@example.org,trainer\nnobody@example.org,trainer\nold@example.org,trainer\n');
      const plan = planRows(
        rows,
        empty({
          accounts: new Map([
            ['t@example.org', { id: 't', roles: ['trainer'] }],
            ['l@example.org', { id: 'l', roles: ['learner'] }],
            ['old@example.org', { id: 'o', roles: ['trainer'] }],
          ]),
          trainerIds: new Set(['o']),
        }),
      );
      expect(plan.map((p) => [p.action, p.errors.map((e) => e.code)])).to.deep.equal([
        ['addTrainer', []],
        ['error', ['trainerNotTrainer']],
        ['error', ['trainerNoAccount']],
        ['alreadyTrainer', []],
      ]);
    });
  });

  it('writes CSV that spreadsheets open safely: formulas are neutralised, accents survive (UTF-8 with BOM)', () => {
    expect(['=HYPERLINK("http://x")', '+1', '-2', '@SUM(A1)', 'Núñez', '', 'a=b'].map(spreadsheetCell)).to.deep.equal([
      '\'=HYPERLINK("http://x")',
      "'+1",
      "'-2",
      "'@SUM(A1)",
      'Núñez',
      '',
      'a=b',
    ]);
    const csv = toCsv(['line', 'problem'], [['3', "=cmd|' /C calc'!A0"]]);
    expect(csv.startsWith('\ufeffline,problem\r\n')).to.equal(true);
    expect(csv).to.contain("'=cmd");
  });

  describe('properties', () => {
    const email = fc
      .tuple(fc.stringMatching(/^[a-z][a-z0-9.]{0,10}$/), fc.constantFrom('example.org', 'un.org', 'example.co.ke'))
      .map(([local, domain]) => `${local.replace(/\.+$/, '').replace(/\.{2,}/g, '.')}@${domain}`);
    const cell = fc.string({ maxLength: 30, unit: 'grapheme' });

    it('never throws on arbitrary bytes; every row gets exactly one outcome, in file order', () => {
      // Random bytes, and random text made of what CSV structure is made of (quotes, separators, line breaks).
      const csvish = fc
        .string({ unit: fc.constantFrom('a', 'b', '@', '.', ',', ';', '"', '\n', '\r', ' ', '\t', 'é', 'x@y.org'), maxLength: 300 })
        .map((text) => Buffer.from(text, 'utf8'));
      const bytes = fc.oneof(fc.uint8Array({ maxLength: 600 }), csvish);
      fc.assert(
        fc.property(bytes, fc.constantFrom('', 'email,name\n', 'courriel;nom\r\n', '\ufeffE-mail\n'), (bytes, header) => {
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
        }),
        { numRuns: 300 },
      );
    });

    it('reads back every row of any CSV a spreadsheet writes, with or without BOM, comma or semicolon', () => {
      const person = fc.record({ email, givenName: cell, organisation: cell });
      fc.assert(
        fc.property(fc.array(person, { minLength: 1, maxLength: 15 }), fc.constantFrom(',', ';'), fc.constantFrom('\n', '\r\n'), (people, delimiter, eol) => {
          const text = stringify([['E-mail', 'Given name', 'Organisation'], ...people.map((p) => [p.email, p.givenName, p.organisation])], {
            delimiter,
            record_delimiter: eol === '\n' ? 'unix' : 'windows',
            quoted_match: /^\s|\s$|^sep=/,
          });
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
        }),
        { numRuns: 200 },
      );
    });
  });
});

/** The host job of a batch's commit (the first one, keyed by the batch id). */
