/** How every benchmark reports: a plain-text table on stdout and its results as JSON. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Prints rows as a Markdown table (the first row is the header); columns from `alignRightFrom` on are numbers. */
export function printTable(rows: string[][], alignRightFrom = 2): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${widths.map((w, i) => (i >= alignRightFrom ? (r[i] ?? '').padStart(w) : (r[i] ?? '').padEnd(w))).join(' | ')} |`;
  console.log(line(rows[0]!));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows.slice(1)) console.log(line(r));
}

/** Writes the results under .tmp/bench/<name>.json, or where `--out` says; returns the path. */
export function writeResults(name: string, results: object, out?: string): string {
  const file = resolve(out ?? resolve(import.meta.dirname, '..', '.tmp', 'bench', `${name}.json`));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, ...results }, null, 2));
  return file;
}

/** The value following a command-line flag (`--n 200`). */
export function flag(name: string, args = process.argv.slice(2)): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
