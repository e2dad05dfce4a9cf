/**
 * Certificate templates and the snapshot of data printed on one certificate; wording with
 * placeholders; dates and numbers per language.
 */

import { HOUR_LANGUAGES, hasHourForms, hoursText, hoursWithUnit, nameFor } from './wording.ts';

/** Text given per language code (`{ en: '…', fr: '…' }`), or one text for every language. */
export type LocalisedText = string | Readonly<Record<string, string>>;

/** An uploaded image: PNG or JPEG bytes. */
export type ImageBytes = Buffer | Uint8Array;

/** The wording of a certificate in one language. */
export interface TemplateLanguage {
  /** BCP 47 language: `en`, `fr`, `es`, `ru`, `zh`, `ar`, … */
  lang: string;
  /**
   * Locale for dates and numbers, when it differs from `lang`. Default: `lang`, except Arabic,
   * which defaults to `ar-u-nu-arab` (Arabic-Indic digits ٠١٢٣, as UN Arabic documents print
   * them); use e.g. `ar-u-nu-latn` or `ar-MA` for Western digits.
   */
  locale?: string;
  /** The title, e.g. "Certificate of completion". Placeholders allowed. */
  title: string;
  /**
   * The wording, one paragraph per line (`\n`), with placeholders {@link PLACEHOLDERS}. A line
   * that is only `{name}` prints the name large (shrunk to fit); a line that is only `{course}`
   * prints the course title in bold. Other lines wrap and are centred.
   */
  wording: string;
  /** Printed under the QR code before the code, e.g. "Verification code". Optional. */
  codeLabel?: string;
}

/** A person who signs the certificate. */
export interface Signatory {
  name: string;
  /** Position, per language (`{ en: 'Director', fr: 'Directeur' }`) or one text. */
  title: LocalisedText;
  /** The signature as an image (PNG with transparency works best). */
  signature?: ImageBytes;
}

export interface CertificateColours {
  /** Title, frame, name. Default `#1f3a5f`. */
  primary: string;
  /** Inner frame line and rules. Default `#b08d3c`. */
  accent: string;
  /** Wording. Default `#222222`. */
  text: string;
  /** Secondary language, signatory titles, code. Default `#555555`. */
  muted: string;
}

/** A certificate template: one per programme or course. */
export interface CertificateTemplate {
  page?: { size?: 'A4' | 'LETTER'; orientation?: 'landscape' | 'portrait' };
  colours?: Partial<CertificateColours>;
  /** One language, or two (primary, secondary: a bilingual certificate). */
  languages: readonly [TemplateLanguage] | readonly [TemplateLanguage, TemplateLanguage];
  logos?: { programme?: ImageBytes; partners?: readonly ImageBytes[] };
  /** One to four. */
  signatories: readonly Signatory[];
}

/** A calendar date: a `Date` (its UTC day is printed) or an ISO string `YYYY-MM-DD`. */
export type CalendarDate = Date | string;

/** The snapshot of what one certificate prints; the same snapshot renders the same bytes. */
export interface CertificateData {
  /** The holder's name as it is printed. */
  name: string;
  /**
   * The name in another script (e.g. Arabic or Chinese). Each language block prints the one of the
   * two names written in its script; a name no block prints is printed smaller under the first
   * block's name.
   */
  nameAlt?: string;
  /** The course title, per language. */
  course: LocalisedText;
  /** The edition, e.g. "Fellowship 2027, Holmenkollen", per language. */
  edition?: LocalisedText;
  startDate?: CalendarDate;
  endDate?: CalendarDate;
  place?: LocalisedText;
  hours?: number;
  /** The verification code, as printed (grouped). */
  code: string;
  /** What the QR code points to: `<BASE_URL>/verify/<code>`. */
  verificationUrl: string;
  /** The day of issue: printed with `{issueDate}`, and the PDF's creation date. */
  issueDate: CalendarDate;
}

/**
 * The placeholders a title or wording may use. `{duration}` is the number of hours with the word
 * "hour" in the form the number takes in the block's language ("1 hour", "8 hours", "٨ ساعات",
 * "21 час"); `{hours}` is the bare number (kept for saved templates and for "a {hours}-hour course").
 */
export const PLACEHOLDERS = ['name', 'course', 'edition', 'startDate', 'endDate', 'place', 'hours', 'duration', 'issueDate'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

export const DEFAULT_COLOURS: CertificateColours = { primary: '#1f3a5f', accent: '#b08d3c', text: '#222222', muted: '#555555' };

const RTL_LANGUAGES = new Set(['ar', 'he', 'fa', 'ur', 'ps', 'yi', 'dv', 'ckb', 'sd', 'ug']);

/** The base language subtag of a BCP 47 tag (`ar-EG` → `ar`). */
export function baseLanguage(tag: string): string {
  return tag.toLowerCase().split(/[-_]/)[0] ?? tag;
}

/** The writing direction of a language. */
export function languageDirection(lang: string): 'ltr' | 'rtl' {
  return RTL_LANGUAGES.has(baseLanguage(lang)) ? 'rtl' : 'ltr';
}

/** The locale used for a language's dates and numbers (see {@link TemplateLanguage.locale}). */
export function localeOf(language: TemplateLanguage): string {
  if (language.locale) return language.locale;
  // Arabic-Indic digits, as UN Arabic documents print them; English dates as UN English writes
  // them ("7 June 2027"), as the interface does (src/core/formats.ts).
  if (baseLanguage(language.lang) === 'ar') return 'ar-u-nu-arab';
  return language.lang === 'en' ? 'en-GB' : language.lang;
}

/** A localised text in a language: that language, else its base language, else `fallback`, else the first. */
export function textIn(value: LocalisedText | undefined, lang: string, fallback?: string): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return value[lang] ?? value[baseLanguage(lang)] ?? (fallback !== undefined ? value[fallback] : undefined) ?? Object.values(value)[0] ?? '';
}

