/**
 * The participant profile's vocabularies: gender, organisation type, country and region, as
 * programmes report them to donors. Country names come from `i18n-iso-countries` (in the six UN
 * languages), regions from `world-countries` (the UN M49 geographic regions: Africa, Americas,
 * Asia, Europe, Oceania).
 */
import { createRequire } from 'node:module';
import countries from 'i18n-iso-countries';
import type { Country } from 'world-countries';
import { UN_LANGUAGES } from '../../../src/index.ts';

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
 * A country as people write it: an ISO code (KE, KEN) or a name in one of the six UN languages
 * ("Kenya", "Côte d'Ivoire", "Кения"). Returns the alpha-2 code, or null if it is not a country.
 */
export function parseCountry(input: string): string | null {
  const text = input.trim();
  if (!text) return null;
  if (/^[A-Za-z]{2}$/.test(text) && countries.isValid(text.toUpperCase())) return text.toUpperCase();
  if (/^[A-Za-z]{3}$/.test(text)) {
    const code = countries.alpha3ToAlpha2(text.toUpperCase());
    if (code) return code;
  }
  for (const lang of UN_LANGUAGES) {
    const code = countries.getAlpha2Code(text, lang);
    if (code) return code;
  }
  return null;
}

/** The country's name in the reader's language (English when the language has no list). */
export function countryName(code: string, lang: string): string {
  if (!code) return '';
  return countries.getName(code, lang) ?? countries.getName(code, 'en') ?? code;
}

/** Every country, sorted by its name in the reader's language: for select lists. */
export function countryOptions(lang: string): { code: string; name: string }[] {
  const names = countries.getNames(countries.langs().includes(lang) ? lang : 'en', { select: 'official' });
  return Object.entries(names)
    .map(([code, name]) => ({ code, name }))
    .sort((a, b) => a.name.localeCompare(b.name, lang));
}

/**
 * Gender as people write it in a spreadsheet (English or French, any case), or null when it is not
 * one we know. Empty means not given, which is 'undisclosed'.
 */
export function parseGender(input: string): Gender | null {
  const t = input.trim().toLowerCase();
  if (!t) return 'undisclosed';
  const words: Record<string, Gender> = {
    woman: 'woman',
    female: 'woman',
    f: 'woman',
    w: 'woman',
    femme: 'woman',
    man: 'man',
    male: 'man',
    m: 'man',
    homme: 'man',
    h: 'man',
    'non-binary': 'non-binary',
    nonbinary: 'non-binary',
    'non binary': 'non-binary',
    'non-binaire': 'non-binary',
    x: 'non-binary',
    undisclosed: 'undisclosed',
    'prefer not to say': 'undisclosed',
    'not given': 'undisclosed',
    'non communiqué': 'undisclosed',
  };
  // Own keys only: a cell reading "constructor" or "__proto__" is not a gender.
  return Object.hasOwn(words, t) ? words[t]! : null;
}

/** Organisation type as written in a spreadsheet: the code or its English label. */
export function parseOrganisationType(input: string): OrganisationType | null {
  const t = input
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-');
  if (!t) return 'other';
  if ((ORGANISATION_TYPES as readonly string[]).includes(t)) return t as OrganisationType;
  const aliases: Record<string, OrganisationType> = {
    'un-secretariat': 'un-secretariat',
    secretariat: 'un-secretariat',
    'united-nations-secretariat': 'un-secretariat',
    'un-agency,-fund-or-programme': 'un-agency',
    'un-agency-fund-or-programme': 'un-agency',
    'un-system': 'un-agency',
    un: 'un-agency',
    government: 'government',
    ministry: 'government',
    'government-/-ministry': 'government',
    'government-ministry': 'government',
    'regional-organization': 'regional-organisation',
    'regional-organisation': 'regional-organisation',
    'civil-society': 'civil-society',
    ngo: 'civil-society',
    'civil-society-/-ngo': 'civil-society',
    'civil-society-ngo': 'civil-society',
    academia: 'academia',
    university: 'academia',
    'private-sector': 'private-sector',
    business: 'private-sector',
    other: 'other',
  };
  return Object.hasOwn(aliases, t) ? aliases[t]! : null;
}
