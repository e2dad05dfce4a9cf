/**
 * What a language block fills in for itself (issue #15): the holder's name in the block's script,
 * and the hours with the word "hour" in the form the number takes in the block's language. Checked
 * on the functions, then on PDFs read back with poppler: pdftotext for reading order, and its word
 * boxes for right-to-left lines (see `rtlLines`).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  PLACEHOLDERS,
  renderCertificate,
  templateProblems,
  templateWarnings,
  scriptOf,
  languageScripts,
  nameFor,
  type CertificateData,
  type CertificateTemplate,
  type TemplateLanguage,
} from '../render/index.ts';
import { placeholderValues } from '../render/template.ts';
import { pdfFolder } from './pdf.ts';

const pdfs = pdfFolder('olive-wording-');
const { save, lines } = pdfs;

const ARABIC_LETTER = /(?=\p{L})\p{Script=Arabic}/u;

/**
 * The lines that hold Arabic letters, read right to left from poppler's word boxes: words from the
 * rightmost to the leftmost, each Arabic word's glyphs (which poppler gives in visual order) turned
 * back into reading order. Unlike pdftotext's text this is what the page shows, word order
 * included: "٨ ساعات" printed as "ساعات ٨" would read "ساعات ٨" here. (Words of digits and Latin
 * letters are left as poppler gives them, so this fits lines whose digits are words of their own.)
 */
function rtlLines(pdf: Buffer): string[] {
  const xml = execFileSync('pdftotext', ['-bbox', '-enc', 'UTF-8', save(pdf), '-'], { encoding: 'utf8' });
  const rows = new Map<string, Array<{ x: number; text: string }>>();
  for (const m of xml.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]*)<\/word>/g)) {
    const y = Number(m[2]).toFixed(0);
    const text = m[3]!
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"');
    rows.set(y, [...(rows.get(y) ?? []), { x: Number(m[1]), text }]);
  }
  return [...rows.values()]
    .filter((words) => words.some((w) => ARABIC_LETTER.test(w.text)))
    .map((words) =>
      words
        .sort((a, b) => b.x - a.x)
        .map((w) => (ARABIC_LETTER.test(w.text) ? [...w.text].reverse().join('') : w.text))
        .join(' '),
    );
}

/** The demo programme's templates (fixtures/certificates/templates.json), as the renderer takes them. */
const FIXTURE = JSON.parse(readFileSync(new URL('../../../fixtures/certificates/templates.json', import.meta.url), 'utf8')) as {
  templates: Array<{
    name: string;
    languages: Array<{ lang: string; title: string; wording: string[]; codeLabel?: string }>;
    signatories: Array<{ name: string; title: string[] }>;
  }>;
};
function demoTemplate(name: string): CertificateTemplate {
  const t = FIXTURE.templates.find((x) => x.name === name)!;
  return {
    languages: t.languages.map((l) => ({ ...l, wording: l.wording.join('\n') })) as unknown as CertificateTemplate['languages'],
    signatories: t.signatories.map((s) => ({ name: s.name, title: Object.fromEntries(t.languages.map((l, i) => [l.lang, s.title[i]!])) })),
  };
}
const ENGLISH_ARABIC = 'Interest-Based Negotiation (English and Arabic)';

function data(extra: Partial<CertificateData> = {}): CertificateData {
  return {
    name: 'Leila Haddad',
    nameAlt: 'ليلى حدّاد',
    course: {
      en: 'Interest-Based Negotiation',
      ar: 'التفاوض القائم على المصالح',
      fr: 'Négociation raisonnée',
      ru: 'Переговоры на основе интересов',
      zh: '基于利益的谈判',
    },
    edition: { en: 'Geneva session', ar: 'دورة جنيف', fr: 'Session de Genève', ru: 'Женева 2027', zh: '日内瓦班' },
    hours: 8,
    code: '7K3M-Q9ZD-2W4H-XR8N-P',
    verificationUrl: 'https://olive.example/verify/7K3M-Q9ZD-2W4H-XR8N-P',
    issueDate: '2027-06-18',
    ...extra,
  };
}

