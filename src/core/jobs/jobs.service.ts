/**
 * Background work for the host and every plugin: queued jobs (run once, retried with backoff),
 * recurring jobs, a lease so that one instance runs each job, throughput limits shared by all
 * instances, and a state admins read (waiting, running, done, failed with why). The storage and
 * why it is safe on FerretDB are in jobs.models.ts.
 *
 * Delivery is at least once: a job whose instance dies mid-run is run again once its lease
 * expires. A job's work must therefore be idempotent, which every caller gets from insert-once
 * records of what it did (a certificate per enrolment, a message per key, an outcome per person).
 */
import crypto from 'node:crypto';
import os from 'node:os';
import mongoose from 'mongoose';
import type { Logger } from 'pino';
import { HttpError, isDatabaseUnavailable, isDuplicateKey, notFound, OliveError } from '../errors.ts';
import { findByKeys } from '../keyed-reads.ts';
import type { JobDoc, JobLeaseDoc, JobModels, JobState } from './jobs.models.ts';

/** What a running job's worker is told. */
export interface RunningJob {
  id: string;
  key: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborted when the app stops or the lease is lost: finish the step at hand, then throw `retryLater`. */
  signal: AbortSignal;
  /** True while this instance still holds the job's lease (check between long steps). */
  stillHolding(): Promise<boolean>;
}

export interface QueueOptions<P> {
  run(payload: P, job: RunningJob): Promise<void>;
  /** Attempts before the job is marked failed. Default 8. */
  maxAttempts?: number;
  /** Delay before the first retry; it doubles with each attempt up to `maxBackoffMs`. Default 5 s. */
  backoffMs?: number;
  /** Default one hour. */
  maxBackoffMs?: number;
  /** Most jobs of this queue started per minute, counted across all instances. Default: no limit. */
  perMinute?: number;
  /** Jobs of this queue running at once in one instance. Default 1. */
  concurrency?: number;
  /** How long a lease lasts without a heartbeat. Default 30 s (a heartbeat every third of it). */
  leaseMs?: number;
  /** This instance records jobs of the queue but does not run them (mail with no SMTP server configured). */
  notRunHere?: boolean;
}

/** Thrown by a worker: not a failure of this job (a service it needs is away, the app stops). */
export class RetryLater extends Error {
  constructor(message: string, readonly delayMs: number, readonly options: { pauseQueue?: boolean } = {}) {
    super(message);
    this.name = 'RetryLater';
  }
}

/** Thrown by a worker: trying again cannot help (a recipient the relay refuses for good). */
export class PermanentFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentFailure';
  }
}

export interface EnqueueOptions {
  /** What the job is about: enqueuing the same key again is the same job. Default: a new random key. */
  key?: string;
  runAt?: Date;
  /**
   * When the database cannot be reached, hold the job in this instance and record it as soon as the
   * database answers, instead of throwing. For work that a database failure itself calls for
   * (removing what a failed write left behind), which could not be recorded otherwise. A held job
   * is lost if the app stops before the database returns: the app then logs its id.
   */
  holdWhileUnavailable?: boolean;
}

export interface JobSummary {
  id: string;
  queue: string;
  key: string;
  state: JobState;
  attempts: number;
  runAt: Date;
  lastError?: string | undefined;
  createdAt: Date;
  finishedAt?: Date | undefined;
  recurring: boolean;
}

