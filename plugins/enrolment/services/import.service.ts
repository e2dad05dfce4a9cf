/**
 * Bulk enrolment from a CSV file: read the bytes (UTF-8 with or without BOM, Windows-1252, UTF-16
 * with BOM), parse the rows (comma, semicolon or tab), map the headers (English or French, any
 * case or accents), check each row, then plan what each row will do against the database (a dry
 * run staff see as a preview) and finally carry the plan out (commit).
 *
 * `readImportFile` and `planRows` are pure: no database, no HTTP, so they are tested directly
 * (with generated input too). `createImportService` joins them to the database.
 *
 * The commit is a job of the host's job service (queue `enrolment.import-commit`, keyed by the
 * batch id): confirming twice is one job, one instance runs it at a time, and one cut short (an
 * outage, a crash, a restart) runs again by itself. Every step of a commit is idempotent (person
 * upserts, `addByStaff`, `$addToSet` of trainers), so running it again finishes it; only the job
 * writes the batch once it is queued (FerretDB applies an update as read-then-write).
 */
import { CsvError, parse, type InfoRecord } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import mongoose, { type Model } from 'mongoose';
import { z } from 'zod';
import {
  HttpError, isDuplicateKey, notFound, PermanentFailure, RetryLater, type JobSummary, type MailService, type PluginJobs, type RunningJob, type SessionUser, type UsersService,
} from '../../../src/index.ts';
import type { EnrolmentStatus } from '../contract.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { ImportBatchDoc } from '../models/import-batch.model.ts';
import type { PersonDoc } from '../models/person.model.ts';
import { normaliseEmail, type EnrolmentService } from './enrolment.service.ts';
import { parseCountry, parseGender, parseOrganisationType } from './profile.ts';

// ---- Columns ---------------------------------------------------------------------------------------

export const IMPORT_FIELDS = ['email', 'givenName', 'familyName', 'organisation', 'organisationType', 'country', 'gender', 'jobTitle', 'role'] as const;
export type ImportField = (typeof IMPORT_FIELDS)[number];

/** The profile fields a file can set on a person (everything but the e-mail and the role). */
export const PERSON_FIELDS = ['givenName', 'familyName', 'organisation', 'organisationType', 'country', 'gender', 'jobTitle'] as const;
export type PersonField = (typeof PERSON_FIELDS)[number];
export type PersonFields = Partial<Record<PersonField, string>>;

/** Longest value per text field (the person model's limits). */
const MAX_LENGTH: Partial<Record<PersonField, number>> = { givenName: 100, familyName: 100, organisation: 200, jobTitle: 200 };

/** Header text folded for comparison: no accents, no case, only letters and digits. */
export const foldHeader = (text: string) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^a-z0-9]+/g, '');

const HEADER_ALIASES: Record<ImportField, string[]> = {
  email: ['email', 'e-mail', 'mail', 'courriel', 'email address', 'e-mail address', 'adresse e-mail', 'adresse email', 'adresse électronique', 'adresse courriel', 'mél'],
  givenName: ['given name', 'first name', 'forename', 'given names', 'first names', 'prénom', 'prénoms'],
  familyName: ['family name', 'last name', 'surname', 'nom', 'nom de famille'],
  organisation: ['organisation', 'organization', 'organisme', 'employer', 'employeur', 'institution'],
  organisationType: ['organisation type', 'organization type', 'type of organisation', 'type of organization', "type d'organisation", 'type organisation', 'type de structure'],
  country: ['country', 'pays'],
  gender: ['gender', 'sex', 'genre', 'sexe'],
  jobTitle: ['job title', 'position', 'function', 'fonction', 'poste', 'intitulé du poste'],
  role: ['role', 'rôle', 'enrolment role', 'enrollment role'],
};
const FIELD_BY_HEADER = new Map<string, ImportField>(
  IMPORT_FIELDS.flatMap((field) => HEADER_ALIASES[field].map((alias) => [foldHeader(alias), field] as const)),
);

/** The column a header names, or null when it is not one we read. */
export const fieldOfHeader = (header: string): ImportField | null => FIELD_BY_HEADER.get(foldHeader(header)) ?? null;

/** The header line of the template: English names, which every alias list accepts. */
export const TEMPLATE_HEADERS: Record<ImportField, string> = {
  email: 'email', givenName: 'given name', familyName: 'family name', organisation: 'organisation', organisationType: 'organisation type',
  country: 'country', gender: 'gender', jobTitle: 'job title', role: 'role',
};

// ---- Outcomes --------------------------------------------------------------------------------------

/** A problem, as a message key under `enrolment:import.issues` and its values: pages translate it. */
export interface Issue {
  code: string;
  params?: Record<string, string | number>;
}

