/**
 * Words a certificate's wording fills in that depend on the language of the block they are printed
 * in: which of the holder's two names a block prints (the one in its script), and the number of
 * hours with the word "hour" in the form the number asks for (`{duration}`).
 *
 * Nothing here imports the rest of the renderer: `template.ts` builds on it.
 */

// ---------------------------------------------------------------------------------------------
// Scripts

/**
 * The scripts a name is told apart by, as ISO 15924 codes (the names Unicode's `Script` property
 * accepts too). Letters of other scripts are not counted.
 */
const SCRIPTS = [
  'Latn',
  'Cyrl',
  'Grek',
  'Armn',
  'Geor',
  'Arab',
  'Hebr',
  'Syrc',
  'Thaa',
  'Deva',
  'Beng',
  'Guru',
  'Gujr',
  'Orya',
  'Taml',
  'Telu',
  'Knda',
  'Mlym',
  'Sinh',
  'Thai',
  'Laoo',
  'Khmr',
  'Mymr',
  'Tibt',
  'Ethi',
  'Mong',
  'Hani',
  'Hira',
  'Kana',
  'Hang',
] as const;
const SCRIPT_PATTERNS = SCRIPTS.map((s) => [s, new RegExp(`\\p{Script=${s}}`, 'u')] as const);

/**
 * The script most of a text's letters are written in, as an ISO 15924 code (`Latn`, `Arab`,
 * `Cyrl`, `Hani`…); `undefined` for a text without letters. Marks, digits and punctuation do not
 * count (Arabic vowel marks, the shadda, a hyphen…); on a tie the script met first wins.
 */
export function scriptOf(text: string): string | undefined {
  const counts = new Map<string, number>();
  for (const ch of text) {
    if (!/\p{L}/u.test(ch)) continue;
    const found = SCRIPT_PATTERNS.find(([, re]) => re.test(ch));
    if (found) counts.set(found[0], (counts.get(found[0]) ?? 0) + 1);
  }
  let best: string | undefined;
  let most = 0;
  for (const [script, n] of counts) {
    if (n > most) [best, most] = [script, n];
  }
  return best;
}

/** Scripts that stand for several: Chinese in either form is Han; Japanese and Korean mix scripts. */
const SCRIPT_SETS: Record<string, readonly string[]> = {
  Hans: ['Hani'],
  Hant: ['Hani'],
  Jpan: ['Hani', 'Hira', 'Kana'],
  Kore: ['Hang', 'Hani'],
};
const languageScriptCache = new Map<string, readonly string[]>();

/**
 * The scripts a language is written in, from CLDR's likely subtags (`ar` → Arabic, `ru` → Cyrillic,
 * `zh` → Han, `en`, `fr`, `es` → Latin; a tag's own script wins: `sr-Latn`). Empty when unknown.
 */
export function languageScripts(lang: string): readonly string[] {
  let scripts = languageScriptCache.get(lang);
  if (!scripts) {
    let script: string | undefined;
    try {
      script = new Intl.Locale(lang).maximize().script;
    } catch {
      script = undefined; // not a language tag: no script known
    }
    scripts = script ? (SCRIPT_SETS[script] ?? [script]) : [];
    languageScriptCache.set(lang, scripts);
  }
  return scripts;
}

/**
 * The name a block in `lang` prints for `{name}`: of `name` and `nameAlt`, the first written in
 * the language's script (an Arabic block takes the Arabic-script name, an English one the Latin
 * one); the only name when there is one; `name` as given when neither is in that script.
 */
export function nameFor(data: { name: string; nameAlt?: string | undefined }, lang: string): string {
  const alt = data.nameAlt?.trim() ? data.nameAlt : undefined;
  if (!alt) return data.name;
  const scripts = languageScripts(lang);
  const inScript = (n: string) => {
    const s = scriptOf(n);
    return s !== undefined && scripts.includes(s);
  };
  if (inScript(data.name)) return data.name;
  if (inScript(alt)) return alt;
  return data.name;
}

// ---------------------------------------------------------------------------------------------
// Hours, with the word "hour" in the form the number asks for

