import { execFile } from 'node:child_process';
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
  const run = (script: string, out: string) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--smoke', '--out', out], { maxBuffer: 1 << 24 });

  it('web: the ceiling renders the same pages as the app, every acknowledged completion is stored, every page is weighed', async () => {
    const out = path.join(dir, 'web.json');
    await run('bench/web.bench.ts', out);
    const r = JSON.parse(fs.readFileSync(out, 'utf8'));
    for (const [page, same] of Object.entries(r.sameHtml as Record<string, { identical: boolean }>)) expect(same.identical, page).to.equal(true);
    expect(Object.keys(r.sameHtml)).to.have.members(['dashboard', 'account (floor)', 'course outline', 'module page']);
    expect(r.progress.olive.acknowledged, 'completions acknowledged').to.be.greaterThan(0);
    expect(r.progress.olive.lost).to.equal(0);
    expect(r.progress.ceiling.stored).to.equal(r.progress.ceiling.acknowledged);
    expect(r.pageWeight).to.have.length(11);
    for (const w of r.pageWeight) expect(w.scripts, w.page).to.equal(0);
    expect(r.memory.olive.rssMb).to.be.greaterThan(0);
  });

  it('certificates: renders Latin, Arabic and Chinese names with both engines', async () => {
    const out = path.join(dir, 'certificates.json');
    await run('bench/certificates.bench.ts', out);
    const r = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(r.results.map((x: { scenario: string; engine: string }) => `${x.scenario}/${x.engine}`)).to.have.members(
      ['latin/olive', 'latin/ceiling', 'arabic/olive', 'arabic/ceiling', 'chinese/olive', 'chinese/ceiling'],
    );
    for (const x of r.results) expect(x.sizeMedianKb, `${x.scenario}/${x.engine}`).to.be.greaterThan(1);
  });
});
