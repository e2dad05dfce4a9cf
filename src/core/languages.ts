/**
 * The six official UN languages, in which course titles, editions and certificates may be written,
 * and the one rule for showing such text in the reader's language. (The interface's own languages
 * are those with translations: `i18n.ts`.)
 */

export const UN_LANGUAGES = ['en', 'fr', 'es', 'ar', 'ru', 'zh'] as const;
export type UnLanguage = (typeof UN_LANGUAGES)[number];

/** Text written in several languages (language code → text), or one plain string, the same in every language. */
export type Multilingual = Readonly<Record<string, string>> | string | null | undefined;

/** Languages written right to left. */
const RIGHT_TO_LEFT = new Set(['ar']);

/** The direction a language is written in. */
export const textDirection = (lang: string): 'ltr' | 'rtl' => (RIGHT_TO_LEFT.has(lang) ? 'rtl' : 'ltr');

/**
 * Text written in several languages, in the reader's: their language, else `main` (the language
 * the text was first written in, such as a course's first language), else English, else the first
 * language it is written in ('' when it has none). A plain string is the same in every language.
 */
export function localized(text: Multilingual, lang: string, main?: string): string {
  return localizedText(text, lang, main).text;
}

/** Text as shown to a reader: the text, the language it is in, and what marks that in HTML. */
export interface ShownText {
  text: string;
  /** The language the text is written in ('' when unknown: a plain string without `main`). */
  lang: string;
  dir: 'ltr' | 'rtl';
  /**
   * ` lang="fr" dir="ltr"` when the text's language differs from the reader's (the page's), else
   * '': for the element that holds the text (`<h1<%- x.attrs %>>`), so that screen readers speak
   * it, and browsers choose fonts and direction, as its own language. Built from a language code
   * only, never from the text.
   */
  attrs: string;
}

const LANGUAGE_CODE = /^[a-z]{2,3}$/;

/**
 * `localized`, saying which language the shown text is in. A plain string counts as written in
 * `main` (it predates texts per language, and was written in the main language).
 */
export function localizedText(text: Multilingual, lang: string, main?: string): ShownText {
  let shown = '';
  let written = '';
  if (typeof text === 'string') [shown, written] = [text, text ? (main ?? '') : ''];
  else if (text) {
    for (const candidate of [lang, main, 'en', ...Object.keys(text)]) {
      if (candidate && Object.hasOwn(text, candidate) && text[candidate]) {
        [shown, written] = [text[candidate], candidate];
        break;
      }
    }
  }
  const dir = textDirection(written || lang);
  const attrs = written && written !== lang && LANGUAGE_CODE.test(written) ? ` lang="${written}" dir="${dir}"` : '';
  return { text: shown, lang: written, dir, attrs };
}
