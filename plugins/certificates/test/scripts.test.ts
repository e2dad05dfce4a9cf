/**
 * Names in every script the certificate fonts cover: extraction with poppler's pdftotext (the text
 * search, copy-paste and screen readers get), rendering compared by pixels with reference images
 * checked by eye, refusal of what cannot print, and the SVG preview of a name.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  renderCertificate,
  uncoveredCharacters,
  unprintableTexts,
  UncoveredCharactersError,
  type CertificateData,
  type CertificateTemplate,
} from '../render/index.ts';
import { setFeaturesForTests } from '../render/text.ts';
import { SAMPLE_NAMES } from './fixtures/names.ts';
import { pdfFolder } from './pdf.ts';
import { decodePng, encodePng, inkDifference, linePdf, rasterise, type Grey } from './pixels.ts';

const FIXTURES = new URL('./fixtures/names/', import.meta.url).pathname;
/** Set to write the reference images anew (then look at each one before committing it). */
const UPDATE = process.env.OLIVE_UPDATE_FIXTURES === '1';
const DPI = 96;

const pdfs = pdfFolder('olive-scripts-');
const { lines } = pdfs;

/** The reference image of a sample name (written first when UPDATE is set). */
async function reference(script: string): Promise<Grey> {
  const file = join(FIXTURES, `${script}.png`);
  if (UPDATE || !existsSync(file)) {
    if (!UPDATE) throw new Error(`no reference image ${file}: run with OLIVE_UPDATE_FIXTURES=1 and look at it`);
    writeFileSync(file, encodePng(rasterise(await linePdf(SAMPLE_NAMES[script]!), pdfs.dir, DPI)));
  }
  return decodePng(readFileSync(file));
}

/** The name rendered now, on a page as wide as its reference. */
async function rendered(script: string, ref: Grey, dx = 0): Promise<Grey> {
  return rasterise(await linePdf(SAMPLE_NAMES[script]!, { dx, width: (ref.width * 72) / DPI }), pdfs.dir, DPI);
}

/** Same glyphs in the same places, give or take anti-aliasing: at most 8 stray ink pixels and 0.2 %. */
function expectSameInk(a: Grey, b: Grey, what: string) {
  const d = inkDifference(a, b);
  expect(d.stray <= 8 && d.share <= 0.002, `${what}: ${d.stray} of ${d.ink} ink pixels have no match`).to.equal(true);
}

const RIGHT_TO_LEFT = new Set(['arabic-marks', 'arabic-shadda', 'arabic', 'hebrew']);

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
  pdfs.useInSuite();

  for (const script of Object.keys(SAMPLE_NAMES)) {
    it(`prints a ${script} name as its reference image (checked by eye), give or take anti-aliasing`, async () => {
      const ref = await reference(script);
      expectSameInk(ref, await rendered(script, ref), script);
      // Half a pixel to the side still matches: the comparison is not about exact pixels.
      expectSameInk(ref, await rendered(script, ref, 0.35), `${script} moved by 0.35 pt`);
    });
  }

  it('the pixel comparison fails on a missing conjunct or reph, and on Arabic letters that do not join', async () => {
    const cases: Array<[string, string[]]> = [
      // Devanagari without reph, half forms and conjuncts: प्रिया शर्मा with a visible virama and no reph.
      ['devanagari', ['-rphf', '-half', '-pres', '-blwf', '-blws', '-cjct', '-akhn', '-abvs', '-psts']],
      // Arabic without its joining forms: isolated letters.
      ['arabic', ['-init', '-medi', '-fina']],
      // Khmer without its subscript consonants, Thai without mark placement, Bengali without conjuncts.
      ['khmer', ['-blwf', '-pres', '-abvs', '-blws', '-psts', '-pref', '-cfar']],
      ['thai', ['-mark', '-mkmk', '-ccmp']],
      ['bengali', ['-half', '-pres', '-blwf', '-blws', '-cjct', '-akhn', '-init', '-psts']],
    ];
    try {
      for (const [script, features] of cases) {
        const ref = await reference(script);
        setFeaturesForTests(features);
        const d = inkDifference(ref, await rendered(script, ref));
        setFeaturesForTests([]);
        expect(d.stray > 8 && d.share > 0.002, `${script} with ${features.join(' ')}: only ${d.stray} stray pixels`).to.equal(true);
      }
    } finally {
      setFeaturesForTests([]);
    }
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

  it('refuses a name that would print with a dotted circle (a broken sequence), naming the characters', async () => {
    for (const name of Object.values(SAMPLE_NAMES)) expect(uncoveredCharacters(name), name).to.deep.equal([]);
    const broken: Array<[string, string[]]> = [
      ['ि', ['ि']], // a Devanagari vowel sign alone
      ['Priya िप्र', ['ि']], // … before its consonant, as typed from what is seen
      ['प्रिया ्र', ['्र']], // a virama starting a word
      ['្កសុខ', ['្ក']], // a Khmer subscript with no consonant above it
      ['ေ', ['ေ']], // a Myanmar vowel sign alone
      ['ัสม', ['ั']], // a Thai vowel above nothing
      ['َمحمد', ['َ']], // an Arabic fatha on nothing
      ['محمد َ', ['َ']], // … or on a space
    ];
    for (const [name, characters] of broken) {
      expect(uncoveredCharacters(name), name).to.deep.equal(characters);
      expect(unprintableTexts(template([EN]), data(name)), name).to.deep.include({ text: name, characters });
      let error: unknown;
      try {
        await renderCertificate(template([EN]), data(name));
      } catch (e) {
        error = e;
      }
      expect(error, name).to.be.instanceOf(UncoveredCharactersError);
      expect((error as UncoveredCharactersError).characters).to.deep.equal(characters);
    }
    // Characters no font has are still named as before; joiners and stacked accents are fine.
    expect(uncoveredCharacters('Amina 𓂀')).to.deep.equal(['𓂀']);
    expect(uncoveredCharacters('क्\u200dष ශ්\u200dරී a\u0301\u0301')).to.deep.equal([]);
  });

  it('renders the same bytes for the same name in any script, whatever was rendered before', async () => {
    const t = template([EN, AR]);
    const names = [SAMPLE_NAMES.devanagari!, SAMPLE_NAMES['arabic-marks']!, SAMPLE_NAMES.khmer!, SAMPLE_NAMES.korean!];
    const first = await Promise.all(names.map((n) => renderCertificate(t, data(n))));
    for (const n of [...names].reverse()) await renderCertificate(template([EN]), data(`${n} ${n}`)); // other glyphs and shapes first
    for (const [i, n] of names.entries()) expect((await renderCertificate(t, data(n))).equals(first[i]!), n).to.equal(true);
  });
});
