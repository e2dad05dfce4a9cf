/**
 * The columns of an import file and the words they are read under: headers and roles in every
 * language of the catalogues (`words.ts`), a roster export's columns too.
 */
import { foldWord, inEveryLanguage, labelForms, listInEveryLanguage, wordIndex } from '../words.ts';

export const IMPORT_FIELDS = ['email', 'givenName', 'familyName', 'organisation', 'organisationType', 'country', 'gender', 'jobTitle', 'role'] as const;
export type ImportField = (typeof IMPORT_FIELDS)[number];

export type ImportRole = 'learner' | 'trainer';

/** Header text folded for comparison: no case, accents, spaces or punctuation; letters of every script kept (`foldWord`). */
export const foldHeader = foldWord;

/**
 * The names each column is read under: its field name ('givenName', also written "given name"),
 * and in every language of the catalogues the column's label (`import.fields.*`, what the template
 * and the rows in error are written with), its "also read as" list (`import.aliases.*`) and, for the
 * columns a roster export has, the roster's header (`roster.csv.*`): a roster downloaded in any
 * language reads back.
 */
const ROSTER_COLUMN: Partial<Record<ImportField, string>> = { email: 'email', organisation: 'organisation', country: 'country' };
const headerWords = wordIndex(
  IMPORT_FIELDS.map((field) => {
    const roster = ROSTER_COLUMN[field];
    return [
      field,
      [
        field,
        ...inEveryLanguage(`enrolment:import.fields.${field}`),
        ...listInEveryLanguage(`enrolment:import.aliases.${field}`),
        ...(roster ? inEveryLanguage(`enrolment:roster.csv.${roster}`) : []),
      ],
    ] as const;
  }),
);
const FIELD_BY_HEADER = headerWords.index;
/** Header names that two fields' lists claim (read as neither): kept empty by the tests. */
export const HEADER_CONFLICTS: readonly string[] = headerWords.conflicts;

/**
 * A roster export (`roster.csv`) has columns of its own (account, status, progress…) and a name
 * column holding the whole name, whose header in some languages is also a column of the import
 * ("Nom" in French is the family name, "Имя" in Russian the given name): in a file with the
 * roster's own columns, the roster's name column is not read as a name part.
 */
const ROSTER_ONLY = new Set(
  (['account', 'status', 'waitlistPosition', 'progress', 'completed', 'lastActivity', 'enrolledSince'] as const).flatMap((c) =>
    inEveryLanguage(`enrolment:roster.csv.${c}`).map(foldWord),
  ),
);
const ROSTER_NAME = new Set(inEveryLanguage('enrolment:roster.csv.name').map(foldWord));

/** The column a header names, or null when it is not one we read. */
export const fieldOfHeader = (header: string): ImportField | null => FIELD_BY_HEADER.get(foldHeader(header)) ?? null;

/** Each header's column: a roster export's name column is read as nothing (see ROSTER_ONLY). */
export function fieldsOfHeaders(headers: readonly string[]): (ImportField | null)[] {
  const roster = headers.filter((h) => ROSTER_ONLY.has(foldHeader(h))).length >= 3;
  return headers.map((h) => (roster && ROSTER_NAME.has(foldHeader(h)) ? null : fieldOfHeader(h)));
}

/**
 * The words for each role: the code, English and French synonyms people use for them, and the
 * role's name in every language of the catalogues (`import.roles.*`, as the template writes it).
 */
const roleWords = wordIndex<ImportRole>(
  (['learner', 'trainer'] as const).map((role) => [
    role,
    [
      ...{
        learner: ['learner', 'participant', 'participante', 'student', 'apprenant', 'apprenante', 'etudiant', 'etudiante', 'stagiaire'],
        trainer: ['trainer', 'formateur', 'formatrice', 'facilitator', 'facilitateur', 'facilitatrice'],
      }[role],
      ...inEveryLanguage(`enrolment:import.roles.${role}`).flatMap(labelForms),
    ],
  ]),
);
/** Role words claimed by both roles (read as neither): kept empty by the tests. */
export const ROLE_CONFLICTS: readonly string[] = roleWords.conflicts;

/** learner (the default, for an empty cell) or trainer, as people write it in any language of the catalogues. */
export function parseRole(text: string): ImportRole | null {
  const t = foldWord(text);
  if (!t) return 'learner';
  return roleWords.index.get(t) ?? null;
}