export interface JobsService {
  /** Declares a queue and its worker. Queue names are `<owner>.<name>`. */
  define<P>(queue: string, options: QueueOptions<P>): void;
  /**
   * Declares a job that runs every `everyMs`, on one instance at a time: each period's run is a job
   * of its own (`period-<n>`, due at the period's start; the first is due at start-up), recorded
   * once whichever instance records it. A failed run is retried by the next period's.
   */
  every(queue: string, everyMs: number, run: (job: RunningJob) => Promise<void>, options?: Omit<QueueOptions<unknown>, 'run'>): void;
  /** Records a job; the same queue and key twice is one job. `held`: see `holdWhileUnavailable`. */
  enqueue<P>(queue: string, payload: P, options?: EnqueueOptions): Promise<{ id: string; created: boolean; held?: boolean }>;
  get(id: string): Promise<JobSummary | null>;
  /** Several jobs by id, in one query (those that exist). */
  getMany(ids: readonly string[]): Promise<JobSummary[]>;
  list(query: { state?: JobState | undefined; queue?: string | undefined; page?: number; pageSize?: number }): Promise<{ jobs: JobSummary[]; total: number }>;
  /** Jobs per queue and state (recurring jobs excluded from `done`). */
  counts(): Promise<{ queue: string; state: JobState; count: number }[]>;
  /** A failed or dropped job goes back to the queue with its attempts reset. */
  retry(id: string): Promise<void>;
  /** A waiting or failed job is given up (it stays listed as dropped). */
  drop(id: string): Promise<void>;
  /** Looks for due work now instead of at the next poll. */
  kick(): void;
  /** Waits until no job of these queues (all, by default) is waiting or running in this database. Tests and the CLI use it. */
  idle(queues?: readonly string[], timeoutMs?: number): Promise<void>;
  readonly queues: readonly string[];
  /** This instance, as written in the leases it holds. */
  readonly holder: string;
  start(): void;
  stop(): Promise<void>;
}

export interface JobsOptions {
  logger: Logger;
  /** How often an idle runner looks for due jobs. Default 1000 ms. */
  pollMs?: number;
}

/** Operators written here, not taken from input (sanitizeFilter is on). */
const trusted = <T>(operator: T): T => mongoose.trusted(operator) as T;
/** The holder of a lease given back until the job's next try. */
const RELEASED = '(released)';
const QUEUE_NAME = /^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9.-]*$/;
const toSummary = (j: JobDoc): JobSummary => ({
  id: j._id, queue: j.queue, key: j.key, state: j.state, attempts: j.attempts, runAt: j.runAt,
  lastError: j.lastError, createdAt: j.createdAt, finishedAt: j.finishedAt, recurring: !!j.everyMs,
});
/**
 * The database cannot be reached. Also a write on a socket the server closed (EPIPE), which the
 * driver passes on unwrapped when the server has just died.
 */
const unreachable = (err: unknown) => isDatabaseUnavailable(err) || (err as NodeJS.ErrnoException | null)?.code === 'EPIPE';
const describe = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 2000);

