/**
 * Bulk enrolment from CSV in the interface's six languages (issue #15): headers and cell values
 * read in every language of the catalogues, files saved by Excel in the code page of a Russian,
 * Arabic or Chinese Windows, the encoding the preview says it assumed and the person's choice of
 * another, and the CSV files Olive writes (template, rows in error, roster) read back in every
 * language. First the reading alone, then through the pages and the database. Over 400 lines:
 * each language's file is followed from upload to stored profile.
 */
import fs from 'node:fs';
import { expect } from 'chai';
import mongoose from 'mongoose';
import { createTestApp, signIn, tokenFor, asBytes, postForm, type TestApp } from '../../../test/helpers/app.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';
import {
  decodeLegacy,
  foldHeader,
  guessLegacyEncoding,
  HEADER_CONFLICTS,
  IMPORT_FIELDS,
  fieldOfHeader,
  parseRole,
  readImportFile,
  ROLE_CONFLICTS,
  type ImportFile,
  type ImportRow,
} from '../services/import.service.ts';
import { GENDERS, ORGANISATION_TYPES, parseGender, parseOrganisationType, VALUE_CONFLICTS } from '../services/profile.ts';
import { createEdition, uploadImport } from './import-pages.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

const LANGUAGES = ['ar', 'zh', 'en', 'fr', 'ru', 'es'] as const;
/** Each language's catalogue of the plugin, as the translators wrote it. */
const catalogue = Object.fromEntries(
  LANGUAGES.map((lang) => [lang, JSON.parse(fs.readFileSync(new URL(`../locales/${lang}.json`, import.meta.url), 'utf8'))]),
) as Record<(typeof LANGUAGES)[number], Record<string, Record<string, Record<string, string>>>>;

const fixture = (name: string) => fs.readFileSync(new URL(`./csv/${name}`, import.meta.url));
const read = (bytes: Uint8Array | string, language?: string) =>
  readImportFile(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes, { maxRows: 1000, language });
function rowsOf(result: ReturnType<typeof read>): ImportRow[] {
  expect(result.problems, JSON.stringify(result.problems)).to.deep.equal([]);
  return (result as ImportFile).rows;
}
const summary = (rows: ImportRow[]) =>
  rows.map((r) => [r.email, r.person.givenName, r.person.familyName, r.person.country, r.person.gender, r.role, r.errors.map((e) => e.code)]);

/**
 * An Excel file of the csv/ folder read as a reader of each language would (and of none): each time
 * in `encoding`, with the eight columns of the sample files.
 */
function readInEveryLanguage(name: string, encoding: string): ImportFile[] {
  return [undefined, ...LANGUAGES].map((language) => {
    const result = read(fixture(name), language) as ImportFile;
    expect(result.encoding, language).to.equal(encoding);
    expect(result.columns.map((c) => c.field)).to.deep.equal(['email', 'givenName', 'familyName', 'organisation', 'country', 'gender', 'jobTitle', 'role']);
    return result;
  });
}

