/**
 * The words people write in a spreadsheet, in every language of the plugin's catalogues (issue
 * #15). A column or a value is read back in any language the interface speaks: the catalogues
 * (`locales/*.json`, one per language) are read here once, so that the column labels, "also read
 * as" lists and profile labels staff see in their language are the words the import reads, and no
 * second list of translations is kept in code. A new catalogue file is a new language read.
 */
import fs from 'node:fs';
import { searchFold } from '../../../src/index.ts';

/** The plugin's namespace: keys are written in full (`enrolment:import.fields.email`), as views write them. */
const NAMESPACE = 'enrolment:';
const LOCALES = new URL('../locales/', import.meta.url);

function flatten(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object') flatten(v, key, out);
    else if (typeof v === 'string') out.set(key, v);
  }
  return out;
}

/** Each language's catalogue, flattened to dotted keys. */
const catalogues = new Map(
  fs
    .readdirSync(LOCALES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f.slice(0, -'.json'.length), flatten(JSON.parse(fs.readFileSync(new URL(f, LOCALES), 'utf8')), '', new Map())] as const),
);

/** The languages the catalogues are written in. */
export const CATALOGUE_LANGUAGES: readonly string[] = [...catalogues.keys()];

/**
 * Text folded for comparing what people type: no case, no accents or Arabic vowel marks (the
 * forms of alef, yeh and teh marbuta made one, as search does), no spaces or punctuation, and the
 * letters and digits of every script kept: "E-Mail" and "email", "Prénom" and "prenom", "Электронная
 * почта" and "электронная  почта", "البريد الإلكتروني" and "البريد الالكتروني" fold alike.
 */
export const foldWord = (text: string): string => searchFold(text).replace(/[^\p{L}\p{N}\p{M}]+/gu, '');

/** A catalogue entry (`enrolment:…`) in every language that has it. */
export function inEveryLanguage(key: string): string[] {
  const path = key.startsWith(NAMESPACE) ? key.slice(NAMESPACE.length) : key;
  return [...catalogues.values()].flatMap((entries) => {
    const text = entries.get(path);
    return text ? [text] : [];
  });
}

/** A catalogue list ("email, e-mail, courriel") in every language, item by item. */
export const listInEveryLanguage = (key: string): string[] =>
  inEveryLanguage(key).flatMap((list) =>
    list
      .split(/[,;،؛、，；]/)
      .map((s) => s.trim())
      .filter(Boolean),
  );

/**
 * A label and the forms people write it in: inclusive writing has a form without its ending too
 * ("Participant·e" is also "Participant", "Formador/a" also "Formador").
 */
export const labelForms = (label: string): string[] => [label, label.replace(/[·•⋅‧/]\p{L}+/gu, '')];

/**
 * Folded word → value, from lists of words per value. A word claimed by two values is no one's
 * (and is listed in `conflicts`, which the tests keep empty): it must not be read as either.
 */
export function wordIndex<V extends string>(words: Iterable<readonly [value: V, words: readonly string[]]>): { index: Map<string, V>; conflicts: string[] } {
  const claims = new Map<string, Set<V>>();
  for (const [value, list] of words) {
    for (const word of list) {
      const key = foldWord(word);
      if (!key) continue;
      let set = claims.get(key);
      if (!set) claims.set(key, (set = new Set()));
      set.add(value);
    }
  }
  const index = new Map<string, V>();
  const conflicts: string[] = [];
  for (const [key, values] of claims) {
    if (values.size === 1) index.set(key, [...values][0]!);
    else conflicts.push(`${key}: ${[...values].join(', ')}`);
  }
  return { index, conflicts };
}
