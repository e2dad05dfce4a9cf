import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { LANGUAGES } from '../src/core/i18n.ts';

/**
 * The catalogues, checked against English and against the code: every language has every key
 * English has (with the plural forms of its own grammar), no key is left that nobody uses, the
 * placeholders agree, and no value is English left untranslated.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const PLURAL_SUFFIXES = ['zero', 'one', 'two', 'few', 'many', 'other'] as const;
const PLURAL_KEY = new RegExp(`^(.*)_(${PLURAL_SUFFIXES.join('|')})$`);

/** Catalogue folders by namespace: the host's, then each plugin's. */
function catalogueDirs(): Map<string, string> {
  const dirs = new Map([['host', path.join(ROOT, 'locales')]]);
  for (const plugin of fs.readdirSync(path.join(ROOT, 'plugins')).sort()) {
    const dir = path.join(ROOT, 'plugins', plugin, 'locales');
    if (fs.existsSync(dir)) dirs.set(plugin, dir);
  }
  return dirs;
}

/** A catalogue flattened to dotted keys. */
function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object') flatten(v, key, out);
    else out.set(key, String(v));
  }
  return out;
}

function read(dir: string, lang: string): Map<string, string> | null {
  const file = path.join(dir, `${lang}.json`);
  return fs.existsSync(file) ? flatten(JSON.parse(fs.readFileSync(file, 'utf8'))) : null;
}

/** Keys with their plural suffix taken off, by base: `count_one`, `count_other` → `count`. */
function pluralBases(keys: Iterable<string>): Set<string> {
  const bases = new Set<string>();
  for (const k of keys) {
    const m = PLURAL_KEY.exec(k);
    if (m) bases.add(m[1]!);
  }
  return bases;
}

/** What a language's catalogue must hold for English's keys: each plural as its grammar's forms. */
function expectedKeys(english: Map<string, string>, lang: string): Set<string> {
  const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
  const plurals = pluralBases(english.keys());
  const out = new Set<string>();
  for (const k of english.keys()) {
    const m = PLURAL_KEY.exec(k);
    if (m && plurals.has(m[1]!)) {
      // `_zero` is optional in English (a sentence of its own for none) and required where the grammar has it.
      for (const c of categories) out.add(`${m[1]}_${c}`);
      if (m[2] === 'zero') out.add(k);
    } else out.add(k);
  }
  return out;
}

const placeholders = (text: string) => [...text.matchAll(/\{\{-?\s*([\w.]+)[^}]*\}\}|\$t\(([^)]*)\)/g)].map((m) => m[1] ?? `$t(${m[2]})`).sort();

/** The English text a key of another language answers: for a plural form, English's `_other`. */
function englishFor(english: Map<string, string>, key: string): string | undefined {
  const m = PLURAL_KEY.exec(key);
  return english.get(key) ?? (m ? english.get(`${m[1]}_other`) : undefined);
}

/** Every file that may name a catalogue key: source, views, configuration. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'test' || entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|ejs|js)$/.test(entry.name)) out.push(full);
    }
  };
  for (const dir of ['src', 'plugins', 'views', 'bin']) walk(path.join(ROOT, dir));
  out.push(path.join(ROOT, 'olive.config.ts'));
  return out;
}

/**
 * How the code names keys: whole (`'certificates:verify.title'`), by a literal prefix completed at
 * run time (`` `courses:status.${s}` ``, `'setPassword.invite'` + `.title`), or without a namespace
 * for the host. A key counts as used when one of these reaches it.
 */