export type ImportEncoding = 'utf-8' | 'windows-1252' | 'utf-16le' | 'utf-16be';
export type ImportDelimiter = ',' | ';' | '\t';
export type ImportRole = 'learner' | 'trainer';

export interface ImportRow {
  /** The file lines this row spans (a quoted cell may hold line breaks); the header is line 1. */
  line: number;
  lastLine: number;
  /** The cells as written (trimmed), by column. */
  cells: Partial<Record<ImportField, string>>;
  /** Normalised e-mail address; '' when missing or not valid. */
  email: string;
  /** Profile values read from non-empty cells, normalised (country as ISO code, gender and type as codes). */
  person: PersonFields;
  role: ImportRole;
  /** Problems of the row itself; a row with any is never imported. */
  errors: Issue[];
}

export interface ImportFile {
  encoding: ImportEncoding;
  /** A UTF-8 byte-order mark was present (and removed). */
  bom: boolean;
  delimiter: ImportDelimiter;
  /** Every header cell and the column it was read as (null: ignored). */
  columns: { header: string; field: ImportField | null }[];
  /** Problems with the file as a whole: when there is one, nothing can be imported. */
  problems: Issue[];
  rows: ImportRow[];
}

const emailSchema = z.email().max(254);

// ---- Reading bytes -------------------------------------------------------------------------------

/** Signatures of files people upload instead of a CSV, and what to tell them. */
function binaryKind(bytes: Uint8Array): string | null {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'workbook';
  if (starts(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1)) return 'legacyWorkbook';
  if (starts(0x25, 0x50, 0x44, 0x46)) return 'pdf';
  return null;
}

/**
 * Text from the file's bytes: UTF-16 when it starts with a UTF-16 byte-order mark, UTF-8 (BOM
 * removed) when the bytes are valid UTF-8, Windows-1252 otherwise (what Excel writes as "CSV" on a
 * Windows set up for Western European languages).
 */
export function decodeImportBytes(bytes: Uint8Array): { text: string; encoding: ImportEncoding; bom: boolean } | { problem: Issue } {
  if (bytes.length === 0) return { problem: { code: 'empty' } };
  const kind = binaryKind(bytes);
  if (kind) return { problem: { code: kind } };
  let text: string;
  let encoding: ImportEncoding;
  let bom = false;
  if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    encoding = 'utf-16le';
    text = new TextDecoder('utf-16le').decode(bytes.subarray(2));
  } else if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    encoding = 'utf-16be';
    text = new TextDecoder('utf-16be').decode(bytes.subarray(2));
  } else {
    bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    const body = bom ? bytes.subarray(3) : bytes;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
      encoding = 'utf-8';
    } catch {
      text = new TextDecoder('windows-1252').decode(body);
      encoding = 'windows-1252';
    }
  }
  // NUL never occurs in a text spreadsheet export: this is some other kind of file.
  if (text.includes('\u0000')) return { problem: { code: 'binary' } };
  if (!text.trim()) return { problem: { code: 'empty' } };
  return { text, encoding, bom };
}

/** The delimiter that splits the header line into the most cells (outside quotes); comma by default. */
export function detectDelimiter(headerLine: string): ImportDelimiter {
  const counts: Record<ImportDelimiter, number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const char of headerLine) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && char in counts) counts[char as ImportDelimiter]++;
  }
  const best = (Object.entries(counts) as [ImportDelimiter, number][]).sort((a, b) => b[1] - a[1])[0]!;
  return best[1] > 0 ? best[0] : ',';
}

const cleanCell = (value: string) => value.replace(/[\s\u00a0]+/gu, ' ').trim();
const countNewlines = (text: string) => (text.match(/\r\n|\r|\n/g) ?? []).length;

interface ParsedRecord { record: string[] | null; line: number; lastLine: number; error?: Issue }

/** After this many unreadable records, the rest of the file is one unreadable stretch (keeps a hostile file cheap). */
const MAX_RECOVERIES = 500;
/** No spreadsheet row is this long: a longer one is a quote left open, not a cell. */
const MAX_RECORD_CHARS = 100_000;

/**
 * Records with the lines they span. A record csv-parse cannot read (a stray or unclosed quote)
 * becomes an error entry over its lines, and reading starts again on the next line, so that one
 * misplaced quote costs one row, not the rest of the file. Each pass stops at its first error
 * (csv-parse's own skip-and-continue mode re-reads the rest of the file at every error).
 */
