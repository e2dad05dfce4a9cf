/**
 * Bulk issuance jobs against the real database: outcomes, idempotence, the progress page, the ZIP
 * and the CSV, the owner's e-mail, two app instances on one database, resumption after a restart
 * and after a crashed holder, and who may issue.
 *
 * The apps run the certificates plugin as it ships (its jobs on the host's job service, its demo
 * templates, mail through the test run's real mail server), with a pause after each person set
 * through its config so that a test can watch a job run. The tests reach the other plugins'
 * services (course items, progress recording) through the running app. Which person each instance issued
 * is read from its log (the job's debug line before each issuance).
 *
 * Over 400 lines: the instances, the log of who issued whom and the job helpers serve every test.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import mongoose from 'mongoose';
import { pino } from 'pino';
import supertest from 'supertest';
import { createTestApp, DEMO_PASSWORD, listen, signIn, tokenFor, type TestApp } from '../../../test/helpers/app.ts';
import { launchBrowser } from '../../../test/helpers/browser.ts';
import { inbox, linkIn, mailTestEnv } from '../../../test/helpers/mail.ts';
import courses from '../../courses/index.ts';
import { CourseCatalog, CourseProgress } from '../../courses/contract.ts';
import { EnrolmentDirectory } from '../../enrolment/contract.ts';
import enrolment from '../../enrolment/index.ts';
import certificates from '../index.ts';
import type { JobLeaseDoc } from '../../../src/core/jobs/jobs.models.ts';
import type { AuditDoc, CertificateDoc } from '../models/certificate.model.ts';
import type { JobEndDoc, JobItemDoc } from '../models/job.model.ts';
import type { JobProgress } from '../services/jobs.service.ts';

type Agent = Awaited<ReturnType<typeof signIn>>;

const plugins = [courses, enrolment, certificates];

/** Every issuance a job made, on any app: how the tests see "processed once" and by whom. */
const issueCalls: { enrolmentId: string; jobId: string; holder: string }[] = [];
/** One mail sender and fast job polling for every app of this file (they share one database); set before the first app. */
let env: ReturnType<typeof mailTestEnv>;
let mail: ReturnType<typeof inbox>;

/**
 * An app instance named `holder` in `issueCalls`; `pauseMs` after each person of a job (the main
 * app pauses 150 ms).
 */
async function instance(holder: string, options: { dbName?: string; pauseMs?: number; trainersMayIssue?: boolean; seed?: boolean } = {}): Promise<TestApp> {
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) {
          if (!line.includes('"certificate job: issuing"')) continue;
          const entry = JSON.parse(line) as { job: string; enrolment: string };
          issueCalls.push({ enrolmentId: entry.enrolment, jobId: entry.job, holder });
        }
        done();
      },
    }),
  );
  return createTestApp({
    plugins,
    logger,
    env,
    label: 'cert-jobs',
    seed: options.seed,
    ...(options.dbName ? { dbName: options.dbName } : {}),
    pluginConfig: { certificates: { jobPauseMs: options.pauseMs ?? 150, ...(options.trainersMayIssue ? { trainersMayIssue: true } : {}) } },
  });
}

/** The services the certificates plugin works with, as the running app provides them. */
const probeOf = (t: TestApp) => ({
  progress: () => t.app.olive.service(CourseProgress),
  catalog: () => t.app.olive.service(CourseCatalog),
  enrolments: () => t.app.olive.service(EnrolmentDirectory),
});
const hostJob = (jobId: string) => `certificates.issue:${jobId}`;

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const binary = (res: supertest.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  const stream = res as unknown as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => cb(null, Buffer.concat(chunks)));
};

