/** Bulk enrolment from CSV when its own database stops in the middle of a commit and comes back. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import mongoose from 'mongoose';
import supertest from 'supertest';
import { isDatabaseUnavailable, startEmbeddedDatabase, type EmbeddedDatabase } from '../../../src/index.ts';
import { createTestApp, signIn, tokenFor, type TestApp } from '../../../test/helpers/app.ts';
import { mailTestEnv } from '../../../test/helpers/mail.ts';
import { portOutsideEphemeralRange } from '../../../test/helpers/faults.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';

describe('bulk enrolment from CSV when the database goes away during a commit', function () {
  // 120 rows twice over a restarted database: a minute or more on a loaded machine.
  this.timeout(300_000);
  let dir: string;
  let database: EmbeddedDatabase;
  let t: TestApp;

  before(async () => {
    // A database of this test's own, so stopping it disturbs no other test.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-import-'));
    database = await startEmbeddedDatabase({ dataDir: dir, port: await portOutsideEphemeralRange() });
    // Confirmations answer at once (the commit goes on as a job); jobs are looked for often; mail as in the other tests.
    t = await createTestApp({
      mongodbUri: database.uri,
      plugins: [courses, enrolment],
      seed: true,
      label: 'import_outage',
      env: mailTestEnv(),
      pluginConfig: { enrolment: { importCommitWaitMs: 0 } },
    });
  });
  after(async () => {
    await t?.app.olive.stop();
    await database?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** What a failure needs to tell apart: a database that does not answer anyone, or an app that does not see it. */
  async function outageReport(readiness: string): Promise<string> {
    const fresh = new mongoose.mongo.MongoClient(database.uri, { serverSelectionTimeoutMS: 5000 });
    const direct = await fresh
      .db('admin')
      .command({ ping: 1 })
      .then(() => 'answers a new client')
      .catch((err: Error) => `does not answer a new client either: ${err.message}`)
      .finally(() => fresh.close());
    const alive = database.process.exitCode === null && database.process.signalCode === null;
    return `readiness: ${readiness}; the app's connection state: ${t.app.olive.connection.readyState}; the database process ${alive ? 'runs' : 'has exited'} and ${direct}; its log:\n${database.recentLog()}`;
  }

  it('a commit cut off half-way resumes by itself once the database is back: everyone placed once, seats right', async () => {
    const staff = await signIn(t.app, 'staff@olive.example');
    const conn = t.app.olive.connection;
    const course = await conn.collection('courses_course').findOne({ slug: 'conflict-analysis' });
    const form = await staff
      .post('/enrolment/manage/editions')
      .type('form')
      .send({
        courseId: String(course!._id),
        title: 'Outage edition',
        language: 'en',
        method: 'invitation',
        status: 'published',
        online: 'on',
        startsAt: '2026-01-10',
        capacity: '20',
        _csrf: await tokenFor(staff, '/enrolment/manage/editions/new'),
      });
    const edition = /editions\/([0-9a-f]{24})/.exec(form.headers.location as string)![1]!;
    const people = Array.from({ length: 120 }, (_, i) => `outage${String(i).padStart(3, '0')}@example.org`);
    const token = await tokenFor(staff, `/enrolment/manage/editions/${edition}/import`);
    const up = await staff
      .post(`/enrolment/manage/editions/${edition}/import?_csrf=${encodeURIComponent(token)}`)
      .attach('file', Buffer.from(`email,country\n${people.map((p) => `${p},Kenya`).join('\n')}\n`), 'outage.csv');
    expect(up.status).to.equal(303);
    const url = up.headers.location as string;
    const batchId = url.split('/').pop()!;

    const started = await staff
      .post(`${url}/commit`)
      .set('Accept', 'application/json')
      .set('x-csrf-token', await tokenFor(staff, url))
      .send({});
    expect(started.status, 'the confirmation answers before the import is done').to.equal(202);
    const placed = () => conn.collection('enrolment_enrolment').countDocuments({ editionId: edition });
    for (let i = 0; i < 400 && (await placed()) < 8; i++) await new Promise((resolve) => setTimeout(resolve, 25));

    // The database goes away mid-commit, long enough for the commit's next query to fail.
    await database.stop();
    await new Promise((resolve) => setTimeout(resolve, 6000));
    database = await startEmbeddedDatabase({ dataDir: dir, port: database.port });
    const backBy = Date.now() + 90_000;
    for (let ready = await supertest(t.app).get('/readyz'); ready.status !== 200; ready = await supertest(t.app).get('/readyz')) {
      if (Date.now() > backBy) throw new Error(`the app did not see the database again within 90 s (${await outageReport(ready.text)})`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    // The driver may still hold a connection from before the restart: the first read on it fails
    // (in a loaded run), the next ones go through. Only the test's own reads are retried, for as
    // long as the app took to see the database again.
    const read = async <T>(run: () => Promise<T>): Promise<T> => {
      for (const until = Date.now() + 60_000; ;) {
        try {
          return await run();
        } catch (err) {
          if (Date.now() > until || !isDatabaseUnavailable(err))
            throw new Error(`${(err as Error).message}; the database's log:\n${database.recentLog()}`, { cause: err });
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    };
    const halfway = await read(placed);
    expect(halfway, 'the commit was cut off part-way').to.be.within(8, 119);
    const batch = await read(() => conn.collection('enrolment_import_batch').findOne({ _id: new mongoose.Types.ObjectId(batchId) }));
    expect(batch!.status).to.equal('committing');

    // Nobody confirms again: the commit job runs again (after its retry delay, or once the lease of
    // the attempt cut off expires) and finishes.
    let done = batch!;
    for (let i = 0; i < 960 && done.status !== 'committed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      done = (await read(() => conn.collection('enrolment_import_batch').findOne({ _id: new mongoose.Types.ObjectId(batchId) })))!;
    }
    expect(done.status).to.equal('committed');
    expect(done.counts).to.deep.equal({ enrolled: 20, waitlisted: 100, already: 0, trainers: 0, errors: 0 });
    const list = await conn.collection('enrolment_enrolment').find({ editionId: edition }).toArray();
    expect(list).to.have.length(120);
    expect(
      list.every((e) => (e.history as unknown[]).length === 1),
      'nobody placed twice',
    ).to.equal(true);
    expect(list.filter((e) => e.status === 'enrolled')).to.have.length(20);
    expect(await conn.collection('enrolment_seat').countDocuments({ editionId: edition })).to.equal(20);
    expect(await conn.collection('enrolment_person').countDocuments({ _id: { $regex: /^outage\d{3}@example\.org$/ } as never, country: 'KE' })).to.equal(120);
    const page = (await staff.get(url).expect(200)).text;
    expect(page).to.match(/<dt>Enrolled<\/dt><dd>20<\/dd>/);
  });
});