function parseRecords(text: string, delimiter: ImportDelimiter, firstLine: number): ParsedRecord[] {
  // Where each line starts (the text has \n line breaks only), to start reading again at any line.
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);

  const out: ParsedRecord[] = [];
  let from = 0; // index into lineStarts: this pass starts on file line firstLine + from
  for (let recoveries = 0; from < lineStarts.length; recoveries++) {
    const lineOf = (n: number) => firstLine + from + n - 1;
    if (recoveries >= MAX_RECOVERIES) {
      out.push({ record: null, line: lineOf(1), lastLine: firstLine + lineStarts.length - 1, error: { code: 'tooManyMalformed', params: { max: MAX_RECOVERIES } } });
      break;
    }
    let lastEnd = 0; // the last line of the last good record of this pass
    try {
      parse(text.slice(lineStarts[from]), {
        delimiter,
        relax_column_count: true,
        max_record_size: MAX_RECORD_CHARS,
        on_record: (record: unknown, context: InfoRecord) => {
          out.push({ record: record as string[], line: lineOf(lastEnd + 1), lastLine: lineOf(context.lines) });
          lastEnd = context.lines;
          return null; // collected here, not in parse()'s result
        },
      });
      break;
    } catch (err) {
      if (!(err instanceof CsvError)) throw err;
      const e = err as CsvError & { lines?: number };
      // The unreadable record starts after the last good one; it covers the lines up to where the
      // problem was seen, except a quote left open (seen only much later): then its first line.
      const start = lastEnd + 1;
      const open = e.code === 'CSV_QUOTE_NOT_CLOSED' || e.code === 'CSV_MAX_RECORD_SIZE';
      const stop = open ? start : Math.max(start, e.lines ?? start);
      out.push({ record: null, line: lineOf(start), lastLine: lineOf(stop), error: { code: open ? 'quoteNotClosed' : 'malformed', params: { detail: e.code } } });
      from += stop;
    }
  }
  return out;
}

/**
 * Reads an uploaded file into rows, each checked on its own. Never throws on any input: a problem
 * with the whole file is in `problems`, a problem with a row in that row's `errors`.
 */
export function readImportFile(bytes: Uint8Array, options: { maxRows: number }): ImportFile | { problems: Issue[] } {
  const decoded = decodeImportBytes(bytes);
  if ('problem' in decoded) return { problems: [decoded.problem] };
  const { encoding, bom } = decoded;
  // One kind of line break: csv-parse counts a CRLF inside a quoted cell as two lines.
  let text = decoded.text.replace(/\r\n?/g, '\n');

  // Excel's "sep=;" hint line names the delimiter.
  let firstLine = 1;
  let delimiter: ImportDelimiter | undefined;
  const hint = /^sep=([,;\t])[ \t]*(\r\n|\r|\n)/i.exec(text);
  if (hint) {
    delimiter = hint[1] as ImportDelimiter;
    text = text.slice(hint[0].length);
    firstLine = 2;
  }
  // Blank lines before the header are skipped (they still count in the line numbers).
  const leading = /^(?:[ \t]*(?:\r\n|\r|\n))+/.exec(text)?.[0] ?? '';
  firstLine += countNewlines(leading);
  text = text.slice(leading.length);
  const headerLine = /^[^\r\n]*/.exec(text)?.[0] ?? '';
  delimiter ??= detectDelimiter(headerLine);
  const base = { encoding, bom, delimiter };

  let records: ParsedRecord[];
  try {
    records = parseRecords(text, delimiter, firstLine);
  } catch (err) {
    // csv-parse refuses some inputs outright (an option it cannot apply to this text): say so, no crash.
    return { ...base, columns: [], rows: [], problems: [{ code: 'unreadable', params: { detail: String((err as Error).message ?? err).slice(0, 200) } }] };
  }
  const header = records.shift();
  if (!header?.record || header.line !== firstLine) {
    return { ...base, columns: [], rows: [], problems: [{ code: 'headerUnreadable', params: { line: firstLine } }] };
  }

  const columns = header.record.map((h) => ({ header: cleanCell(h), field: fieldOfHeader(h) }));
  const problems: Issue[] = [];
  const seen = new Map<ImportField, string>();
  for (const c of columns) {
    if (!c.field) continue;
    const earlier = seen.get(c.field);
    if (earlier !== undefined) problems.push({ code: 'duplicateColumn', params: { first: earlier, second: c.header } });
    else seen.set(c.field, c.header);
  }
  if (!seen.has('email')) problems.push({ code: 'noEmailColumn', params: { headers: columns.map((c) => c.header).filter(Boolean).join(', ') } });

  // Lines with nothing in them (a trailing empty line, an empty spreadsheet row) are not rows.
  const dataRecords = records.filter((r) => !r.record || r.record.some((cell) => cell.trim() !== ''));
  if (!problems.length && dataRecords.length === 0) problems.push({ code: 'noRows' });
  if (dataRecords.length > options.maxRows) problems.push({ code: 'tooManyRows', params: { max: options.maxRows, count: dataRecords.length } });
  if (problems.length) return { ...base, columns, rows: [], problems };

  const firstLineOf = new Map<string, number>();
  const rows = dataRecords.map((r): ImportRow => {
    const row: ImportRow = { line: r.line, lastLine: r.lastLine, cells: {}, email: '', person: {}, role: 'learner', errors: [] };
    if (!r.record) {
      row.errors.push(r.error ?? { code: 'malformed', params: { detail: '' } });
      return row;
    }
    if (r.record.length !== columns.length) {
      // The cells cannot be matched to their columns: reading them anyway could put a country in the e-mail.
      row.errors.push({ code: 'columnCount', params: { expected: columns.length, got: r.record.length } });
      return row;
    }
    columns.forEach((c, i) => {
      if (c.field) row.cells[c.field] = cleanCell(r.record![i] ?? '');
    });
    checkRow(row, firstLineOf);
    return row;
  });
  return { ...base, columns, rows, problems: [] };
}

