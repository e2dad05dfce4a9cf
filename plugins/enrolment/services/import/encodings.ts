/**
 * Which legacy encoding a CSV file that is not UTF-8 was saved in. Excel's plain "CSV" is written
 * in the Windows code page of the computer's language: Windows-1252 for Western European languages,
 * Windows-1251 for Russian (and other Cyrillic), Windows-1256 for Arabic, GBK (read as its superset
 * GB18030) for Chinese. Each of these decodes any bytes into some text, so the one chosen is the
 * one whose text is most plausibly written in its own script; the reader's language's usual code
 * page wins a tie. Node's TextDecoder (full ICU) decodes all four.
 */

export const LEGACY_ENCODINGS = ['windows-1252', 'windows-1251', 'windows-1256', 'gb18030'] as const;
export type LegacyEncoding = (typeof LEGACY_ENCODINGS)[number];

/** The code page Excel saves "CSV" in on a Windows set up for each interface language. */
const USUAL_ENCODING: Readonly<Record<string, LegacyEncoding>> = {
  en: 'windows-1252',
  fr: 'windows-1252',
  es: 'windows-1252',
  ru: 'windows-1251',
  ar: 'windows-1256',
  zh: 'gb18030',
};

export const usualEncoding = (language: string | undefined): LegacyEncoding =>
  (language && Object.hasOwn(USUAL_ENCODING, language) ? USUAL_ENCODING[language] : undefined) ?? 'windows-1252';

export const isLegacyEncoding = (value: unknown): value is LegacyEncoding => (LEGACY_ENCODINGS as readonly unknown[]).includes(value);

/** Text in the given legacy encoding (bytes it has no character for become U+FFFD). */
export const decodeLegacy = (bytes: Uint8Array, encoding: LegacyEncoding): string => new TextDecoder(encoding).decode(bytes);

let commonHan: { level1: Set<string>; level2: Set<string> } | undefined;
/**
 * The Chinese characters of GB2312, by level: level 1 holds the 3,755 in everyday use (nearly every
 * character of a Chinese text), level 2 the 3,008 rarer ones. Read off the decoder itself, once.
 */
function gb2312Levels(): { level1: Set<string>; level2: Set<string> } {
  if (commonHan) return commonHan;
  const decoder = new TextDecoder('gb18030');
  const row = (lead: number) => {
    const bytes: number[] = [];
    for (let trail = 0xa1; trail <= 0xfe; trail++) bytes.push(lead, trail);
    return [...decoder.decode(new Uint8Array(bytes))];
  };
  const level1 = new Set<string>();
  const level2 = new Set<string>();
  for (let lead = 0xb0; lead <= 0xd7; lead++) for (const c of row(lead)) level1.add(c);
  for (let lead = 0xd8; lead <= 0xf7; lead++) for (const c of row(lead)) level2.add(c);
  return (commonHan = { level1, level2 });
}

type Script = 'Latin' | 'Cyrillic' | 'Arabic' | 'other' | null;
function scriptOf(char: string): Script {
  if (/\p{sc=Latin}/u.test(char)) return 'Latin';
  if (/\p{sc=Cyrillic}/u.test(char)) return 'Cyrillic';
  // Arabic vowel marks are of the "inherited" script, but used with Arabic letters only.
  if (/\p{scx=Arabic}/u.test(char)) return 'Arabic';
  if (/\p{M}/u.test(char)) return null; // a Latin accent, say: it goes with its letter
  return 'other';
}

/** A word's letters in a shape words have: lower case, UPPER CASE, Capitalised or CamelCase (McDonald); or a script without case. */
function plausibleCase(letters: string): boolean {
  if (!/[\p{Lu}\p{Ll}]/u.test(letters)) return true;
  return /^(?:\p{Lu}+|\p{Lu}?\p{Ll}+(?:\p{Lu}\p{Ll}+)*)$/u.test(letters);
}

/**
 * How plausible a word with letters outside ASCII is: written in one script (Latin, Cyrillic or
 * Arabic: what these code pages hold), in a plausible case, and, for Latin, with at most half its
 * letters accented (Russian read as Windows-1252 gives "Èâàí", every letter accented).
 */
