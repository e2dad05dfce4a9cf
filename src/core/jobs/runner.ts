/**
 * The runner: looks at the queue (read at most every half second, and kept up to date in between
 * with what this instance queues), takes each due job it has room for under a lease, runs it and
 * records its outcome: done, later (backed off, or the queue paused), or failed for good.
 */
import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../errors.ts';
import { PermanentFailure, RetryLater, type QueueDefinition, type QueueOptions } from './jobs.api.ts';
import type { JobDoc, JobLeaseDoc, JobModels } from './jobs.models.ts';
import { trusted, type Leases } from './leases.ts';
import type { Throttle } from './throttle.ts';

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 2000);

export interface RunnerDeps {
  models: Pick<JobModels, 'Job' | 'JobLease'>;
  logger: Logger;
  pollMs: number;
  queues: ReadonlyMap<string, QueueDefinition>;
  leases: Leases;
  throttle: Throttle;
  /** Before each look at the queue (jobs held while the database was away are recorded). */
  beforePass(): Promise<void>;
  /** After a run of a recurring queue: the next period's run. */
  scheduleNext(queue: string, everyMs: number): Promise<void>;
}

export function createRunner(deps: RunnerDeps) {
  const {
    models: { Job, JobLease },
    logger,
    pollMs,
    queues,
    leases,
    throttle,
  } = deps;
  const running = new Map<string, { queue: string; done: Promise<void>; abort: AbortController }>();
  const pausedUntil = new Map<string, number>();
  let started = false;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> | undefined;
  let again = false;
  let lastHistorySweep = 0;

  const backoff = (def: QueueOptions<unknown>, attempt: number) => Math.min((def.backoffMs ?? 5000) * 2 ** (attempt - 1), def.maxBackoffMs ?? 3_600_000);
  /** Runs one job under our lease and records what became of it. */
  async function runJob(lease: JobLeaseDoc, job: JobDoc, def: QueueDefinition, abort: AbortController): Promise<void> {
    const jobId = lease.jobId;
    const leaseMs = def.leaseMs ?? 30_000;
    const attempt = job.attempts + 1;
    const startedAt = Date.now();
    // Shown as running once it has run for a second: most jobs (a message) are done by then, and
    // the write would be one more on every job.
    let markedRunning: Promise<unknown> | undefined;
    const markRunning = setTimeout(() => {
      markedRunning = Job.updateOne({ _id: jobId }, { $set: { state: 'running', startedAt: new Date(startedAt), updatedAt: new Date() } }).catch((err) =>
        logger.warn({ err, job: jobId }, 'job not marked running'),
      );
    }, 1000);
    const stopBeating = leases.heartbeat(lease, leaseMs);
    let outcome: { kind: 'done' } | { kind: 'later'; error: RetryLater } | { kind: 'failed'; error: unknown };
    try {
      await def.run(job.payload, { id: jobId, key: job.key, attempt, signal: abort.signal, stillHolding: () => leases.holds(lease) });
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
    if (def.everyMs) await deps.scheduleNext(job.queue, def.everyMs);
    // Taken over while it ran (it outlived its lease): the new holder runs the job and records it.
    // Only possible once the lease could have expired, so a short run skips the look.
    if (Date.now() - startedAt >= leaseMs / 2 && (await leases.takenOver(lease))) {
      logger.warn({ job: jobId, attempt }, 'job lease taken over while it ran: its outcome is left to the new holder');
      return;
    }

    const now = new Date();
    if (outcome.kind === 'done') {
      await Job.updateOne({ _id: jobId }, { $set: { state: 'done', attempts: attempt, finishedAt: now, updatedAt: now }, $unset: { lastError: 1 } });
      await leases.removeLeases(jobId, lease.generation);
      return;
    }
    if (outcome.kind === 'later') {
      const { error } = outcome;
      const next = new Date(now.getTime() + error.delayMs);
      if (error.options.pauseQueue) pausedUntil.set(job.queue, next.getTime());
      await Job.updateOne({ _id: jobId }, { $set: { state: 'waiting', runAt: next, lastError: describe(error), updatedAt: now } });
      await leases.release(lease, next);
      dueSoon(jobId, job.queue, lease.generation, next);
      return;
    }
    const { error } = outcome;
    // A recurring job's next period is its retry.
    const giveUp = !!def.everyMs || error instanceof PermanentFailure || attempt >= (def.maxAttempts ?? 8);
    if (!(error instanceof PermanentFailure))
      logger.warn({ err: error, job: jobId, attempt }, giveUp ? 'job failed for good' : 'job failed; it will be retried');
    if (giveUp) {
      await Job.updateOne({ _id: jobId }, { $set: { state: 'failed', attempts: attempt, lastError: describe(error), finishedAt: now, updatedAt: now } });
      await leases.removeLeases(jobId, lease.generation);
      return;
    }
    const next = new Date(now.getTime() + backoff(def, attempt));
    await Job.updateOne({ _id: jobId }, { $set: { state: 'waiting', attempts: attempt, runAt: next, lastError: describe(error), updatedAt: now } });
    await leases.release(lease, next);
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
    await deps.beforePass();
    await throttle.sweep();
    await sweepHistory();
    if (Date.now() - readAt >= refreshMs) await readQueue();
    const full = new Set<string>();
    const keep: Due[] = [];
    for (let i = 0; i < known.length; i++) {
      const candidate = known[i]!;
      const def = queues.get(candidate.queue);
      const now = Date.now();
      if (stopping || candidate.expiresAt.getTime() > now) {
        keep.push(...known.slice(i));
        break;
      }
      if (!def || def.notRunHere || running.has(candidate.jobId)) continue;
      if (full.has(candidate.queue) || (pausedUntil.get(candidate.queue) ?? 0) > now) {
        keep.push(candidate);
        continue;
      }
      if (runningIn(candidate.queue) >= (def.concurrency ?? 1)) {
        full.add(candidate.queue);
        keep.push(candidate);
        continue;
      }
      const lease = await leases.acquire(candidate, def.leaseMs ?? 30_000);
      if (!lease) continue;
      // A view of the queue up to half a second old may still list a job another instance has
      // finished since (its leases removed, so the insert above succeeded): looked at before it
      // takes one of the minute's slots, which it would otherwise spend on nothing.
      const job = await Job.findById(lease.jobId).lean();
      if (!job || job.state === 'done' || job.state === 'failed' || job.state === 'dropped') {
        await leases.removeLeases(lease.jobId, lease.generation);
        continue;
      }
      if (def.perMinute && !(await throttle.takeSlot(candidate.queue, def.perMinute))) {
        // This minute's share is used up: the job waits for the next minute, no attempt spent.
        const nextMinute = (Math.floor(Date.now() / 60_000) + 1) * 60_000;
        pausedUntil.set(candidate.queue, nextMinute);
        await JobLease.updateOne({ _id: lease._id }, { $set: { expiresAt: new Date(nextMinute) } });
        keep.push({ ...candidate, generation: lease.generation, expiresAt: new Date(nextMinute) });
        full.add(candidate.queue);
        continue;
      }
      const abort = new AbortController();
      const done = runJob(lease, job, def, abort)
        .catch((err) =>
          logger[isDatabaseUnavailable(err) ? 'warn' : 'error'](
            { err, job: lease.jobId },
            'job outcome not recorded; the job runs again when its lease expires',
          ),
        )
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
    for (const j of unfinished) if (!leased.has(j._id)) await leases.queueLease(j._id, j.queue, j.runAt);
  }

  function tick() {
    timer = undefined;
    again = false;
    // The sweep (jobs recorded without their queue entry) runs at start and then hourly.
    const sweepNow = Date.now() - sweptAt >= 3600_000;
    pass = (
      sweepNow
        ? sweep().then(() => {
            sweptAt = Date.now();
            return runOnce();
          })
        : runOnce()
    )
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
    if (pass) {
      again = true;
      return;
    }
    if (timer) clearTimeout(timer);
    tick();
  }

  /** Runs of recurring jobs are history after a week (each period is a job of its own); looked for hourly. */
  async function sweepHistory() {
    if (Date.now() - lastHistorySweep < 3600_000) return;
    lastHistorySweep = Date.now();
    await Job.deleteMany({
      everyMs: trusted({ $exists: true }),
      state: trusted({ $in: ['done', 'failed'] }),
      finishedAt: trusted({ $lt: new Date(Date.now() - 7 * 24 * 3600_000) }),
    });
  }

  return {
    dueSoon,
    kick,
    get started() {
      return started;
    },
    start() {
      started = true;
      stopping = false;
      timer = setTimeout(tick, 0);
      timer.unref();
    },
    /** Stops looking, aborts the running jobs, and waits for them and for `alsoWaitFor`. */
    async stop(alsoWaitFor: Promise<unknown>) {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      for (const r of running.values()) r.abort.abort();
      await alsoWaitFor;
      await pass;
      await Promise.allSettled([...running.values()].map((r) => r.done));
      started = false;
      stopping = false;
    },
  };
}
