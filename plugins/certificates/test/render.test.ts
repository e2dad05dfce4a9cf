/**
 * Rendering tests: PDFs are written to a temporary folder (pdf.ts) and read back with poppler-utils
 * (pdftotext, pdffonts, pdftoppm), a PDF reader independent of pdfkit.
 *
 * Over 400 lines: every script and engine is checked through the same read-back helpers.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bidiImport, { type Bidi } from 'bidi-js';
import QRCode from 'qrcode';
import {
  renderCertificate,
  renderCertificateDetailed,
  renderPreview,
  unprintableTexts,
  uncoveredCharacters,
  formatDate,
  TemplateError,
  UncoveredCharactersError,
  type CertificateData,
  type CertificateTemplate,
  type TemplateLanguage,
} from '../render/index.ts';
import { fitText, wrap } from '../render/text.ts';
import { BIDI_CONTROLS, norm, pdfFolder } from './pdf.ts';

const bidi = ((bidiImport as unknown as { default?: () => Bidi }).default ?? bidiImport) as unknown as () => Bidi;
const Bidi = bidi();

const pdfs = pdfFolder('olive-cert-');
const { save, extract, lines } = pdfs;

/** pdffonts rows: name, type, embedded, subset, unicode map. */
function fonts(pdf: Buffer): Array<{ name: string; type: string; emb: string; sub: string; uni: string }> {
  const out = execFileSync('pdffonts', [save(pdf)], { encoding: 'utf8' })
    .split('\n')
    .slice(2)
    .filter(Boolean);
  return out.map((row) => {
    const m = /^(\S+)\s+(.+?)\s{2,}(\S+)\s+(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$/.exec(row);
    if (!m) throw new Error(`unexpected pdffonts row: ${row}`);
    return { name: m[1]!, type: m[2]!, emb: m[4]!, sub: m[5]!, uni: m[6]! };
  });
}

function expectCleanFonts(pdf: Buffer, families: string[]) {
  const rows = fonts(pdf);
  for (const r of rows) {
    expect(r.type, r.name).to.equal('CID TrueType');
    expect([r.emb, r.sub, r.uni], r.name).to.deep.equal(['yes', 'yes', 'yes']);
  }
  const names = rows.map((r) => r.name.replace(/^[A-Z]{6}\+/, '').replace(/-(Regular|Bold)$/, ''));
  expect([...new Set(names)].sort()).to.deep.equal([...families].sort());
}

function expectNoReplacement(text: string) {
  expect(text).not.to.include('\ufffd');
  expect(text).not.to.include('?');
}

const logo = await QRCode.toBuffer('Olive programme logo', { margin: 1, color: { dark: '#1f3a5fff', light: '#00000000' } });
const signature = await QRCode.toBuffer('signature', { margin: 0, scale: 2 });
/** A 16×16 baseline JPEG (543 bytes; CPython's test image `imghdrdata/python.jpg`). */
const jpeg = Buffer.from(
  '/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBD/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABwQF/8QAJBAAAQQBBAICAwAAAAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/EACMRAAECBQMFAAAAAAAAAAAAAAECEQMEBQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPkJWW+ulrsaUVAseUgslSlH9LKuPryIKuWPZdskzXmm3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kqcWkezS0hO/HvuRp0rO6hWnWO1UisZVuFi4GFeyEpmGepa5S5SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9XLdDs9d6ZVix2VEhiL9kuNPxw2gEKcDQ/rs8AuA8VAe0vdl7VOYn+27flGAUgmITjbhSmCg3BYlyeWDkMolvw4KOp1KM6iCNvngZHwetf//Z',
  'base64',
);

/** The same certificate wording in the six UN languages. */
const WORDING: Record<string, TemplateLanguage> = {
  en: {
    lang: 'en',
    title: 'Certificate of Completion',
    wording: 'This is to certify that\n{name}\nhas successfully completed\n{course}\n{edition}, {place}, from {startDate} to {endDate}, {hours} hours',
    codeLabel: 'Verification code',
  },
  fr: {
    lang: 'fr',
    title: 'Certificat de réussite',
    wording: 'Nous certifions que\n{name}\na suivi avec succès\n{course}\n{edition}, {place}, du {startDate} au {endDate}, {hours} heures',
  },
  es: {
    lang: 'es',
    title: 'Certificado de finalización',
    wording: 'Se certifica que\n{name}\nha completado con éxito\n{course}\n{edition}, {place}, del {startDate} al {endDate}, {hours} horas',
  },
  ru: {
    lang: 'ru',
    title: 'Сертификат об окончании',
    wording: 'Настоящим удостоверяется, что\n{name}\nуспешно завершил(а) курс\n{course}\n{edition}, {place}, с {startDate} по {endDate}, {hours} часов',
  },
  zh: { lang: 'zh', title: '结业证书', wording: '兹证明\n{name}\n已圆满完成\n{course}\n{edition}，{place}，{startDate}至{endDate}，共{hours}小时' },
  ar: { lang: 'ar', title: 'شهادة إتمام', wording: 'نشهد بأن\n{name}\nقد أتم بنجاح\n{course}\n{edition}، {place}، من {startDate} إلى {endDate}، {hours} ساعة' },
};

const COURSE = {
  en: 'Negotiation and Mediation',
  fr: 'Négociation et médiation',
  es: 'Negociación y mediación',
  ru: 'Переговоры и посредничество',
  zh: '谈判与调解',
  ar: 'التفاوض والوساطة',
};
const EDITION = { en: 'Fellowship 2027', fr: 'Bourse 2027', es: 'Beca 2027', ru: 'Стипендия 2027', zh: '2027年研修班', ar: 'زمالة ٢٠٢٧' };
const PLACE = { en: 'Oslo', fr: 'Oslo', es: 'Oslo', ru: 'Осло', zh: '奥斯陆', ar: 'أوسلو' };
const NAMES: Record<string, string> = {
  en: 'Amina Haddad',
  fr: 'Élodie Lefèvre-Dubœuf',
  es: 'José Ángel Muñoz Peña',
  ru: 'Анна Сергеевна Иванова',
  zh: '李明华',
  ar: 'محمد بن عبد الله',
};

function template(langs: string[], extra: Partial<CertificateTemplate> = {}): CertificateTemplate {
  return {
    languages: langs.map((l) => WORDING[l]!) as unknown as CertificateTemplate['languages'],
    logos: { programme: logo, partners: [logo] },
    signatories: [
      {
        name: 'Nikhil Seth',
        title: {
          en: 'Executive Director',
          fr: 'Directeur exécutif',
          ar: 'المدير التنفيذي',
          zh: '执行主任',
          ru: 'Исполнительный директор',
          es: 'Director Ejecutivo',
        },
        signature,
      },
      { name: 'Marie Dupont', title: 'PPCP' },
    ],
    ...extra,
  };
}

function data(name: string, extra: Partial<CertificateData> = {}): CertificateData {
  return {
    name,
    course: COURSE,
    edition: EDITION,
    place: PLACE,
    startDate: '2027-06-07',
    endDate: '2027-06-18',
    hours: 60,
    code: '7K3M-Q9ZD-2W4H-XR8N-P',
    verificationUrl: 'https://olive.example/verify/7K3M-Q9ZD-2W4H-XR8N-P',
    issueDate: '2027-06-18',
    ...extra,
  };
}

const typeOf = (c: string) => Bidi.getBidiCharTypeName(c);
const isL = (c: string) => typeOf(c) === 'L';
const isR = (c: string) => typeOf(c) === 'R' || typeOf(c) === 'AL';
const isNum = (c: string) => /[0-9\u0660-\u0669\u06f0-\u06f9]/.test(c);

/** Poppler's page direction: left to right unless the page holds more right-to-left letters than left-to-right ones. */
function pageIsLeftToRight(text: string): boolean {
  const chars = [...text];
  return chars.filter(isL).length >= chars.filter(isR).length;
}

/**
 * What poppler's pdftotext makes of a right-to-left line (TextOutputDev's `reorderText`): it takes
 * the glyphs in visual order and, on a left-to-right page, keeps stretches without Arabic letters as
 * they are and reverses the others; on a right-to-left page it reads from the right, reversing
 * stretches without left-to-right letters or digits. Digits count as left to right, so a neutral
 * next to a number (a comma, a space) can land on its other side, and on a left-to-right page an
 * Arabic line broken by numbers comes out with its pieces in visual order. This is the model the
 * tests compare against, ignoring spaces (poppler places word gaps by geometry).
 */
function poppler(logical: string, leftToRightPage: boolean): string {
  const levels = Bidi.getEmbeddingLevels(logical, 'rtl');
  const c = [...Bidi.getReorderedString(logical, levels)];
  let out = '';
  if (leftToRightPage) {
    for (let i = 0; i < c.length;) {
      let j = i;
      while (j < c.length && !isR(c[j]!)) j++;
      out += c.slice(i, j).join('');
      i = j;
      while (j < c.length && !(isL(c[j]!) || isNum(c[j]!))) j++;
      out += c.slice(i, j).reverse().join('');
      i = j;
    }
  } else {
    for (let i = c.length - 1; i >= 0;) {
      let j = i;
      while (j >= 0 && !(isL(c[j]!) || isNum(c[j]!))) j--;
      out += c
        .slice(j + 1, i + 1)
        .reverse()
        .join('');
      i = j;
      while (j >= 0 && !isR(c[j]!)) j--;
      out += c.slice(j + 1, i + 1).join('');
      i = j;
    }
  }
  return out;
}

const squash = (s: string) => s.replace(BIDI_CONTROLS, '').replace(/\s+/g, '');

describe('certificates: rendering', function () {
  this.timeout(60000);
  pdfs.useInSuite();

  for (const lang of ['en', 'fr', 'es', 'ru', 'zh', 'ar']) {
    it(`prints and extracts a ${lang} certificate in logical order, fonts embedded`, async () => {
      const pdf = await renderCertificate(template([lang]), data(NAMES[lang]!));
      const text = extract(pdf);
      expectNoReplacement(text);
      const got = lines(pdf);
      const w = WORDING[lang]!;
      const l = lang as keyof typeof COURSE;
      const dates = { start: formatDate('2027-06-07', w), end: formatDate('2027-06-18', w) };
      const hours = lang === 'ar' ? '٦٠' : '60';
      const last = w.wording
        .split('\n')
        .at(-1)!
        .replace('{edition}', EDITION[l])
        .replace('{place}', PLACE[l])
        .replace('{startDate}', dates.start)
        .replace('{endDate}', dates.end)
        .replace('{hours}', hours);
      // Every printed line comes back whole and in logical order, the name on its own line.
      expect(got).to.include.members([norm(w.title), NAMES[lang]!, COURSE[l], norm(w.wording.split('\n')[0]!)]);
      if (lang === 'ar') {
        // A line with numbers: every letter and digit, in the order poppler's reordering gives (see poppler()).
        expect(pageIsLeftToRight(text)).to.equal(false);
        expect(got.map(squash)).to.include(squash(poppler(last, false)));
      } else {
        expect(got).to.include(norm(last));
      }
      expect(got).to.include('7K3M-Q9ZD-2W4H-XR8N-P');
      expectCleanFonts(pdf, lang === 'zh' ? ['NotoSansSC', 'NotoSans'] : lang === 'ar' ? ['NotoNaskhArabic', 'NotoSans'] : ['NotoSans']);
      expect(pdf.length).to.be.below(40 * 1024);
    });
  }

  it('extracts Arabic names with ligatures, hamza and tatweel letter for letter', async () => {
    const names = ['عبد الله بن خالد الأنصاري', 'سلام لؤي إلياس', 'نبيل يونس بنت ثابت', 'ءامنة ى ئ ؤ ة', 'مصطفى آل ثاني', 'فاطمة الزهراء', 'محمـــد'];
    for (const name of names) {
      const pdf = await renderCertificate(template(['ar']), data(name));
      expect(lines(pdf), name).to.include(name);
    }
  });

  it('prints Arabic dates with Arabic-Indic digits in order, and Western digits when the locale says so', async () => {
    expect(formatDate('2027-06-18', WORDING.ar!)).to.equal('١٨ يونيو ٢٠٢٧');
    expect(formatDate('2027-06-18', { ...WORDING.ar!, locale: 'ar-u-nu-latn' })).to.equal('18 يونيو 2027');
    const pdf = await renderCertificate(template(['ar']), data(NAMES.ar!));
    const text = extract(pdf);
    expect(text).to.include('٢٠٢٧');
    expect(text).not.to.include('٧٢٠٢'); // a number shaped right to left would come out reversed
    const logical = 'زمالة ٢٠٢٧، أوسلو، من ٧ يونيو ٢٠٢٧ إلى ١٨ يونيو ٢٠٢٧، ٦٠ ساعة';
    expect(lines(pdf).map(squash)).to.include(squash(poppler(logical, pageIsLeftToRight(text))));
    // The oracle is not the logical text itself: poppler moves the commas next to numbers.
    expect(squash(poppler(logical, false))).not.to.equal(squash(logical));
  });

  it('puts a mixed Arabic/Latin line with digits in the right order (page mostly Arabic)', async () => {
    const t = template(['ar'], { languages: [{ ...WORDING.ar!, wording: 'منحت هذه الشهادة إلى {name} في {issueDate} بعد {hours} ساعة' }] });
    const pdf = await renderCertificate(t, data('Ahmed Ali (UNITAR)'));
    const text = extract(pdf);
    expectNoReplacement(text);
    expect(pageIsLeftToRight(text)).to.equal(false);
    expect(lines(pdf).map(squash)).to.include(squash(poppler('منحت هذه الشهادة إلى Ahmed Ali (UNITAR) في ١٨ يونيو ٢٠٢٧ بعد ٦٠ ساعة', false)));
    expect(norm(text)).to.include('منحت هذه الشهادة إلى').and.to.include('Ahmed Ali').and.to.include('UNITAR');
  });

  it('bilingual English + Arabic: Arabic lines extract in logical order; a mixed line is extracted the way poppler reorders it', async () => {
    const mixed = 'منحت إلى {name} في {issueDate}';
    const t = template([], { languages: [WORDING.en!, { ...WORDING.ar!, wording: `نشهد بأن\n{name}\nقد أتم بنجاح\n{course}\n${mixed}` }] });
    const pdf = await renderCertificate(t, data('Amina Haddad', { nameAlt: 'أمينة حداد' }));
    const got = lines(pdf);
    expectNoReplacement(extract(pdf));
    // English, then Arabic title, name in Arabic script, course: whole and in logical order.
    expect(got).to.include.members(['Certificate of Completion', 'شهادة إتمام', 'Amina Haddad', 'أمينة حداد', 'التفاوض والوساطة', 'نشهد بأن', 'قد أتم بنجاح']);
    expect(got).to.include('Fellowship 2027, Oslo, from 7 June 2027 to 18 June 2027, 60 hours');
    // The page is mostly left-to-right, so poppler reads the mixed Arabic line's pieces left to right.
    const logical = 'منحت إلى أمينة حداد في ١٨ يونيو ٢٠٢٧';
    expect(pageIsLeftToRight(extract(pdf))).to.equal(true);
    expect(got.map(squash)).to.include(squash(poppler(logical, true)));
    // … which is not the logical order: the oracle above is not a tautology.
    expect(squash(poppler(logical, true))).not.to.equal(squash(logical));
    expectCleanFonts(pdf, ['NotoSans', 'NotoNaskhArabic']);
  });

  it('bilingual Chinese + Russian with a name in two scripts', async () => {
    const pdf = await renderCertificate(template(['zh', 'ru']), data('李明华', { nameAlt: 'Ли Минхуа' }));
    const got = lines(pdf);
    expectNoReplacement(extract(pdf));
    expect(got).to.include.members([
      '结业证书',
      'Сертификат об окончании',
      '李明华',
      'Ли Минхуа',
      '谈判与调解',
      'Переговоры и посредничество',
      '执行主任',
      'Исполнительный директор',
    ]);
    expect(got).to.include('2027年研修班，奥斯陆，2027年6月7日至2027年6月18日，共60小时');
    expectCleanFonts(pdf, ['NotoSansSC', 'NotoSans']);
    expect(pdf.length).to.be.below(40 * 1024);
  });

  it('shrinks a long name to fit the line, and wraps it rather than running off the page', async () => {
    const long = 'Maria Fernanda de los Ángeles Villalobos-Echeverría y Castro Montenegro';
    const fit = fitText(long, { direction: 'ltr', weight: 'bold', size: 30, minSize: 15, maxWidth: 700, maxLines: 2 });
    expect(fit.size).to.be.below(30);
    for (const line of fit.lines) expect(line.em * fit.size).to.be.at.most(700.01);
    const pdf = await renderCertificate(template(['en']), data(long));
    expect(norm(extract(pdf))).to.include(long);
    // Every word lies inside the frame.
    const xml = execFileSync('pdftotext', ['-bbox', save(pdf), '-'], { encoding: 'utf8' });
    const xs = [...xml.matchAll(/xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(xs.length).to.be.above(20);
    for (const [a, b] of xs) expect(a! >= 30 && b! <= 841.89 - 30, `${a}..${b}`).to.equal(true);
  });

  it('wraps Chinese between characters, keeping punctuation with its neighbour, and Arabic between words', () => {
    const zh = '兹证明该学员已于二〇二七年六月在奥斯陆圆满完成“谈判与调解”研修班的全部课程（共六十小时），成绩合格，特发此证。';
    const zhLines = wrap(zh, 'ltr', 'regular', 12.5, 300);
    expect(zhLines.length).to.be.above(1);
    expect(zhLines.map((l) => l.text).join('')).to.equal(zh);
    for (const l of zhLines) {
      expect(l.em * 12.5).to.be.at.most(300.01);
      expect(l.text).not.to.match(/^[，。、）」”]/);
      expect(l.text).not.to.match(/[（「“]$/);
    }
    const ar = 'يشهد البرنامج بأن المشارك قد أتم بنجاح جميع متطلبات الزمالة في التفاوض والوساطة التي عقدت في أوسلو';
    const arLines = wrap(ar, 'rtl', 'regular', 12.5, 250);
    expect(arLines.length).to.be.above(1);
    expect(arLines.map((l) => l.text).join(' ')).to.equal(ar);
    for (const l of arLines) expect(l.em * 12.5).to.be.at.most(250.01);
  });

  it('draws the QR code of the verification address as vector modules, readable at the expected places', async () => {
    const url = 'https://olive.example/verify/7K3M-Q9ZD-2W4H-XR8N-P';
    const r = await renderCertificateDetailed(template(['en']), data('Amina Haddad', { verificationUrl: url }));
    // The matrix drawn is the one qrcode computes for that address.
    const expected = QRCode.create(url, { errorCorrectionLevel: 'M' }).modules;
    expect(r.qr.url).to.equal(url);
    expect(r.qr.matrix.length).to.equal(expected.size);
    for (let y = 0; y < expected.size; y++) for (let x = 0; x < expected.size; x++) expect(r.qr.matrix[y]![x], `${x},${y}`).to.equal(expected.get(y, x) === 1);
    // No raster image for it: the only images are the two logos and the signature.
    const list = execFileSync('pdfimages', ['-list', save(r.pdf)], { encoding: 'utf8' })
      .split('\n')
      .slice(2)
      .filter(Boolean);
    expect(list.map((l) => l.trim().split(/\s+/)[2]).filter((type) => type === 'image')).to.have.length(3);
    // Rasterised by poppler, each module's centre is dark exactly where the matrix says.
    const dpi = 216;
    const px = dpi / 72;
    execFileSync('pdftoppm', ['-r', String(dpi), '-gray', '-singlefile', save(r.pdf), join(pdfs.dir, 'qr')]);
    const pgm = readFileSync(join(pdfs.dir, 'qr.pgm'));
    const header = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(pgm.subarray(0, 40).toString('latin1'))!;
    const [width, offset] = [Number(header[1]), header[0].length];
    const at = (xPt: number, yPt: number) => pgm[offset + Math.floor(yPt * px) * width + Math.floor(xPt * px)]!;
    let dark = 0;
    for (let y = 0; y < expected.size; y++) {
      for (let x = 0; x < expected.size; x++) {
        const v = at(r.qr.x + (x + 0.5) * r.qr.moduleSize, r.qr.y + (y + 0.5) * r.qr.moduleSize);
        const isDark = expected.get(y, x) === 1;
        if (isDark) dark++;
        expect(isDark ? v < 100 : v > 160, `module ${x},${y} grey ${v}`).to.equal(true);
      }
    }
    expect(dark).to.be.above(100);
    // A quiet zone of at least 4 modules is light.
    for (let i = -4; i < expected.size + 4; i++) {
      expect(at(r.qr.x - 3.5 * r.qr.moduleSize, r.qr.y + (i + 0.5) * r.qr.moduleSize)).to.be.above(160);
      expect(at(r.qr.x + (i + 0.5) * r.qr.moduleSize, r.qr.y - 3.5 * r.qr.moduleSize)).to.be.above(160);
    }
  });

  it('renders the same bytes for the same snapshot, whatever was rendered before and in another process', async () => {
    const t = template(['en', 'ar']);
    const d = data('Amina Haddad', { nameAlt: 'أمينة حداد' });
    const first = await renderCertificate(t, d);
    await renderCertificate(template(['zh', 'ar']), data('بنت نبيل يونس')); // other glyphs first in this process
    const again = await renderCertificate(t, d);
    expect(again.equals(first)).to.equal(true);
    const other = await renderCertificate(t, { ...d, code: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ-Z' });
    expect(other.equals(first)).to.equal(false);
    // A fresh process renders the same bytes.
    const script = join(pdfs.dir, 'render.mts');
    writeFileSync(
      script,
      `
      import { renderCertificate } from ${JSON.stringify(new URL('../render/index.ts', import.meta.url).pathname)};
      import { createHash } from 'node:crypto';
      const input = JSON.parse(process.argv[2]);
      const revive = (v) => v && v.type === 'Buffer' ? Buffer.from(v.data) : v;
      input.t.logos = { programme: revive(input.t.logos.programme), partners: input.t.logos.partners.map(revive) };
      input.t.signatories = input.t.signatories.map((s) => ({ ...s, signature: revive(s.signature) }));
      process.stdout.write(createHash('sha256').update(await renderCertificate(input.t, input.d)).digest('hex'));
    `,
    );
    const hash = execFileSync(process.execPath, ['--import', 'tsx', script, JSON.stringify({ t, d })], { encoding: 'utf8', cwd: process.cwd() });
    expect(hash).to.equal(createHash('sha256').update(first).digest('hex'));
  });

  it('flags a name no bundled font can print, instead of printing boxes', async () => {
    expect(uncoveredCharacters('李明华 Иванова محمد Élodie')).to.deep.equal([]);
    expect(uncoveredCharacters('Amina 𓂀 Haddad 😀')).to.deep.equal(['𓂀', '😀']);
    expect(unprintableTexts(template(['en']), data('Amina 𓂀'))).to.deep.include({ text: 'Amina 𓂀', characters: ['𓂀'] });
    let error: unknown;
    try {
      await renderCertificate(template(['en']), data('Amina 𓂀'));
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(UncoveredCharactersError);
    expect((error as UncoveredCharactersError).characters).to.deep.equal(['𓂀']);
  });

  it('refuses a template with five signatories or an unknown placeholder', async () => {
    const s = { name: 'A', title: 'B' };
    let error: unknown;
    try {
      await renderCertificate(template(['en'], { signatories: [s, s, s, s, s] }), data('X'));
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(TemplateError);
    const t = template([], { languages: [{ ...WORDING.en!, wording: 'Dear {nmae}' }] });
    error = undefined;
    try {
      await renderCertificate(t, data('X'));
    } catch (e) {
      error = e;
    }
    expect((error as TemplateError).problems.join()).to.include('{nmae}');
  });

  it('embeds JPEG images as they are (no re-encoding)', async () => {
    const pdf = await renderCertificate(
      template(['en'], { logos: { programme: jpeg }, signatories: [{ name: 'Nikhil Seth', title: 'Executive Director', signature: jpeg }] }),
      data('Amina Haddad'),
    );
    const list = execFileSync('pdfimages', ['-list', save(pdf)], { encoding: 'utf8' })
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.trim().split(/\s+/));
    // Drawn twice (logo, signature), embedded once: one PDF object.
    expect(list.map((c) => [c[2], c[3], c[4], c[8]])).to.deep.equal([
      ['image', '16', '16', 'jpeg'],
      ['image', '16', '16', 'jpeg'],
    ]);
    expect(new Set(list.map((c) => c[10])).size).to.equal(1);
    expect(lines(pdf)).to.include('Amina Haddad');
  });

  it('previews a template with sample data and SPECIMEN across it, portrait too', async () => {
    const pdf = await renderPreview(
      template(['fr', 'ar'], {
        page: { orientation: 'portrait' },
        signatories: [1, 2, 3, 4].map((i) => ({ name: `Signataire ${i}`, title: { fr: 'Directrice', ar: 'مديرة' } })),
      }),
    );
    const got = lines(pdf);
    expect(got).to.include.members(['Amina Haddad', 'أمينة حداد', 'Certificat de réussite', 'Signataire 4']);
    // SPECIMEN is printed at an angle: poppler reads it in pieces.
    expect([...got.filter((l) => /^[A-Z]{1,8}$/.test(l)).join('')].sort().join('')).to.equal([...'SPECIMEN'].sort().join(''));
    const info = execFileSync('pdfinfo', [save(pdf)], { encoding: 'utf8' });
    expect(info).to.match(/Page size:\s+595\.28 x 841\.89/);
  });
});
