/**
 * Bulk issuance as a background job stored in MongoDB.
 *
 * A job is created by a request (the list of people fixed then) and processed by a runner that
 * every app instance runs: it polls for unfinished jobs, takes a job's lease (an insert only one
 * instance can win, see JobLeaseDoc), issues the certificates person by person and records one
 * insert-once outcome per person. Because outcomes are stored per person, a runner that starts on a
 * job skips whoever already has an outcome: that is the resumption after a restart or a crash.
 *
 * Exactly once, without transactions:
 *  - a certificate: issuance claims by enrolment id (one certificate per enrolment, however many
 *    workers try);
 *  - an outcome: `<jobId>:<enrolmentId>` inserted once;
 *  - the end of a job: `certificates_job_end` inserted once; its winner writes the audit entry.
 * The lease only keeps instances from doing the same work twice; correctness does not rest on it
 * (a holder whose lease expired while busy may finish the person it was on, see JobLeaseDoc).
 */
import crypto from 'node:crypto';
import os from 'node:os';
import mongoose from 'mongoose';
import type { Logger } from 'pino';
import { badRequest, HttpError, isDatabaseUnavailable, isDuplicateKey, notFound, type UsersService } from '../../../src/index.ts';
import type { ProgressService } from '../../courses/contract.ts';
import type { EnrolmentDirectoryService } from '../../enrolment/contract.ts';
import type { JobDoc, JobItemDoc, JobLeaseDoc, JobModels, JobOutcome, JobPerson } from '../models/job.model.ts';
import type { IssuanceService } from './issuance.service.ts';

export interface JobServiceDeps {
  issuance: IssuanceService;
  enrolments: () => EnrolmentDirectoryService;
  progress: () => ProgressService;
  users: () => UsersService;
  logger: Logger;
  /** How often an idle runner looks for unfinished jobs. Default 1000 ms. */
  pollMs?: number;
  /** How long a lease lasts without a heartbeat. Default 30 s (heartbeat every third of it). */
  leaseMs?: number;
  /** People processed at the same time within a job (1–4). Default 2: one renders while the other reads or writes. */
  concurrency?: number;
  /** Most people in one job. Default 5000. */
  maxPeople?: number;
}

export interface JobProgressItem extends JobPerson {
  position: number;
  outcome?: JobOutcome | undefined;
  code?: string | undefined;
  /** The name printed on the certificate, when one was issued. */
  printedName?: string | undefined;
  message?: string | undefined;
}

export interface JobProgress {
  id: string;
  editionId: string;
  courseId: string;
  scope: JobDoc['scope'];
  requestedBy: string;
  createdAt: Date;
  finishedAt?: Date | undefined;
  finished: boolean;
  total: number;
  done: number;
  issued: number;
  already: number;
  errors: number;
  /** 0..100 */
  percent: number;
  items: JobProgressItem[];
}

const OBJECT_ID = /^[0-9a-f]{24}$/i;

