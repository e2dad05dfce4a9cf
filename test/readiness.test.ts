import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import supertest from 'supertest';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../src/core/embedded-db.ts';
import { createTestApp, signIn, type TestApp } from './helpers/app.ts';

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

describe('readiness while the database goes away and comes back', function () {
  this.timeout(90000);
  let dir: string;
  let db: EmbeddedDatabase;
  let t: TestApp;

  before(async () => {
    // A database of this test's own, so stopping it disturbs no other test.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-ready-'));
    db = await startEmbeddedDatabase({ dataDir: dir });
    t = await createTestApp({ mongodbUri: db.uri, seed: true, label: 'ready' });
  });
  after(async () => {
    await t.app.olive.stop();
    await db.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports 503 while the database is down, serves a clear page, and recovers without a restart', async () => {
    const learner = await signIn(t.app, 'learner@olive.example');
    await supertest(t.app).get('/readyz').expect(200);

    await db.stop();
    const down = await supertest(t.app).get('/readyz').expect(503);
    expect(down.body).to.deep.equal({ status: 'database unavailable' });
    await supertest(t.app).get('/healthz').expect(200); // the process itself is alive
    const page = await learner.get('/account').expect(503);
    expect(page.text).to.contain('The service is briefly unavailable');
    expect(page.headers['retry-after']).to.equal('30');
    const api = await learner.get('/account').set('accept', 'application/json').expect(503);
    expect(api.body.error.code).to.equal('DATABASE_UNAVAILABLE');

    db = await startEmbeddedDatabase({ dataDir: dir, port: db.port });
    // A request meeting an unknown server makes the driver check it at once (besides every 2 s):
    // ready again within seconds (measured: 0.3 s), not after minutes or never.
    const waited = await waitFor(async () => (await supertest(t.app).get('/readyz')).status === 200, 30000);
    expect(waited, 'ms from the database being back to the app being ready').to.be.lessThan(5000);
    // The same session and the data written before the outage are still there.
    const account = await learner.get('/account').expect(200);
    expect(account.text).to.contain('learner@olive.example');
  });
});
