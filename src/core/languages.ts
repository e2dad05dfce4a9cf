/**
 * The six official UN languages, in which course titles, editions and certificates may be written,
 * and the one rule for showing such text in the reader's language. (The interface's own languages
 * are those with translations: `i18n.ts`.)
 */

export const UN_LANGUAGES = ['en', 'fr', 'es', 'ar', 'ru', 'zh'] as const;
export type UnLanguage = (typeof UN_LANGUAGES)[number];

/**
 * Text written in several languages, in the reader's: their language, else English, else the first
 * language it is written in ('' when it has none). A plain string is the same in every language.
 */
export function localized(text: Readonly<Record<string, string>> | string | null | undefined, lang: string): string {
  if (!text) return '';
  if (typeof text === 'string') return text;
  return text[lang] || text.en || Object.values(text).find(Boolean) || '';
}