export function createJobService(models: JobModels, deps: JobServiceDeps) {
  const { Job, JobItem, JobLease, JobEnd } = models;
  const { issuance, logger } = deps;
  const pollMs = deps.pollMs ?? 1000;
  const leaseMs = deps.leaseMs ?? 30_000;
  const concurrency = Math.max(1, Math.min(4, deps.concurrency ?? 2));
  const maxPeople = deps.maxPeople ?? 5000;
  /** This runner, as written in the leases it holds. */
  const holder = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;

  // ---- Creating and reading jobs --------------------------------------------------------------------

  /**
   * Creates a job for an edition: everyone enrolled who completed the course and has no
   * certificate yet ('all-completed', resolved now), or a chosen list of enrolments (each must be
   * enrolled in this edition). The runner picks it up at once.
   */
  async function create(editionId: string, who: readonly string[] | 'all-completed', byUserId: string): Promise<JobDoc> {
    const edition = OBJECT_ID.test(editionId) ? await deps.enrolments().edition(editionId) : null;
    if (!edition) throw notFound('No such edition.');
    const enrolled = await deps.enrolments().enrolmentsOf(edition.id, ['enrolled']);
    let chosen: typeof enrolled;
    if (who === 'all-completed') {
      const [progress, claimed] = await Promise.all([
        deps.progress().editionProgress(edition.courseId, edition.id),
        // Who holds a certificate: the records, not the claims (a claim cut short still needs its PDF).
        issuance.models.Certificate.find({ editionId: edition.id }, { enrolmentId: 1 }).lean(),
      ]);
      const has = new Set(claimed.map((c) => c.enrolmentId));
      chosen = enrolled.filter((e) => e.userId && progress.get(e.userId)?.completedAt && !has.has(e.id));
      if (!chosen.length) throw new HttpError(400, 'NOTHING_TO_ISSUE', 'Everyone who completed this edition already has a certificate (or nobody has completed it yet).');
    } else {
      const ids = [...new Set(who)];
      if (!ids.length) throw new HttpError(400, 'VALIDATION_FAILED', 'Choose at least one person.', { fields: { enrolmentIds: 'Choose at least one person.' } });
      const byId = new Map(enrolled.map((e) => [e.id, e]));
      const unknown = ids.filter((id) => !byId.has(id));
      if (unknown.length) {
        throw new HttpError(400, 'VALIDATION_FAILED', `${unknown.length === 1 ? 'One person chosen is' : `${unknown.length} people chosen are`} not enrolled in this edition.`, { fields: { enrolmentIds: 'Choose people enrolled in this edition.' }, enrolmentIds: unknown.slice(0, 50) });
      }
      chosen = ids.map((id) => byId.get(id)!);
    }
    if (chosen.length > maxPeople) throw badRequest(`At most ${maxPeople} people in one job: issue in several parts.`);
    const users = deps.users();
    const people: JobPerson[] = [];
    for (const e of chosen) {
      const account = e.userId ? await users.findById(e.userId) : null;
      people.push({ enrolmentId: e.id, email: e.email, name: account?.name ?? e.email });
    }
    const job = (await Job.create({
      editionId: edition.id, courseId: edition.courseId, scope: who === 'all-completed' ? 'all-completed' : 'chosen',
      people, requestedBy: byUserId, createdAt: new Date(),
    })).toObject();
    await queue(String(job._id));
    await issuance.audit('job-started', byUserId, { editionId: edition.id, details: `job ${job._id}: ${people.length} ${people.length === 1 ? 'person' : 'people'} (${job.scope})` });
    logger.info({ job: String(job._id), edition: edition.id, people: people.length }, 'certificate job created');
    kick();
    return job;
  }

  async function find(jobId: string): Promise<JobDoc | null> {
    return OBJECT_ID.test(jobId) ? Job.findById(jobId).lean() : null;
  }

  /** Where a job stands: counts, and every person with their outcome so far, in the job's order. */
  async function progress(jobId: string): Promise<JobProgress | null> {
    const job = await find(jobId);
    if (!job) return null;
    // A job whose queue entry was lost (a crash right after its creation) is queued when looked at.
    if (!job.finishedAt && !(await JobLease.exists({ jobId: String(job._id) }))) await queue(String(job._id));
    const items = await JobItem.find({ jobId: String(job._id) }).lean();
    const byEnrolment = new Map(items.map((i) => [i.enrolmentId, i]));
    const count = (o: JobOutcome) => items.filter((i) => i.outcome === o).length;
    const total = job.people.length;
    return {
      id: String(job._id),
      editionId: job.editionId,
      courseId: job.courseId,
      scope: job.scope,
      requestedBy: job.requestedBy,
      createdAt: job.createdAt,
      finishedAt: job.finishedAt,
      finished: !!job.finishedAt,
      total,
      done: items.length,
      issued: count('issued'),
      already: count('already'),
      errors: count('error'),
      percent: total ? Math.floor((items.length / total) * 100) : 100,
      items: job.people.map((p, position) => {
        const item = byEnrolment.get(p.enrolmentId);
        return { ...p, position, outcome: item?.outcome, code: item?.code, printedName: item?.name, message: item?.message };
      }),
    };
  }

  /** An edition's jobs, newest first (for the edition page). */
  async function ofEdition(editionId: string, limit = 10): Promise<{ id: string; createdAt: Date; finishedAt?: Date | undefined; total: number; scope: JobDoc['scope'] }[]> {
    const jobs = await Job.find({ editionId }).sort({ createdAt: -1 }).limit(limit).lean();
    return jobs.map((j) => ({ id: String(j._id), createdAt: j.createdAt, finishedAt: j.finishedAt, total: j.people.length, scope: j.scope }));
  }

  // ---- Leases -------------------------------------------------------------------------------------

  /**
   * Puts a job in the queue: its generation-0 lease, held by nobody and expired from the start, so
   * that the first runner to insert generation 1 takes it. Runners poll the lease collection (only
   * unfinished jobs have leases: they are deleted when a job ends), never the growing job collection.
   */
  async function queue(jobId: string): Promise<void> {
    try {
      await JobLease.create({ _id: `${jobId}:0`, jobId, generation: 0, holder: '(queued)', takenAt: new Date(0), expiresAt: new Date(0) });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  async function currentLease(jobId: string): Promise<JobLeaseDoc | null> {
    return JobLease.findOne({ jobId }).sort({ generation: -1 }).lean();
  }

  /** Takes the job's lease if nobody holds a live one; null when someone else does (or won the race). */
  async function acquire(jobId: string): Promise<JobLeaseDoc | null> {
    const latest = await currentLease(jobId);
    const now = new Date();
    if (latest && latest.expiresAt > now) return null;
    const generation = (latest?.generation ?? 0) + 1;
    const lease: JobLeaseDoc = { _id: `${jobId}:${generation}`, jobId, generation, holder, takenAt: now, expiresAt: new Date(now.getTime() + leaseMs) };
    try {
      await JobLease.create(lease);
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
    if (latest && latest.generation > 0) logger.info({ job: jobId, previous: latest.holder, generation }, 'certificate job taken over from an expired lease');
    return lease;
  }

  /** True while our lease is the job's current one and has not expired. */
  async function holds(lease: JobLeaseDoc): Promise<boolean> {
    const latest = await currentLease(lease.jobId);
    return !!latest && latest._id === lease._id && latest.holder === holder && latest.expiresAt.getTime() > Date.now();
  }

  /** Extends our lease every third of its length; only the holder ever writes its lease. */
  function heartbeat(lease: JobLeaseDoc) {
    let beating: Promise<unknown> = Promise.resolve();
    // One beat after the other (chained), so that none can land after the release.
    const timer = setInterval(() => {
      beating = beating.then(() => JobLease.updateOne({ _id: lease._id }, { $set: { expiresAt: new Date(Date.now() + leaseMs) } }))
        .catch((err) => logger.warn({ err, job: lease.jobId }, 'certificate job lease not extended'));
    }, Math.max(50, Math.floor(leaseMs / 3)));
    timer.unref();
    return async () => {
      clearInterval(timer);
      await beating;
    };
  }

  /** Lets another instance take the job at once (the lease expires now). */
  async function release(lease: JobLeaseDoc) {
    await JobLease.updateOne({ _id: lease._id }, { $set: { expiresAt: new Date() } })
      .catch((err) => logger.warn({ err, job: lease.jobId }, 'certificate job lease not released; it expires by itself'));
  }

  // ---- Processing -----------------------------------------------------------------------------------

  async function record(item: JobItemDoc): Promise<void> {
    try {
      await JobItem.create(item);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // another worker recorded this person first: theirs stands
    }
  }

  /** Issues one person's certificate and records the outcome. False when the database is away (retry later). */
  async function processOne(job: JobDoc, person: JobPerson, position: number): Promise<boolean> {
    const jobId = String(job._id);
    const base = { _id: `${jobId}:${person.enrolmentId}`, jobId, enrolmentId: person.enrolmentId, position };
    try {
      const { certificate, created } = await issuance.issue({ enrolmentId: person.enrolmentId, via: 'bulk', byUserId: job.requestedBy, jobId, requireCompletion: true });
      // Issued by this job also when an earlier attempt of this job (cut short) made it.
      const outcome: JobOutcome = created || certificate.jobId === jobId ? 'issued' : 'already';
      await record({ ...base, outcome, code: certificate._id, name: certificate.snapshot.name, at: new Date() });
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        logger.warn({ err, job: jobId }, 'certificate job paused: database unavailable');
        return false;
      }
      if (err instanceof HttpError) {
        await record({ ...base, outcome: 'error', message: err.message, at: new Date() });
      } else {
        logger.error({ err, job: jobId, enrolment: person.enrolmentId }, 'certificate not issued in a job');
        await record({ ...base, outcome: 'error', message: 'Not issued: an unexpected error (details in the server log).', at: new Date() });
      }
    }
    return true;
  }

  /** Marks the job finished: the worker whose end marker goes in writes the audit entry. */
  async function finish(job: JobDoc): Promise<void> {
    const jobId = String(job._id);
    let at = new Date();
    let won = true;
    try {
      await JobEnd.create({ _id: jobId, at, holder });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      won = false;
      at = (await JobEnd.findById(jobId).lean())!.at;
    }
    // Everyone writes the same value (the marker's), so finishedAt never changes once set.
    await Job.updateOne({ _id: job._id }, { $set: { finishedAt: at } });
    await JobLease.deleteMany({ jobId });
    if (won) {
      const p = (await progress(jobId))!;
      await issuance.audit('job-finished', job.requestedBy, { editionId: job.editionId, details: `job ${jobId}: ${p.issued} issued, ${p.already} already held, ${p.errors} not issued` });
      logger.info({ job: jobId, issued: p.issued, already: p.already, errors: p.errors }, 'certificate job finished');
    }
  }

  /** Works on a job while we hold its lease: the people without an outcome, in order. */
  async function work(jobId: string, lease: JobLeaseDoc): Promise<void> {
    const job = await Job.findById(jobId).lean();
    if (!job || job.finishedAt) return;
    const recorded = new Set((await JobItem.find({ jobId }, { enrolmentId: 1 }).lean()).map((i) => i.enrolmentId));
    const todo = job.people.map((person, position) => ({ person, position })).filter((x) => !recorded.has(x.person.enrolmentId));
    let next = 0;
    let interrupted = false;
    const worker = async () => {
      while (!stopping && !interrupted && next < todo.length) {
        const { person, position } = todo[next++]!;
        if (!(await holds(lease))) {
          logger.warn({ job: jobId }, 'certificate job lease lost: another instance continues');
          interrupted = true;
          return;
        }
        if (!(await processOne(job, person, position))) interrupted = true;
      }
    };
    // Settled, not all: a failing worker must not let the lease go while the other still issues.
    const results = await Promise.allSettled(Array.from({ length: Math.min(concurrency, Math.max(1, todo.length)) }, worker));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    if (stopping || interrupted) return;
    if ((await JobItem.countDocuments({ jobId })) >= job.people.length) await finish(job);
  }

  // ---- The runner -----------------------------------------------------------------------------------

  let started = false;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> | undefined;
  let again = false;

  /** Queues every unfinished job that has no lease (at start: heals a crash between a job's two inserts). */
  async function sweep(): Promise<void> {
    const unfinished = await Job.find({ finishedAt: mongoose.trusted({ $exists: false }) }, { _id: 1 }).lean();
    for (const { _id } of unfinished) {
      if (!(await JobLease.exists({ jobId: String(_id) }))) await queue(String(_id));
    }
  }

  /** One look at the queue, oldest job first; works on each job whose lease it gets. */
  async function runOnce(): Promise<void> {
    const leases = await JobLease.find({}, { jobId: 1, generation: 1, expiresAt: 1 }).lean();
    const latest = new Map<string, { generation: number; expiresAt: Date }>();
    for (const l of leases) if ((latest.get(l.jobId)?.generation ?? -1) < l.generation) latest.set(l.jobId, l);
    const now = Date.now();
    // Object ids begin with their creation time: their order is the jobs' order.
    const waiting = [...latest].filter(([, l]) => l.expiresAt.getTime() <= now).map(([jobId]) => jobId).sort();
    for (const jobId of waiting) {
      if (stopping) return;
      const lease = await acquire(jobId);
      if (!lease) continue;
      const stopBeating = heartbeat(lease);
      try {
        await work(jobId, lease);
      } finally {
        await stopBeating();
        if (await JobEnd.exists({ _id: jobId })) await JobLease.deleteMany({ jobId }).catch(() => undefined);
        else await release(lease);
      }
    }
  }

  let swept = false;
  function tick() {
    timer = undefined;
    again = false;
    pass = (swept ? runOnce() : sweep().then(() => { swept = true; return runOnce(); }))
      .catch((err) => logger[isDatabaseUnavailable(err) ? 'warn' : 'error']({ err }, 'certificate job runner pass failed'))
      .finally(() => {
        pass = undefined;
        if (stopping || !started) return;
        timer = setTimeout(tick, again ? 0 : pollMs);
      });
  }

  /** Looks for work now rather than at the next poll (a job was just created here). */
  function kick() {
    if (!started || stopping) return;
    if (pass) { again = true; return; }
    if (timer) clearTimeout(timer);
    tick();
  }

  /** Starts polling for unfinished jobs. */
  function start() {
    if (started) return;
    started = true;
    stopping = false;
    timer = setTimeout(tick, 0);
  }

  /** Stops promptly: the people being issued now are finished, the lease is released. */
  async function stop() {
    if (!started) return;
    stopping = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    await pass;
    started = false;
    stopping = false;
  }

  return { models, create, find, progress, ofEdition, start, stop, runOnce, holder };
}

export type JobService = ReturnType<typeof createJobService>;