const lang = (code: string, extra: Partial<TemplateLanguage> = {}): TemplateLanguage => ({ lang: code, title: 'T', wording: '{duration}', ...extra });
/** `{duration}` in one language for a number of hours. */
const duration = (code: string, hours: number, extra: Partial<TemplateLanguage> = {}) => placeholderValues(data({ hours }), lang(code, extra), code).duration;

describe('certificates: wording per language (names by script, hours by plural rules)', function () {
  this.timeout(60000);
  pdfs.useInSuite();

  describe('script of a text', () => {
    it('names the script most letters are in, ignoring marks, digits and punctuation', () => {
      expect(scriptOf('Leila Haddad')).to.equal('Latn');
      expect(scriptOf('Élodie Lefèvre-Dubœuf')).to.equal('Latn');
      expect(scriptOf('ليلى حدّاد')).to.equal('Arab'); // the shadda is a mark, not a letter of another script
      expect(scriptOf('مُحَمَّد')).to.equal('Arab');
      expect(scriptOf('Анна Сергеевна Иванова')).to.equal('Cyrl');
      expect(scriptOf('李明华')).to.equal('Hani');
      expect(scriptOf('Νίκος')).to.equal('Grek');
      expect(scriptOf('Ahmed (أحمد)')).to.equal('Latn');
      expect(scriptOf('أحمد Ali')).to.equal('Arab');
      expect(scriptOf('2027 – ٢٠٢٧')).to.equal(undefined);
      expect(scriptOf('')).to.equal(undefined);
    });

    it('knows the script each UN language is written in, and others from CLDR', () => {
      expect(['en', 'fr', 'es', 'ru', 'zh', 'ar'].map((l) => languageScripts(l))).to.deep.equal([['Latn'], ['Latn'], ['Latn'], ['Cyrl'], ['Hani'], ['Arab']]);
      expect(languageScripts('ar-EG')).to.deep.equal(['Arab']);
      expect(languageScripts('zh-Hant')).to.deep.equal(['Hani']);
      expect(languageScripts('sr-Latn')).to.deep.equal(['Latn']);
      expect(languageScripts('ja')).to.deep.equal(['Hani', 'Hira', 'Kana']);
      expect(languageScripts('not a tag')).to.deep.equal([]);
    });
  });

  describe('which name a block prints', () => {
    const latin = 'Leila Haddad';
    const arabic = 'ليلى حدّاد';
    it('gives each block the name in its script, whichever field holds it', () => {
      for (const [name, nameAlt] of [
        [latin, arabic],
        [arabic, latin],
      ] as const) {
        expect(nameFor({ name, nameAlt }, 'en'), `${name} / ${nameAlt}`).to.equal(latin);
        expect(nameFor({ name, nameAlt }, 'fr')).to.equal(latin);
        expect(nameFor({ name, nameAlt }, 'ar')).to.equal(arabic);
      }
      expect(nameFor({ name: 'Ли Минхуа', nameAlt: '李明华' }, 'zh')).to.equal('李明华');
      expect(nameFor({ name: '李明华', nameAlt: 'Ли Минхуа' }, 'ru')).to.equal('Ли Минхуа');
    });

    it('prints the only name in every block, and the name as given when neither is in the block’s script', () => {
      expect(nameFor({ name: arabic }, 'en')).to.equal(arabic);
      expect(nameFor({ name: latin, nameAlt: '' }, 'ar')).to.equal(latin);
      expect(nameFor({ name: '李明华', nameAlt: 'Ли Минхуа' }, 'en')).to.equal('李明华');
      expect(nameFor({ name: '李明华', nameAlt: 'Ли Минхуа' }, 'fr')).to.equal('李明华');
      expect(nameFor({ name: latin, nameAlt: 'Leila HADDAD' }, 'en')).to.equal(latin);
    });
  });

  describe('{duration}: hours with the word in the form the number takes', () => {
    it('Arabic: one and two in words, 3–10 plural, 11–99 singular, hundreds singular, Arabic-Indic digits', () => {
      const got = [0, 1, 2, 3, 8, 10, 11, 21, 99, 100, 101, 102, 103, 111, 1.5].map((n) => duration('ar', n));
      expect(got).to.deep.equal([
        '٠ ساعة',
        'ساعة واحدة',
        'ساعتان',
        '٣ ساعات',
        '٨ ساعات',
        '١٠ ساعات',
        '١١ ساعة',
        '٢١ ساعة',
        '٩٩ ساعة',
        '١٠٠ ساعة',
        '١٠١ ساعة',
        '١٠٢ ساعة',
        '١٠٣ ساعات',
        '١١١ ساعة',
        '١٫٥ ساعة',
      ]);
      // Western digits where the template's locale asks for them; the words do not change.
      expect(duration('ar', 8, { locale: 'ar-u-nu-latn' })).to.equal('8 ساعات');
      expect(duration('ar-EG', 11)).to.equal('١١ ساعة');
    });

    it('Russian: час, часа, часов by the last digits (and часа for fractions)', () => {
      const got = [1, 2, 4, 5, 11, 12, 20, 21, 22, 25, 101, 111, 112, 1.5].map((n) => duration('ru', n));
      expect(got).to.deep.equal([
        '1 час',
        '2 часа',
        '4 часа',
        '5 часов',
        '11 часов',
        '12 часов',
        '20 часов',
        '21 час',
        '22 часа',
        '25 часов',
        '101 час',
        '111 часов',
        '112 часов',
        '1,5 часа',
      ]);
    });

    it('English, French, Spanish, Chinese', () => {
      expect([1, 2, 8, 1.5, 1000].map((n) => duration('en', n))).to.deep.equal(['1 hour', '2 hours', '8 hours', '1.5 hours', '1,000 hours']);
      expect([0, 1, 1.5, 2, 8].map((n) => duration('fr', n))).to.deep.equal(['0 heure', '1 heure', '1,5 heure', '2 heures', '8 heures']);
      expect([1, 2, 8, 1.5].map((n) => duration('es', n))).to.deep.equal(['1 hora', '2 horas', '8 horas', '1,5 horas']);
      expect([1, 8, 60].map((n) => duration('zh', n))).to.deep.equal(['1小时', '8小时', '60小时']);
    });

    it('takes the form of the number as printed (1.04 prints 1: "1 hour"), and prints nothing without hours', () => {
      expect(duration('en', 1.04)).to.equal('1 hour');
      expect(duration('ru', 21.04)).to.equal('21 час');
      expect(placeholderValues(data({ hours: undefined }), lang('ar'), 'ar').duration).to.equal('');
    });

    it('keeps {hours} the bare number, as saved templates use it', () => {
      expect(PLACEHOLDERS).to.include.members(['hours', 'duration']);
      expect(placeholderValues(data({ hours: 8 }), lang('ar'), 'ar').hours).to.equal('٨');
      expect(placeholderValues(data({ hours: 8 }), lang('en'), 'en').hours).to.equal('8');
    });

    it('refuses {duration} in a language it has no words for, and accepts it in the six', () => {
      const t = (l: string): CertificateTemplate => ({ languages: [lang(l, { wording: 'Dauer: {duration}' })], signatories: [{ name: 'A', title: 'B' }] });
      expect(templateProblems(t('de')).join()).to.include('{duration}');
      for (const l of ['en', 'fr', 'es', 'ru', 'zh', 'ar', 'ar-EG']) expect(templateProblems(t(l)), l).to.deep.equal([]);
    });
  });

  describe('warning for {hours} followed by a word for "hour"', () => {
    const t = (...wordings: Array<[string, string]>): CertificateTemplate =>
      ({
        languages: wordings.map(([l, wording]) => ({ lang: l, title: 'T', wording })),
        signatories: [{ name: 'A', title: 'B' }],
      }) as unknown as CertificateTemplate;

    it('names each such place, its field and the catalogue entry, in every language with forms', () => {
      const w = templateWarnings(t(['en', '{edition} · {hours} hours\nAwarded'], ['ar', '{edition} · {hours} ساعة']));
      expect(w.map((x) => [x.field, x.lang, x.params.written])).to.deep.equal([
        ['languages.0.wording', 'en', '{hours} hours'],
        ['languages.1.wording', 'ar', '{hours} ساعة'],
      ]);
      expect(w[0]!.key).to.equal('certificates:templates.hoursWithUnit');
      expect(w[0]!.message).to.include('{duration}');
      const more = ['{hours} hour', '{hours} Hours', '{hours} heures', '{hours} horas', '{hours} часов', '{hours} часа', '{hours} ساعات', '{hours}  hours.'];
      for (const text of more) expect(templateWarnings(t(['en', text])).length, text).to.equal(1);
    });

    it('says nothing where the number is right bare: {duration}, "{hours}-hour", Chinese, other words', () => {
      for (const text of [
        '{edition} · {duration}',
        'a {hours}-hour course',
        '共{hours}小时',
        '{hours} h',
        '{hours} hoursome',
        'hours: {hours}',
        '{hours}, {place}',
      ]) {
        expect(templateWarnings(t(['en', text])), text).to.deep.equal([]);
      }
    });

    it('does not stop a template with "{hours} ساعة" from printing: saved templates print as before', async () => {
      const old = t(['en', 'This is to certify that\n{name}\n{hours} hours'], ['ar', 'نشهد بأن\n{name}\nمدتها {hours} ساعة']);
      expect(templateProblems(old)).to.deep.equal([]);
      expect(templateWarnings(old)).to.have.length(2);
      const pdf = await renderCertificate(old, data({ hours: 8 }));
      expect(lines(pdf)).to.include('8 hours');
      expect(rtlLines(pdf)).to.include('مدتها ٨ ساعة');
    });

    it('the demo templates use {duration} and raise no warning', () => {
      for (const { name, languages } of FIXTURE.templates) {
        const t = demoTemplate(name);
        expect(templateWarnings(t), name).to.deep.equal([]);
        expect(templateProblems(t), name).to.deep.equal([]);
        for (const l of languages) expect(l.wording.join('\n'), `${name} ${l.lang}`).to.include('{duration}');
      }
    });
  });

  describe('printed (pdftotext)', () => {
    /** Logical lines: English from pdftotext, Arabic from the word boxes. */
    async function print(t: CertificateTemplate, d: CertificateData) {
      const pdf = await renderCertificate(t, d);
      return { pdf, lines: lines(pdf), rtl: rtlLines(pdf) };
    }

    const expected: Array<[number, string, string]> = [
      [8, '8 hours', '٨ ساعات'],
      [2, '2 hours', 'ساعتان'],
      [1, '1 hour', 'ساعة واحدة'],
      [11, '11 hours', '١١ ساعة'],
      [100, '100 hours', '١٠٠ ساعة'],
    ];
    for (const [hours, en, ar] of expected) {
      it(`English + Arabic demo template, ${hours} h: “${en}” and “${ar}”`, async () => {
        const { lines: got, rtl } = await print(demoTemplate(ENGLISH_ARABIC), data({ hours }));
        expect(got).to.include(`Geneva session · ${en}`);
        expect(rtl).to.include(`دورة جنيف، ${ar}`);
        // The other forms are nowhere (the Arabic line above is the whole line).
        expect(rtl.filter((l) => l.startsWith('دورة جنيف'))).to.have.length(1);
        expect(rtl).to.include('صدرت في ١٨ يونيو ٢٠٢٧'); // the word-box reading gets a line with digits right
      });
    }

    for (const [label, name, nameAlt] of [
      ['name Latin, nameAlt Arabic', 'Leila Haddad', 'ليلى حدّاد'],
      ['name Arabic, nameAlt Latin', 'ليلى حدّاد', 'Leila Haddad'],
    ] as const) {
      it(`English + Arabic (${label}): the Latin name in the English block, the Arabic one in the Arabic block, once each`, async () => {
        const { lines: got } = await print(demoTemplate(ENGLISH_ARABIC), data({ name, nameAlt }));
        const at = (line: string) => {
          expect(
            got.filter((l) => l === line),
            line,
          ).to.have.length(1);
          return got.indexOf(line);
        };
        const order = [
          'This is to certify that',
          'Leila Haddad',
          'has successfully completed the course',
          'تُمنح هذه الشهادة إلى',
          'ليلى حدّاد',
          'لإتمام الدورة التدريبية بنجاح',
        ].map(at);
        expect(order).to.deep.equal([...order].sort((a, b) => a - b));
      });
    }

    it('Russian: 21 час, 22 часа, 25 часов; the Cyrillic name large, the Latin one under it', async () => {
      const ru: CertificateTemplate = {
        languages: [
          {
            lang: 'ru',
            title: 'Сертификат об окончании',
            wording: 'Настоящим удостоверяется, что\n{name}\nуспешно завершил(а) курс\n{course}\n{edition}, {duration}',
          },
        ],
        signatories: [{ name: 'Елена Петрова', title: 'Директор' }],
      };
      for (const [hours, text] of [
        [21, '21 час'],
        [22, '22 часа'],
        [25, '25 часов'],
      ] as const) {
        const { lines: got } = await print(ru, data({ hours, name: 'Anna Ivanova', nameAlt: 'Анна Иванова' }));
        expect(got).to.include(`Женева 2027, ${text}`);
        const i = got.indexOf('Анна Иванова');
        expect(i, 'Cyrillic name').to.be.above(-1);
        expect(got[i + 1]).to.equal('Anna Ivanova');
      }
    });

    it('Chinese + Russian with the fields the other way round: 李明华 in the Chinese block, Ли Минхуа in the Russian one', async () => {
      const t: CertificateTemplate = {
        languages: [
          { lang: 'zh', title: '结业证书', wording: '兹证明\n{name}\n已圆满完成\n{course}\n共{duration}' },
          { lang: 'ru', title: 'Сертификат', wording: 'Настоящим удостоверяется, что\n{name}\nзавершил(а) курс\n{course}\n{edition}, {duration}' },
        ],
        signatories: [{ name: 'Елена Петрова', title: { zh: '主任', ru: 'Директор' } }],
      };
      const { lines: got } = await print(t, data({ name: 'Ли Минхуа', nameAlt: '李明华', hours: 22 }));
      const order = ['兹证明', '李明华', '共22小时', 'Настоящим удостоверяется, что', 'Ли Минхуа', 'Женева 2027, 22 часа'].map((l) => got.indexOf(l));
      expect(
        order.every((i) => i >= 0),
        got.join(' | '),
      ).to.equal(true);
      expect(order).to.deep.equal([...order].sort((a, b) => a - b));
    });

    it('English + French: a Latin nameAlt goes in both blocks and the Chinese name under the first; a name in neither script in both', async () => {
      const t: CertificateTemplate = {
        languages: [
          { lang: 'en', title: 'Certificate', wording: 'This is to certify that\n{name}\nhas completed' },
          { lang: 'fr', title: 'Certificat', wording: 'Nous certifions que\n{name}\na suivi' },
        ],
        signatories: [{ name: 'Elena Marchetti', title: { en: 'Director', fr: 'Directrice' } }],
      };
      let got = (await print(t, data({ name: '李明华', nameAlt: 'Li Minghua' }))).lines;
      expect(got.filter((l) => l === 'Li Minghua')).to.have.length(2);
      expect(got.filter((l) => l === '李明华')).to.have.length(1);
      expect(got.indexOf('李明华')).to.equal(got.indexOf('Li Minghua') + 1);
      expect(got.indexOf('李明华')).to.be.below(got.indexOf('Nous certifions que'));

      got = (await print(t, data({ name: '李明华', nameAlt: undefined }))).lines;
      expect(got.filter((l) => l === '李明华')).to.have.length(2);
    });
  });
});
