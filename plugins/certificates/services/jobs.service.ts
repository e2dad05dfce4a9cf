/**
 * Bulk issuance as a background job.
 *
 * A job is created by a request (the list of people fixed then) and run by the host's job service
 * (queue `certificates.issue`, keyed by the job's id, so one instance works on it at a time and
 * another takes it over after a crash). The worker issues the certificates person by person and
 * records one insert-once outcome per person: a worker that starts on a job skips whoever already
 * has an outcome, which is the resumption after a restart, a crash or a database outage.
 *
 * Exactly once, without transactions:
 *  - a certificate: issuance claims by enrolment id (one certificate per enrolment, however many
 *    workers try);
 *  - an outcome: `<jobId>:<enrolmentId>` inserted once;
 *  - the end of a job: `certificates_job_end` inserted once; its winner writes the audit entry;
 *  - the owner's e-mail: the outbox records one message per job.
 * The host's lease only keeps instances from doing the same work twice; correctness does not rest
 * on it (a holder whose lease expired while busy may finish the person it was on).
 */
import mongoose from 'mongoose';
import type { Logger } from 'pino';
import {
  badRequest,
  HttpError,
  isDatabaseUnavailable,
  invalidFields,
  isDuplicateKey,
  isObjectId,
  notFound,
  RetryLater,
  type ErrorText,
  type MailService,
  type PluginJobs,
  type RunningJob,
  type UsersService,
} from '../../../src/index.ts';
import type { ProgressService } from '../../courses/contract.ts';
import type { EnrolmentDirectoryService } from '../../enrolment/contract.ts';
import type { JobDoc, JobItemDoc, JobModels, JobOutcome, JobPerson } from '../models/job.model.ts';
import { NO_ACCOUNT, notEnded, waitsForEnd, type IssuanceService } from './issuance.service.ts';

/** The host queue of bulk jobs (`certificates.issue`). */
export const ISSUE_QUEUE = 'issue';
const hostJobId = (jobId: string) => `certificates.${ISSUE_QUEUE}:${jobId}`;

export interface JobServiceDeps {
  issuance: IssuanceService;
  enrolments: () => EnrolmentDirectoryService;
  progress: () => ProgressService;
  users: () => UsersService;
  logger: Logger;
  /** The plugin's job queues (the worker is `run`, declared on the queue `ISSUE_QUEUE`). */
  jobs: Pick<PluginJobs, 'enqueue' | 'get'>;
  mail: Pick<MailService, 'send'>;
  /** People processed at the same time within a job (1–4). Default 2: one renders while the other reads or writes. */
  concurrency?: number;
  /** Most people in one job. Default 5000. */
  maxPeople?: number;
  /** Pause after each person, in ms (default none): leaves a small server's CPU to the pages people use. */
  pauseMs?: number;
}

export interface JobProgressItem extends JobPerson {
  position: number;
  outcome?: JobOutcome | undefined;
  code?: string | undefined;
  /** The name printed on the certificate, when one was issued. */
  printedName?: string | undefined;
  /** Why the certificate was not issued (English); `text` names its catalogue entry. */
  message?: string | undefined;
  text?: ErrorText | undefined;
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
  /** People not issued because their printed name is unconfirmed. */
  waitingName: number;
  /** People without an account: their certificate waits for them (they were invited to create one). */
  waitingAccount: number;
  issueAnyway: boolean;
  /** 0..100 */
  percent: number;
  items: JobProgressItem[];
}

