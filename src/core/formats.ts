/**
 * How Olive writes dates and numbers, and compares and searches names, for a reader's language:
 * one style across the product (pages, e-mails, CSV-free reports), through Intl.
 *
 * Formatters are made once per language and kept: an Intl object holds ICU memory outside the
 * JavaScript heap that only a full collection frees (measured in the certificate renderer).
 */

/** Dates are the day of the UTC calendar: what staff set as an edition's dates, the same for everyone. */
const DATE: Intl.DateTimeFormatOptions = { dateStyle: 'long', timeZone: 'UTC' };
/** Moments (a message sent, a sign-in) add the time, in UTC, named so nobody reads it as their own. */
const DATE_TIME: Intl.DateTimeFormatOptions = { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' };

/** UN English writes dates the British way ("1 December 2026"), not "December 1, 2026". */
const FORMAT_LOCALE: Record<string, string> = { en: 'en-GB' };
const formatLocale = (lang: string) => FORMAT_LOCALE[lang] ?? lang;

type Formatter = Intl.DateTimeFormat | Intl.NumberFormat | Intl.Collator | Intl.ListFormat;
const cache = new Map<string, Formatter>();
function cached<T extends Formatter>(key: string, make: () => T): T {
  let f = cache.get(key) as T | undefined;
  if (!f) cache.set(key, (f = make()));
  return f;
}

const asDate = (d: Date | string | number) => (d instanceof Date ? d : new Date(d));

/** "1 December 2026", "1 décembre 2026", "١ ديسمبر ٢٠٢٦"…; '' for no date. */
export function formatDate(lang: string, d: Date | string | number | null | undefined): string {
  if (d === null || d === undefined || d === '') return '';
  return cached(`d:${lang}`, () => new Intl.DateTimeFormat(formatLocale(lang), DATE)).format(asDate(d));
}

/** "1 December 2026 at 14:05 UTC" in the reader's language; '' for no moment. */
export function formatDateTime(lang: string, d: Date | string | number | null | undefined): string {
  if (d === null || d === undefined || d === '') return '';
  return `${cached(`t:${lang}`, () => new Intl.DateTimeFormat(formatLocale(lang), DATE_TIME)).format(asDate(d))} UTC`;
}

/** Intl's "group from five digits on" (Node has it; TypeScript's ES2022 library does not name it). */
const MIN2 = 'min2' as unknown as boolean;

/**
 * A number with the language's grouping and decimal signs ("1 000 000" in French). Numbers below
 * 10,000 are not grouped, so that a year or a count of hundreds reads as people write it.
 */
export function formatNumber(lang: string, n: number, options?: { maximumFractionDigits?: number }): string {
  const digits = options?.maximumFractionDigits ?? 2;
  return cached(`n:${lang}:${digits}`, () => new Intl.NumberFormat(formatLocale(lang), { maximumFractionDigits: digits, useGrouping: MIN2 })).format(n);
}

const BYTE_UNITS = [
  [1024 ** 3, 'gigabyte'],
  [1024 ** 2, 'megabyte'],
  [1024, 'kilobyte'],
] as const;

const ENGLISH_BYTE_UNITS: Record<string, string> = { gigabyte: 'GB', megabyte: 'MB', kilobyte: 'KB' };

/**
 * File sizes as the reader writes them: "512 bytes", "5.9 KB", "4,2 Mo", "5 МБ", "5 ميغابايت"
 * (English by default, for logs and API messages). English keeps "KB", as people read it in their
 * file managers, where Intl writes the SI "kB".
 */
export function formatBytes(bytes: number, lang = 'en'): string {
  // A language Intl does not know (the pseudo-language) is written as English.
  if (lang !== 'en' && !Intl.NumberFormat.supportedLocalesOf(lang).length) lang = 'en';
  const locale = formatLocale(lang);
  for (const [size, unit] of BYTE_UNITS) {
    if (bytes >= size && lang === 'en') return `${Number((bytes / size).toFixed(1))} ${ENGLISH_BYTE_UNITS[unit]}`;
    if (bytes >= size) {
      const f = cached(`b:${lang}:${unit}`, () => new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: 1 }));
      return f.format(Number((bytes / size).toFixed(1)));
    }
  }
  if (lang === 'en') return `${bytes} bytes`;
  return cached(`b:${lang}:byte`, () => new Intl.NumberFormat(locale, { style: 'unit', unit: 'byte', unitDisplay: 'long' })).format(bytes);
}

/** A list as the language writes one: "English, French and Arabic", "英文、法文和阿拉伯文". */
export function formatList(lang: string, items: readonly string[]): string {
  return cached(`l:${lang}`, () => new Intl.ListFormat(formatLocale(lang), { style: 'long', type: 'conjunction' })).format(items);
}

/** Compares people's names (or titles) as the reader's language sorts them: accents and case second. */
export function nameCollator(lang: string): Intl.Collator {
  return cached(`c:${lang}`, () => new Intl.Collator(lang, { sensitivity: 'base', numeric: true }));
}

/**
 * A name reduced to what a search should match: without case, accents, Arabic vowel marks and
 * tatweel, and with the forms of alef, of yeh and of teh marbuta that people type interchangeably
 * made one. "zoe" finds "Zoë", "محمد" finds "مُحَمَّد", "ليلى" finds "ليلي".
 */
export function searchFold(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f\u064b-\u065f\u0670\u0640]/g, '') // accents, Arabic harakat, tatweel; not the vowel signs of Indic scripts, which spell
    .replace(/[\u0622\u0623\u0625\u0671]/g, '\u0627')
    .replace(/\u0649/g, '\u064a')
    .replace(/\u0629/g, '\u0647')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/** Whether `text` contains what was searched for, both folded (see `searchFold`). */
export function matchesSearch(text: string, search: string): boolean {
  return searchFold(text).includes(searchFold(search));
}
