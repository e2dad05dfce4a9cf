/**
 * The participant profile's vocabularies: gender, organisation type, country and region, as
 * programmes report them to donors. Regions come from `world-countries` (the UN M49 geographic
 * regions: Africa, Americas, Asia, Europe, Oceania).
 *
 * Countries are named and sorted as the UN does (issue #15): the 193 Member States and the two
 * observer States by their UN short names in the six UN languages (`un-country-names.json`, which
 * says where the names come from and how to update them: "China", "Democratic People's Republic
 * of Korea", "Viet Nam"), other territories and areas by their CLDR names (Intl.DisplayNames).
 * Typed names are read in all the forms people use: ISO codes, the UN names, the CLDR names and the
 * names and aliases of `i18n-iso-countries` ("North Korea", "Russia", "Vietnam").
 */
import { createRequire } from 'node:module';
import countries from 'i18n-iso-countries';
import type { Country } from 'world-countries';
import { searchFold, UN_LANGUAGES, type UnLanguage } from '../../../src/index.ts';
import { foldWord, inEveryLanguage, labelForms, wordIndex } from './words.ts';

const require = createRequire(import.meta.url);
for (const lang of UN_LANGUAGES) countries.registerLocale(require(`i18n-iso-countries/langs/${lang}.json`));

/** A person is known by their e-mail address, written one way whatever its case or spaces. */
export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export const GENDERS = ['woman', 'man', 'non-binary', 'undisclosed'] as const;
export type Gender = (typeof GENDERS)[number];

export const ORGANISATION_TYPES = [
  'un-secretariat',
  'un-agency',
  'government',
  'regional-organisation',
  'civil-society',
  'academia',
  'private-sector',
  'other',
] as const;
export type OrganisationType = (typeof ORGANISATION_TYPES)[number];

export const REGIONS = ['Africa', 'Americas', 'Asia', 'Europe', 'Oceania'] as const;
export type Region = (typeof REGIONS)[number];

const worldCountries: Country[] = require('world-countries/countries.json');
const regionByCountry = new Map(worldCountries.map((c) => [c.cca2, c.region]));

/** The UN M49 region of a country (ISO alpha-2), or '' when unknown. */
export function regionOf(country: string): Region | '' {
  const region = regionByCountry.get(country.toUpperCase());
  return region && (REGIONS as readonly string[]).includes(region) ? (region as Region) : '';
}

/**
 * The UN short names of the Member and observer States, by ISO alpha-2 code, in the six languages,
 * and the other names people type for some of them (former names: "Swaziland").
 */
const unCountryList: {
  observerStates: string[];
  names: Record<string, Record<UnLanguage, string>>;
  aliases: Record<string, string[]>;
} = require('./un-country-names.json');
const unNames = new Map(Object.entries(unCountryList.names));

/**
 * Territories whose CLDR names do not follow UN usage ("Taiwan", "台湾"; "Falkland Islands"
 * without "(Malvinas)"): they keep the names `i18n-iso-countries` gives, as the select did before
 * ("Taiwan, Province of China", "中国台湾省"; "Falkland Islands (Malvinas)").
 */
const KEEP_ISO_NAMES = new Set(['TW', 'FK']);

/** Every country, territory and area the profile offers: the ISO 3166-1 codes `i18n-iso-countries` knows. */
const allCodes = Object.keys(countries.getAlpha2Codes());
const stateCodes = allCodes.filter((c) => unNames.has(c));
const territoryCodes = allCodes.filter((c) => !unNames.has(c));

/** The language a country list is given in: the reader's, when it is a UN language; English otherwise. */
function listLanguage(lang: string): UnLanguage {
  const base = lang.split(/[-_]/)[0]!.toLowerCase();
  return (UN_LANGUAGES as readonly string[]).includes(base) ? (base as UnLanguage) : 'en';
}

const regionNames = new Map<string, Intl.DisplayNames>();
/** CLDR's name of a region (Intl.DisplayNames), or undefined when CLDR has none. */
function cldrName(code: string, lang: UnLanguage, style: 'long' | 'short' = 'long'): string | undefined {
  const key = `${lang}/${style}`;
  let names = regionNames.get(key);
  if (!names) regionNames.set(key, (names = new Intl.DisplayNames([lang], { type: 'region', style, fallback: 'none' })));
  try {
    return names.of(code);
  } catch {
    return undefined; // not a region code at all
  }
}

/**
 * A country name folded for matching what people type: as searches fold text (case, accents,
 * Arabic harakat and hamza seats, Russian ё), then letters and digits only, so "Cote d’Ivoire",
 * "côte d'ivoire" and "Côte d'Ivoire" are one name, as are "Guinea Bissau" and "Guinea-Bissau".
 */
const foldName = (text: string) => searchFold(text).replace(/[^\p{L}\p{N}]/gu, '');

let nameIndex: Map<string, string> | undefined;
/**
 * Every name a country goes by, folded, to its code. The first claim on a name wins, in this
 * order: the UN short names, the aliases the UN list adds ("Swaziland"), CLDR's names (long, then
 * short: "UK"), then every name and alias `i18n-iso-countries` has (the old names, ISO's "Korea,
 * Republic of"), all in the six languages. So "Congo" is the Congo, not the Democratic Republic of
 * the Congo.
 */
