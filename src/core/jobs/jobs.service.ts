/**
 * Background work for the host and every plugin: queued jobs (run once, retried with backoff),
 * recurring jobs, a lease so that one instance runs each job, throughput limits shared by all
 * instances, and a state admins read (waiting, running, done, failed with why). This file is the
 * queue's API (defining, recording, reading, retrying, dropping jobs); the parts are `runner.ts`
 * (taking and running due jobs), `leases.ts`, `throttle.ts` and `jobs.api.ts` (the types callers
 * see). The storage and why it is safe on FerretDB are in jobs.models.ts.
 *
 * Delivery is at least once: a job whose instance dies mid-run is run again once its lease
 * expires. A job's work must therefore be idempotent, which every caller gets from insert-once
 * records of what it did (a certificate per enrolment, a message per key, an outcome per person).
 */
import crypto from 'node:crypto';
import os from 'node:os';
import { HttpError, isDatabaseUnavailable, isDuplicateKey, notFound, OliveError } from '../errors.ts';
import { findByKeys } from '../keyed-reads.ts';
import type { JobDoc, JobModels, JobState } from './jobs.models.ts';
import type { EnqueueOptions, JobsOptions, JobsService, JobSummary, QueueDefinition, QueueOptions } from './jobs.api.ts';
import { createLeases, RELEASED, trusted } from './leases.ts';
import { createRunner } from './runner.ts';
import { createThrottle } from './throttle.ts';

export * from './jobs.api.ts';

const QUEUE_NAME = /^[a-z][a-z0-9-]*\.[a-z][a-zA-Z0-9.-]*$/;
const toSummary = (j: JobDoc): JobSummary => ({
  id: j._id,
  queue: j.queue,
  key: j.key,
  state: j.state,
  attempts: j.attempts,
  runAt: j.runAt,
  lastError: j.lastError,
  createdAt: j.createdAt,
  finishedAt: j.finishedAt,
  recurring: !!j.everyMs,
});
/**
 * The database cannot be reached. Also a write on a socket the server closed (EPIPE), which the
 * driver passes on unwrapped when the server has just died.
 */
const unreachable = (err: unknown) => isDatabaseUnavailable(err) || (err as NodeJS.ErrnoException | null)?.code === 'EPIPE';

