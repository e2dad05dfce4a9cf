/**
 * CSV files people download and open in a spreadsheet: UTF-8 with a byte-order mark (so Excel
 * reads accents right), CRLF line ends, and text that a spreadsheet would run as a formula
 * (starting with = + - @, a tab or a carriage return) written with a leading apostrophe (OWASP's
 * advice against CSV injection; csv-stringify's `escape_formulas`).
 */
import { stringify } from 'csv-stringify/sync';
import type { Response } from 'express';
import { safeFileName } from './file-names.ts';

export type CsvCell = string | number | null | undefined;

export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  return stringify([header, ...rows], { bom: true, escape_formulas: true, record_delimiter: '\r\n' });
}

/** One cell as `toCsv` writes it, without the quoting: what the spreadsheet shows. */
export const spreadsheetCell = (value: string): string => stringify([[value]], { escape_formulas: true, quote: false, eof: false });

/**
 * Sends the rows as a CSV download named `fileName` (made safe to save). Downloads hold people's
 * data: browsers and proxies are told not to keep them.
 */
export function sendCsv(res: Response, fileName: string, header: readonly string[], rows: readonly (readonly CsvCell[])[]): void {
  res.set({
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': attachment(safeFileName(fileName, 'download.csv')),
    'Cache-Control': 'private, no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.send(toCsv(header, rows));
}

/**
 * `attachment; filename="…"`, always quoted (content-disposition quotes only when it must, and some
 * download tools read only a quoted name), with an ASCII stand-in for other scripts and the exact
 * name as RFC 5987's `filename*`.
 */
function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  if (ascii === name) return `attachment; filename="${name}"`;
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
