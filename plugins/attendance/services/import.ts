/**
 * Reading a file of ticks (CSV) into a plan: which person was present at which session. Two
 * shapes are read: one row per person, an e-mail column and one column per session (as the export
 * writes it); or one row per tick, with e-mail, session and present columns. Headers, sessions and
 * values are read in any of the catalogues' languages, in any case and accents. Pure: no database.
 */
import { readFileSync } from 'node:fs';
import { CsvError, parse } from 'csv-parse/sync';
import { formatDate, searchFold, UN_LANGUAGES } from '../../../src/index.ts';
import type { ImportRowDoc, Issue, SessionDoc } from '../models/attendance.model.ts';
import { isoDay, type Participant } from './attendance.service.ts';

interface CsvWords {
  email: string;
  session: string;
  present: string;
  name: string;
  attended: string;
  percent: string;
  qualifies: string;
  yes: string;
  no: string;
}

/** The catalogues' CSV words, every language: the word lists the reader reads. */
const WORDS: CsvWords[] = UN_LANGUAGES.map(
  (lang) => (JSON.parse(readFileSync(new URL(`../locales/${lang}.json`, import.meta.url), 'utf8')) as { csv: CsvWords }).csv,
);

const fold = (s: string) => searchFold(s).replace(/[\s_-]+/g, '');
const words = (pick: (w: CsvWords) => string, extra: string[] = []) =>
  new Set([...extra, ...WORDS.flatMap((w) => pick(w).split(','))].map(fold).filter(Boolean));

const EMAIL = words((w) => w.email, ['email', 'e-mail', 'mail']);
const SESSION = words((w) => w.session, ['session']);
const PRESENT = words((w) => w.present, ['present']);
/** Columns the export writes that are not sessions: read past, not refused. */
const IGNORED = words((w) => [w.name, w.attended, w.percent, w.qualifies].join(','), ['name']);
const YES = words((w) => w.yes, ['1', 'x', '✓', '✔', 'yes', 'y', 'true', 'present']);
const NO = words((w) => w.no, ['0', 'no', 'n', 'false', 'absent']);

export interface ReadFile {
  format: 'wide' | 'long';
  problems: Issue[];
  rows: ImportRowDoc[];
}

/** The file's text: UTF-8 (with or without its mark), or UTF-16 with its mark; anything else is refused with what to do. */
function decode(bytes: Uint8Array): string | Issue {
  if (bytes.length >= 4 && bytes[0] === 0x25 && bytes[1] === 0x50 && bytes[2] === 0x44 && bytes[3] === 0x46) return { code: 'notCsv' };
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return { code: 'notCsv' };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (text.includes('\u0000')) return { code: 'notCsv' };
    return text.replace(/^\uFEFF/, '');
  } catch {
    return { code: 'encoding' };
  }
}

/** How each session may be named in a file: its title, its day (ISO), its day as pages write it in any language. */
function sessionNames(sessions: SessionDoc[]): Map<string, string[]> {
  const names = new Map<string, string[]>();
  const add = (name: string, id: string) => {
    const k = fold(name);
    if (!k) return;
    const ids = names.get(k) ?? [];
    if (!ids.includes(id)) ids.push(id);
    names.set(k, ids);
  };
  for (const s of sessions) {
    if (s.title) add(s.title, s._id);
    add(isoDay(s.day), s._id);
    for (const lang of UN_LANGUAGES) add(formatDate(lang, s.day), s._id);
  }
  return names;
}