/** A value quoted back in a message, cut short if someone pasted a paragraph into the cell. */
const quoted = (value: string) => (value.length > 80 ? `${value.slice(0, 79)}…` : value);

/** Checks one row's cells and fills in its normalised values and errors. */
function checkRow(row: ImportRow, firstLineOf: Map<string, number>): void {
  const { cells } = row;
  const rawEmail = cells.email ?? '';
  // "Amina Diallo <amina@example.org>", as copied from a mail program.
  const address = normaliseEmail(/<([^<>]+)>\s*$/.exec(rawEmail)?.[1] ?? rawEmail.replace(/^mailto:/i, ''));
  if (!address) row.errors.push({ code: 'emailMissing' });
  else if (!emailSchema.safeParse(address).success) row.errors.push({ code: 'emailInvalid', params: { value: quoted(rawEmail) } });
  else {
    row.email = address;
    const first = firstLineOf.get(address);
    if (first !== undefined) row.errors.push({ code: 'duplicate', params: { line: first } });
    else firstLineOf.set(address, row.line);
  }

  for (const field of ['givenName', 'familyName', 'organisation', 'jobTitle'] as const) {
    const value = cells[field];
    if (!value) continue;
    const max = MAX_LENGTH[field]!;
    if (value.length > max) row.errors.push({ code: 'tooLong', params: { field, max } });
    else row.person[field] = value;
  }
  if (cells.country) {
    const code = parseCountry(cells.country);
    if (code) row.person.country = code;
    else row.errors.push({ code: 'country', params: { value: quoted(cells.country) } });
  }
  if (cells.gender) {
    const gender = parseGender(cells.gender);
    if (gender) row.person.gender = gender;
    else row.errors.push({ code: 'gender', params: { value: quoted(cells.gender) } });
  }
  if (cells.organisationType) {
    const type = parseOrganisationType(cells.organisationType);
    if (type) row.person.organisationType = type;
    else row.errors.push({ code: 'organisationType', params: { value: quoted(cells.organisationType) } });
  }
  const role = parseRole(cells.role ?? '');
  if (role) row.role = role;
  else row.errors.push({ code: 'role', params: { value: quoted(cells.role ?? '') } });
}

/** learner (the default) or trainer, as people write it in English or French. */
export function parseRole(text: string): ImportRole | null {
  const t = foldHeader(text);
  if (['', 'learner', 'participant', 'participante', 'student', 'apprenant', 'apprenante', 'etudiant', 'etudiante', 'stagiaire'].includes(t)) return 'learner';
  if (['trainer', 'formateur', 'formatrice', 'facilitator', 'facilitateur', 'facilitatrice'].includes(t)) return 'trainer';
  return null;
}

// ---- Planning --------------------------------------------------------------------------------------

export type RowAction = 'enrol' | 'waitlist' | 'already' | 'addTrainer' | 'alreadyTrainer' | 'error';
export type PersonAction = 'create' | 'update' | 'unchanged';

export interface RowPlan {
  action: RowAction;
  /** What happens to the person's profile; null for rows in error. */
  profile: PersonAction | null;
  /** The profile fields the file changes (for 'update'). */
  changed: PersonField[];
  /** The person has an account; without one they are matched at their first sign-in. */
  account: boolean;
  /** The enrolment they already have (for 'already'). */
  status?: EnrolmentStatus;
  errors: Issue[];
}

export interface PlanContext {
  /** Seats free for newcomers: null when the edition has no limit (0 when people are already waiting). */
  seatsLeft: number | null;
  persons: Map<string, Pick<PersonDoc, PersonField>>;
  enrolments: Map<string, { status: EnrolmentStatus }>;
  accounts: Map<string, { id: string; roles: readonly string[] }>;
  trainerIds: ReadonlySet<string>;
}