function toUtcDate(d: CalendarDate): Date {
  if (d instanceof Date) return d;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  if (!m) throw new Error(`not a calendar date (YYYY-MM-DD): ${JSON.stringify(d)}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

/** The instant a calendar date stands for (midnight UTC), used as the PDF's creation date. */
export function dateValue(d: CalendarDate): Date {
  return toUtcDate(d);
}

// Formatters are made once per locale: each Intl object holds ICU memory outside the JavaScript
// heap, freed only by a full garbage collection, which a small heap seldom triggers. Made per call,
// they grew a process by about 15 MB per 100 certificates (measured).
const dateFormats = new Map<string, Intl.DateTimeFormat>();
const numberFormats = new Map<string, Intl.NumberFormat>();

/** A date as the language writes it ("15 March 2026", "15 mars 2026", "2026年3月15日", "١٥ مارس ٢٠٢٦"). */
export function formatDate(d: CalendarDate, language: TemplateLanguage): string {
  const locale = localeOf(language);
  let f = dateFormats.get(locale);
  if (!f) dateFormats.set(locale, (f = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' })));
  return f.format(toUtcDate(d));
}

/** A number as the language writes it (Arabic-Indic digits for Arabic by default). */
export function formatNumber(n: number, language: TemplateLanguage): string {
  const locale = localeOf(language);
  let f = numberFormats.get(locale);
  if (!f) numberFormats.set(locale, (f = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 })));
  return f.format(n);
}

/**
 * The value of each placeholder in one language. `name` is the holder's name written in the
 * language's script, whichever of `name` and `nameAlt` that is ({@link nameFor}).
 */
export function placeholderValues(data: CertificateData, language: TemplateLanguage, primaryLang: string): Record<Placeholder, string> {
  const lang = language.lang;
  const hours = data.hours !== undefined ? formatNumber(data.hours, language) : '';
  return {
    name: nameFor(data, lang),
    course: textIn(data.course, lang, primaryLang),
    edition: textIn(data.edition, lang, primaryLang),
    startDate: data.startDate !== undefined ? formatDate(data.startDate, language) : '',
    endDate: data.endDate !== undefined ? formatDate(data.endDate, language) : '',
    place: textIn(data.place, lang, primaryLang),
    hours,
    duration: data.hours !== undefined && hasHourForms(lang) ? hoursText(data.hours, lang, localeOf(language), hours) : '',
    issueDate: formatDate(data.issueDate, language),
  };
}

/** Replaces `{placeholder}`s; unknown names are left as written (and reported by {@link templateProblems}). */
export function fill(text: string, values: Record<Placeholder, string>): string {
  return text.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? values[key as Placeholder] : whole));
}

/** What is wrong with a template, in words (empty when it can be used). */
export function templateProblems(t: CertificateTemplate): string[] {
  const problems: string[] = [];
  if (t.languages.length < 1 || t.languages.length > 2) problems.push('a template has one or two languages');
  if (t.signatories.length < 1 || t.signatories.length > 4) problems.push('a template has one to four signatories');
  const known = new Set<string>(PLACEHOLDERS);
  for (const l of t.languages) {
    for (const [field, text] of [
      ['title', l.title],
      ['wording', l.wording],
    ] as const) {
      for (const m of text.matchAll(/\{(\w*)\}/g)) {
        if (!known.has(m[1]!)) problems.push(`${l.lang} ${field}: unknown placeholder {${m[1]}} (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})`);
      }
    }
    if (!l.title.trim()) problems.push(`${l.lang}: the title is empty`);
    if (!hasHourForms(l.lang) && /\{duration\}/.test(l.title + l.wording))
      problems.push(`${l.lang}: {duration} is printed only in ${HOUR_LANGUAGES.join(', ')}; write {hours} and the word for "hours"`);
  }
  for (const s of t.signatories) if (!s.name.trim()) problems.push('a signatory has no name');
  return problems;
}

/** Something a template had better say otherwise; it still prints. */
export interface TemplateWarning {
  /** The form's field: `languages.0.wording`. */
  field: string;
  lang: string;
  /** The catalogue entry that says it to staff, with its parameters. */
  key: 'certificates:templates.hoursWithUnit';
  params: { written: string };
  /** The same in English (logs, the renderer's own callers). */
  message: string;
}

/**
 * What a template should change, though it prints: `{hours}` followed by a word for "hour"
 * ("{hours} hours", "{hours} ساعة") prints "1 hours" or "٨ ساعة" for some numbers; `{duration}`
 * chooses the word's form by the number. Not a {@link templateProblems} entry: the renderer refuses
 * those, and templates saved before `{duration}` existed must go on printing.
 */
export function templateWarnings(t: CertificateTemplate): TemplateWarning[] {
  const out: TemplateWarning[] = [];
  t.languages.forEach((l, i) => {
    for (const field of ['title', 'wording'] as const) {
      for (const written of new Set(hoursWithUnit(l[field]))) {
        out.push({
          field: `languages.${i}.${field}`,
          lang: l.lang,
          key: 'certificates:templates.hoursWithUnit',
          params: { written },
          message: `${l.lang} ${field}: "${written}" keeps the word's form whatever the number ("1 hours", "٨ ساعة"); write {duration}, which prints the number with the right form of the word`,
        });
      }
    }
  });
  return out;
}