describe('certificates: bulk issuance jobs', function () {
  this.timeout(180_000);
  let t: TestApp;
  let staff: Agent;
  let courseId: string;
  let trainerId: string;
  const extraApps: TestApp[] = [];
  const staffAgents = new WeakMap<TestApp, Agent>();

  before(async () => {
    env = mailTestEnv();
    mail = inbox(env.MAIL_FROM);
    t = await instance('main', { seed: true });
    staff = await signIn(t.app, 'staff@olive.example');
    staffAgents.set(t, staff);
    courseId = (await probeOf(t).catalog().findBySlug('interest-based-negotiation'))!.id;
    trainerId = (await t.app.olive.users.findByEmail('trainer@olive.example'))!.id;
  });
  // Another test's second instance left running would take the next test's jobs (its runner
  // polls the same database): each test's extra instances stop when it ends.
  afterEach(async () => {
    for (const x of extraApps.splice(0)) await x.app.olive.stop().catch(() => undefined);
  });
  after(async () => {
    await t.stop();
  });

  const db = () => t.app.olive.connection;
  const Certificate = () => db().collection<CertificateDoc>('certificates_certificate');
  const Audit = () => db().collection<AuditDoc>('certificates_audit');
  const JobItem = () => db().collection<JobItemDoc>('certificates_job_item');
  const Lease = () => db().collection<JobLeaseDoc>('host_job_leases');

  /** Staff signed in on that app instance (sessions are shared: any instance knows them). */
  async function staffOn(app: TestApp): Promise<Agent> {
    let agent = staffAgents.get(app);
    if (!agent) staffAgents.set(app, (agent = await signIn(app.app, 'staff@olive.example')));
    return agent;
  }

  /** The job's progress as its page gives it (JSON), through that app instance. */
  async function progressOn(app: TestApp, jobId: string): Promise<JobProgress> {
    const res = await (await staffOn(app)).get(`/certificates/jobs/${jobId}`).set('Accept', 'application/json').expect(200);
    return res.body as JobProgress;
  }

  /** An edition of the short course (3 modules, 5 items), created by staff through the form. */
  async function newEdition(title: string): Promise<string> {
    const res = await staff
      .post('/enrolment/manage/editions')
      .type('form')
      .send({
        _csrf: await tokenFor(staff, '/enrolment/manage/editions/new'),
        courseId,
        title,
        language: 'en',
        method: 'closed',
        status: 'published',
        online: 'on',
        startsAt: '2026-01-10',
        endsAt: '2099-12-31',
        // Issued before the end date: these tests are about issuance (dates.test.ts shows the wait for the end).
        certificatesBeforeEnd: 'on',
        trainerIds: trainerId,
      });
    expect(res.status, res.text.slice(0, 2000)).to.equal(303);
    return /editions\/([0-9a-f]{24})/.exec(res.headers.location as string)![1]!;
  }

  let people = 0;
  /**
   * People with accounts and confirmed printed names, added to the edition by staff (the real page, as JSON) and, unless
   * `completed` is false, with every item of the course done (the progress service's own recording).
   */
  async function participants(
    editionId: string,
    names: string[],
    completed = true,
  ): Promise<{ email: string; userId: string; enrolmentId: string; name: string }[]> {
    const token = await tokenFor(staff, `/enrolment/manage/editions/${editionId}`);
    const items = await probeOf(t).catalog().items(courseId);
    const out = [];
    for (const name of names) {
      const email = `participant${++people}@example.org`;
      const res = await staff
        .post(`/enrolment/manage/editions/${editionId}/people`)
        .set('Accept', 'application/json')
        .set('x-csrf-token', token)
        .send({ email });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.status).to.equal('enrolled');
      // The account appears after the invitation (the enrolment plugin links them on its creation).
      const user = await t.app.olive.users.create({ email, name }, 'test');
      // They confirmed their account name as the name to print (a job lists people who did not as waiting: printed-name.test.ts).
      await t.app.olive.connection
        .db!.collection<{ _id: string; name: string; nameAlt: string; confirmedAt: Date }>('certificates_printed_name')
        .insertOne({ _id: user.id, name, nameAlt: '', confirmedAt: new Date() });
      expect(
        (
          await probeOf(t)
            .enrolments()
            .enrolment(res.body.enrolmentId as string)
        )?.userId,
        'enrolment linked to the account',
      ).to.equal(user.id);
      if (completed) {
        for (const item of items) await probeOf(t).progress().recordItemDone({ learnerId: user.id, courseId, editionId, itemId: item.id });
        expect((await probeOf(t).progress().progressOf(user.id, courseId, editionId)).completedAt, 'completed').to.be.instanceOf(Date);
      }
      out.push({ email, userId: user.id, enrolmentId: res.body.enrolmentId as string, name });
    }
    return out;
  }

  const names = (n: number, prefix = 'Participant') => Array.from({ length: n }, (_, i) => `${prefix} Number${i + 1}`);

  async function startJob(editionId: string, body: Record<string, unknown>, agent = staff) {
    return agent
      .post(`/certificates/editions/${editionId}/jobs`)
      .set('Accept', 'application/json')
      .set('x-csrf-token', await tokenFor(agent, '/'))
      .send(body);
  }

  /** Starts a job through that instance's page (as staff) and returns its id. */
  async function jobOn(app: TestApp, editionId: string, body: Record<string, unknown>): Promise<string> {
    const res = await startJob(editionId, body, await staffOn(app));
    expect(res.status, res.text).to.equal(202);
    return res.body.jobId as string;
  }

  const finished = (app: TestApp, jobId: string, timeoutMs?: number) =>
    until(
      `job ${jobId} to finish`,
      async () => {
        const p = await progressOn(app, jobId);
        return p.finished ? p : null;
      },
      timeoutMs,
    );

  describe('one edition', () => {
    let editionId: string;
    let done: Awaited<ReturnType<typeof participants>>;
    let jobId: string;

    before(async () => {
      editionId = await newEdition('Negotiation, bulk issuance');
      done = await participants(editionId, names(5));
      await participants(editionId, ['Not Yet Finished'], false);
    });

    it('issues one certificate to each person who completed; the page refreshes while it runs and links the ZIP and CSV when finished', async () => {
      const res = await staff
        .post(`/certificates/editions/${editionId}/jobs`)
        .type('form')
        .send({ _csrf: await tokenFor(staff, '/'), scope: 'all-completed' });
      expect(res.status).to.equal(303);
      const match = /^\/certificates\/jobs\/([0-9a-f]{24})$/.exec(res.headers.location as string);
      expect(match, res.headers.location).to.not.equal(null);
      jobId = match![1]!;

      const running = await staff.get(`/certificates/jobs/${jobId}`).expect(200);
      expect(running.headers.refresh).to.equal('2');
      expect(running.text, 'the reloading can be turned off').to.contain('?follow=0">Stop refreshing</a>');
      expect((await staff.get(`/certificates/jobs/${jobId}?follow=0`)).headers.refresh).to.equal(undefined);
      expect(running.text).to.match(/<progress max="5" value="[0-4]"/);
      expect(running.text).to.not.contain('certificates.zip');
      await staff.get(`/certificates/jobs/${jobId}/certificates.zip`).expect(409);

      const p = await finished(t, jobId);
      expect(p.total).to.equal(5);
      expect([p.issued, p.already, p.errors]).to.deep.equal([5, 0, 0]);
      expect(p.items.map((i) => i.enrolmentId)).to.deep.equal(done.map((d) => d.enrolmentId));
      const certs = await Certificate().find({ editionId }).toArray();
      expect(certs).to.have.length(5);
      expect(certs.every((c) => c.via === 'bulk' && c.jobId === jobId)).to.equal(true);
      expect(new Set(certs.map((c) => c.enrolmentId))).to.deep.equal(new Set(done.map((d) => d.enrolmentId)));
      expect(p.items.map((i) => i.code).sort()).to.deep.equal(certs.map((c) => c._id).sort());

      const after = await staff.get(`/certificates/jobs/${jobId}`).expect(200);
      expect(after.text).to.not.contain('Stop refreshing');
      expect(after.headers.refresh).to.equal(undefined);
      expect(after.text).to.contain('<progress max="5" value="5"');
      expect(after.text).to.contain(`/certificates/jobs/${jobId}/certificates.zip`);
      expect(after.text).to.contain(`/certificates/jobs/${jobId}/codes.csv`);
      expect(after.text).to.match(/data-count="issued">5</);
      for (const c of certs) expect(after.text).to.contain(`href="/verify/${c._id}"`);
      expect(after.text).to.contain(done[0]!.email);
      expect(after.text).to.not.contain('Not Yet Finished');

      const ends = await Audit()
        .find({ action: 'job-finished', details: new RegExp(jobId) })
        .toArray();
      expect(ends).to.have.length(1);
      expect(ends[0]!.details).to.contain('5 issued');
      await until('no lease left', async () => (await Lease().countDocuments({ jobId: hostJob(jobId) })) === 0, 5000);
    });

    it('tells the person who started the job by e-mail once it has finished: what was done and a link to the job', async () => {
      const staffEmail = 'staff@olive.example';
      const [message] = await mail.waitFor((m) => m.To.some((to) => to.Address === staffEmail) && m.Subject.includes('Negotiation, bulk issuance'));
      expect(message!.Subject).to.equal('Certificates issued: Negotiation, bulk issuance');
      const text = (await mail.read(message!.ID)).Text;
      expect(text).to.contain('5 issued, 0 already held, 0 not issued.');
      expect(linkIn(text, t.app.olive.config.BASE_URL)).to.equal(`${t.app.olive.config.BASE_URL}/certificates/jobs/${jobId}`);
      expect(
        await db()
          .collection('host_mail')
          .countDocuments({ _id: `certificates.job-finished:${jobId}` as never }),
        'one message per job',
      ).to.equal(1);
    });

    it('a second job for the same people says "already" and issues nothing new; "all who completed" with nobody left is refused', async () => {
      const before = await Certificate().find({ editionId }).toArray();
      const res = await startJob(editionId, { scope: 'chosen', enrolmentIds: done.map((d) => d.enrolmentId) });
      expect(res.status).to.equal(202);
      expect(res.body.total).to.equal(5);
      const p = await finished(t, res.body.jobId as string);
      expect([p.issued, p.already, p.errors]).to.deep.equal([0, 5, 0]);
      expect(p.items.map((i) => i.code).sort()).to.deep.equal(before.map((c) => c._id).sort());
      expect(await Certificate().countDocuments({ editionId })).to.equal(5);

      const again = await startJob(editionId, { scope: 'all-completed' });
      expect(again.status).to.equal(400);
      expect(again.body.error.code).to.equal('NOTHING_TO_ISSUE');
      // A person at the page gets the message there.
      const form = await staff
        .post(`/certificates/editions/${editionId}/jobs`)
        .type('form')
        .send({ _csrf: await tokenFor(staff, '/'), scope: 'all-completed' });
      expect(form.status).to.equal(303);
      expect(form.headers.location).to.equal(`/certificates/editions/${editionId}`);
    });

    it('a chosen person who has not completed gets "not issued" with the reason; people of another edition are refused', async () => {
      const notYet = (await db().collection('certificates_claim').find({ editionId }).toArray()).map((c) => c._id);
      const all = await staff.get(`/certificates/jobs/${jobId}`).set('Accept', 'application/json').expect(200);
      expect(all.body.total).to.equal(5);
      const other = await newEdition('Another edition');
      const [stranger] = await participants(other, ['Someone Else']);
      const refused = await startJob(editionId, { scope: 'chosen', enrolmentIds: [stranger!.enrolmentId] });
      expect(refused.status).to.equal(400);
      const empty = await startJob(editionId, { scope: 'chosen' });
      expect(empty.status).to.equal(400);

      const [late] = await participants(editionId, ['Late Starter'], false);
      const res = await startJob(editionId, { scope: 'chosen', enrolmentIds: [late!.enrolmentId, done[0]!.enrolmentId] });
      expect(res.status).to.equal(202);
      const p = await finished(t, res.body.jobId as string);
      expect(p.items[0]!.outcome).to.equal('error');
      expect(p.items[0]!.message).to.match(/not completed/);
      expect(p.items[1]!.outcome).to.equal('already');
      expect(await db().collection('certificates_claim').countDocuments({ editionId })).to.equal(notYet.length);
    });
  });

  it('the ZIP holds exactly the job’s PDFs, byte for byte, named <family-name>-<code>.pdf in ASCII', async () => {
    const editionId = await newEdition('Negotiation, names in every script');
    const people = await participants(editionId, ['Leila Haddad', 'José Núñez', 'Елена Петрова', 'محمد الراشد', '李明华', 'Ana Ruiz/Torres', 'Zoë ../../etc']);
    const res = await startJob(editionId, { scope: 'all-completed' });
    const jobId = res.body.jobId as string;
    await finished(t, jobId);
    const certs = await Certificate().find({ editionId }).toArray();
    expect(certs).to.have.length(people.length);
    const codeOf = (name: string) => certs.find((c) => c.snapshot.name === name)!._id;

    const t0 = performance.now();
    const zip = await staff.get(`/certificates/jobs/${jobId}/certificates.zip`).buffer(true).parse(binary).expect(200);
    const ms = performance.now() - t0;
    expect(zip.headers['content-type']).to.equal('application/zip');
    expect(zip.headers['content-disposition']).to.equal(`attachment; filename="certificates-${jobId}.zip"`);
    const body = zip.body as Buffer;
    expect(Number(zip.headers['content-length'])).to.equal(body.length);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'olive-zip-'));
    try {
      const file = path.join(dir, 'c.zip');
      fs.writeFileSync(file, body);
      const entries = execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' }).trim().split('\n').sort();
      expect(entries).to.deep.equal(
        [
          `Haddad-${codeOf('Leila Haddad')}.pdf`,
          `Nunez-${codeOf('José Núñez')}.pdf`,
          `Petrova-${codeOf('Елена Петрова')}.pdf`,
          `certificate-${codeOf('محمد الراشد')}.pdf`,
          `certificate-${codeOf('李明华')}.pdf`,
          `Ruiz-Torres-${codeOf('Ana Ruiz/Torres')}.pdf`,
          `etc-${codeOf('Zoë ../../etc')}.pdf`,
        ].sort(),
      );
      for (const entry of entries) {
        expect(entry).to.match(/^[A-Za-z0-9-]+\.pdf$/);
        const pdf = execFileSync('unzip', ['-p', file, entry]);
        const code = /-([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z])\.pdf$/.exec(entry)![1]!;
        const cert = certs.find((c) => c._id === code)!;
        expect(crypto.createHash('sha256').update(pdf).digest('hex'), entry).to.equal(cert.sha256);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const downloads = await Audit().find({ action: 'downloaded', editionId }).toArray();
    expect(downloads).to.have.length(1);
    expect(downloads[0]!.details).to.contain(jobId);
    console.log(`      ZIP of ${certs.length} PDFs (${body.length} bytes) streamed in ${ms.toFixed(0)} ms`);
  });

  it('the CSV lists name, e-mail, code, verification address and outcome, with a BOM, and defuses formulas', async () => {
    const editionId = await newEdition('Negotiation, CSV');
    const people = await participants(editionId, ['=HYPERLINK("http://evil.example","x")', '+SUM(1+1) Plus', '@cmd At', '-2+3 Minus', 'Amina Haddad']);
    const [unfinished] = await participants(editionId, ['Still Working'], false);
    const res = await startJob(editionId, { scope: 'chosen', enrolmentIds: [...people.map((p) => p.enrolmentId), unfinished!.enrolmentId] });
    const jobId = res.body.jobId as string;
    const p = await finished(t, jobId);
    const csv = await staff.get(`/certificates/jobs/${jobId}/codes.csv`).buffer(true).parse(binary).expect(200);
    expect(csv.headers['content-type']).to.equal('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).to.match(/^attachment; filename="certificate-codes-[0-9a-f]{24}\.csv"$/);
    const bytes = csv.body as Buffer;
    expect([...bytes.subarray(0, 3)]).to.deep.equal([0xef, 0xbb, 0xbf]);
    const rows = parse(bytes.toString('utf8').slice(1)) as string[][];
    expect(rows[0]).to.deep.equal(['name', 'email', 'code', 'verification_url', 'outcome', 'message']);
    expect(rows).to.have.length(1 + people.length + 1);
    expect(rows.slice(1, 5).map((r) => r[0])).to.deep.equal(['\'=HYPERLINK("http://evil.example","x")', "'+SUM(1+1) Plus", "'@cmd At", "'-2+3 Minus"]);
    const amina = rows[5]!;
    const item = p.items[4]!;
    expect(amina).to.deep.equal(['Amina Haddad', people[4]!.email, item.code, `${t.app.olive.config.BASE_URL}/verify/${item.code}`, 'issued', '']);
    const last = rows[6]!;
    expect(last.slice(0, 5)).to.deep.equal(['Still Working', unfinished!.email, '', '', 'error']);
    expect(last[5]).to.match(/not completed/);
  });

  it('two app instances on one database: every person is processed once, one certificate each, one end, one e-mail', async () => {
    const b = await instance('second', { dbName: t.dbName, pauseMs: 60 });
    extraApps.push(b);
    const editionId = await newEdition('Negotiation, two instances');
    const people = await participants(editionId, names(12, 'Twin'));
    // Two jobs queued while no runner runs, then both runners start at the same moment: they race
    // for the first job (one insert wins), the loser takes the second.
    await Promise.all([t.app.olive.jobs.stop(), b.app.olive.jobs.stop()]);
    try {
      const jobs = [
        await jobOn(t, editionId, { scope: 'chosen', enrolmentIds: people.slice(0, 6).map((p) => p.enrolmentId) }),
        await jobOn(b, editionId, { scope: 'chosen', enrolmentIds: people.slice(6).map((p) => p.enrolmentId) }),
      ];
      t.app.olive.jobs.start();
      b.app.olive.jobs.start();
      for (const id of jobs) await finished(t, id);

      const calls = issueCalls.filter((c) => jobs.includes(c.jobId));
      const perPerson = new Map<string, number>();
      for (const c of calls) perPerson.set(c.enrolmentId, (perPerson.get(c.enrolmentId) ?? 0) + 1);
      expect(
        [...perPerson.values()].every((n) => n === 1),
        JSON.stringify([...perPerson]),
      ).to.equal(true);
      expect(perPerson.size).to.equal(12);
      expect(await Certificate().countDocuments({ editionId })).to.equal(12);
      expect(await JobItem().countDocuments({ jobId: { $in: jobs } })).to.equal(12);
      expect(await Audit().countDocuments({ action: 'issued', editionId })).to.equal(12);
      expect(await Audit().countDocuments({ action: 'job-finished', editionId })).to.equal(2);
      expect(
        await db()
          .collection<JobEndDoc>('certificates_job_end')
          .countDocuments({ _id: { $in: jobs } }),
      ).to.equal(2);
      const holders = new Set(calls.map((c) => c.holder));
      expect(holders.size, 'each instance worked on a job').to.equal(2);
      await until('no lease left', async () => (await Lease().countDocuments({ jobId: { $in: jobs.map(hostJob) } })) === 0, 5000);
      const sent = (m: { Subject: string }) => m.Subject === 'Certificates issued: Negotiation, two instances';
      await mail.waitFor(sent, { count: 2 });
      // Whatever else would arrive comes with them (each is delivered as soon as it is recorded).
      await new Promise((r) => setTimeout(r, 500));
      expect((await mail.messages()).filter(sent), 'one e-mail per job').to.have.length(2);
    } finally {
      t.app.olive.jobs.start();
    }
  });

  it('resumes after a restart: a job stopped after a few people is finished by a new app, nobody twice', async () => {
    const editionId = await newEdition('Negotiation, restart');
    const people = await participants(editionId, names(15, 'Restart'));
    // Only the app that is restarted runs jobs in this test: the main app's runner pauses.
    await t.app.olive.jobs.stop();
    try {
      const r1 = await instance('before-restart', { dbName: t.dbName, pauseMs: 100 });
      extraApps.push(r1);
      const jobId = await jobOn(r1, editionId, { scope: 'all-completed' });
      await until('a few people done', async () => ((await progressOn(t, jobId)).done >= 3 ? true : null));
      const t0 = performance.now();
      await r1.app.olive.stop();
      const stopMs = performance.now() - t0;
      const atStop = await progressOn(t, jobId);
      expect(atStop.done).to.be.within(3, 14);
      expect(atStop.finished).to.equal(false);
      const lease = await Lease()
        .find({ jobId: hostJob(jobId) })
        .sort({ generation: -1 })
        .limit(1)
        .next();
      expect(lease!.expiresAt.getTime(), 'lease released at stop').to.be.at.most(Date.now());
      await new Promise((r) => setTimeout(r, 300));
      expect((await progressOn(t, jobId)).done, 'nothing runs while no app does').to.equal(atStop.done);
      const before = (await JobItem().find({ jobId }).toArray()).map((i) => `${i._id}@${i.at.toISOString()}`).sort();

      const t1 = performance.now();
      const r2 = await instance('after-restart', { dbName: t.dbName, pauseMs: 100 });
      extraApps.push(r2);
      const p = await finished(r2, jobId);
      const resumeMs = performance.now() - t1;
      expect([p.total, p.issued, p.already, p.errors]).to.deep.equal([15, 15, 0, 0]);
      expect(await Certificate().countDocuments({ editionId })).to.equal(15);
      const kept = (await JobItem().find({ jobId }).toArray()).map((i) => `${i._id}@${i.at.toISOString()}`).sort();
      expect(
        kept.filter((k) => before.includes(k)),
        'outcomes recorded before the restart are kept',
      ).to.have.length(before.length);
      const calls = issueCalls.filter((c) => c.jobId === jobId);
      expect(calls).to.have.length(15);
      expect(new Set(calls.map((c) => c.enrolmentId)).size).to.equal(people.length);
      expect(new Set(calls.map((c) => c.holder)), 'two runners did the work').to.deep.equal(new Set(['before-restart', 'after-restart']));
      console.log(
        `      stopped after ${atStop.done}/15 in ${stopMs.toFixed(0)} ms; the new app finished the other ${15 - atStop.done} in ${resumeMs.toFixed(0)} ms (boot included)`,
      );
    } finally {
      t.app.olive.jobs.start();
    }
  });

  it('a crashed holder’s lease is waited for, then taken over once it expires', async () => {
    const editionId = await newEdition('Negotiation, crashed holder');
    await participants(editionId, names(3, 'Crash'));
    await t.app.olive.jobs.stop();
    try {
      const jobId = await jobOn(t, editionId, { scope: 'all-completed' });
      const expiresAt = new Date(Date.now() + 1500);
      // An instance took the job (generation 1 after the queue's 0) and died without a word.
      await Lease().insertOne({
        _id: `${hostJob(jobId)}#1`,
        jobId: hostJob(jobId),
        queue: 'certificates.issue',
        generation: 1,
        holder: 'crashed-instance',
        expiresAt,
      });
      t.app.olive.jobs.start();
      await new Promise((r) => setTimeout(r, 700));
      expect((await progressOn(t, jobId)).done, 'a live lease is respected').to.equal(0);
      const p = await finished(t, jobId);
      expect(p.issued).to.equal(3);
      const first = (await JobItem().find({ jobId }).toArray()).map((i) => i.at.getTime()).sort()[0]!;
      expect(first).to.be.at.least(expiresAt.getTime());
    } finally {
      t.app.olive.jobs.start();
    }
  });

  it('a holder whose lease was taken over stops at its next person; the job still ends with one certificate each', async () => {
    const editionId = await newEdition('Negotiation, lease lost');
    const people = await participants(editionId, names(8, 'Usurped'));
    const jobId = await jobOn(t, editionId, { scope: 'all-completed' });
    await until('two people done', async () => ((await progressOn(t, jobId)).done >= 2 ? true : null));
    // Another instance takes the job over, as if our lease had expired during a long pause.
    const ours = (await Lease()
      .find({ jobId: hostJob(jobId) })
      .sort({ generation: -1 })
      .limit(1)
      .next())!;
    expect(ours.holder).to.equal(t.app.olive.jobs.holder);
    const until2 = new Date(Date.now() + 1500);
    await Lease().insertOne({
      _id: `${hostJob(jobId)}#${ours.generation + 1}`,
      jobId: hostJob(jobId),
      queue: 'certificates.issue',
      generation: ours.generation + 1,
      holder: 'another-instance',
      expiresAt: until2,
    });
    const atTakeOver = (await progressOn(t, jobId)).done;
    await new Promise((r) => setTimeout(r, 1000));
    const meanwhile = (await progressOn(t, jobId)).done;
    expect(meanwhile, 'only the people in hand (at most 2) are finished').to.be.at.most(atTakeOver + 2);
    // The other instance "dies": its lease expires, our runner takes the job back and ends it.
    const p = await finished(t, jobId);
    expect([p.issued, p.errors]).to.deep.equal([8, 0]);
    expect(await Certificate().countDocuments({ editionId })).to.equal(8);
    const calls = issueCalls.filter((c) => c.jobId === jobId);
    expect(new Set(calls.map((c) => c.enrolmentId)).size).to.equal(people.length);
    expect(calls, 'nobody issued twice').to.have.length(8);
    const resumed = (await JobItem().find({ jobId }).toArray()).filter((i) => i.at >= until2);
    expect(resumed, 'the rest after the foreign lease expired').to.have.length(8 - meanwhile);
  });

  it('in Chromium without JavaScript, the job page refreshes itself until the job has finished', async () => {
    const editionId = await newEdition('Negotiation, browser');
    await participants(editionId, names(4, 'Browser'));
    // About 4 s for the job (2 s after each person, two at a time): the page must reload by itself
    // to see the end. Only this slow instance runs it.
    await t.app.olive.jobs.stop();
    const slow = await instance('slow', { dbName: t.dbName, pauseMs: 2000 });
    extraApps.push(slow);
    const server = await listen(slow.app);
    const browser = await launchBrowser();
    try {
      const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
      await page.goto(`${server.url}/login`);
      await page.getByLabel('E-mail address').fill('staff@olive.example');
      await page.getByLabel('Password').fill(DEMO_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${server.url}/`);
      const jobId = await jobOn(slow, editionId, { scope: 'all-completed' });
      let loads = 0;
      page.on('load', () => {
        loads++;
      });
      await page.goto(`${server.url}/certificates/jobs/${jobId}`);
      expect(await page.locator('a[href$="certificates.zip"]').count(), 'no ZIP while running').to.equal(0);
      await page.locator('a[href$="certificates.zip"]').waitFor({ timeout: 30_000 });
      expect(loads, 'reloaded by itself').to.be.at.least(2);
      expect(await page.locator('[data-count="issued"]').textContent()).to.equal('4');
      const at = loads;
      await page.waitForTimeout(2500);
      expect(loads, 'no refresh once finished').to.equal(at);
    } finally {
      await browser.close();
      await server.close();
      t.app.olive.jobs.start();
    }
  });

  describe('who may issue', () => {
    let editionId: string;
    let jobId: string;
    before(async () => {
      editionId = await newEdition('Negotiation, permissions');
      await participants(editionId, names(2, 'Perm'));
      jobId = (await startJob(editionId, { scope: 'all-completed' })).body.jobId as string;
      await finished(t, jobId);
    });

    it('learners get 403 everywhere; so do trainers while trainersMayIssue is off', async () => {
      for (const email of ['learner@olive.example', 'trainer@olive.example']) {
        const agent = await signIn(t.app, email);
        expect((await startJob(editionId, { scope: 'all-completed' }, agent)).status, email).to.equal(403);
        for (const url of [`/certificates/jobs/${jobId}`, `/certificates/jobs/${jobId}/certificates.zip`, `/certificates/jobs/${jobId}/codes.csv`]) {
          expect((await agent.get(url)).status, `${email} ${url}`).to.equal(403);
        }
      }
      const anonymous = await supertest(t.app).get(`/certificates/jobs/${jobId}`);
      expect(anonymous.status).to.be.oneOf([302, 303]);
    });

    it('with trainersMayIssue, the edition’s own trainers may, other trainers may not; a trainer who reads French is told in French', async () => {
      const tm = await instance('trainers-may-issue', { dbName: t.dbName, trainersMayIssue: true });
      extraApps.push(tm);
      await db()
        .collection('host_users')
        .updateOne({ _id: new mongoose.Types.ObjectId(trainerId) }, { $set: { locale: 'fr' } });
      const trainer = await signIn(tm.app, 'trainer@olive.example');
      await trainer.get(`/certificates/jobs/${jobId}`).expect(200);
      await trainer.get(`/certificates/jobs/${jobId}/codes.csv`).expect(200);
      const [late] = await participants(editionId, ['Perm Late']);
      const res = await startJob(editionId, { scope: 'all-completed' }, trainer);
      expect(res.status).to.equal(202);
      const p = await finished(tm, res.body.jobId as string);
      expect(p.items.map((i) => i.enrolmentId)).to.deep.equal([late!.enrolmentId]);
      const [message] = await mail.waitFor((m) => m.To.some((to) => to.Address === 'trainer@olive.example'));
      expect(message!.Subject).to.equal('Certificats délivrés : Negotiation, permissions');
      expect((await mail.read(message!.ID)).Text).to.contain('1 délivré(s), 0 déjà détenu(s), 0 non délivré(s).');
      await db()
        .collection('host_users')
        .updateOne({ _id: new mongoose.Types.ObjectId(trainerId) }, { $unset: { locale: 1 } });

      await t.app.olive.users.create({ email: 'other.trainer@example.org', name: 'Other Trainer', roles: ['trainer'], password: 'olive-demo' }, 'test');
      const other = await signIn(tm.app, 'other.trainer@example.org');
      expect((await other.get(`/certificates/jobs/${jobId}`)).status).to.equal(403);
      expect((await startJob(editionId, { scope: 'all-completed' }, other)).status).to.equal(403);
      const learner = await signIn(tm.app, 'learner@olive.example');
      expect((await learner.get(`/certificates/jobs/${jobId}`)).status).to.equal(403);
    });
  });
});