export function createJobsService(models: JobModels, options: JobsOptions): JobsService {
  const { Job, JobLease, JobSlot } = models;
  const { logger } = options;
  const holder = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
  const queues = new Map<string, QueueDefinition>();
  const leases = createLeases(JobLease, holder, logger);
  const runner = createRunner({
    models,
    logger,
    pollMs: options.pollMs ?? 1000,
    queues,
    leases,
    throttle: createThrottle(JobSlot),
    beforePass: async () => {
      if (held.size) await recordHeld();
    },
    scheduleNext: (queue, everyMs) => scheduleNext(queue, everyMs),
  });
  /** The recurring jobs' first runs being recorded at start. */
  const starting: Promise<void>[] = [];
  /** Jobs enqueued while the database was away (`holdWhileUnavailable`), by id. */
  const held = new Map<string, { queue: string; key: string; payload: unknown; runAt: Date }>();

  function define<P>(queue: string, opts: QueueOptions<P>) {
    if (!QUEUE_NAME.test(queue)) throw new OliveError('OLIVE_JOB_QUEUE_NAME', `Invalid job queue name '${queue}': use '<owner>.<name>'`);
    if (queues.has(queue)) throw new OliveError('OLIVE_JOB_QUEUE_TWICE', `Job queue '${queue}' is defined twice`);
    if (runner.started) throw new OliveError('OLIVE_JOB_QUEUE_LATE', `Job queue '${queue}' must be defined before the app starts`);
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
      await Job.create({
        _id: id,
        queue,
        key,
        payload: payload ?? null,
        state: 'waiting',
        attempts: 0,
        runAt,
        createdAt: now,
        updatedAt: now,
        ...(everyMs ? { everyMs } : {}),
      });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // Recorded before, perhaps by a request cut off between the two inserts: make sure an
      // unfinished job is in the queue (generation 0 is never removed while it is unfinished).
      const existing = await Job.findById(id, { state: 1, runAt: 1 }).lean();
      if (existing && (existing.state === 'waiting' || existing.state === 'running')) await leases.queueLease(id, queue, existing.runAt);
      return false;
    }
    await leases.queueLease(id, queue, runAt);
    runner.dueSoon(id, queue, 0, runAt);
    if (runAt.getTime() <= Date.now()) runner.kick();
    return true;
  }

  /** Records the held jobs, oldest first, until the database fails again. */
  async function recordHeld() {
    for (const [id, h] of held) {
      if (!(await record(h.queue, h.key, h.payload, h.runAt))) {
        // Recorded before its queue entry failed: queued as the start-up sweep would.
        const job = await Job.findById(id, { state: 1, runAt: 1 }).lean();
        if (job && (job.state === 'waiting' || job.state === 'running') && !(await JobLease.exists({ jobId: id })))
          await leases.queueLease(id, h.queue, job.runAt);
      }
      held.delete(id);
      logger.info({ job: id }, 'held job recorded');
    }
  }

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
    const near = await findByKeys(
      Job,
      [period - 1, period, period + 1].map((p) => `${queue}:period-${p}`),
    );
    const alive = near.some((j) => j.key !== `period-${period - 1}` || j.state === 'waiting' || j.state === 'running');
    if (!alive) await enqueue(queue, null, { key: `period-${period}` });
  }
  async function find(id: string): Promise<JobDoc> {
    const job = await Job.findById(String(id)).lean();
    if (!job) throw notFound('No such job.', { key: 'admin.jobs.noSuchJob' });
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
        Job.find(filter)
          .sort({ updatedAt: -1 })
          .skip((page - 1) * pageSize)
          .limit(pageSize)
          .lean(),
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
      await leases.queueLease(job._id, job.queue, now);
      runner.kick();
    },
    async drop(id) {
      const job = await find(id);
      // A recurring job is part of the app (session clean-up, reminders): it cannot be given up.
      if (job.everyMs || (job.state !== 'failed' && job.state !== 'waiting')) return;
      // Not while an instance works on it: its outcome would overwrite the drop.
      const leases = await JobLease.find({ jobId: job._id }).lean();
      if (leases.some((l) => l.generation > 0 && l.holder !== RELEASED && l.expiresAt.getTime() > Date.now())) {
        throw new HttpError(409, 'JOB_RUNNING', 'This job is running now: it can be dropped once it stops (if it fails).', undefined, {
          key: 'admin.jobs.runningNoDrop',
        });
      }
      await Job.updateOne({ _id: job._id }, { $set: { state: 'dropped', finishedAt: new Date(), updatedAt: new Date() } });
      await JobLease.deleteMany({ jobId: job._id });
    },
    kick: runner.kick,
    async idle(only, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const filter: Record<string, unknown> = { state: trusted({ $in: ['waiting', 'running'] }), everyMs: trusted({ $exists: false }) };
        if (only) filter.queue = trusted({ $in: [...only] });
        const busy = await Job.countDocuments(filter);
        if (!busy) return;
        if (Date.now() > deadline) throw new Error(`jobs still unfinished after ${timeoutMs} ms: ${busy}`);
        runner.kick();
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    get queues() {
      return [...queues.keys()];
    },
    holder,
    start() {
      if (runner.started) return;
      runner.start();
      for (const [queue, def] of queues) {
        if (def.everyMs)
          starting.push(
            startRecurring(queue, def.everyMs).then(
              () => undefined,
              (err) => logger.warn({ err, queue }, 'recurring job not queued (retried at next start)'),
            ),
          );
      }
    },
    async stop() {
      if (!runner.started) return;
      // A stop right after the start (a port already in use) waits for the start's own writes.
      await runner.stop(Promise.all(starting.splice(0)));
      if (held.size) logger.warn({ jobs: [...held.keys()] }, 'jobs held while the database was away were never recorded: the app stopped first');
    },
  };
}