export function createJobService(models: JobModels, deps: JobServiceDeps) {
  const { Job, JobItem, JobEnd } = models;
  const { issuance, logger } = deps;
  const concurrency = Math.max(1, Math.min(4, deps.concurrency ?? 2));
  const maxPeople = deps.maxPeople ?? 5000;
  const pauseMs = deps.pauseMs ?? 0;

  // ---- Creating and reading jobs --------------------------------------------------------------------

  /**
   * Creates a job for an edition: everyone enrolled who completed it (online, or by a contributed
   * rule such as attendance; with or without an account) and has no certificate yet
   * ('all-completed', resolved now), or a chosen list of enrolments (each must be enrolled in this
   * edition). It is queued at once.
   */
  async function create(
    editionId: string,
    who: readonly string[] | 'all-completed',
    byUserId: string,
    options: { issueAnyway?: boolean } = {},
  ): Promise<JobDoc> {
    const edition = isObjectId(editionId) ? await deps.enrolments().edition(editionId) : null;
    if (!edition) throw notFound('No such edition.', { key: 'certificates:errors.noSuchEdition' });
    if (waitsForEnd(edition)) throw notEnded();
    const enrolled = await deps.enrolments().enrolmentsOf(edition.id, ['enrolled']);
    let chosen: typeof enrolled;
    if (who === 'all-completed') {
      const [completed, has] = await Promise.all([issuance.completionsOf(edition, enrolled), issuance.holdersIn(edition.id)]);
      chosen = enrolled.filter((e) => completed.has(e.id) && !has.has(e.id));
      if (!chosen.length)
        throw new HttpError(
          400,
          'NOTHING_TO_ISSUE',
          'Everyone who completed this edition already has a certificate (or nobody has completed it yet).',
          undefined,
          {
            key: 'certificates:errors.job.nothingToIssue',
          },
        );
    } else {
      const ids = [...new Set(who)];
      if (!ids.length)
        throw invalidFields({ enrolmentIds: { key: 'certificates:errors.job.choosePeople' } }, 'Choose at least one person.', {
          key: 'certificates:errors.job.choosePeople',
        });
      const byId = new Map(enrolled.map((e) => [e.id, e]));
      const unknown = ids.filter((id) => !byId.has(id));
      if (unknown.length) {
        throw new HttpError(
          400,
          'VALIDATION_FAILED',
          `${unknown.length === 1 ? 'One person chosen is' : `${unknown.length} people chosen are`} not enrolled in this edition.`,
          { fields: { enrolmentIds: 'Choose people enrolled in this edition.' }, enrolmentIds: unknown.slice(0, 50) },
          { key: 'certificates:errors.job.notEnrolled', params: { count: unknown.length } },
          { enrolmentIds: { key: 'certificates:errors.job.chooseEnrolled' } },
        );
      }
      chosen = ids.map((id) => byId.get(id)!);
    }
    if (chosen.length > maxPeople)
      throw badRequest(`At most ${maxPeople} people in one job: issue in several parts.`, undefined, {
        key: 'certificates:errors.job.tooMany',
        params: { count: maxPeople },
      });
    const names = await deps.enrolments().namesOf(chosen);
    const people: JobPerson[] = chosen.map((e) => ({ enrolmentId: e.id, email: e.email, name: names.get(e.id)?.name || e.email }));
    const job = (
      await Job.create({
        editionId: edition.id,
        courseId: edition.courseId,
        scope: who === 'all-completed' ? 'all-completed' : 'chosen',
        people,
        ...(options.issueAnyway ? { issueAnyway: true } : {}),
        requestedBy: byUserId,
        createdAt: new Date(),
      })
    ).toObject();
    await queue(String(job._id));
    await issuance.audit('job-started', byUserId, {
      editionId: edition.id,
      details: `job ${job._id}: ${people.length} ${people.length === 1 ? 'person' : 'people'} (${job.scope}${job.issueAnyway ? ', issue anyway with unconfirmed names' : ''})`,
    });
    logger.info({ job: String(job._id), edition: edition.id, people: people.length }, 'certificate job created');
    return job;
  }

  async function find(jobId: string): Promise<JobDoc | null> {
    return isObjectId(jobId) ? Job.findById(jobId).lean() : null;
  }

  /** Where a job stands: counts, and every person with their outcome so far, in the job's order. */
  async function progress(jobId: string): Promise<JobProgress | null> {
    const job = await find(jobId);
    if (!job) return null;
    // A job whose queue entry was lost (a crash right after its creation) is queued when looked at.
    if (!job.finishedAt && !(await deps.jobs.get(hostJobId(String(job._id))))) await queue(String(job._id));
    return progressOf(job);
  }

  async function progressOf(job: JobDoc): Promise<JobProgress> {
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
      waitingName: count('waiting'),
      waitingAccount: count('waitingAccount'),
      issueAnyway: !!job.issueAnyway,
      percent: total ? Math.floor((items.length / total) * 100) : 100,
      items: job.people.map((p, position) => {
        const item = byEnrolment.get(p.enrolmentId);
        return { ...p, position, outcome: item?.outcome, code: item?.code, printedName: item?.name, message: item?.message, text: item?.text };
      }),
    };
  }

  /** An edition's jobs, newest first (for the edition page). */
  async function ofEdition(
    editionId: string,
    limit = 10,
  ): Promise<{ id: string; createdAt: Date; finishedAt?: Date | undefined; total: number; scope: JobDoc['scope'] }[]> {
    const jobs = await Job.find({ editionId }).sort({ createdAt: -1 }).limit(limit).lean();
    return jobs.map((j) => ({ id: String(j._id), createdAt: j.createdAt, finishedAt: j.finishedAt, total: j.people.length, scope: j.scope }));
  }

  /** Puts a job in the host's queue (once: the key is the job's id). */
  async function queue(jobId: string): Promise<void> {
    await deps.jobs.enqueue(ISSUE_QUEUE, { jobId }, { key: jobId });
  }

  /** At start: queues every unfinished job (heals a crash between a job's creation and its queueing). */
  async function queueUnfinished(): Promise<void> {
    const unfinished = await Job.find({ finishedAt: mongoose.trusted({ $exists: false }) }, { _id: 1 }).lean();
    for (const { _id } of unfinished) await queue(String(_id));
  }

  // ---- Processing -----------------------------------------------------------------------------------

  async function record(item: JobItemDoc): Promise<void> {
    try {
      await JobItem.create(item);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // another worker recorded this person first: theirs stands
    }
  }

  /** Issues one person's certificate and records the outcome (a database failure is thrown: the job runs again). */
  async function processOne(job: JobDoc, person: JobPerson, position: number): Promise<void> {
    const jobId = String(job._id);
    const base = { _id: `${jobId}:${person.enrolmentId}`, jobId, enrolmentId: person.enrolmentId, position };
    logger.debug({ job: jobId, enrolment: person.enrolmentId }, 'certificate job: issuing');
    try {
      const { certificate, created } = await issuance.issue({
        enrolmentId: person.enrolmentId,
        via: 'bulk',
        byUserId: job.requestedBy,
        jobId,
        requireCompletion: true,
        unconfirmedName: job.issueAnyway ? 'issue' : 'wait',
      });
      // Issued by this job also when an earlier attempt of this job (cut short) made it.
      const outcome: JobOutcome = created || certificate.jobId === jobId ? 'issued' : 'already';
      await record({ ...base, outcome, code: certificate._id, name: certificate.snapshot.name, at: new Date() });
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw err;
      if (err instanceof HttpError && err.code === NO_ACCOUNT) {
        // Qualifies, but has no account: the certificate waits for them, and they are invited to create one.
        await issuance.awaitAccount(person.enrolmentId, { via: 'bulk', byUserId: job.requestedBy, jobId });
        await record({ ...base, outcome: 'waitingAccount', message: err.message, ...(err.text ? { text: err.text } : {}), at: new Date() });
      } else if (err instanceof HttpError && err.code === 'NAME_UNCONFIRMED') {
        await record({ ...base, outcome: 'waiting', message: err.message, ...(err.text ? { text: err.text } : {}), at: new Date() });
      } else if (err instanceof HttpError) {
        await record({ ...base, outcome: 'error', message: err.message, ...(err.text ? { text: err.text } : {}), at: new Date() });
      } else {
        logger.error({ err, job: jobId, enrolment: person.enrolmentId }, 'certificate not issued in a job');
        await record({
          ...base,
          outcome: 'error',
          message: 'Not issued: an unexpected error (details in the server log).',
          text: { key: 'certificates:errors.job.unexpected' },
          at: new Date(),
        });
      }
    }
  }

  /**
   * Marks the job finished: the worker whose end marker goes in writes the audit entry; the owner
   * is told by e-mail (one message per job, whoever sends it) before `finishedAt` is set, so that a
   * job retried after a failure here still sends it.
   */
  async function finish(job: JobDoc): Promise<void> {
    const jobId = String(job._id);
    let at = new Date();
    let won = true;
    try {
      await JobEnd.create({ _id: jobId, at });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      won = false;
      at = (await JobEnd.findById(jobId).lean())!.at;
    }
    const p = await progressOf(job);
    if (won) {
      await issuance.audit('job-finished', job.requestedBy, {
        editionId: job.editionId,
        details: `job ${jobId}: ${p.issued} issued, ${p.already} already held, ${p.errors} not issued, ${p.waitingName} waiting for their printed name, ${p.waitingAccount} waiting for an account`,
      });
      logger.info({ job: jobId, issued: p.issued, already: p.already, errors: p.errors }, 'certificate job finished');
    }
    await tellOwner(job, p);
    // Everyone writes the same value (the marker's), so finishedAt never changes once set.
    await Job.updateOne({ _id: job._id }, { $set: { finishedAt: at } });
  }

  async function tellOwner(job: JobDoc, p: JobProgress): Promise<void> {
    const edition = await deps.enrolments().edition(job.editionId);
    const jobId = String(job._id);
    await deps.mail.send({
      key: `certificates.job-finished:${jobId}`,
      to: { userId: job.requestedBy },
      category: 'notice',
      compose: (t) => ({
        subject: t('certificates:jobs.mail.subject', { edition: edition?.title ?? job.editionId }),
        paragraphs: [
          t('certificates:jobs.mail.intro', { edition: edition?.title ?? job.editionId, count: p.total }),
          t('certificates:jobs.mail.counts', { issued: p.issued, already: p.already, errors: p.errors }),
          ...(p.errors ? [t('certificates:jobs.mail.errors', { count: p.errors })] : []),
          ...(p.waitingName ? [t('certificates:jobs.mail.waitingName', { count: p.waitingName })] : []),
          ...(p.waitingAccount ? [t('certificates:jobs.mail.waitingAccount', { count: p.waitingAccount })] : []),
        ],
        action: { label: t('certificates:jobs.mail.action'), url: `/certificates/jobs/${jobId}` },
      }),
    });
  }

  /**
   * The host job's worker: the people without an outcome, in order, while this instance holds the
   * job. Stopping (the app, a lease lost) takes effect between two people.
   */
  async function run(payload: { jobId: string }, running: RunningJob): Promise<void> {
    const jobId = String(payload.jobId);
    const job = await Job.findById(jobId).lean();
    if (!job || job.finishedAt) return;
    const recorded = new Set((await JobItem.find({ jobId }, { enrolmentId: 1 }).lean()).map((i) => i.enrolmentId));
    const todo = job.people.map((person, position) => ({ person, position })).filter((x) => !recorded.has(x.person.enrolmentId));
    let next = 0;
    let lost = false;
    let failure: { err: unknown } | undefined;
    const worker = async () => {
      while (!running.signal.aborted && !lost && !failure && next < todo.length) {
        if (!(await running.stillHolding())) {
          logger.warn({ job: jobId }, 'certificate job lease lost: another instance continues');
          lost = true;
          return;
        }
        const { person, position } = todo[next++]!;
        try {
          await processOne(job, person, position);
        } catch (err) {
          // The other worker finishes its person, then stops too.
          failure ??= { err };
          return;
        }
        if (pauseMs) await pause(pauseMs, running.signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, todo.length)) }, worker));
    if (failure) throw failure.err;
    if (lost) throw new RetryLater('lease lost', 0);
    if (running.signal.aborted) throw new RetryLater('the app is stopping', 0);
    if ((await JobItem.countDocuments({ jobId })) < job.people.length) throw new RetryLater('some people have no outcome yet', 1000);
    await finish(job);
  }

  return { create, find, progress, ofEdition, run, queueUnfinished };
}

/** Waits, or less when the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export type JobService = ReturnType<typeof createJobService>;
