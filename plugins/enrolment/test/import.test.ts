/**
 * Bulk enrolment from CSV against the real database: upload, preview, commit (a background job),
 * results, invitations, access and refusals. Long because each test follows one whole import the
 * way staff do it; the reading of files, an outage mid-commit and the browser are in files of their own.
 */
import fs from 'node:fs';
import { expect } from 'chai';
import mongoose from 'mongoose';
import supertest from 'supertest';
import { createTestApp, signIn, tokenFor, type TestApp, postForm, asBytes } from '../../../test/helpers/app.ts';
import { inbox, linkIn, mailTestEnv } from '../../../test/helpers/mail.ts';
import type { JobDoc, JobLeaseDoc } from '../../../src/core/jobs/jobs.models.ts';
import courses from '../../courses/index.ts';
import enrolment from '../index.ts';
import { readImportFile, type CommitPayload, type ImportFile, type ImportRow } from '../services/import.service.ts';
import { createEdition, uploadImport } from './import-pages.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

const fixture = (name: string) => fs.readFileSync(new URL(`./csv/${name}`, import.meta.url));
const read = (bytes: Uint8Array | string, maxRows = 1000) => readImportFile(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes, { maxRows });
function rowsOf(result: ReturnType<typeof read>): ImportRow[] {
  expect(result.problems, JSON.stringify(result.problems)).to.deep.equal([]);
  return (result as ImportFile).rows;
}

const COMMIT_QUEUE = 'enrolment.import-commit';
const commitJobId = (batchId: string) => `${COMMIT_QUEUE}:${batchId}`;

