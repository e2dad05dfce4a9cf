/**
 * Reading an uploaded CSV file into checked rows: the bytes (UTF-8 with or without BOM, UTF-16
 * with BOM, else the Windows code page whose text is most plausible: `encodings.ts`), the records
 * (comma, semicolon or tab; a stray quote costs one row), the headers (in any language of the
 * catalogues, any case or accents: `columns.ts`) and each row's values. Pure: no database, no HTTP,
 * so it is tested directly (with generated input too).
 */
import { CsvError, parse, type InfoRecord } from 'csv-parse/sync';
import { z } from 'zod';
import { normaliseEmail, parseCountry, parseGender, parseOrganisationType } from '../profile.ts';
import { fieldsOfHeaders, parseRole, type ImportField, type ImportRole } from './columns.ts';
import { decodeLegacy, guessLegacyEncoding, type LegacyEncoding } from './encodings.ts';

export * from './columns.ts';

// ---- Columns ---------------------------------------------------------------------------------------

/** The profile fields a file can set on a person (everything but the e-mail and the role). */
export const PERSON_FIELDS = ['givenName', 'familyName', 'organisation', 'organisationType', 'country', 'gender', 'jobTitle'] as const;
export type PersonField = (typeof PERSON_FIELDS)[number];
export type PersonFields = Partial<Record<PersonField, string>>;

/** Longest value per text field (the person model's limits). */
const MAX_LENGTH: Partial<Record<PersonField, number>> = { givenName: 100, familyName: 100, organisation: 200, jobTitle: 200 };

// ---- Outcomes --------------------------------------------------------------------------------------

/** A problem, as a message key under `enrolment:import.issues` and its values: pages translate it. */
export interface Issue {
  code: string;
  params?: Record<string, string | number>;
}

export type ImportEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | LegacyEncoding;
export type ImportDelimiter = ',' | ';' | '\t';

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
  /**
   * For a file in a legacy encoding: the other encodings it can be read in, most plausible first
   * (empty for UTF-8 and UTF-16, which are certain). The encoding is the most plausible one, or the
   * one asked for (`encodingChosen`).
   */
  alternatives: LegacyEncoding[];
  encodingChosen: boolean;
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

/** How to read a file's bytes: the reader's language breaks a tie between legacy encodings; `encoding` overrides the guess. */
export interface DecodeOptions {
  language?: string | undefined;
  encoding?: LegacyEncoding | undefined;
}

interface Decoded {
  text: string;
  encoding: ImportEncoding;
  alternatives: LegacyEncoding[];
  encodingChosen: boolean;
  bom: boolean;
}

/**
 * Text from the file's bytes: UTF-16 when it starts with a UTF-16 byte-order mark, UTF-8 (BOM
 * removed) when the bytes are valid UTF-8, otherwise the legacy encoding asked for or, without one,
 * the Windows code page whose text is most plausible (`guessLegacyEncoding`: Excel's "CSV" is
 * written in the code page of the computer's language).
 */
export function decodeImportBytes(bytes: Uint8Array, options: DecodeOptions = {}): Decoded | { problem: Issue } {
  if (bytes.length === 0) return { problem: { code: 'empty' } };
  const kind = binaryKind(bytes);
  if (kind) return { problem: { code: kind } };
  let text: string;
  let encoding: ImportEncoding;
  let alternatives: LegacyEncoding[] = [];
  let bom = false;
  if (bytes[0] === 0xff && bytes[1] === 0xfe && !options.encoding) {
    encoding = 'utf-16le';
    text = new TextDecoder('utf-16le').decode(bytes.subarray(2));
  } else if (bytes[0] === 0xfe && bytes[1] === 0xff && !options.encoding) {
    encoding = 'utf-16be';
    text = new TextDecoder('utf-16be').decode(bytes.subarray(2));
  } else {
    bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    const body = bom ? bytes.subarray(3) : bytes;
    const chosen = options.encoding;
    if (chosen) {
      // Read as asked; the other encodings stay on offer, most plausible first.
      const guess = guessLegacyEncoding(body, options.language);
      encoding = chosen;
      text = decodeLegacy(body, chosen);
      alternatives = [guess.encoding, ...guess.alternatives].filter((e) => e !== chosen);
    } else {
      try {
        text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
        encoding = 'utf-8';
      } catch {
        ({ text, encoding, alternatives } = guessLegacyEncoding(body, options.language));
      }
    }
  }
  // NUL never occurs in a text spreadsheet export: this is some other kind of file.
  if (text.includes('\u0000')) return { problem: { code: 'binary' } };
  if (!text.trim()) return { problem: { code: 'empty' } };
  return { text, encoding, alternatives, encodingChosen: !!options.encoding, bom };
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

interface ParsedRecord {
  record: string[] | null;
  line: number;
  lastLine: number;
  error?: Issue;
}

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
      out.push({
        record: null,
        line: lineOf(1),
        lastLine: firstLine + lineStarts.length - 1,
        error: { code: 'tooManyMalformed', params: { max: MAX_RECOVERIES } },
      });
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
      out.push({
        record: null,
        line: lineOf(start),
        lastLine: lineOf(stop),
        error: { code: open ? 'quoteNotClosed' : 'malformed', params: { detail: e.code } },
      });
      from += stop;
    }
  }
  return out;
}

/**
 * Reads an uploaded file into rows, each checked on its own. Never throws on any input: a problem
 * with the whole file is in `problems`, a problem with a row in that row's `errors`.
 */
export function readImportFile(bytes: Uint8Array, options: { maxRows: number } & DecodeOptions): ImportFile | { problems: Issue[] } {
  const decoded = decodeImportBytes(bytes, options);
  if ('problem' in decoded) return { problems: [decoded.problem] };
  const { encoding, alternatives, encodingChosen, bom } = decoded;
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
  const base = { encoding, alternatives, encodingChosen, bom, delimiter };

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

  const fields = fieldsOfHeaders(header.record);
  const columns = header.record.map((h, i) => ({ header: cleanCell(h), field: fields[i]! }));
  const problems: Issue[] = [];
  const seen = new Map<ImportField, string>();
  for (const c of columns) {
    if (!c.field) continue;
    const earlier = seen.get(c.field);
    if (earlier !== undefined) problems.push({ code: 'duplicateColumn', params: { first: earlier, second: c.header } });
    else seen.set(c.field, c.header);
  }
  if (!seen.has('email'))
    problems.push({
      code: 'noEmailColumn',
      params: {
        headers: columns
          .map((c) => c.header)
          .filter(Boolean)
          .join(', '),
      },
    });

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
