import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';

/**
 * The benchmarks at their smallest size: not their figures (those are measured on demand, on an
 * idle machine), but that they still run against today's app and that what they compare is right:
 * the ceiling serves the same HTML as the app, and no acknowledged completion goes missing.
 */
describe('benchmarks (smoke size)', function () {
  this.timeout(600000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-bench-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (script: string, out: string, extra: string[] = []) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--smoke', '--out', out, ...extra], { maxBuffer: 1 << 24 });
  /** Completions the web benchmark sends here, each a new record. */
  const COMPLETIONS = 60;

  it('web: the ceiling renders the same pages as the app, every acknowledged completion is stored, every page is weighed', async () => {
    const out = path.join(dir, 'web.json');
    // One second per load run: what this checks is that every part of the benchmark runs and agrees, not its figures.
    await run('bench/web.bench.ts', out, ['--completions', String(COMPLETIONS), '--duration', '1']);
    const r = JSON.parse(fs.readFileSync(out, 'utf8'));
    for (const [page, same] of Object.entries(r.sameHtml as Record<string, { identical: boolean }>)) expect(same.identical, page).to.equal(true);
    expect(Object.keys(r.sameHtml)).to.have.members(['dashboard', 'account (floor)', 'course outline', 'module page']);
    expect(r.progress.completions, 'completions sent').to.equal(COMPLETIONS);
    expect(r.progress.olive.acknowledged, 'completions acknowledged').to.equal(COMPLETIONS);
    expect(r.progress.olive.stored, 'acknowledged completions stored').to.equal(COMPLETIONS);
    expect(r.progress.olive.lost).to.equal(0);
    // Quizzes passed among them, and modules they finished: each of those has its one record.
    expect(r.progress.olive.derived.quizzesPassed, 'quizzes passed').to.be.greaterThan(0);
    expect(r.progress.olive.derived.modulesFinishedByTheRun, 'modules finished by the run').to.be.greaterThan(0);
    expect(r.progress.olive.derived).to.include({ modulesMissing: 0, coursesMissing: 0 });
    expect(r.progress.ceiling.acknowledged).to.equal(COMPLETIONS);
    expect(r.progress.ceiling.stored).to.equal(COMPLETIONS);
    expect(r.pageWeight).to.have.length(11);
    for (const w of r.pageWeight) expect(w.scripts, w.page).to.equal(0);
    expect(r.memory.olive.rssMb).to.be.greaterThan(0);
  });

  it('database: every operation is measured, with its cost to the database and to the app', async () => {
    const out = path.join(dir, 'database.json');
    await run('bench/database.bench.ts', out);
    const r = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(Object.keys(r.results)).to.have.length(8);
    for (const [name, m] of Object.entries(r.results as Record<string, { perSecond: number; databaseMs: number; appMs: number }>)) {
      expect(m.perSecond, name).to.be.greaterThan(0);
      expect(m.databaseMs + m.appMs, name).to.be.greaterThan(0);
    }
  });

  it('certificates: both engines render every scenario; Olive’s PDFs read back with the Latin, Arabic and Chinese names, the ceiling’s with the Latin one', async () => {
    const out = path.join(dir, 'certificates.json');
    const pdfs = fs.mkdtempSync(path.join(dir, 'pdfs-'));
    // A batch of one certificate instead of 20: the batch's time is a figure, and figures are not what this checks.
    await run('bench/certificates.bench.ts', out, ['--pdf-dir', pdfs, '--n', '1']);
    const r = JSON.parse(fs.readFileSync(out, 'utf8'));
    type Result = { scenario: string; engine: string; sizeMedianKb: number; sample: { name: string; pdf: string } };
    expect(r.results.map((x: Result) => `${x.scenario}/${x.engine}`)).to.have.members([
      'latin/olive',
      'latin/ceiling',
      'arabic/olive',
      'arabic/ceiling',
      'chinese/olive',
      'chinese/ceiling',
    ]);
    // pdftotext marks right-to-left runs with bidi controls and spaces words by the gaps it sees.
    const text = (file: string) =>
      execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' })
        .replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]/g, '')
        .replace(/\s+/g, ' ');
    for (const x of r.results as Result[]) {
      expect(x.sizeMedianKb, `${x.scenario}/${x.engine}`).to.be.greaterThan(1);
      // The ceiling prints with Helvetica alone: Arabic and Chinese come out as garbage there, by design.
      if (x.engine === 'olive' || x.scenario === 'latin') expect(text(x.sample.pdf), `${x.scenario}/${x.engine}: the name printed`).to.contain(x.sample.name);
    }
  });
});