function value(cell: string): boolean | null | undefined {
  const k = fold(cell);
  if (!k) return undefined;
  if (YES.has(k)) return true;
  if (NO.has(k)) return false;
  return null;
}

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function readTicks(bytes: Uint8Array, sessions: SessionDoc[], people: Participant[], maxRows: number): ReadFile {
  const text = decode(bytes);
  const refused = (issue: Issue): ReadFile => ({ format: 'wide', problems: [issue], rows: [] });
  if (typeof text !== 'string') return refused(text);
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      delimiter: [',', ';', '\t'],
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
    }) as never;
  } catch (err) {
    if (err instanceof CsvError) return refused({ code: 'unreadable', params: { line: Number(err.lines ?? 0) } });
    throw err;
  }
  const [head, ...data] = records;
  if (!head || !data.length) return refused({ code: 'noRows' });
  if (data.length > maxRows) return refused({ code: 'tooManyRows', params: { count: data.length, max: maxRows } });

  const headers = head.record.map((h) => h.trim());
  const kinds = headers.map((h) => fold(h));
  const emailAt = kinds.findIndex((k) => EMAIL.has(k));
  if (emailAt < 0) return refused({ code: 'noEmailColumn' });
  const byEmail = new Map(people.map((p) => [p.email.toLowerCase(), p]));
  const names = sessionNames(sessions);
  const sessionOf = (name: string): { id?: string; issue?: Issue } => {
    const ids = names.get(fold(name)) ?? [];
    if (ids.length === 1) return { id: ids[0]! };
    return { issue: { code: ids.length ? 'ambiguousSession' : 'unknownSession', params: { session: name } } };
  };

  const sessionAt = kinds.findIndex((k) => SESSION.has(k));
  const presentAt = kinds.findIndex((k) => PRESENT.has(k));
  const format = sessionAt >= 0 && presentAt >= 0 ? 'long' : 'wide';

  // Wide: every other column is a session (or a column the export writes that is read past).
  const columns: { at: number; sessionId: string; header: string }[] = [];
  const problems: Issue[] = [];
  if (format === 'wide') {
    headers.forEach((h, at) => {
      if (at === emailAt || IGNORED.has(kinds[at]!) || !h) return;
      const found = sessionOf(h);
      if (found.id) columns.push({ at, sessionId: found.id, header: h });
      else problems.push({ code: found.issue!.code === 'ambiguousSession' ? 'ambiguousColumn' : 'unknownColumn', params: { column: h } });
    });
    if (!columns.length && !problems.length) problems.push({ code: 'noSessionColumns' });
  }

  const seen = new Map<string, number>();
  const rows: ImportRowDoc[] = data.map(({ record, info }, i) => {
    const line = Math.max(info.lines, i + 2);
    const cell = (at: number) => (record[at] ?? '').trim();
    const email = cell(emailAt).toLowerCase();
    const errors: Issue[] = [];
    const person = byEmail.get(email);
    if (!email) errors.push({ code: 'noEmail' });
    else if (!EMAIL_PATTERN.test(email)) errors.push({ code: 'badEmail', params: { email } });
    else if (!person) errors.push({ code: 'notEnrolled', params: { email } });
    const marks: ImportRowDoc['marks'] = [];
    const mark = (sessionId: string, raw: string, column: string) => {
      const v = value(raw);
      if (v === null) errors.push({ code: 'badValue', params: { value: raw, column } });
      else if (v !== undefined) marks.push({ sessionId, present: v });
    };
    if (format === 'wide') {
      if (email && person) {
        const first = seen.get(email);
        if (first !== undefined) errors.push({ code: 'duplicate', params: { line: first } });
        else seen.set(email, line);
      }
      for (const c of columns) mark(c.sessionId, cell(c.at), c.header);
    } else {
      const name = cell(sessionAt);
      const found = name ? sessionOf(name) : { issue: { code: 'noSession' } };
      if (found.issue) errors.push(found.issue);
      const raw = cell(presentAt);
      if (!raw) errors.push({ code: 'noValue' });
      else if (found.id) mark(found.id, raw, headers[presentAt]!);
      else if (value(raw) === null) errors.push({ code: 'badValue', params: { value: raw, column: headers[presentAt]! } });
      if (found.id && person) {
        const key = `${email}|${found.id}`;
        const first = seen.get(key);
        if (first !== undefined) errors.push({ code: 'duplicate', params: { line: first } });
        else seen.set(key, line);
      }
    }
    return { line, email, enrolmentId: person?.enrolmentId ?? '', marks, issues: errors };
  });
  return { format, problems, rows };
}
