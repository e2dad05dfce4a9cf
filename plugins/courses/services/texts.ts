/**
 * Texts of a course's content in several languages: how they are shown to a reader, given to the
 * editor one language at a time, and read from the authoring forms.
 *
 * A text is stored per language (`{ en: '…', fr: '…' }`); documents from before texts had
 * languages hold a plain string, which is shown in every language and counts as written in the
 * course's first language (docs/architecture.md, "Languages"). A reader sees their language, else
 * the course's first language, else English, else any (the host's `localizedText`).
 */
import type { Request } from 'express';
import { localizedText, matchesSearch, nameCollator, UN_LANGUAGES, type ShownText } from '../../../src/index.ts';
import type { CourseSummary, LocalizedText, StoredText } from '../contract.ts';

/** The language a course's texts are written in first: its first language. */
export const mainLanguage = (course: Pick<CourseSummary, 'languages'>): string => course.languages[0] ?? 'en';

/** A text per language; a plain string becomes the main language's, empty texts are left out. */
export function asLocalized(text: StoredText | null | undefined, main: string): LocalizedText {
  if (typeof text === 'string') return text ? { [main]: text } : {};
  return Object.fromEntries(Object.entries(text ?? {}).filter(([, t]) => typeof t === 'string' && t !== ''));
}

/** The text of one language, as its field in the editor shows it ('' when not written in it). */
export const textIn = (text: StoredText | null | undefined, lang: string, main: string): string => asLocalized(text, main)[lang] ?? '';

/** A course's text as this reader sees it (see the top of this file), with its language. */
export const shownTo = (req: Pick<Request, 'language'>, course: Pick<CourseSummary, 'languages'>, text: StoredText | null | undefined): ShownText =>
  localizedText(text, req.language, mainLanguage(course));

/** Orders texts as the reader sees them, by their language's rules (catalogue and lists of courses). */
export const byShownText = (lang: string) => {
  const collator = nameCollator(lang);
  return (a: ShownText, b: ShownText) => collator.compare(a.text, b.text);
};

/** Whether what the reader sees of a text contains what they searched for (case, accents and the like aside). */
export const shownMatches = (search: string, ...texts: ShownText[]) => texts.some((t) => matchesSearch(t.text, search));

/** The names of the UN languages in the reader's language, for legends and messages. */
export const languageNames = (req: Pick<Request, 't'>): Record<string, string> =>
  Object.fromEntries(UN_LANGUAGES.map((l) => [l, String(req.t(`courses:languages.${l}`))]));

export interface TextField {
  /** The field's name: its languages are `<name>_<lang>` (`title_fr`). */
  name: string;
  /** Characters at most, in each language. */
  max: number;
  /** Whether the first language's text is needed (the others are always optional). */
  required: boolean;
  /** Trimmed before it is kept (not Markdown, whose leading spaces may mean something). */
  trim?: boolean;
}

/**
 * Reads a text per language from a form: `<name>_<lang>` for each of the course's languages; a
 * plain `<name>` (API clients, forms from before languages) is the first language's when that
 * one's field is not sent. Problems go into `errors` by field name, in the reader's language: a
 * missing first-language text, a text too long, a text in a language the course is not offered
 * in, or an unknown language code.
 */
export function readText(
  req: Pick<Request, 't' | 'language'>,
  body: Record<string, unknown>,
  field: TextField,
  languages: readonly string[],
  errors: Record<string, string>,
): LocalizedText {
  const names = languageNames(req);
  const main = languages[0] ?? 'en';
  const text: LocalizedText = {};
  for (const lang of languages) {
    const key = `${field.name}_${lang}`;
    let raw = body[key];
    if (raw === undefined && lang === main) raw = body[field.name];
    if (raw !== undefined && typeof raw !== 'string') {
      errors[key] ??= req.t('courses:texts.unreadable');
      continue;
    }
    const value = field.trim === false ? (raw ?? '').replace(/\s+$/, '') : (raw ?? '').trim();
    if (!value) {
      if (field.required && lang === main) errors[key] ??= req.t('courses:texts.required', { language: names[lang] ?? lang });
      continue;
    }
    if (value.length > field.max)
      errors[key] ??= req.t('courses:texts.tooLong', { language: names[lang] ?? lang, max: new Intl.NumberFormat(req.language).format(field.max) });
    text[lang] = value;
  }
  refuseOtherLanguages(req, body, field.name, languages, errors);
  return text;
}

/**
 * A text in a language the form does not offer (`<name>_<lang>` for a language the course is not
 * offered in, or no UN language at all) is refused rather than dropped without a word; said on
 * `languages` (the page has no field for it), as the course form says of its languages.
 */
export function refuseOtherLanguages(
  req: Pick<Request, 't'>,
  body: Record<string, unknown>,
  name: string,
  languages: readonly string[],
  errors: Record<string, string>,
) {
  const names = languageNames(req);
  const pattern = new RegExp(`^${name}_([^_]+)$`);
  for (const [key, raw] of Object.entries(body)) {
    const lang = pattern.exec(key)?.[1];
    if (!lang || languages.includes(lang) || raw === '' || raw === undefined) continue;
    errors.languages ??= (UN_LANGUAGES as readonly string[]).includes(lang)
      ? req.t('courses:texts.notOffered', { language: names[lang] ?? lang })
      : req.t('courses:texts.unknownLanguage', { code: lang.slice(0, 10) });
  }
}