function usedKeyMatcher() {
  const literals = new Set<string>();
  const prefixes = new Set<string>();
  for (const file of sourceFiles()) {
    const text = fs.readFileSync(file, 'utf8');
    // Each kind of quote on its own: a key in single quotes sits inside double-quoted attributes in views.
    for (const m of text.matchAll(/'([^'\n]*)'/g)) literals.add(m[1]!);
    for (const m of text.matchAll(/"([^"\n]*)"/g)) literals.add(m[1]!);
    for (const m of text.matchAll(/`([^`]*)`/g)) {
      // Template literals: their static head before the first `${` is a prefix of the keys they make.
      const [head, ...rest] = m[1]!.split('${');
      if (rest.length && /^[\w-]+[:.][\w.:-]*$/.test(head!) && /[.:]$/.test(head!)) prefixes.add(head!);
      else literals.add(m[1]!);
    }
  }
  return (ns: string, key: string): boolean => {
    const names = ns === 'host' ? [key, `host:${key}`] : [`${ns}:${key}`];
    const base = PLURAL_KEY.exec(key)?.[1];
    if (base) names.push(...(ns === 'host' ? [base] : [`${ns}:${base}`]));
    for (const name of names) {
      if (literals.has(name)) return true;
      // A literal naming a parent (dotted) that the code completes: `${key}.title`.
      const parts = name.split('.');
      for (let i = parts.length - 1; i >= 2; i--) if (literals.has(parts.slice(0, i).join('.'))) return true;
      for (const p of prefixes) if (name.startsWith(p)) return true;
    }
    return false;
  };
}

/** Values that are the same in every language: the product's name, codes, formats. */
const SAME_IN_EVERY_LANGUAGE = /^(ltr|Olive|SAML|A4|CSV|PDF|URL|ID|OK|—|–|\s|[\d\W_]|\{\{[^}]+\}\}|https?:\S+|[\w.+-]+@[\w.-]+)*$/u;

describe('catalogues', () => {
  const dirs = catalogueDirs();
  const languages = Object.keys(LANGUAGES);

  it('the interface offers the six UN languages, each named in itself, Arabic right to left', () => {
    expect([...languages].sort()).to.deep.equal(['ar', 'en', 'es', 'fr', 'ru', 'zh']);
    expect(LANGUAGES.ar).to.deep.equal({ name: 'العربية', dir: 'rtl' });
    expect(Object.values(LANGUAGES).filter((l) => l.dir === 'rtl')).to.have.length(1);
  });

  for (const [ns, dir] of dirs) {
    describe(ns, () => {
      const english = read(dir, 'en')!;

      for (const lang of languages.filter((l) => l !== 'en')) {
        it(`${lang}: every key English has, in the plural forms of ${lang}, and no other`, () => {
          const own = read(dir, lang);
          expect(own, `${path.relative(ROOT, dir)}/${lang}.json`).to.not.equal(null);
          const expected = expectedKeys(english, lang);
          const missing = [...expected].filter((k) => !own!.has(k));
          const extra = [...own!.keys()].filter((k) => !expected.has(k));
          expect(missing, `missing in ${ns}/${lang}`).to.deep.equal([]);
          expect(extra, `not in English (${ns}/${lang})`).to.deep.equal([]);
        });

        it(`${lang}: the same placeholders as English`, () => {
          const own = read(dir, lang) ?? new Map<string, string>();
          const wrong: string[] = [];
          for (const [key, text] of own) {
            const en = englishFor(english, key);
            if (en === undefined) continue;
            const want = placeholders(en);
            const got = placeholders(text);
            // A plural form for one, two or none may say the number in words ("ساعة واحدة", "ساعتان").
            const optionalCount = /_(zero|one|two)$/.test(key) ? (p: string[]) => p.filter((x) => x !== 'count') : (p: string[]) => p;
            if (optionalCount(want).join() !== optionalCount(got).join()) wrong.push(`${key}: ${got.join(' ')} ≠ ${want.join(' ')}`);
          }
          expect(wrong, `placeholders differ in ${ns}/${lang}`).to.deep.equal([]);
        });

        if (['ar', 'zh', 'ru'].includes(lang)) {
          it(`${lang}: nothing left in English`, () => {
            const own = read(dir, lang) ?? new Map<string, string>();
            const untranslated = [...own].filter(([key, text]) => text === englishFor(english, key) && !SAME_IN_EVERY_LANGUAGE.test(text)).map(([key]) => key);
            expect(untranslated, `untranslated in ${ns}/${lang}`).to.deep.equal([]);
          });
        }
      }

      it('no key that the code never uses', () => {
        const used = usedKeyMatcher();
        const unused = [...english.keys()].filter((k) => !used(ns, k));
        expect(unused, `unused in ${ns}`).to.deep.equal([]);
      });
    });
  }

  it('the key check sees a key the code does not use (so it can fail)', () => {
    const used = usedKeyMatcher();
    expect(used('host', 'layout.skip')).to.equal(true);
    expect(used('courses', 'status.draft')).to.equal(true); // `courses:status.${c.status}`
    expect(used('host', 'layout.noSuchKeyAnywhere')).to.equal(false);
    expect(used('certificates', 'noSuchSection.title')).to.equal(false);
  });
});
