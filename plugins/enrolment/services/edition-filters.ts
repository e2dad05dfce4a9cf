import { matchesSearch, parseDay, UN_LANGUAGES } from '../../../src/index.ts';

/** What a list of editions (the open editions, a course's editions) can be narrowed by, as read from its GET form. */
export interface EditionFilters {
  q: string;
  lang: string;
  kind: EditionKind | '';
  /** Calendar days (UTC midnight), as typed: `from` and `to` both included. */
  from?: Date | undefined;
  to?: Date | undefined;
  /** Only editions open for enrolment now (`open=1`, a ticked box). */
  open: boolean;
  /** The form's values as typed, for the form to show again (a value left out shows as typed). */
  typed: { q: string; lang: string; kind: string; from: string; to: string; open: boolean };
  /** Catalogue keys (with their params) of the filters that could not be read and were left out. */
  notices: { key: string; params?: Record<string, string> }[];
}

export const EDITION_KINDS = ['selfPaced', 'inPerson', 'online'] as const;
export type EditionKind = (typeof EDITION_KINDS)[number];

const one = (v: unknown) => (typeof v === 'string' ? v.trim() : '');

/**
 * Reads the filters of a query string. Nothing here throws: a value that cannot be read (an
 * unknown language or kind, a date that is not a day, an end before the start) is left out, and
 * a notice says so, so that the list is the one the other filters give.
 */
export function readEditionFilters(query: Record<string, unknown>): EditionFilters {
  const open = ['1', 'on', 'true'].includes(one(query.open));
  const typed = { q: one(query.q).slice(0, 200), lang: one(query.lang), kind: one(query.kind), from: one(query.from), to: one(query.to), open };
  const notices: EditionFilters['notices'] = [];
  const lang = (UN_LANGUAGES as readonly string[]).includes(typed.lang) ? typed.lang : '';
  if (typed.lang && !lang) notices.push({ key: 'enrolment:open.filters.unknownLanguage' });
  const kind = (EDITION_KINDS as readonly string[]).includes(typed.kind) ? (typed.kind as EditionKind) : '';
  if (typed.kind && !kind) notices.push({ key: 'enrolment:open.filters.unknownKind' });
  const day = (s: string) => {
    if (!s) return undefined;
    const d = parseDay(s);
    if (!d) notices.push({ key: 'enrolment:open.filters.badDate', params: { value: s.slice(0, 40) } });
    return d;
  };
  let from = day(typed.from);
  let to = day(typed.to);
  if (from && to && to < from) {
    notices.push({ key: 'enrolment:open.filters.datesReversed' });
    from = to = undefined;
  }
  return { q: typed.q, lang, kind, from, to, open, typed, notices };
}

export const anyEditionFilter = (f: EditionFilters) => !!(f.q || f.lang || f.kind || f.from || f.to || f.open);

interface FilterableEdition {
  title: string;
  selfPaced: boolean;
  startsAt?: Date | null | undefined;
  endsAt?: Date | null | undefined;
  place: string;
  online: boolean;
  language: string;
}

/**
 * Whether an edition passes every filter. Words: the edition's title, its course's title as the
 * reader sees it, or its place. Kind: self-paced, in person (it has a place; self-paced ones
 * don't count) or online live (dated and online; both for an edition in a place and online). Dates: the edition takes place on at least one day between
 * them; a self-paced edition is open at any date, so it always does.
 */
export function editionMatches(f: Pick<EditionFilters, 'q' | 'lang' | 'kind' | 'from' | 'to'>, edition: FilterableEdition, courseTitle: string): boolean {
  if (f.q && ![edition.title, courseTitle, edition.place].some((text) => matchesSearch(text, f.q))) return false;
  if (f.lang && edition.language !== f.lang) return false;
  if (f.kind === 'selfPaced' && !edition.selfPaced) return false;
  if (f.kind === 'inPerson' && (edition.selfPaced || !edition.place)) return false;
  if (f.kind === 'online' && (edition.selfPaced || !edition.online)) return false;
  if ((f.from || f.to) && !edition.selfPaced) {
    if (!edition.startsAt) return false;
    const start = edition.startsAt;
    const end = edition.endsAt ?? start;
    if (f.from && end < f.from) return false;
    // `to` is a whole day: an edition starting during it takes place on it.
    if (f.to && start.getTime() >= f.to.getTime() + 24 * 3600 * 1000) return false;
  }
  return true;
}