function plausibleWord(word: string): boolean {
  const scripts = new Set<Script>();
  for (const char of word) scripts.add(scriptOf(char));
  scripts.delete(null);
  if (scripts.size !== 1) return false;
  const [script] = scripts;
  if (script === 'other') return false;
  const letters = word.replace(/\p{M}/gu, '');
  if (!plausibleCase(letters)) return false;
  if (script === 'Latin') {
    const accented = [...letters].filter((c) => c > '\u007f').length;
    return accented <= Math.max(1, Math.floor([...letters].length / 2));
  }
  return true;
}

/** Punctuation, spaces and the few signs spreadsheets hold (€, №, °): plausible in any text. */
const NEUTRAL = /^[\p{P}\p{Zs}€№°§©®™]$/u;

/** How much of a text's lines with characters outside ASCII is judged (a few thousand rows: plenty, and quick for a large file). */
const SAMPLE_CHARS = 200_000;

/** The text's lines that have characters outside ASCII (the others read the same in every encoding), up to SAMPLE_CHARS. */
function sample(text: string): string {
  if (text.length <= SAMPLE_CHARS) return text;
  const lines: string[] = [];
  let length = 0;
  for (let start = 0; start < text.length && length < SAMPLE_CHARS;) {
    const end = text.indexOf('\n', start);
    const line = text.slice(start, end === -1 ? text.length : end);
    start = end === -1 ? text.length : end + 1;
    if (!/[^\p{ASCII}]/u.test(line)) continue;
    lines.push(line);
    length += line.length;
  }
  return lines.join('\n');
}

/**
 * The share (0 to 1) of the text's characters outside ASCII that look like writing: letters in
 * plausible words, common Chinese characters (level 2 ones count half), punctuation. ASCII is the
 * same in every candidate, so it is left out. null when the text cannot be what was saved: the
 * bytes are not valid in that encoding, or they give C1 control characters (no spreadsheet has any).
 */
export function plausibility(text: string): number | null {
  if (/[\u0080-\u009f\ufffd]/u.test(text)) return null;
  let good = 0;
  let total = 0;
  const han = /\p{sc=Han}/u;
  for (const [piece] of sample(text).matchAll(/\p{sc=Han}|(?:(?!\p{sc=Han})[\p{L}\p{M}])+|[^\p{L}\p{M}\p{ASCII}]/gu)) {
    if (han.test(piece)) {
      total++;
      const levels = gb2312Levels();
      good += levels.level1.has(piece) ? 1 : levels.level2.has(piece) ? 0.5 : 0;
      continue;
    }
    const outside = [...piece].filter((c) => c > '\u007f').length;
    if (!outside) continue;
    total += outside;
    if (/^[\p{L}\p{M}]/u.test(piece) ? plausibleWord(piece) : NEUTRAL.test(piece)) good += outside;
  }
  return total ? good / total : 1;
}

export interface LegacyGuess {
  encoding: LegacyEncoding;
  text: string;
  /** The other encodings the bytes can be read in, most plausible first (for the person to choose). */
  alternatives: LegacyEncoding[];
}

/**
 * The legacy encoding whose text is most plausible (see `plausibility`); on a tie, the usual one
 * for the reader's language, then the order of LEGACY_ENCODINGS. Windows-1256 gives a character
 * for every byte, so there is always an answer.
 */
export function guessLegacyEncoding(bytes: Uint8Array, language?: string): LegacyGuess {
  const preferred = usualEncoding(language);
  const candidates = LEGACY_ENCODINGS.flatMap((encoding) => {
    let text: string;
    try {
      text = new TextDecoder(encoding, { fatal: true }).decode(bytes);
    } catch {
      return [];
    }
    const score = plausibility(text);
    return score === null ? [] : [{ encoding, text, score }];
  });
  const rank = (e: LegacyEncoding) => (e === preferred ? -1 : LEGACY_ENCODINGS.indexOf(e));
  candidates.sort((a, b) => (Math.abs(a.score - b.score) > 1e-9 ? b.score - a.score : rank(a.encoding) - rank(b.encoding)));
  const best = candidates[0] ?? { encoding: 'windows-1256' as const, text: decodeLegacy(bytes, 'windows-1256') };
  return { encoding: best.encoding, text: best.text, alternatives: candidates.slice(1).map((c) => c.encoding) };
}