function countryNameIndex(): Map<string, string> {
  if (nameIndex) return nameIndex;
  const index = new Map<string, string>();
  const claim = (name: string | undefined, code: string) => {
    const key = name ? foldName(name) : '';
    if (key && !index.has(key)) index.set(key, code);
  };
  for (const lang of UN_LANGUAGES) for (const [code, names] of unNames) claim(names[lang], code);
  for (const [code, names] of Object.entries(unCountryList.aliases)) for (const name of names) claim(name, code);
  for (const style of ['long', 'short'] as const) for (const lang of UN_LANGUAGES) for (const code of allCodes) claim(cldrName(code, lang, style), code);
  for (const lang of UN_LANGUAGES) for (const code of allCodes) for (const name of countries.getName(code, lang, { select: 'all' }) ?? []) claim(name, code);
  return (nameIndex = index);
}

/**
 * A country as people write it: an ISO code (KE, KEN) or a name in one of the six UN languages,
 * the UN's or a common one ("Kenya", "Cote d'Ivoire", "Кения", "Viet Nam", "Vietnam", "North
 * Korea"). Returns the alpha-2 code, or null if it is not a country.
 */
export function parseCountry(input: string): string | null {
  const text = input.trim();
  if (!text) return null;
  if (/^[A-Za-z]{2}$/.test(text) && countries.isValid(text.toUpperCase())) return text.toUpperCase();
  if (/^[A-Za-z]{3}$/.test(text)) {
    const code = countries.alpha3ToAlpha2(text.toUpperCase());
    if (code) return code;
  }
  const key = foldName(text);
  return (key && countryNameIndex().get(key)) || null;
}

/**
 * The country's name in the reader's language (English when it is not a UN language): the UN short
 * name for a Member or observer State ("China", "Republic of Korea"), CLDR's for a territory or
 * area ("Hong Kong SAR China", "Puerto Rico").
 */
export function countryName(code: string, lang: string): string {
  if (!code) return '';
  const c = code.toUpperCase();
  const l = listLanguage(lang);
  const iso = () => countries.getName(c, l) ?? countries.getName(c, 'en');
  return unNames.get(c)?.[l] ?? (KEEP_ISO_NAMES.has(c) ? iso() : undefined) ?? cldrName(c, l) ?? iso() ?? code;
}

export interface CountryOption {
  code: string;
  name: string;
  /** A UN Member or observer State, or another territory or area. */
  kind: 'state' | 'territory';
}

const optionsByLanguage = new Map<UnLanguage, readonly CountryOption[]>();
/**
 * Every country, for select lists, as the UN lists them in the reader's language: the Member and
 * observer States alphabetically by their UN short names (China under C, the Democratic People's
 * Republic of Korea under D), then the other territories and areas, alphabetically too.
 */
export function countryOptions(lang: string): CountryOption[] {
  const l = listLanguage(lang);
  let options = optionsByLanguage.get(l);
  if (!options) {
    const collator = new Intl.Collator(l);
    const sorted = (codes: string[], kind: CountryOption['kind']) =>
      codes.map((code) => Object.freeze({ code, name: countryName(code, l), kind })).sort((a, b) => collator.compare(a.name, b.name));
    options = [...sorted(stateCodes, 'state'), ...sorted(territoryCodes, 'territory')];
    optionsByLanguage.set(l, options);
  }
  return [...options];
}

/**
 * Gender and organisation type as people write them in a spreadsheet: the code, the profile's
 * label in every language of the catalogues (`gender.*`, `organisationType.*`: "Femme", "Mujer",
 * "Женщина", "امرأة", "女性"), and the short or everyday words the labels are not (F, M; "female",
 * "masculino", "женский", "ذكر", "女"), any case, accents or spacing.
 */
const genderWords = wordIndex<Gender>(
  GENDERS.map((gender) => [
    gender,
    [
      gender,
      ...{
        woman: ['female', 'f', 'w', 'féminin', 'femenino', 'mujer', 'ж', 'женский', 'أنثى', '女'],
        man: ['male', 'm', 'h', 'masculin', 'masculino', 'м', 'мужской', 'ذكر', '男'],
        'non-binary': ['nonbinary', 'non-binaire', 'x'],
        undisclosed: ['prefer not to say', 'not given', 'non communiqué'],
      }[gender],
      ...inEveryLanguage(`enrolment:gender.${gender}`).flatMap(labelForms),
    ],
  ]),
);
const organisationTypeWords = wordIndex<OrganisationType>(
  ORGANISATION_TYPES.map((type) => [
    type,
    [
      type,
      ...(
        {
          'un-secretariat': ['secretariat', 'united nations secretariat'],
          'un-agency': ['un system', 'un'],
          government: ['ministry', 'government / ministry'],
          'regional-organisation': ['regional organization'],
          'civil-society': ['ngo', 'civil society / ngo'],
          academia: ['university'],
          'private-sector': ['business'],
          other: [],
        } satisfies Record<OrganisationType, string[]>
      )[type],
      ...inEveryLanguage(`enrolment:organisationType.${type}`),
    ],
  ]),
);
/** Words claimed by two genders or two organisation types (read as neither): kept empty by the tests. */
export const VALUE_CONFLICTS: readonly string[] = [...genderWords.conflicts, ...organisationTypeWords.conflicts];

/** Gender as written in a spreadsheet, or null when it is not one we know. Empty means not given, which is 'undisclosed'. */
export function parseGender(input: string): Gender | null {
  const t = foldWord(input);
  if (!t) return 'undisclosed';
  return genderWords.index.get(t) ?? null;
}

/** Organisation type as written in a spreadsheet (empty: 'other'), or null when it is not one we know. */
export function parseOrganisationType(input: string): OrganisationType | null {
  const t = foldWord(input);
  if (!t) return 'other';
  return organisationTypeWords.index.get(t) ?? null;
}