export function createJobsService(models: JobModels, options: JobsOptions): JobsService {
  const { Job, JobLease, JobSlot } = models;
  const { logger } = options;
  const pollMs = options.pollMs ?? 1000;
  const holder = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
  const queues = new Map<string, QueueOptions<unknown> & { everyMs?: number }>();

  const running = new Map<string, { queue: string; done: Promise<void>; abort: AbortController }>();
  const pausedUntil = new Map<string, number>();
  const slotCursor = new Map<string, { minute: number; n: number }>();
  let started = false;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> | undefined;
  let again = false;
  let lastSlotSweep = 0;
  let lastHistorySweep = 0;
  /** The recurring jobs' first runs being recorded at start. */
  const starting: Promise<void>[] = [];
  /** Jobs enqueued while the database was away (`holdWhileUnavailable`), by id. */
  const held = new Map<string, { queue: string; key: string; payload: unknown; runAt: Date }>();

  function define<P>(queue: string, opts: QueueOptions<P>) {
    if (!QUEUE_NAME.test(queue)) throw new OliveError('OLIVE_JOB_QUEUE_NAME', `Invalid job queue name '${queue}': use '<owner>.<name>'`);
    if (queues.has(queue)) throw new OliveError('OLIVE_JOB_QUEUE_TWICE', `Job queue '${queue}' is defined twice`);
    if (started) throw new OliveError('OLIVE_JOB_QUEUE_LATE', `Job queue '${queue}' must be defined before the app starts`);
    queues.set(queue, opts as QueueOptions<unknown>);
  }

  async function enqueue<P>(queue: string, payload: P, opts: EnqueueOptions = {}): Promise<{ id: string; created: boolean; held?: boolean }> {
    if (!queues.has(queue)) throw new OliveError('OLIVE_JOB_QUEUE_UNKNOWN', `No job queue '${queue}' is defined`);
    const key = opts.key ?? crypto.randomUUID();
    const id = `${queue}:${key}`;
    const runAt = opts.runAt ?? new Date();
    try {
      return { id, created: await record(queue, key, payload, runAt) };
    } catch (err) {
      if (!opts.holdWhileUnavailable || !unreachable(err)) throw err;
      logger.warn({ err, job: id }, 'job held in memory: it is recorded as soon as the database answers');
      held.set(id, { queue, key, payload, runAt });
      return { id, created: false, held: true };
    }
  }

  /** Inserts the job and its queue entry; false when the job existed already. */
  async function record(queue: string, key: string, payload: unknown, runAt: Date): Promise<boolean> {
    const id = `${queue}:${key}`;
    const now = new Date();
    const everyMs = queues.get(queue)?.everyMs;
    try {
      await Job.create({ _id: id, queue, key, payload: payload ?? null, state: 'waiting', attempts: 0, runAt, createdAt: now, updatedAt: now, ...(everyMs ? { everyMs } : {}) });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // Recorded before, perhaps by a request cut off between the two inserts: make sure an
      // unfinished job is in the queue (generation 0 is never removed while it is unfinished).
      const existing = await Job.findById(id, { state: 1, runAt: 1 }).lean();
      if (existing && (existing.state === 'waiting' || existing.state === 'running')) await queueLease(id, queue, existing.runAt);
      return false;
    }
    await queueLease(id, queue, runAt);
    dueSoon(id, queue, 0, runAt);
    if (runAt.getTime() <= Date.now()) kick();
    return true;
  }

  /** Records the held jobs, oldest first, until the database fails again. */
  async function recordHeld() {
    for (const [id, h] of held) {
      if (!(await record(h.queue, h.key, h.payload, h.runAt))) {
        // Recorded before its queue entry failed: queued as the start-up sweep would.
        const job = await Job.findById(id, { state: 1, runAt: 1 }).lean();
        if (job && (job.state === 'waiting' || job.state === 'running') && !(await JobLease.exists({ jobId: id }))) await queueLease(id, h.queue, job.runAt);
      }
      held.delete(id);
      logger.info({ job: id }, 'held job recorded');
    }
  }

  /** Generation 0: the job is in the queue, held by nobody, due at `runAt`. */
  async function queueLease(jobId: string, queue: string, runAt: Date) {
    try {
      await JobLease.create({ _id: `${jobId}#0`, jobId, queue, generation: 0, holder: '(queued)', expiresAt: runAt });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }

  /** The lease ids of a job up to a generation (a job has few: one per attempt). */
  const leaseIds = (jobId: string, upTo: number) => Array.from({ length: upTo + 2 }, (_, g) => `${jobId}#${g}`);
  /** Removes a finished job from the queue: its leases, by key (FerretDB narrows only `_id` filters). */
  const removeLeases = (jobId: string, upTo: number) => JobLease.deleteMany({ _id: trusted({ $in: leaseIds(jobId, upTo) }) });

  /**
   * Takes the job's lease after an expired `latest`: inserting the next generation, which only one
   * instance can do. No lease is deleted while its job is unfinished, so a runner whose view of the
   * queue is old collides with the generation it means to take.
   */
  async function acquire(latest: Pick<JobLeaseDoc, 'jobId' | 'queue' | 'generation'>, leaseMs: number): Promise<JobLeaseDoc | null> {
    const generation = latest.generation + 1;
    const lease: JobLeaseDoc = { _id: `${latest.jobId}#${generation}`, jobId: latest.jobId, queue: latest.queue, generation, holder, expiresAt: new Date(Date.now() + leaseMs) };
    try {
      await JobLease.create(lease);
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
    return lease;
  }

  /** Ours while nobody took the next generation (possible only once ours expired) and ours has not expired. */
  async function holds(lease: JobLeaseDoc): Promise<boolean> {
    const found = await findByKeys(JobLease, [lease._id, `${lease.jobId}#${lease.generation + 1}`]);
    const own = found.find((l) => l._id === lease._id);
    return found.length === 1 && !!own && own.expiresAt.getTime() > Date.now();
  }
  /** Taken over: another instance inserted the next generation. */
  const takenOver = async (lease: JobLeaseDoc) => (await findByKeys(JobLease, [`${lease.jobId}#${lease.generation + 1}`])).length > 0;

  /** Extends the lease every third of its length; beats are chained so none lands after the release. */
  function heartbeat(lease: JobLeaseDoc, leaseMs: number) {
    let beating: Promise<unknown> = Promise.resolve();
    const beat = setInterval(() => {
      beating = beating
        .then(() => JobLease.updateOne({ _id: lease._id }, { $set: { expiresAt: new Date(Date.now() + leaseMs) } }))
        .catch((err) => logger.warn({ err, job: lease.jobId }, 'job lease not extended'));
    }, Math.max(50, Math.floor(leaseMs / 3)));
    beat.unref();
    return async () => {
      clearInterval(beat);
      await beating;
    };
  }

  /** Claims one of the queue's slots for this minute; false when the minute's are all taken. */
  async function takeSlot(queue: string, perMinute: number): Promise<boolean> {
    const minute = Math.floor(Date.now() / 60_000);
    const cursor = slotCursor.get(queue);
    let n = cursor?.minute === minute ? cursor.n : 0;
    while (n < perMinute) {
      n += 1;
      try {
        await JobSlot.create({ _id: `${queue}|${minute}|${n}`, at: new Date() });
        slotCursor.set(queue, { minute, n });
        return true;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    slotCursor.set(queue, { minute, n });
    return false;
  }

  async function sweepSlots() {
    if (Date.now() - lastSlotSweep < 60_000) return;
    lastSlotSweep = Date.now();
    await JobSlot.deleteMany({ at: trusted({ $lt: new Date(Date.now() - 120_000) }) });
    if (Date.now() - lastHistorySweep < 3600_000) return;
    lastHistorySweep = Date.now();
    // Runs of recurring jobs are history after a week (each period is a job of its own).
    await Job.deleteMany({ everyMs: trusted({ $exists: true }), state: trusted({ $in: ['done', 'failed'] }), finishedAt: trusted({ $lt: new Date(Date.now() - 7 * 24 * 3600_000) }) });
  }

  const backoff = (def: QueueOptions<unknown>, attempt: number) =>
    Math.min((def.backoffMs ?? 5000) * 2 ** (attempt - 1), def.maxBackoffMs ?? 3_600_000);

  /** The run of a recurring queue in the period after `from` (insert-once: every instance records the same one). */
  async function scheduleNext(queue: string, everyMs: number, from = Date.now()) {
    const period = Math.floor(from / everyMs) + 1;
    await enqueue(queue, null, { key: `period-${period}`, runAt: new Date(period * everyMs) });
  }

  /**
   * At start: this period's run, due now, unless the queue's runs already follow one another (this
   * period's or the next one is recorded, or the last one is still to run). A second chain of runs
   * started beside a running one would overlap it whenever a run starts late.
   */
  async function startRecurring(queue: string, everyMs: number) {
    const period = Math.floor(Date.now() / everyMs);
    const near = await findByKeys(Job, [period - 1, period, period + 1].map((p) => `${queue}:period-${p}`));
    const alive = near.some((j) => j.key !== `period-${period - 1}` || j.state === 'waiting' || j.state === 'running');
    if (!alive) await enqueue(queue, null, { key: `period-${period}` });
  }

  /** Runs one job under our lease and records what became of it. */
  async function runJob(lease: JobLeaseDoc, def: QueueOptions<unknown> & { everyMs?: number }, abort: AbortController): Promise<void> {
    const jobId = lease.jobId;
    const job = await Job.findById(jobId).lean();
    if (!job || job.state === 'done' || job.state === 'failed' || job.state === 'dropped') {
      await removeLeases(jobId, lease.generation);
      return;
    }
    const leaseMs = def.leaseMs ?? 30_000;
    const attempt = job.attempts + 1;
    const startedAt = Date.now();
    // Shown as running once it has run for a second: most jobs (a message) are done by then, and
    // the write would be one more on every job.
    let markedRunning: Promise<unknown> | undefined;
    const markRunning = setTimeout(() => {
      markedRunning = Job.updateOne({ _id: jobId }, { $set: { state: 'running', startedAt: new Date(startedAt), updatedAt: new Date() } })
        .catch((err) => logger.warn({ err, job: jobId }, 'job not marked running'));
    }, 1000);
    const stopBeating = heartbeat(lease, leaseMs);
    let outcome: { kind: 'done' } | { kind: 'later'; error: RetryLater } | { kind: 'failed'; error: unknown };
    try {
      await def.run(job.payload, { id: jobId, key: job.key, attempt, signal: abort.signal, stillHolding: () => holds(lease) });
      outcome = { kind: 'done' };
    } catch (err) {
      if (err instanceof RetryLater) outcome = { kind: 'later', error: err };
      else if (isDatabaseUnavailable(err)) outcome = { kind: 'later', error: new RetryLater('database unavailable', 5000) };
      else outcome = { kind: 'failed', error: err };
    } finally {
      clearTimeout(markRunning);
      await markedRunning;
      await stopBeating();
    }
    if (def.everyMs) await scheduleNext(job.queue, def.everyMs);
    // Taken over while it ran (it outlived its lease): the new holder runs the job and records it.
    // Only possible once the lease could have expired, so a short run skips the look.
    if (Date.now() - startedAt >= leaseMs / 2 && (await takenOver(lease))) {
      logger.warn({ job: jobId, attempt }, 'job lease taken over while it ran: its outcome is left to the new holder');
      return;
    }

    const now = new Date();
    // Released until `at`: no longer held (an admin may drop it), taken again when it is due.
    const setLease = (at: Date) => JobLease.updateOne({ _id: lease._id }, { $set: { expiresAt: at, holder: RELEASED } });
    if (outcome.kind === 'done') {
      await Job.updateOne({ _id: jobId }, { $set: { state: 'done', attempts: attempt, finishedAt: now, updatedAt: now }, $unset: { lastError: 1 } });
      await removeLeases(jobId, lease.generation);
      return;
    }
    if (outcome.kind === 'later') {
      const { error } = outcome;
      const next = new Date(now.getTime() + error.delayMs);
      if (error.options.pauseQueue) pausedUntil.set(job.queue, next.getTime());
      await Job.updateOne({ _id: jobId }, { $set: { state: 'waiting', runAt: next, lastError: describe(error), updatedAt: now } });
      await setLease(next);
      dueSoon(jobId, job.queue, lease.generation, next);
      return;
    }
    const { error } = outcome;
    // A recurring job's next period is its retry.
    const giveUp = !!def.everyMs || error instanceof PermanentFailure || attempt >= (def.maxAttempts ?? 8);
    if (!(error instanceof PermanentFailure)) logger.warn({ err: error, job: jobId, attempt }, giveUp ? 'job failed for good' : 'job failed; it will be retried');
    if (giveUp) {
      await Job.updateOne({ _id: jobId }, { $set: { state: 'failed', attempts: attempt, lastError: describe(error), finishedAt: now, updatedAt: now } });
      await removeLeases(jobId, lease.generation);
      return;
    }
    const next = new Date(now.getTime() + backoff(def, attempt));
    await Job.updateOne({ _id: jobId }, { $set: { state: 'waiting', attempts: attempt, runAt: next, lastError: describe(error), updatedAt: now } });
    await setLease(next);
    dueSoon(jobId, job.queue, lease.generation, next);
  }

  const runningIn = (queue: string) => [...running.values()].filter((r) => r.queue === queue).length;

  type Due = Pick<JobLeaseDoc, 'jobId' | 'queue' | 'generation' | 'expiresAt'>;
  /**
   * The queue as last read, soonest first. Reading it is a scan of the lease collection, so it is
   * read again only every `refreshMs`; in between, the jobs this instance queues or releases are
   * added to it, and those of other instances wait for the next read.
   */
  let known: Due[] = [];
  let readAt = 0;
  const refreshMs = Math.max(pollMs, 500);
  function dueSoon(jobId: string, queue: string, generation: number, expiresAt: Date) {
    known = known.filter((d) => d.jobId !== jobId);
    known.push({ jobId, queue, generation, expiresAt });
    known.sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime() || (a.jobId < b.jobId ? -1 : 1));
  }

  async function readQueue() {
    const leases = await JobLease.find({}, { jobId: 1, queue: 1, generation: 1, expiresAt: 1 }).lean();
    const latest = new Map<string, Due>();
    for (const l of leases) if ((latest.get(l.jobId)?.generation ?? -1) < l.generation) latest.set(l.jobId, l);
    known = [...latest.values()].sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime() || (a.jobId < b.jobId ? -1 : 1));
    readAt = Date.now();
  }

  /** One look at the queue: takes each due job this instance has room for. */
  async function runOnce(): Promise<void> {
    if (held.size) await recordHeld();
    await sweepSlots();
    if (Date.now() - readAt >= refreshMs) await readQueue();
    const full = new Set<string>();
    const keep: Due[] = [];
    for (let i = 0; i < known.length; i++) {
      const candidate = known[i]!;
      const def = queues.get(candidate.queue);
      const now = Date.now();
      if (stopping || candidate.expiresAt.getTime() > now) { keep.push(...known.slice(i)); break; }
      if (!def || def.notRunHere || running.has(candidate.jobId)) continue;
      if (full.has(candidate.queue) || (pausedUntil.get(candidate.queue) ?? 0) > now) { keep.push(candidate); continue; }
      if (runningIn(candidate.queue) >= (def.concurrency ?? 1)) { full.add(candidate.queue); keep.push(candidate); continue; }
      const lease = await acquire(candidate, def.leaseMs ?? 30_000);
      if (!lease) continue;
      if (def.perMinute && !(await takeSlot(candidate.queue, def.perMinute))) {
        // This minute's share is used up: the job waits for the next minute, no attempt spent.
        const nextMinute = (Math.floor(Date.now() / 60_000) + 1) * 60_000;
        pausedUntil.set(candidate.queue, nextMinute);
        await JobLease.updateOne({ _id: lease._id }, { $set: { expiresAt: new Date(nextMinute) } });
        keep.push({ ...candidate, generation: lease.generation, expiresAt: new Date(nextMinute) });
        full.add(candidate.queue);
        continue;
      }
      const abort = new AbortController();
      const done = runJob(lease, def, abort)
        .catch((err) => logger[isDatabaseUnavailable(err) ? 'warn' : 'error']({ err, job: lease.jobId }, 'job outcome not recorded; the job runs again when its lease expires'))
        .finally(() => {
          running.delete(lease.jobId);
          kick();
        });
      running.set(lease.jobId, { queue: candidate.queue, done, abort });
    }
    known = keep.sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime() || (a.jobId < b.jobId ? -1 : 1));
  }

  let sweptAt = 0;
  /** At start: every unfinished job without a lease (a crash between its two inserts) is queued again. */
  async function sweep() {
    const unfinished = await Job.find({ state: trusted({ $in: ['waiting', 'running'] }) }, { _id: 1, queue: 1, runAt: 1 }).lean();
    const leased = new Set((await JobLease.find({}, { jobId: 1 }).lean()).map((l) => l.jobId));
    for (const j of unfinished) if (!leased.has(j._id)) await queueLease(j._id, j.queue, j.runAt);
  }

  function tick() {
    timer = undefined;
    again = false;
    // The sweep (jobs recorded without their queue entry) runs at start and then hourly.
    const sweepNow = Date.now() - sweptAt >= 3600_000;
    pass = (sweepNow ? sweep().then(() => { sweptAt = Date.now(); return runOnce(); }) : runOnce())
      .catch((err) => logger[isDatabaseUnavailable(err) ? 'warn' : 'error']({ err }, 'job runner pass failed'))
      .finally(() => {
        pass = undefined;
        if (stopping || !started) return;
        timer = setTimeout(tick, again ? 0 : pollMs);
        timer.unref();
      });
  }

  function kick() {
    if (!started || stopping) return;
    if (pass) { again = true; return; }
    if (timer) clearTimeout(timer);
    tick();
  }

  async function find(id: string): Promise<JobDoc> {
    const job = await Job.findById(String(id)).lean();
    if (!job) throw notFound('No such job.');
    return job;
  }

  return {
    define,
    every(queue, everyMs, run, opts = {}) {
      define(queue, { ...opts, run: (_payload, job) => run(job) });
      queues.get(queue)!.everyMs = everyMs;
    },
    enqueue,
    async get(id) {
      const job = await Job.findById(String(id)).lean();
      return job ? toSummary(job) : null;
    },
    async getMany(ids) {
      return (await findByKeys(Job, ids)).map(toSummary);
    },
    async list({ state, queue, page = 1, pageSize = 50 }) {
      const filter: Record<string, string> = {};
      if (state) filter.state = state;
      if (queue) filter.queue = queue;
      const [jobs, total] = await Promise.all([
        Job.find(filter).sort({ updatedAt: -1 }).skip((page - 1) * pageSize).limit(pageSize).lean(),
        Job.countDocuments(filter),
      ]);
      return { jobs: jobs.map(toSummary), total };
    },
    async counts() {
      const rows = await Job.aggregate<{ _id: { queue: string; state: JobState }; count: number }>([
        { $group: { _id: { queue: '$queue', state: '$state' }, count: { $sum: 1 } } },
        { $sort: { '_id.queue': 1, '_id.state': 1 } },
      ]);
      return rows.map((r) => ({ queue: r._id.queue, state: r._id.state, count: r.count }));
    },
    async retry(id) {
      const job = await find(id);
      if (job.state !== 'failed' && job.state !== 'dropped') return;
      const now = new Date();
      await Job.updateOne({ _id: job._id }, { $set: { state: 'waiting', attempts: 0, runAt: now, updatedAt: now }, $unset: { finishedAt: 1 } });
      await queueLease(job._id, job.queue, now);
      kick();
    },
    async drop(id) {
      const job = await find(id);
      // A recurring job is part of the app (session clean-up, reminders): it cannot be given up.
      if (job.everyMs || (job.state !== 'failed' && job.state !== 'waiting')) return;
      // Not while an instance works on it: its outcome would overwrite the drop.
      const leases = await JobLease.find({ jobId: job._id }).lean();
      if (leases.some((l) => l.generation > 0 && l.holder !== RELEASED && l.expiresAt.getTime() > Date.now())) {
        throw new HttpError(409, 'JOB_RUNNING', 'This job is running now: it can be dropped once it stops (if it fails).');
      }
      await Job.updateOne({ _id: job._id }, { $set: { state: 'dropped', finishedAt: new Date(), updatedAt: new Date() } });
      await JobLease.deleteMany({ jobId: job._id });
    },
    kick,
    async idle(only, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const filter: Record<string, unknown> = { state: trusted({ $in: ['waiting', 'running'] }), everyMs: trusted({ $exists: false }) };
        if (only) filter.queue = trusted({ $in: [...only] });
        const busy = await Job.countDocuments(filter);
        if (!busy) return;
        if (Date.now() > deadline) throw new Error(`jobs still unfinished after ${timeoutMs} ms: ${busy}`);
        kick();
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    get queues() { return [...queues.keys()]; },
    holder,
    start() {
      if (started) return;
      started = true;
      stopping = false;
      for (const [queue, def] of queues) {
        if (def.everyMs) starting.push(startRecurring(queue, def.everyMs).then(() => undefined, (err) => logger.warn({ err, queue }, 'recurring job not queued (retried at next start)')));
      }
      timer = setTimeout(tick, 0);
      timer.unref();
    },
    async stop() {
      if (!started) return;
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      for (const r of running.values()) r.abort.abort();
      // A stop right after the start (a port already in use) waits for the start's own writes.
      await Promise.all(starting.splice(0));
      await pass;
      await Promise.allSettled([...running.values()].map((r) => r.done));
      if (held.size) logger.warn({ jobs: [...held.keys()] }, 'jobs held while the database was away were never recorded: the app stopped first');
      started = false;
      stopping = false;
    },
  };
}