/** The form of "N hours" for each plural category of a language (`#`: the number, written as the language writes it). */
type HourForms = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };

/**
 * "N hours" in the six UN languages, by CLDR plural category (`Intl.PluralRules`).
 *
 * The words are here, in the renderer, rather than in the i18next catalogues: the renderer runs
 * without i18next (no request, no `t`, also in the job worker and the benchmarks), and what a
 * certificate prints must not change when a catalogue's interface wording is edited: these are the
 * words on an official document, one small table, reviewed with the code that chooses among them.
 *
 * Arabic says one and two in words (ساعة واحدة، ساعتان: the dual, in the nominative) and counts
 * 3–10 with the plural, 11–99 with the singular, and hundreds with the singular (CLDR's few, many
 * and other). Russian: 1, 21, 101 час; 2–4, 22–24 часа; 5–20, 25–30 часов; fractions часа. French
 * takes the singular below 2 ("1,5 heure"); French and Spanish put "de" after a round million
 * (CLDR's many). Chinese has one form and no space.
 */
const HOUR_FORMS: Readonly<Record<string, HourForms>> = {
  en: { one: '# hour', other: '# hours' },
  fr: { one: '# heure', many: '# d’heures', other: '# heures' },
  es: { one: '# hora', many: '# de horas', other: '# horas' },
  ru: { one: '# час', few: '# часа', many: '# часов', other: '# часа' },
  zh: { other: '#小时' },
  ar: { zero: '# ساعة', one: 'ساعة واحدة', two: 'ساعتان', few: '# ساعات', many: '# ساعة', other: '# ساعة' },
};

/** The base language subtag (`ar-EG` → `ar`). */
const base = (lang: string) => lang.toLowerCase().split(/[-_]/)[0] ?? lang;

/** The languages `{duration}` is printed in. */
export const HOUR_LANGUAGES: readonly string[] = Object.keys(HOUR_FORMS);

/** Whether `{duration}` can be printed in a language (it has the words for "hour"). */
export function hasHourForms(lang: string): boolean {
  return base(lang) in HOUR_FORMS;
}

// One PluralRules per locale, like the renderer's other Intl formatters (each holds ICU memory).
const pluralRules = new Map<string, Intl.PluralRules>();

/**
 * "8 hours", "٨ ساعات", "21 час", "22 часа", "ساعتان", "60小时": `hours` with the word in the form
 * the number takes in `lang`. `number` is the number as the block prints it (its digits: Arabic-Indic
 * for Arabic by default); the plural rules are those of `locale`, told the same rounding (one
 * decimal) as the printed number, so that 1.04 printed "1" takes the form of 1.
 */
export function hoursText(hours: number, lang: string, locale: string, number: string): string {
  const forms = HOUR_FORMS[base(lang)];
  if (!forms) throw new Error(`no words for "hour" in ${lang}`);
  let rules = pluralRules.get(locale);
  if (!rules) pluralRules.set(locale, (rules = new Intl.PluralRules(locale, { maximumFractionDigits: 1 })));
  const form = forms[rules.select(hours)] ?? forms.other;
  return form.replace('#', number);
}

/**
 * The words for "hour" whose form depends on the number (every language's but Chinese): written
 * after `{hours}`, they print "8 hour" or "٨ ساعة" for some numbers.
 */
const UNIT_WORDS = [
  ...new Set(
    Object.values(HOUR_FORMS)
      .filter((forms) => new Set(Object.values(forms)).size > 1)
      .flatMap((forms) => Object.values(forms).map((f) => f.replace('#', '').trim())),
  ),
].sort((a, b) => b.length - a.length);
const HOURS_THEN_UNIT = new RegExp(`\\{hours\\}\\s*(?:${UNIT_WORDS.join('|')})(?!\\p{L})`, 'giu');

/** Each place a text writes `{hours}` followed by a word for "hour" ("{hours} hours", "{hours} ساعة"), as written. */
export function hoursWithUnit(text: string): string[] {
  return [...text.matchAll(HOURS_THEN_UNIT)].map((m) => m[0]);
}