/**
 * What each row will do, in file order: newcomers take the free seats in order down the file and
 * the rest go on the waiting list. Pure: the context holds what the database says.
 */
export function planRows(rows: readonly ImportRow[], context: PlanContext): RowPlan[] {
  let seatsLeft = context.seatsLeft;
  return rows.map((row): RowPlan => {
    const account = context.accounts.get(row.email);
    const errors = [...row.errors];
    if (!errors.length && row.role === 'trainer') {
      if (!account) errors.push({ code: 'trainerNoAccount' });
      else if (!account.roles.includes('trainer')) errors.push({ code: 'trainerNotTrainer' });
    }
    if (errors.length) return { action: 'error', profile: null, changed: [], account: !!account, errors };

    const existing = context.persons.get(row.email);
    const changed = PERSON_FIELDS.filter((f) => row.person[f] !== undefined && (existing?.[f] ?? '') !== row.person[f]);
    const profile: PersonAction = !existing ? 'create' : changed.length ? 'update' : 'unchanged';
    const base = { profile, changed: profile === 'create' ? [] : changed, account: !!account, errors: [] };

    if (row.role === 'trainer') return { ...base, action: context.trainerIds.has(account!.id) ? 'alreadyTrainer' : 'addTrainer' };
    const enrolment = context.enrolments.get(row.email);
    if (enrolment && enrolment.status !== 'withdrawn') return { ...base, action: 'already', status: enrolment.status };
    if (seatsLeft === null) return { ...base, action: 'enrol' };
    if (seatsLeft > 0) {
      seatsLeft--;
      return { ...base, action: 'enrol' };
    }
    return { ...base, action: 'waitlist' };
  });
}

// ---- Errors as CSV ---------------------------------------------------------------------------------

/**
 * A cell safe to open in a spreadsheet: text starting with = + - @ (or a tab or carriage return)
 * would be run as a formula, so it gets a leading apostrophe (OWASP's advice for CSV injection).
 */
export const safeCell = (value: string) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);

/** A CSV (UTF-8 with BOM, so that Excel reads accents right) of these lines. */
export function toCsv(header: string[], lines: string[][]): string {
  return `\ufeff${stringify([header, ...lines].map((l) => l.map(safeCell)), { record_delimiter: 'windows' })}`;
}

// ---- Database --------------------------------------------------------------------------------------

/** The plan's context, plus when each enrolment was last imported (to recognise an interrupted commit's own work). */
type CommitContext = Omit<PlanContext, 'enrolments'> & { enrolments: Map<string, { status: EnrolmentStatus; importedAt?: Date | undefined }> };

export interface ImportModels {
  ImportBatch: Model<ImportBatchDoc>;
}

/** A stored row: what was read, what was planned at upload, and (after commit) what happened. */
export type StoredRow = ImportRow & RowPlan & { result?: RowResult };
export type RowResult = 'enrolled' | 'waitlisted' | 'already' | 'trainer' | 'alreadyTrainer' | 'error';

export interface ImportCounts { enrolled: number; waitlisted: number; already: number; trainers: number; errors: number }

/** Previews are kept a day; older ones are removed when the next file is uploaded. */
export const BATCH_LIFETIME_MS = 24 * 60 * 60 * 1000;

const ACCOUNT_LOOKUPS_AT_ONCE = 8;
/** How long a commit request waits for the import to finish before answering with its progress page (the default of `importCommitWaitMs`). */
export const COMMIT_WAIT_MS = 10_000;
/** How often a running commit records how far it is (for its page). */
const PROGRESS_EVERY_MS = 2_000;
/** The host job queue of commits (`enrolment.import-commit`), one job per batch. */
export const COMMIT_QUEUE = 'import-commit';

/** What a commit job is given. */
export interface CommitPayload {
  batchId: string;
  /** Who confirmed: the enrolments are theirs, and they are told when it is done. */
  by: { id: string; name: string };
}

/** Where a batch's commit stands, for its page. */
export interface CommitState {
  /** Queued or running: it finishes by itself. */
  running: boolean;
  /** Given up after its retries (or dropped by an admin): confirming again starts it anew. */
  stopped?: { reason?: string | undefined } | undefined;
}
const IN_CHUNK = 500;

async function inChunks<T, R>(items: readonly T[], size: number, run: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await run(items.slice(i, i + size))));
  return out;
}

/** A file name safe to store and show: no path, no control characters, at most 200 characters. */
export function cleanFileName(name: string): string {
  const base = name.normalize('NFC').slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  return base.replace(/[\p{Cc}\p{Cf}]/gu, '').replace(/\s+/gu, ' ').trim().slice(0, 200) || 'file.csv';
}