describe('bulk enrolment from CSV in six languages: reading', () => {
  it('reads a Russian Excel file (Windows-1251, semicolons) with Russian headers, names and values', () => {
    for (const result of readInEveryLanguage('windows-1251.csv', 'windows-1251')) {
      expect(result.delimiter).to.equal(';');
      expect(summary(rowsOf(result))).to.deep.equal([
        ['ivan.petrov@example.org', 'Иван', 'Петров', 'RU', 'man', 'learner', []],
        ['alyona.fyodorova@example.org', 'Алёна', 'Фёдорова', 'KZ', 'woman', 'learner', []],
        ['nikolai.shevchenko@example.org', 'Николай', 'Шевченко', 'UA', 'man', 'learner', []],
      ]);
      expect(result.rows[1]!.person.organisation).to.equal('«Голос мира»');
      expect(result.rows[2]!.person.jobTitle).to.equal('Эксперт № 2');
    }
  });

  it('reads an Arabic Excel file (Windows-1256) with Arabic headers, names and values', () => {
    for (const result of readInEveryLanguage('windows-1256.csv', 'windows-1256')) {
      expect(summary(rowsOf(result))).to.deep.equal([
        ['amina.hassan@example.org', 'أمينة', 'حسن', 'JO', 'woman', 'learner', []],
        ['omar.farouk@example.org', 'عمر', 'الفاروق', 'EG', 'man', 'learner', []],
        ['layla.abdallah@example.org', 'ليلى', 'عبد الله', 'MA', 'woman', 'learner', []],
      ]);
      expect(result.rows[1]!.person.jobTitle).to.equal('سكرتير أول،الشؤون السياسية');
    }
  });

  it('reads a Chinese Excel file (GBK, read as GB18030) with Chinese headers, names and values', () => {
    for (const result of readInEveryLanguage('gb18030.csv', 'gb18030')) {
      expect(summary(rowsOf(result))).to.deep.equal([
        ['li.wei@example.org', '伟', '李', 'CN', 'man', 'learner', []],
        ['wang.xiuying@example.org', '秀英', '王', 'SG', 'woman', 'learner', []],
        ['zhang.min@example.org', '敏', '张', 'CN', 'woman', 'learner', []],
      ]);
      expect(result.rows[2]!.person.organisation).to.equal('北京大学国际关系学院');
    }
  });

  it('still reads a French Excel file as Windows-1252, and offers the other encodings in order of plausibility', () => {
    const result = read(fixture('windows-1252.csv'), 'ru') as ImportFile;
    expect(result.encoding).to.equal('windows-1252');
    expect(result.encodingChosen).to.equal(false);
    expect(result.alternatives).to.have.members(['windows-1251', 'windows-1256']);
    expect((read(fixture('utf8-bom.csv')) as ImportFile).alternatives).to.deep.equal([]);
  });

  it('on a tie prefers the usual encoding of the reader’s language; a chosen encoding is read as asked', () => {
    // "é", "è" and "ç" are the same bytes in Windows-1252 and Windows-1256: both read them alike.
    const text = Buffer.from('email;prénom\r\nf@example.org;François\r\n', 'latin1');
    expect([text[8], text.at(-6)]).to.deep.equal([0xe9, 0xe7]);
    expect(guessLegacyEncoding(text, 'ar').encoding).to.equal('windows-1256');
    for (const lang of ['en', 'fr', 'es', 'ru', 'zh']) expect(guessLegacyEncoding(text, lang).encoding, lang).to.equal('windows-1252');
    expect(rowsOf(read(text, 'ar'))[0]!.person.givenName).to.equal('François');

    const chosen = readImportFile(fixture('windows-1251.csv'), { maxRows: 10, encoding: 'windows-1252' }) as ImportFile;
    expect([chosen.encoding, chosen.encodingChosen]).to.deep.equal(['windows-1252', true]);
    expect(chosen.alternatives[0]).to.equal('windows-1251');
    expect(chosen.alternatives).not.to.include('windows-1252');
    // Read the wrong way, the Russian headers are not column names: the file says so.
    expect(chosen.problems.map((p) => p.code)).to.deep.equal(['noEmailColumn']);
    expect(decodeLegacy(fixture('windows-1251.csv'), 'windows-1251').startsWith('Электронная почта;Имя;')).to.equal(true);
  });

  it('folds headers without losing letters of any script: case, accents, Arabic marks, spaces and punctuation off', () => {
    expect(foldHeader('Электронная  ПОЧТА')).to.equal(foldHeader('электронная почта')).and.to.equal('электроннаяпочта');
    expect(foldHeader('البريد الالكتروني')).to.equal(foldHeader('البريد الإلكتروني'));
    expect(foldHeader('电子邮件 ')).to.equal('电子邮件');
    expect(foldHeader('Correo-Electrónico')).to.equal('correoelectronico');
    expect(foldHeader('Ｅ－ｍａｉｌ')).to.equal('email');
    expect(['Электронная почта', 'البريد الالكتروني', '电子邮件', 'correo electronico', 'E-MAIL', 'Courriel'].map(fieldOfHeader)).to.deep.equal(
      Array(6).fill('email'),
    );
  });

  it('reads every column under its label in each of the six catalogues, and under each "also read as" name', () => {
    expect(HEADER_CONFLICTS, 'a header name two columns claim').to.deep.equal([]);
    for (const lang of LANGUAGES) {
      const imp = catalogue[lang].import!;
      for (const field of IMPORT_FIELDS) {
        expect(fieldOfHeader(imp.fields![field]!), `${lang}: ${imp.fields![field]}`).to.equal(field);
        expect(fieldOfHeader(imp.fields![field]!.toUpperCase()), `${lang}: upper case`).to.equal(field);
        for (const alias of imp.aliases![field]!.split(/[,،、，;]/).map((a) => a.trim())) expect(fieldOfHeader(alias), `${lang}: ${alias}`).to.equal(field);
      }
    }
  });

  it('reads genders, organisation types and roles as each catalogue names them, and the everyday words', () => {
    expect([...VALUE_CONFLICTS, ...ROLE_CONFLICTS]).to.deep.equal([]);
    for (const lang of LANGUAGES) {
      const cat = catalogue[lang] as unknown as Record<string, Record<string, string>> & { import: { roles: Record<string, string> } };
      for (const g of GENDERS) expect(parseGender(cat.gender![g]!), `${lang}: ${cat.gender![g]}`).to.equal(g);
      for (const o of ORGANISATION_TYPES) expect(parseOrganisationType(cat.organisationType![o]!), `${lang}: ${cat.organisationType![o]}`).to.equal(o);
      for (const r of ['learner', 'trainer'] as const) expect(parseRole(cat.import.roles[r]!), `${lang}: ${cat.import.roles[r]}`).to.equal(r);
    }
    const genders = (words: string[]) => words.map(parseGender);
    expect(genders(['Mujer', 'MUJER', ' mujer ', 'Femenino', 'F'])).to.deep.equal(Array(5).fill('woman'));
    expect(genders(['Hombre', 'hombre', 'Masculino', 'M'])).to.deep.equal(Array(4).fill('man'));
    expect(genders(['Persona no binaria', 'Prefiero no indicarlo', 'Otro'])).to.deep.equal(['non-binary', 'undisclosed', null]);
    expect(genders(['Ж', 'женский', 'М', 'мужской', 'أنثى', 'انثى', 'ذكر', '女', '男'])).to.deep.equal([
      'woman',
      'woman',
      'man',
      'man',
      'woman',
      'woman',
      'man',
      'woman',
      'man',
    ]);
    expect(['Formador', 'Formadora', 'Participante', 'Formateur', 'Participant', 'Слушатель', 'مدرب', '培训员'].map(parseRole)).to.deep.equal([
      'trainer',
      'trainer',
      'learner',
      'trainer',
      'learner',
      'learner',
      'trainer',
      'trainer',
    ]);
    expect(['Director', '__proto__', 'constructor'].map(parseRole)).to.deep.equal([null, null, null]);
    expect(['Gobierno o ministerio', 'gouvernement ou ministère', 'Частный сектор', '私营部门'].map(parseOrganisationType)).to.deep.equal([
      'government',
      'government',
      'private-sector',
      'private-sector',
    ]);
  });

  it('in a roster export the name column (the whole name) is not read as a given or family name', () => {
    // "Nom" is the family name in a French file, and "Имя" the given name in a Russian one…
    expect(rowsOf(read('Courriel,Nom\na@example.org,Diallo\n'))[0]!.person.familyName).to.equal('Diallo');
    expect(rowsOf(read('Электронная почта,Имя\na@example.org,Амина\n'))[0]!.person.givenName).to.equal('Амина');
    // …but in a roster they hold the whole name, next to the roster's own columns.
    const fr = read('Nom,Compte,Courriel,Organisation,Pays,Statut,Progression (%)\nAmina Diallo,oui,a@example.org,UA,Sénégal,Inscrit·e,10\n') as ImportFile;
    expect(fr.columns.map((c) => c.field)).to.deep.equal([null, null, 'email', 'organisation', 'country', null, null]);
    expect(rowsOf(fr)[0]!.person).to.deep.equal({ organisation: 'UA', country: 'SN' });
  });
});

