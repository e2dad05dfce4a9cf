/**
 * Reading PDFs back for the certificate tests with poppler's pdftotext, a reader independent of
 * pdfkit: a temporary folder to write them to, their reading-order text and its lines.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The direction controls pdftotext may wrap right-to-left text in (and their isolate and Arabic-mark kin). */
export const BIDI_CONTROLS = /[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]/g;

/**
 * pdftotext wraps right-to-left text in embedding controls (RLE … PDF) and separates words by the
 * gaps it sees: compare without the controls and with single spaces.
 */
export function norm(s: string): string {
  return s.replace(BIDI_CONTROLS, '').replace(/\s+/g, ' ').trim();
}

/**
 * A temporary folder for one test file's PDFs: `const pdfs = pdfFolder('olive-x-')` at the top of
 * the file, `pdfs.useInSuite()` inside its `describe` (which makes the folder before its tests and
 * removes it after them), then `pdfs.dir`, `pdfs.save(pdf)`, `pdfs.extract(pdf)`, `pdfs.lines(pdf)`.
 * The functions may be destructured; `dir` is read when the tests run.
 */
export function pdfFolder(prefix: string) {
  let dir: string | undefined;
  let count = 0;
  const folderOf = () => {
    if (dir === undefined) throw new Error('pdfFolder: call useInSuite() in the describe that uses it');
    return dir;
  };
  /** Writes the PDF to a new file in the folder; returns its path. */
  const save = (pdf: Buffer): string => {
    const file = join(folderOf(), `p${++count}.pdf`);
    writeFileSync(file, pdf);
    return file;
  };
  /** pdftotext's reading-order text. */
  const extract = (pdf: Buffer): string => execFileSync('pdftotext', ['-enc', 'UTF-8', save(pdf), '-'], { encoding: 'utf8' });
  /** The lines pdftotext extracts, normalised ({@link norm}), empty ones dropped. */
  const lines = (pdf: Buffer): string[] => extract(pdf).split('\n').map(norm).filter(Boolean);
  return {
    get dir(): string {
      return folderOf();
    },
    useInSuite(): void {
      before(() => {
        dir = mkdtempSync(join(tmpdir(), prefix));
      });
      after(() => {
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
        dir = undefined;
      });
    },
    save,
    extract,
    lines,
  };
}