export interface ImportServiceDeps {
  users: () => UsersService;
  /** The plugin's job queues (the commit's worker is `runCommit`, declared on `COMMIT_QUEUE`). */
  jobs: Pick<PluginJobs, 'enqueue' | 'get'>;
  mail: Pick<MailService, 'send'>;
  /** The host job id of a job of this plugin's queue (`<plugin>.<queue>:<key>`). */
  jobId: (queue: string, key: string) => string;
}

export function createImportService(models: ImportModels, service: EnrolmentService, deps: ImportServiceDeps) {
  const { users } = deps;
  const { ImportBatch } = models;
  const { Edition, Enrolment, Person } = service.models;

  const closed = (edition: Pick<EditionDoc, 'status'>) => edition.status === 'cancelled' || edition.status === 'archived';

  /** What the database says about these rows' people, for `planRows`. */
  async function context(edition: EditionDoc, rows: readonly ImportRow[]): Promise<CommitContext> {
    const editionId = edition._id.toString();
    const emails = [...new Set(rows.map((r) => r.email).filter(Boolean))];
    const [persons, enrolments] = await Promise.all([
      inChunks(emails, IN_CHUNK, (chunk) => Person.find({ _id: mongoose.trusted({ $in: chunk }) }).lean()),
      inChunks(emails, IN_CHUNK, (chunk) => Enrolment.find({ editionId, email: mongoose.trusted({ $in: chunk }) }, { email: 1, status: 1, history: 1 }).lean()),
    ]);
    const accounts = new Map<string, { id: string; roles: readonly string[] }>();
    const queue = [...emails];
    await Promise.all(Array.from({ length: ACCOUNT_LOOKUPS_AT_ONCE }, async () => {
      for (let email = queue.shift(); email !== undefined; email = queue.shift()) {
        const user = await users().findByEmail(email);
        if (user) accounts.set(email, { id: user.id, roles: user.roles });
      }
    }));
    let seatsLeft: number | null = null;
    if (edition.capacity != null) {
      // Someone waiting means no seat is free for a newcomer (service.place() keeps the order).
      const waiting = await Enrolment.exists({ editionId, status: 'waitlisted' });
      seatsLeft = waiting ? 0 : Math.max(0, edition.capacity - (await service.seatsTaken(editionId)));
    }
    return {
      seatsLeft,
      persons: new Map(persons.map((p) => [p._id, p])),
      enrolments: new Map(enrolments.map((e) => [e.email, {
        status: e.status,
        importedAt: e.history.filter((h) => h.action === 'imported').map((h) => h.at).sort((a, b) => b.getTime() - a.getTime())[0],
      }])),
      accounts,
      trainerIds: new Set(edition.trainerIds),
    };
  }

  /** Removes previews and results older than a day (FerretDB has no TTL indexes). */
  async function expireOld(): Promise<void> {
    const before = new Date(Date.now() - BATCH_LIFETIME_MS);
    const old = await ImportBatch.find({ createdAt: mongoose.trusted({ $lt: before }) }, { _id: 1 }).lean();
    if (!old.length) return;
    await ImportBatch.deleteMany({ _id: mongoose.trusted({ $in: old.map((b) => b._id) }) });
  }

  /**
   * Reads an uploaded file and plans it against the database. A file that cannot be imported at
   * all throws a 400 listing its problems (as `details.problems`), storing nothing; otherwise the
   * preview is stored and returned.
   */
  async function preview(editionId: string, file: { name: string; bytes: Uint8Array }, by: SessionUser, maxRows: number): Promise<ImportBatchDoc> {
    const edition = await service.requireEdition(editionId);
    if (closed(edition)) throw new HttpError(409, 'EDITION_CLOSED', 'This edition is cancelled or archived: nobody can be added.');
    await expireOld();
    const read = readImportFile(file.bytes, { maxRows });
    if (read.problems.length || !('rows' in read)) {
      throw new HttpError(400, 'IMPORT_UNREADABLE', 'This file cannot be imported.', { problems: read.problems });
    }
    const plans = planRows(read.rows, await context(edition, read.rows));
    const rows: StoredRow[] = read.rows.map((row, i) => ({ ...row, ...plans[i]! }));
    const doc = await ImportBatch.create({
      editionId, uploadedBy: by.id, uploadedByName: by.name, fileName: cleanFileName(file.name), encoding: read.encoding, bom: read.bom,
      delimiter: read.delimiter, columns: read.columns, rows, status: 'previewed',
    });
    return doc.toObject();
  }

  /** The batch of this edition, while it has not expired; 404 otherwise (malformed ids too). */
  async function requireBatch(editionId: string, batchId: string): Promise<ImportBatchDoc> {
    if (!/^[0-9a-f]{24}$/i.test(batchId)) throw notFound('No such import.');
    const doc = await ImportBatch.findById(batchId).lean();
    if (!doc || doc.editionId !== editionId) throw notFound('No such import.');
    if (Date.now() - doc.createdAt.getTime() > BATCH_LIFETIME_MS) throw notFound('This preview has expired (previews are kept for 24 hours): upload the file again.');
    return doc;
  }

  const pending = (job: JobSummary) => job.state === 'waiting' || job.state === 'running';

  /**
   * The batch's latest commit job: the first is keyed by the batch id, and each one started again
   * after the previous one stopped for good by `<batchId>.<n>`, so that two confirmations of the
   * same round are still one job.
   */
  async function latestCommit(batchId: string): Promise<{ round: number; job: JobSummary | null }> {
    const keyOf = (round: number) => (round === 1 ? batchId : `${batchId}.${round}`);
    let round = 1;
    let job = await deps.jobs.get(deps.jobId(COMMIT_QUEUE, keyOf(round)));
    for (;;) {
      if (!job || pending(job)) return { round, job };
      const next = await deps.jobs.get(deps.jobId(COMMIT_QUEUE, keyOf(round + 1)));
      if (!next) return { round, job };
      round += 1;
      job = next;
    }
  }

  /** Where the batch's commit stands (nothing to say for a committed or never confirmed batch). */
  async function commitState(batch: ImportBatchDoc): Promise<CommitState> {
    if (batch.status === 'committed') return { running: false };
    const { job } = await latestCommit(batch._id.toString());
    if (job && pending(job)) return { running: true };
    // A commit that ended without committing, or one from before commits were jobs.
    if (job || batch.status === 'committing') return { running: false, stopped: { reason: job?.lastError } };
    return { running: false };
  }

  /** Writes the profile fields the file gives; existing values are never wiped by empty cells. */
  async function writePerson(email: string, fields: PersonFields, userId: string | undefined): Promise<void> {
    const set = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== ''));
    const update = { $set: set, $setOnInsert: { ...(userId ? { userId } : {}) } };
    try {
      await Person.updateOne({ _id: email }, update, { upsert: true, runValidators: true });
    } catch (err) {
      // Two writers inserting the same new person: the second now finds it and updates it.
      if (!isDuplicateKey(err)) throw err;
      await Person.updateOne({ _id: email }, { $set: set });
    }
    // The account exists: the profile names it, so addByStaff puts it on the enrolment (an `_id`
    // write, unlike linkAccount's search of every enrolment, which sign-in runs anyway).
    if (userId) await Person.updateOne({ _id: email, userId: mongoose.trusted({ $exists: false }) }, { $set: { userId } });
  }

  /**
   * Queues the commit of a previewed batch and waits for it up to `waitMs` (a large file goes on
   * after the answer, and its page shows the progress). Committing a committed batch does nothing.
   * Throws (before queueing) when the batch expired or its edition is closed, and IMPORT_RUNNING
   * when its commit is queued or running already.
   */
  async function commit(editionId: string, batchId: string, by: SessionUser, waitMs: number): Promise<{ batch: ImportBatchDoc; finished: boolean }> {
    const batch = await requireBatch(editionId, batchId);
    if (batch.status === 'committed') return { batch, finished: true };
    const edition = await service.requireEdition(editionId);
    if (closed(edition)) throw new HttpError(409, 'EDITION_CLOSED', 'This edition is cancelled or archived: nobody can be added.');
    const running = () => new HttpError(409, 'IMPORT_RUNNING', 'This file is being imported right now. Reload this page in a minute to see the result.');
    const latest = await latestCommit(batchId);
    if (latest.job && pending(latest.job)) throw running();
    const round = latest.job ? latest.round + 1 : 1;
    const payload: CommitPayload = { batchId, by: { id: by.id, name: by.name } };
    const { id, created } = await deps.jobs.enqueue(COMMIT_QUEUE, payload, { key: round === 1 ? batchId : `${batchId}.${round}` });
    // Another confirmation queued this round first: its request shows the progress.
    if (!created) throw running();
    const deadline = Date.now() + waitMs;
    for (let pause = 20; Date.now() < deadline; pause = Math.min(pause * 2, 250)) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, deadline - Date.now())));
      const job = await deps.jobs.get(id);
      if (job?.state === 'done') break;
    }
    const now = (await ImportBatch.findById(batch._id).lean()) ?? batch;
    return { batch: now, finished: now.status === 'committed' };
  }

  /**
   * The commit job: carries out the batch against the database as it is now (re-planned row by
   * row) and stores what each row did, then tells the person who confirmed it. Run again after an
   * interruption, it finishes the work: people it placed before count as placed by it.
   */
  async function runCommit(payload: CommitPayload, job: RunningJob): Promise<void> {
    const batch = mongoose.isValidObjectId(payload.batchId) ? await ImportBatch.findById(payload.batchId).lean() : null;
    if (!batch) throw new PermanentFailure('the preview has expired (previews are kept for 24 hours)');
    if (batch.status === 'committed') return tellCommitted(batch);
    const edition = await Edition.findById(batch.editionId).lean();
    if (!edition || closed(edition)) throw new PermanentFailure('the edition is cancelled, archived or gone: nobody can be added');
    const editionId = edition._id.toString();
    const startedAt = batch.commitStartedAt ?? new Date();
    if (batch.status !== 'committing' || !batch.commitStartedAt) {
      await ImportBatch.updateOne({ _id: batch._id }, { $set: { status: 'committing', commitStartedAt: startedAt, progress: 0 } });
    }
    const stored = batch.rows as StoredRow[];
    const now = await context(edition, stored);
    const plans = planRows(stored, now);
    const out: StoredRow[] = [];
    let lastReport = Date.now();
    for (const [i, row] of stored.entries()) {
      // Between two rows: each row's writes are whole, and the next attempt re-plans the rest.
      if (job.signal.aborted) throw new RetryLater('the app is stopping', 0);
      const plan = plans[i]!;
      const next: StoredRow = { ...row, ...plan, result: 'error' };
      out.push(next);
      if (plan.action !== 'error') {
        const account = now.accounts.get(row.email);
        await writePerson(row.email, row.person, account?.id);
        if (row.role === 'trainer') {
          if (!account) continue;
          const res = await service.changingEditions(() => Edition.updateOne({ _id: edition._id }, { $addToSet: { trainerIds: account.id } }));
          next.result = res.modifiedCount ? 'trainer' : 'alreadyTrainer';
        } else {
          const before = now.enrolments.get(row.email);
          const { enrolment } = await service.addByStaff(editionId, { email: row.email, source: 'import' }, payload.by.id);
          // A person placed by an earlier, interrupted attempt of this same commit counts as placed by it.
          const ours = !!before?.importedAt && before.importedAt >= startedAt;
          const active = before && before.status !== 'withdrawn';
          next.result = (active && !ours) || (enrolment.status !== 'enrolled' && enrolment.status !== 'waitlisted') ? 'already' : enrolment.status;
        }
      }
      if (Date.now() - lastReport > PROGRESS_EVERY_MS) {
        lastReport = Date.now();
        if (!(await job.stillHolding())) throw new RetryLater('the commit was taken over by another instance', 0);
        await ImportBatch.updateOne({ _id: batch._id }, { $set: { progress: i + 1 } });
      }
    }
    // The batch is ours to write only while we hold the job (another instance may have taken it over).
    if (!(await job.stillHolding())) throw new RetryLater('the commit was taken over by another instance', 0);
    const counts = countResults(out);
    const committedAt = new Date();
    await ImportBatch.updateOne({ _id: batch._id }, { $set: { status: 'committed', rows: out, counts, progress: out.length, committedBy: payload.by.id, committedAt } });
    await tellCommitted({ ...batch, status: 'committed', rows: out, counts, committedBy: payload.by.id, committedAt });
  }

  /** E-mails the person who confirmed the import what it did (once per batch, whoever sends it). */
  async function tellCommitted(batch: ImportBatchDoc): Promise<void> {
    if (!batch.committedBy || !batch.counts) return;
    const edition = await Edition.findById(batch.editionId, { title: 1 }).lean();
    const counts = batch.counts;
    await deps.mail.send({
      key: `enrolment.import-committed:${batch._id}`,
      to: { userId: batch.committedBy },
      category: 'notice',
      compose: (t) => ({
        subject: t('enrolment:import.mail.subject', { edition: edition?.title ?? batch.editionId }),
        paragraphs: [
          t('enrolment:import.mail.intro', { file: batch.fileName, edition: edition?.title ?? batch.editionId }),
          t('enrolment:import.result.done', { ...counts }),
        ],
        action: { label: t('enrolment:import.mail.action'), url: `/enrolment/manage/editions/${batch.editionId}/import/${batch._id}` },
      }),
    });
  }

  return { preview, commit, runCommit, commitState, requireBatch, expireOld, context };

}

export function countResults(rows: readonly StoredRow[]): ImportCounts {
  const counts: ImportCounts = { enrolled: 0, waitlisted: 0, already: 0, trainers: 0, errors: 0 };
  for (const r of rows) {
    if (r.result === 'enrolled') counts.enrolled++;
    else if (r.result === 'waitlisted') counts.waitlisted++;
    else if (r.result === 'trainer') counts.trainers++;
    else if (r.result === 'error') counts.errors++;
    else counts.already++;
  }
  return counts;
}

export type ImportService = ReturnType<typeof createImportService>;