describe('bulk enrolment from CSV: pages and database', function () {
  this.timeout(120_000);
  let t: TestApp;
  let staff: Agent;
  let courseId: string;

  const newEdition = (fields: Record<string, unknown> = {}) => createEdition(staff, courseId, fields);

  /** Uploads, checks the redirect to the preview, and returns the preview's address and page. */
  async function previewOf(edition: string, name: string, bytes: Buffer | string) {
    const res = await uploadImport(staff, edition, name, bytes);
    expect(res.status, res.text.slice(0, 3000)).to.equal(303);
    const url = res.headers.location as string;
    expect(url).to.match(new RegExp(`^/enrolment/manage/editions/${edition}/import/[0-9a-f]{24}$`));
    return { url, page: (await staff.get(url).expect(200)).text };
  }

  const commit = (url: string, agent = staff) => postForm(agent, `${url}/commit`, {}, url);

  const db = () => t.app.olive.connection;
  const enrolmentsOf = (editionId: string) => db().collection('enrolment_enrolment').find({ editionId }).sort({ email: 1 }).toArray();
  const Jobs = () => db().collection<JobDoc>('host_jobs');
  let env: ReturnType<typeof mailTestEnv>;

  before(async () => {
    // Mail through the test run's mail server (the person who confirms an import is told), fast job polling.
    env = mailTestEnv();
    t = await createTestApp({ plugins: [courses, enrolment], seed: true, label: 'enrol_import', env });
    staff = await signIn(t.app, 'staff@olive.example');
    const course = await db().collection('courses_course').findOne({ slug: 'conflict-analysis' });
    courseId = String(course!._id);
  });
  after(() => t.stop());

  it('is for programme staff and admins only; unknown editions and imports are 404', async () => {
    const edition = await newEdition();
    const page = `/enrolment/manage/editions/${edition}/import`;
    await supertest(t.app)
      .get(page)
      .expect(303)
      .expect('location', `/login?returnTo=${encodeURIComponent(page)}`);
    for (const email of ['learner@olive.example', 'trainer@olive.example']) {
      const agent = await signIn(t.app, email);
      await agent.get(page).expect(403);
      await agent.get(`${page}/template.csv`).expect(403);
      const token = await tokenFor(agent, '/');
      await agent
        .post(`${page}?_csrf=${encodeURIComponent(token)}`)
        .attach('file', Buffer.from('email\na@example.org\n'), 'people.csv')
        .expect(403);
    }
    expect(await db().collection('enrolment_import_batch').countDocuments()).to.equal(0);
    const admin = await signIn(t.app, 'admin@olive.example');
    const form = await admin.get(page).expect(200);
    expect(form.text).to.contain('Enrol people from a file');
    await staff.get('/enrolment/manage/editions/000000000000000000000000/import').expect(404);
    await staff.get('/enrolment/manage/editions/not-an-id/import').expect(404);
    await staff.get(`${page}/000000000000000000000000`).expect(404);
    await staff.get(`${page}/nope`).expect(404);
    // A preview belongs to its edition: it is not reachable through another one.
    const { url } = await previewOf(edition, 'p.csv', 'email\nsomeone@example.org\n');
    const other = await newEdition({ title: 'Other edition' });
    await staff.get(url.replace(edition, other)).expect(404);
    await postForm(staff, `${url.replace(edition, other)}/commit`, {}, url).then((r) => expect(r.status).to.equal(404));
  });

  it('refuses an upload without the CSRF token, changing nothing', async () => {
    const edition = await newEdition();
    const res = await staff.post(`/enrolment/manage/editions/${edition}/import`).attach('file', Buffer.from('email\na@example.org\n'), 'people.csv');
    expect(res.status).to.equal(403);
    expect(await db().collection('enrolment_import_batch').countDocuments({ editionId: edition })).to.equal(0);
  });

  it('offers a template that reads back without a problem', async () => {
    const edition = await newEdition();
    const res = await staff.get(`/enrolment/manage/editions/${edition}/import/template.csv`).buffer(true).parse(asBytes).expect(200);
    expect(res.headers['content-type']).to.match(/^text\/csv/);
    expect(res.headers['content-disposition']).to.match(/^attachment; filename="?enrolment-template\.csv"?$/);
    const rows = rowsOf(read(res.body as Buffer));
    expect(rows).to.have.length(2);
    expect(rows.every((r) => r.errors.length === 0)).to.equal(true);
  });

  it('previews bad rows with their reasons, changes nothing, then commits only the good rows, once', async () => {
    const edition = await newEdition();
    const { url, page } = await previewOf(edition, 'participants.csv', fixture('bad-rows.csv'));
    for (const message of [
      '“not-an-address” is not a valid e-mail address.',
      'Unknown country “Narnia”',
      'Same e-mail address as line 2',
      'This row has 7 cells where the header has 6',
      'Unknown gender “robot”',
      'Unknown role “director”',
      'This line could not be read: a quote is misplaced.',
      'The e-mail address is missing.',
      '2 to enrol',
      '8 rows in error',
      'No account yet: matched at their first sign-in',
      'Confirm: import 2 people',
    ])
      expect(page, message).to.contain(message);
    // Nothing has changed yet.
    expect(await enrolmentsOf(edition)).to.have.length(0);
    expect(
      await db()
        .collection('enrolment_person')
        .countDocuments({ _id: 'good.one@example.org' as never }),
    ).to.equal(0);

    // The rows in error, downloadable with their reasons.
    const errorsCsv = await staff.get(`${url}/errors.csv`).expect(200);
    expect(errorsCsv.text).to.contain('Unknown country “Narnia”');
    expect(errorsCsv.text.split('\r\n').filter(Boolean)).to.have.length(1 + 8);

    const done = await commit(url);
    expect(done.status).to.equal(303);
    expect(done.headers.location).to.equal(url);
    const result = (await staff.get(url).expect(200)).text;
    expect(result).to.contain('Import done');
    expect(result).to.match(/<dt>Enrolled<\/dt><dd>2<\/dd>/);
    expect(result).to.match(/<dt>Not imported<\/dt><dd>8 · <a href="[^"]+\/errors\.csv"/);
    const enrolled = await enrolmentsOf(edition);
    expect(enrolled.map((e) => [e.email, e.status, e.source, e.userId])).to.deep.equal([
      ['good.one@example.org', 'enrolled', 'import', undefined],
      ['good.two@example.org', 'enrolled', 'import', undefined],
    ]);
    const person = await db()
      .collection('enrolment_person')
      .findOne({ _id: 'good.one@example.org' as never });
    expect([person!.givenName, person!.familyName, person!.country, person!.gender]).to.deep.equal(['Good', 'One', 'KE', 'woman']);

    // Committing again (a second click, the back button) does nothing twice.
    const again = await commit(url);
    expect(again.status).to.equal(303);
    const after = (await staff.get(url).expect(200)).text;
    expect(after).to.contain('This file had already been imported: nothing was done twice.');
    const twice = await enrolmentsOf(edition);
    expect(twice).to.have.length(2);
    expect(twice.map((e) => (e.history as unknown[]).length)).to.deep.equal([1, 1]);
  });

  it('counts the seats left down the file: the rest go on the waiting list', async () => {
    const edition = await newEdition({ capacity: '3' });
    await postForm(staff, `/enrolment/manage/editions/${edition}/people`, { email: 'first.in@example.org' }, `/enrolment/manage/editions/${edition}`);
    const file = 'email\nfirst.in@example.org\nseat.one@example.org\nseat.two@example.org\nwait.one@example.org\nwait.two@example.org\n';
    const { url, page } = await previewOf(edition, 'seats.csv', file);
    expect(page).to.contain('2 to enrol');
    expect(page).to.contain('2 to the waiting list');
    expect(page).to.contain('1 already there');
    await commit(url);
    const statuses = Object.fromEntries((await enrolmentsOf(edition)).map((e) => [e.email, e.status]));
    expect(statuses).to.deep.equal({
      'first.in@example.org': 'enrolled',
      'seat.one@example.org': 'enrolled',
      'seat.two@example.org': 'enrolled',
      'wait.one@example.org': 'waitlisted',
      'wait.two@example.org': 'waitlisted',
    });
    const result = (await staff.get(url).expect(200)).text;
    expect(result).to.match(/<dt>On the waiting list<\/dt><dd>2<\/dd>/);
    expect(result).to.match(/<dt>Already there<\/dt><dd>1<\/dd>/);
  });

  it('re-plans at commit time: someone enrolled between preview and commit is "already there"', async () => {
    const edition = await newEdition({ capacity: '1' });
    const { url, page } = await previewOf(edition, 'race.csv', 'email\nlate.comer@example.org\n');
    expect(page).to.contain('1 to enrol');
    await postForm(staff, `/enrolment/manage/editions/${edition}/people`, { email: 'late.comer@example.org' }, `/enrolment/manage/editions/${edition}`);
    await commit(url);
    expect((await staff.get(url).expect(200)).text).to.match(/<dt>Already there<\/dt><dd>1<\/dd>/);
    expect(await enrolmentsOf(edition)).to.have.length(1);
  });

  it('reads a Windows-1252 file, says so, and stores the names with their accents', async () => {
    const edition = await newEdition();
    const { url, page } = await previewOf(edition, 'liste-excel.csv', fixture('windows-1252.csv'));
    expect(page).to.contain('it was read as Windows-1252');
    expect(page).to.contain('José Núñez');
    expect(page).to.contain('Chloé Müller');
    await commit(url);
    const person = await db()
      .collection('enrolment_person')
      .findOne({ _id: 'jose.nunez@example.org' as never });
    expect([person!.givenName, person!.familyName, person!.country, person!.jobTitle]).to.deep.equal(['José', 'Núñez', 'CL', 'Conseiller']);
    expect(await enrolmentsOf(edition)).to.have.length(3);
  });

  it('updates only the profile fields given: empty cells never wipe what is known', async () => {
    const edition = await newEdition();
    await db()
      .collection('enrolment_person')
      .insertOne({
        _id: 'known.person@example.org' as never,
        givenName: 'Known',
        familyName: 'Person',
        organisation: 'Old Org',
        organisationType: 'government',
        country: 'KE',
        gender: 'woman',
        jobTitle: 'Adviser',
        createdAt: new Date(),
        updatedAt: new Date(),
      });
    const { url, page } = await previewOf(edition, 'update.csv', 'email,given name,organisation,country,gender\nknown.person@example.org,Known,New Org,,\n');
    expect(page).to.contain('Updates: Organisation');
    await commit(url);
    const person = await db()
      .collection('enrolment_person')
      .findOne({ _id: 'known.person@example.org' as never });
    expect([person!.organisation, person!.country, person!.gender, person!.jobTitle, person!.organisationType]).to.deep.equal([
      'New Org',
      'KE',
      'woman',
      'Adviser',
      'government',
    ]);
  });

  it('adds trainers to the edition when their account has the trainer role, and explains the rows it cannot', async () => {
    const edition = await newEdition();
    const { url, page } = await previewOf(
      edition,
      'trainers.csv',
      'email,role\ntrainer@olive.example,trainer\nlearner@olive.example,Formateur\nno.account@example.org,trainer\n',
    );
    expect(page).to.contain('Add as a trainer of the edition');
    expect(page).to.contain('This account does not have the trainer role');
    expect(page).to.contain('A trainer needs an account first');
    await commit(url);
    const trainer = await t.app.olive.users.findByEmail('trainer@olive.example');
    const doc = await db()
      .collection('enrolment_edition')
      .findOne({ _id: new mongoose.Types.ObjectId(edition) });
    expect(doc!.trainerIds).to.deep.equal([trainer!.id]);
    expect(await enrolmentsOf(edition)).to.have.length(0);
  });

  it('refuses what is not a CSV, too large a file, or no file, with a clear message and nothing stored', async () => {
    const edition = await newEdition();
    const xlsx = await uploadImport(staff, edition, 'participants.xlsx', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00]));
    expect(xlsx.status).to.equal(415);
    expect(xlsx.text).to.contain('This is a spreadsheet workbook (Excel .xlsx or OpenDocument .ods), not a CSV file.');
    const noEmail = await uploadImport(staff, edition, 'names.csv', 'name,country\nAmina,Senegal\n');
    expect(noEmail.status).to.equal(400);
    expect(noEmail.text).to.contain('No e-mail column was found');
    const token = await tokenFor(staff, `/enrolment/manage/editions/${edition}/import`);
    const none = await staff.post(`/enrolment/manage/editions/${edition}/import?_csrf=${encodeURIComponent(token)}`).field('note', 'no file');
    expect(none.status).to.equal(400);
    expect(none.text).to.contain('Choose a CSV file to upload.');
    expect(await db().collection('enrolment_import_batch').countDocuments({ editionId: edition })).to.equal(0);

    // A cancelled edition takes nobody: no form, uploads refused, a preview made before cannot be committed.
    const { url } = await previewOf(edition, 'before-cancel.csv', 'email\nbefore.cancel@example.org\n');
    await db()
      .collection('enrolment_edition')
      .updateOne({ _id: new mongoose.Types.ObjectId(edition) }, { $set: { status: 'cancelled' } });
    const closedForm = (await staff.get(`/enrolment/manage/editions/${edition}/import`).expect(200)).text;
    expect(closedForm).to.contain('This edition is cancelled or archived: nobody can be added.');
    expect(closedForm).not.to.contain('type="file"');
    expect((await uploadImport(staff, edition, 'late.csv', 'email\nlate@example.org\n')).status).to.equal(409);
    expect((await commit(url)).status).to.equal(409);
    expect(await enrolmentsOf(edition)).to.have.length(0);

    // An instance on the same database whose upload limit is 1 KB (a seeded programme of its own
    // would take seconds more).
    const small = await createTestApp({ plugins: [courses, enrolment], dbName: t.dbName, env, pluginConfig: { enrolment: { maxImportMb: 0.001 } } });
    try {
      const smallStaff = await signIn(small.app, 'staff@olive.example');
      const smallEdition = await newEdition({ title: 'Small' });
      const big = await uploadImport(smallStaff, smallEdition, 'big.csv', `email\n${'someone@example.org\n'.repeat(100)}`);
      expect(big.status).to.equal(413);
      expect(big.text).to.contain('The file is larger than the 1 KB limit');
    } finally {
      // Not small.stop(): that would drop the database the other tests use.
      await small.app.olive.stop();
    }
  });

  it('two commits of one preview at the same time import each person once', async () => {
    const edition = await newEdition({ capacity: '5' });
    const people = Array.from({ length: 8 }, (_, i) => `racer${i}@example.org`);
    const { url } = await previewOf(edition, 'double.csv', `email\n${people.join('\n')}\n`);
    const token = await tokenFor(staff, url);
    const [a, b] = await Promise.all([1, 2].map(() => staff.post(`${url}/commit`).type('form').send({ _csrf: token })));
    expect([a!.status, b!.status]).to.deep.equal([303, 303]);
    const list = await enrolmentsOf(edition);
    expect(list).to.have.length(8);
    expect(list.filter((e) => e.status === 'enrolled')).to.have.length(5);
    expect(list.every((e) => (e.history as unknown[]).length === 1)).to.equal(true);
    // One commit ran, once.
    const commits = await Jobs()
      .find({ queue: COMMIT_QUEUE, key: { $regex: `^${url.split('/').pop()}` } })
      .toArray();
    expect(commits.map((j) => [j.state, j.attempts])).to.deep.equal([['done', 1]]);
    // Once it has finished, the page shows the result and committing again changes nothing.
    expect((await staff.get(url).expect(200)).text).to.match(/<dt>Enrolled<\/dt><dd>5<\/dd>/);
  });

  /**
   * The commit job of a batch as the host's job service would hold it after an instance took it
   * and was lost (`leaseMs`: how long its lease still runs), or after its retries were used up
   * (`failed`). It started a minute ago (what counts as its own work).
   */
  async function commitLeftBehind(batchId: string, how: { leaseMs: number } | { failed: string }): Promise<Date> {
    const startedAt = new Date(Date.now() - 60_000);
    const staffUser = (await t.app.olive.users.findByEmail('staff@olive.example'))!;
    const payload: CommitPayload = { batchId, by: { id: staffUser.id, name: staffUser.name } };
    const id = commitJobId(batchId);
    const failed = 'failed' in how;
    await Jobs().insertOne({
      _id: id,
      queue: COMMIT_QUEUE,
      key: batchId,
      payload,
      state: failed ? 'failed' : 'running',
      attempts: failed ? 8 : 0,
      runAt: startedAt,
      createdAt: startedAt,
      startedAt,
      updatedAt: new Date(),
      ...(failed ? { lastError: how.failed, finishedAt: new Date() } : {}),
    });
    const expiresAt = new Date(Date.now() + ('leaseMs' in how ? how.leaseMs : 0));
    if (!failed)
      await db()
        .collection<JobLeaseDoc>('host_job_leases')
        .insertOne({ _id: `${id}#1`, jobId: id, queue: COMMIT_QUEUE, generation: 1, holder: 'lost-instance', expiresAt });
    await db()
      .collection('enrolment_import_batch')
      .updateOne({ _id: new mongoose.Types.ObjectId(batchId) }, { $set: { status: 'committing', commitStartedAt: startedAt } });
    return expiresAt;
  }

  it('a commit whose instance was lost half-way is left alone while its lease runs, then finished by another instance: nobody placed twice', async () => {
    const edition = await newEdition({ capacity: '2' });
    const file = 'email\nhalf.one@example.org\nhalf.two@example.org\nhalf.three@example.org\n';
    const { url } = await previewOf(edition, 'outage.csv', file);
    const batchId = url.split('/').pop()!;
    // The lost attempt placed the first person (an import, as the commit does) before it was cut off.
    const { url: first } = await previewOf(edition, 'first-row.csv', 'email\nhalf.one@example.org\n');
    expect((await commit(first)).status).to.equal(303);
    const expiresAt = await commitLeftBehind(batchId, { leaseMs: 5000 });

    // While the first attempt may still be alive (its lease runs), nobody else runs it.
    const busy = await commit(url);
    expect(busy.status).to.equal(303);
    expect(busy.headers.location).to.equal(url);
    const running = await staff.get(url).expect(200);
    expect(running.text).to.contain('This file is being imported: 0 of 3 rows done.');
    expect(running.headers.refresh).to.equal('3');
    expect(running.text).not.to.contain('Confirm: import');
    const json = await staff
      .post(`${url}/commit`)
      .set('Accept', 'application/json')
      .set('x-csrf-token', await tokenFor(staff, url))
      .send({});
    expect(json.status).to.equal(409);
    expect(json.body.error.code).to.equal('IMPORT_RUNNING');
    expect(await enrolmentsOf(edition)).to.have.length(1);

    // Its lease expires: this app's job runner takes the commit over and finishes it, unasked.
    let result = '';
    for (let i = 0; i < 120 && !result.includes('Import done'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      result = (await staff.get(url).expect(200)).text;
    }
    expect(result).to.match(/<dt>Enrolled<\/dt><dd>2<\/dd>/);
    expect(result).to.match(/<dt>On the waiting list<\/dt><dd>1<\/dd>/);
    expect(result).to.match(/<dt>Already there<\/dt><dd>0<\/dd>/);
    const list = await enrolmentsOf(edition);
    expect(list.map((e) => [e.email, e.status, (e.history as unknown[]).length])).to.deep.equal([
      ['half.one@example.org', 'enrolled', 1],
      ['half.three@example.org', 'waitlisted', 1],
      ['half.two@example.org', 'enrolled', 1],
    ]);
    expect((list[2]!.createdAt as Date).getTime(), 'the rest only after the lost lease expired').to.be.at.least(expiresAt.getTime());
    expect((await Jobs().findOne({ _id: commitJobId(batchId) }))!.state).to.equal('done');
  });

  it('a commit that stopped for good (its retries used up) is offered again: confirming again finishes it, nobody placed twice', async () => {
    const edition = await newEdition({ capacity: '2' });
    const { url } = await previewOf(edition, 'stopped.csv', 'email\nstop.one@example.org\nstop.two@example.org\nstop.three@example.org\n');
    const batchId = url.split('/').pop()!;
    const { url: first } = await previewOf(edition, 'first-row.csv', 'email\nstop.one@example.org\n');
    expect((await commit(first)).status).to.equal(303);
    await commitLeftBehind(batchId, { failed: 'the relay of an earlier attempt refused' });

    const offered = await staff.get(url).expect(200);
    expect(offered.text).to.contain('Confirming again finishes it: nobody is added twice.');
    expect(offered.text).to.contain('Confirm: import');
    expect(offered.headers.refresh).to.equal(undefined);
    const finish = await commit(url);
    expect(finish.status).to.equal(303);
    const result = (await staff.get(url).expect(200)).text;
    expect(result).to.match(/<dt>Enrolled<\/dt><dd>2<\/dd>/);
    expect(result).to.match(/<dt>On the waiting list<\/dt><dd>1<\/dd>/);
    expect(result).to.match(/<dt>Already there<\/dt><dd>0<\/dd>/);
    const list = await enrolmentsOf(edition);
    expect(list.map((e) => [e.email, e.status, (e.history as unknown[]).length])).to.deep.equal([
      ['stop.one@example.org', 'enrolled', 1],
      ['stop.three@example.org', 'waitlisted', 1],
      ['stop.two@example.org', 'enrolled', 1],
    ]);
    const commits = await Jobs()
      .find({ queue: COMMIT_QUEUE, key: { $regex: `^${batchId}` } })
      .sort({ createdAt: 1 })
      .toArray();
    expect(commits.map((j) => [j.key, j.state])).to.deep.equal([
      [batchId, 'failed'],
      [`${batchId}.2`, 'done'],
    ]);
  });

  it('a long import goes on after the answer: its page shows the progress and reloads itself until the result', async () => {
    // An instance whose confirmations do not wait for the import at all.
    const quick = await createTestApp({ plugins: [courses, enrolment], dbName: t.dbName, env, pluginConfig: { enrolment: { importCommitWaitMs: 0 } } });
    try {
      const edition = await newEdition();
      const people = Array.from({ length: 30 }, (_, i) => `long${i}@example.org`);
      const { url } = await previewOf(edition, 'long.csv', `email\n${people.join('\n')}\n`);
      const quickStaff = await signIn(quick.app, 'staff@olive.example');
      const answer = await quickStaff
        .post(`${url}/commit`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', await tokenFor(quickStaff, url))
        .send({});
      expect(answer.status).to.equal(202);
      expect(answer.body.status).to.equal('committing');
      const running = await staff.get(url).expect(200);
      expect(running.headers.refresh).to.equal('3');
      expect(running.text).to.match(/This file is being imported: \d+ of 30 rows done\./);
      let page = running.text;
      for (let i = 0; i < 120 && !page.includes('Import done'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        page = (await staff.get(url).expect(200)).text;
      }
      expect(page).to.match(/<dt>Enrolled<\/dt><dd>30<\/dd>/);
      expect(await enrolmentsOf(edition)).to.have.length(30);
    } finally {
      await quick.app.olive.stop();
    }
  });

  it('tells the person who confirmed an import by e-mail once it is done: what it did and a link to the result', async () => {
    const edition = await newEdition({ title: 'Mediation Fellowship 2027' });
    const { url } = await previewOf(edition, 'told.csv', 'email\ntold.one@example.org\ntold.two@example.org\nnot-an-address\n');
    await commit(url);
    const mails = inbox(env.MAIL_FROM);
    const subject = (m: { Subject: string }) => m.Subject === 'Import done: Mediation Fellowship 2027';
    const [message] = await mails.waitFor(subject);
    expect(message!.To.map((to) => to.Address)).to.deep.equal(['staff@olive.example']);
    const text = (await mails.read(message!.ID)).Text;
    expect(text).to.contain('told.csv, which you confirmed for Mediation Fellowship 2027, has been imported.');
    expect(text).to.contain('Imported: 2 enrolled, 0 on the waiting list, 0 already there, 1 not imported.');
    expect(linkIn(text, t.app.olive.config.BASE_URL)).to.equal(`${t.app.olive.config.BASE_URL}${url}`);
    // Confirming again (the back button) sends nothing more.
    expect((await commit(url)).status).to.equal(303);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await mails.messages()).filter(subject)).to.have.length(1);
  });

  it('pre-enrols people without an account: at their first sign-in they find the edition and its course', async () => {
    const edition = await newEdition({ title: 'Fellowship 2027' });
    const { url, page } = await previewOf(edition, 'new.csv', 'email,given name,family name\nNew.Person@Example.org,New,Person\n');
    expect(page).to.contain('No account yet: matched at their first sign-in');
    await commit(url);
    const [pre] = await enrolmentsOf(edition);
    expect([pre!.email, pre!.status, pre!.userId]).to.deep.equal(['new.person@example.org', 'enrolled', undefined]);

    // An admin creates the account later (the admin users page), and the person signs in.
    const admin = await signIn(t.app, 'admin@olive.example');
    const created = await postForm(
      admin,
      '/admin/users',
      { email: 'new.person@example.org', name: 'New Person', password: 'a-long-password-1', roles: 'learner' },
      '/admin/users',
    );
    expect(created.status).to.equal(303);
    const person = await signIn(t.app, 'new.person@example.org', 'a-long-password-1');
    const my = await person.get('/enrolment/my').expect(200);
    expect(my.text).to.contain('Fellowship 2027');
    expect(my.text).to.contain('/courses/conflict-analysis');
    const outline = (await person.get('/courses/conflict-analysis').expect(200)).text;
    const moduleId = /\/courses\/conflict-analysis\/modules\/([a-f0-9]{24})/.exec(outline)![1]!;
    await person.get(`/courses/conflict-analysis/modules/${moduleId}`).expect(200);
    const user = await t.app.olive.users.findByEmail('new.person@example.org');
    const [linked] = await enrolmentsOf(edition);
    expect(linked!.userId).to.equal(user!.id);
  });

  it('removes previews older than a day when the next file comes', async () => {
    const edition = await newEdition();
    const { url } = await previewOf(edition, 'old.csv', 'email\nold.preview@example.org\n');
    const batchId = url.split('/').pop()!;
    await db()
      .collection('enrolment_import_batch')
      .updateOne({ _id: new mongoose.Types.ObjectId(batchId) }, { $set: { createdAt: new Date(Date.now() - 25 * 3600_000) } });
    const expired = await staff.get(url).expect(404);
    expect(expired.text).to.contain('This preview has expired');
    await previewOf(edition, 'new.csv', 'email\nnew.preview@example.org\n');
    expect(
      await db()
        .collection('enrolment_import_batch')
        .countDocuments({ _id: new mongoose.Types.ObjectId(batchId) }),
    ).to.equal(0);
  });

  it('shows the pages in French', async () => {
    const edition = await newEdition();
    const marie = await signIn(t.app, 'admin@olive.example');
    await postForm(marie, '/language', { lang: 'fr', returnTo: '/' }, '/');
    const form = (await marie.get(`/enrolment/manage/editions/${edition}/import`).expect(200)).text;
    expect(form).to.contain('Inscrire des personnes à partir d&#39;un fichier');
    const res = await uploadImport(marie, edition, 'liste.csv', fixture('bad-rows.csv'));
    const preview = (await marie.get(res.headers.location as string).expect(200)).text;
    expect(preview).to.contain('Pays inconnu « Narnia »');
    expect(preview).to.contain('8 lignes en erreur');
  });
});