describe('bulk enrolment from CSV in six languages: pages and database', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Agent;
  let courseId: string;
  const db = () => t.app.olive.connection;

  const newEdition = (title: string) => createEdition(staff, courseId, { title });

  /** Uploads a file as a person reading the pages in `lang`; returns the preview's address and page. */
  async function previewOf(edition: string, name: string, bytes: Buffer | string, lang = 'en') {
    const res = await uploadImport(staff, edition, name, bytes, lang);
    expect(res.status, res.text.slice(0, 3000)).to.equal(303);
    const url = res.headers.location as string;
    return { url, page: (await staff.get(url).set('Accept-Language', lang).expect(200)).text };
  }

  /** Asks for the preview's file read in another encoding; returns the new preview's address and page. */
  async function readAs(url: string, encoding: string) {
    const res = await postForm(staff, `${url}/encoding`, { encoding }, url);
    expect(res.status, res.text.slice(0, 2000)).to.equal(303);
    const next = res.headers.location as string;
    return { url: next, page: (await staff.get(next).expect(200)).text };
  }

  async function commit(url: string) {
    await postForm(staff, `${url}/commit`, {}, url, 303);
    expect((await staff.get(url).expect(200)).text).to.contain('Import done');
  }

  const person = (email: string) =>
    db()
      .collection('enrolment_person')
      .findOne({ _id: email as never });
  const enrolled = async (edition: string) =>
    (await db().collection('enrolment_enrolment').find({ editionId: edition }).toArray()).map((e) => [e.email, e.status]).sort();

  async function download(path: string, lang: string): Promise<Buffer> {
    const res = await staff.get(path).set('Accept-Language', lang).buffer(true).parse(asBytes).expect(200);
    expect(res.headers['content-type']).to.match(/^text\/csv/);
    return res.body as Buffer;
  }

  before(async () => {
    t = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'enrol_import_lang' });
    staff = await signIn(t.app, 'staff@olive.example');
    const course = await db().collection('courses_course').findOne({ slug: 'conflict-analysis' });
    courseId = String(course!._id);
  });
  after(() => t.stop());

  it('imports a Russian Excel file with the right names, says which encoding it assumed, and reads it again in another when asked', async () => {
    const edition = await newEdition('Russian file');
    const { url, page } = await previewOf(edition, 'участники.csv', fixture('windows-1251.csv'));
    expect(page).to.contain('it was read as Windows-1251');
    expect(page).to.contain('Russian and other languages written in Cyrillic');
    expect(page).to.contain('Алёна Фёдорова');
    expect(page).to.contain('Электронная почта → E-mail');
    expect(page).to.contain('name="encoding" value="windows-1256"');
    expect(page).to.contain('name="encoding" value="windows-1252"');

    // Read as Windows-1252 (what the import did before), its Russian headers are not column names: the upload form says so.
    const wrong = await postForm(staff, `${url}/encoding`, { encoding: 'windows-1252' }, url, 400);
    expect(wrong.text).to.contain('No e-mail column was found');
    expect(wrong.text).to.contain('Ýëåêòðîííàÿ ïî÷òà');

    // With English headers, the file reads in any of them: read the wrong way, the page says it was
    // chosen, shows what it read, and offers the others again.
    const original = fixture('windows-1251.csv');
    const english = Buffer.concat([
      Buffer.from('email;given name;family name;organisation;country;gender;job title;role\r\n'),
      original.subarray(original.indexOf('\r\n') + 2),
    ]);
    const { url: first, page: guessed } = await previewOf(edition, 'english-headers.csv', english);
    expect(guessed).to.contain('it was read as Windows-1251');
    const western = await readAs(first, 'windows-1252');
    expect(western.url).not.to.equal(first);
    expect(western.page).to.contain('The file was read as Windows-1252');
    expect(western.page).to.contain('as you asked');
    expect(western.page).not.to.contain('Алёна');
    expect(western.page).to.contain('Àë¸íà Ô¸äîðîâà');
    expect(western.page).to.contain('Unknown country “Ðîññèÿ”');
    expect(western.page).to.contain('name="encoding" value="windows-1251"');
    const back = await readAs(western.url, 'windows-1251');
    expect(back.page).to.contain('Алёна Фёдорова');
    expect(back.page).to.contain('as you asked');
    await commit(back.url);

    expect(await enrolled(edition)).to.deep.equal([
      ['alyona.fyodorova@example.org', 'enrolled'],
      ['ivan.petrov@example.org', 'enrolled'],
      ['nikolai.shevchenko@example.org', 'enrolled'],
    ]);
    const alyona = await person('alyona.fyodorova@example.org');
    expect([alyona!.givenName, alyona!.familyName, alyona!.country, alyona!.gender, alyona!.organisation]).to.deep.equal([
      'Алёна',
      'Фёдорова',
      'KZ',
      'woman',
      '«Голос мира»',
    ]);

    // A committed preview is not read again; nor is a UTF-8 file, or in an encoding that is not offered.
    const json = async (path: string, encoding: string) =>
      staff
        .post(`${path}/encoding`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', await tokenFor(staff, path))
        .send({ encoding });
    const committed = await json(back.url, 'windows-1252');
    expect([committed.status, committed.body.error.code]).to.deep.equal([409, 'IMPORT_STARTED']);
    const fresh = await previewOf(edition, 'again.csv', fixture('windows-1251.csv'));
    for (const bad of ['utf-8', 'latin1', '', 'windows-1251']) {
      const res = await json(fresh.url, bad);
      expect([res.status, res.body.error.code], bad).to.deep.equal([400, 'BAD_ENCODING']);
    }
    const utf8 = await previewOf(edition, 'utf8.csv', fixture('utf8-bom.csv'));
    expect(utf8.page).not.to.contain('name="encoding"');
    expect((await json(utf8.url, 'windows-1251')).status).to.equal(400);
    // The file's bytes are kept only in the preview document, and never sent with it.
    const stored = await db()
      .collection('enrolment_import_batch')
      .findOne({ _id: new mongoose.Types.ObjectId(fresh.url.split('/').pop()) });
    expect(Buffer.from(stored!.source.buffer).equals(fixture('windows-1251.csv'))).to.equal(true);
    expect(stored!.hasSource).to.equal(true);
  });

  it('imports an Arabic file (Windows-1256) and a Chinese one (GB18030), telling an Arabic or Chinese reader in their language', async () => {
    const edition = await newEdition('Arabic and Chinese files');
    const ar = await previewOf(edition, 'arabic.csv', fixture('windows-1256.csv'), 'ar');
    expect(ar.page).to.contain('قُرئ بـترميز Windows-1256');
    expect(ar.page).to.contain('أمينة حسن');
    await commit(ar.url);
    const zh = await previewOf(edition, 'chinese.csv', fixture('gb18030.csv'), 'zh');
    expect(zh.page).to.contain('因此按GB18030 编码读取');
    expect(zh.page).to.contain('秀英 王');
    await commit(zh.url);
    const names = await Promise.all(
      ['amina.hassan@example.org', 'layla.abdallah@example.org', 'wang.xiuying@example.org', 'zhang.min@example.org'].map(async (e) => {
        const p = await person(e);
        return [p!.givenName, p!.familyName, p!.country, p!.gender];
      }),
    );
    expect(names).to.deep.equal([
      ['أمينة', 'حسن', 'JO', 'woman'],
      ['ليلى', 'عبد الله', 'MA', 'woman'],
      ['秀英', '王', 'SG', 'woman'],
      ['敏', '张', 'CN', 'woman'],
    ]);
    expect(await enrolled(edition)).to.have.length(6);
  });

  it('writes the template in the reader’s language, and each reads back without a problem', async () => {
    const edition = await newEdition('Templates');
    for (const lang of LANGUAGES) {
      const bytes = await download(`/enrolment/manage/editions/${edition}/import/template.csv`, lang);
      const header = bytes.toString('utf8').split('\r\n')[0]!;
      expect(header, lang).to.equal(`\ufeff${IMPORT_FIELDS.map((f) => catalogue[lang].import!.fields![f]).join(',')}`);
      const rows = rowsOf(read(bytes));
      expect(
        rows.map((r) => [r.email, r.person.country, r.person.gender, r.person.organisationType, r.role, r.errors]),
        lang,
      ).to.deep.equal([
        ['amina.diallo@example.org', 'SN', 'woman', 'government', 'learner', []],
        ['lucas.moreau@example.org', 'FR', 'man', 'un-secretariat', 'learner', []],
      ]);
    }
    const ru = (await download(`/enrolment/manage/editions/${edition}/import/template.csv`, 'ru')).toString('utf8');
    expect(ru).to.contain('Сенегал');
    expect(ru).to.contain('Женщина');
    expect(ru).to.contain('Слушатель');
  });

  it('writes the rows in error with column names in the reader’s language, which read back', async () => {
    const edition = await newEdition('Errors');
    const { url } = await previewOf(edition, 'bad.csv', 'email,gender,country\nnot-an-address,woman,KE\nok@example.org,robot,KE\n');
    const bytes = await download(`${url}/errors.csv`, 'ar');
    const text = bytes.toString('utf8');
    expect(text.split('\r\n')[0]).to.equal('\ufeffالسطر,المشكلة,البريد الإلكتروني,البلد,نوع الجنس');
    const again = read(bytes) as ImportFile;
    expect(again.columns.map((c) => c.field)).to.deep.equal([null, null, 'email', 'country', 'gender']);
    expect(again.rows.map((r) => r.cells.email)).to.deep.equal(['not-an-address', 'ok@example.org']);
  });

  it('reads back a roster exported in any of the six languages; one exported in Arabic imports into another edition', async () => {
    const source = await newEdition('Roster source');
    const file = [
      'email,given name,family name,organisation,country,gender',
      'rania.khalil@example.org,رانيا,خليل,جامعة القاهرة,Egypt,woman',
      'pierre.duval@example.org,Pierre,Duval,OIF,France,man',
      'olga.ivanova@example.org,Ольга,Иванова,ОБСЕ,Kazakhstan,woman',
    ].join('\n');
    await commit((await previewOf(source, 'people.csv', file)).url);

    for (const lang of LANGUAGES) {
      const bytes = await download(`/enrolment/manage/editions/${source}/roster.csv`, lang);
      const header = bytes.toString('utf8').split('\r\n')[0]!;
      expect(header, lang).to.contain(catalogue[lang].roster!.csv!.email);
      const result = read(bytes) as ImportFile;
      expect(
        result.columns.filter((c) => c.field).map((c) => c.field),
        lang,
      ).to.deep.equal(['email', 'organisation', 'country']);
      expect(
        rowsOf(result)
          .map((r) => [r.email, r.person.country, r.person.organisation, r.person.givenName, r.person.familyName, r.errors])
          .sort(),
        lang,
      ).to.deep.equal([
        ['olga.ivanova@example.org', 'KZ', 'ОБСЕ', undefined, undefined, []],
        ['pierre.duval@example.org', 'FR', 'OIF', undefined, undefined, []],
        ['rania.khalil@example.org', 'EG', 'جامعة القاهرة', undefined, undefined, []],
      ]);
    }

    const arabic = await download(`/enrolment/manage/editions/${source}/roster.csv`, 'ar');
    expect(arabic.toString('utf8')).to.contain('مصر');
    const target = await newEdition('Roster target');
    const { url, page } = await previewOf(target, 'roster-ar.csv', arabic);
    expect(page).to.contain('البريد الإلكتروني → E-mail');
    expect(page).to.contain('3 to enrol');
    await commit(url);
    expect(await enrolled(target)).to.deep.equal([
      ['olga.ivanova@example.org', 'enrolled'],
      ['pierre.duval@example.org', 'enrolled'],
      ['rania.khalil@example.org', 'enrolled'],
    ]);
    // The profiles are as they were: the roster's name column changed no name.
    const rania = await person('rania.khalil@example.org');
    expect([rania!.givenName, rania!.familyName, rania!.country, rania!.organisation]).to.deep.equal(['رانيا', 'خليل', 'EG', 'جامعة القاهرة']);
  });
});
