/**
 * Leases: a job is in the queue while it has one, and held by the instance whose lease is its
 * latest generation. A lease is taken by inserting the next generation, which exactly one instance
 * can do; the holder's heartbeat extends it; no lease is deleted while its job is unfinished
 * (jobs.models.ts says why this is safe on FerretDB).
 */
import mongoose from 'mongoose';
import type { Logger } from 'pino';
import { isDuplicateKey } from '../errors.ts';
import { findByKeys } from '../keyed-reads.ts';
import type { JobLeaseDoc, JobModels } from './jobs.models.ts';

/** Operators written here, not taken from input (sanitizeFilter is on). */
export const trusted = <T>(operator: T): T => mongoose.trusted(operator) as T;
/** The holder of a lease given back until the job's next try. */
export const RELEASED = '(released)';

export function createLeases(JobLease: JobModels['JobLease'], holder: string, logger: Logger) {
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
    const lease: JobLeaseDoc = {
      _id: `${latest.jobId}#${generation}`,
      jobId: latest.jobId,
      queue: latest.queue,
      generation,
      holder,
      expiresAt: new Date(Date.now() + leaseMs),
    };
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
    const beat = setInterval(
      () => {
        beating = beating
          .then(() => JobLease.updateOne({ _id: lease._id }, { $set: { expiresAt: new Date(Date.now() + leaseMs) } }))
          .catch((err) => logger.warn({ err, job: lease.jobId }, 'job lease not extended'));
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    beat.unref();
    return async () => {
      clearInterval(beat);
      await beating;
    };
  }

  /** Released until `at`: no longer held (an admin may drop it), taken again when it is due. */
  const release = (lease: JobLeaseDoc, at: Date) => JobLease.updateOne({ _id: lease._id }, { $set: { expiresAt: at, holder: RELEASED } });

  return { queueLease, removeLeases, acquire, holds, takenOver, heartbeat, release };
}

export type Leases = ReturnType<typeof createLeases>;
