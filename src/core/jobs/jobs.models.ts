/**
 * The host's background work, stored in MongoDB so that it survives restarts and runs once across
 * several app instances. Every contested step is an insert of a small document with a meaningful
 * `_id` (FerretDB applies an update as read-then-write, so no update is a compare-and-set there):
 *
 *  - `host_jobs`: one record per job (`<queue>:<key>`, inserted once, so enqueuing the same work
 *    twice is one job). Only the instance holding the job's lease writes it after creation.
 *  - `host_job_leases`: the queue of unfinished jobs and who works on each (see {@link JobLeaseDoc}).
 *    Runners poll this small collection, never the growing job history.
 *  - `host_job_slots`: throughput slots, one insert per job of a throttled queue and minute.
 */
import mongoose, { type Connection, type Model } from 'mongoose';

export type JobState = 'waiting' | 'running' | 'done' | 'failed' | 'dropped';
export const JOB_STATES: readonly JobState[] = ['waiting', 'running', 'done', 'failed', 'dropped'];

export interface JobDoc {
  /** `<queue>:<key>`. */
  _id: string;
  queue: string;
  key: string;
  payload: unknown;
  state: JobState;
  /** Attempts that ran (a pause for an unavailable service is not one). */
  attempts: number;
  /** Not before. */
  runAt: Date;
  /** Why the last attempt failed, for admins. */
  lastError?: string;
  /** Recurring jobs run again this long after each run. */
  everyMs?: number;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  updatedAt: Date;
}

/**
 * A lease on a job: `_id` = `<jobId>#<generation>`; the job's current lease is its highest
 * generation. Enqueuing inserts generation 0, held by nobody, expiring at the job's `runAt`. Taking
 * a job is inserting the generation after an expired current lease: of several instances racing,
 * exactly one insert succeeds. Only the holder writes its lease afterwards: a heartbeat moves
 * `expiresAt` on while it works, and at the end it either deletes the job's leases (finished) or
 * sets `expiresAt` to when the job may run again (a retry, the next run of a recurring job).
 */
export interface JobLeaseDoc {
  _id: string;
  jobId: string;
  queue: string;
  generation: number;
  holder: string;
  expiresAt: Date;
}

export interface JobSlotDoc {
  /** `<queue>|<minute>|<n>`. */
  _id: string;
  at: Date;
}

export interface JobModels {
  Job: Model<JobDoc>;
  JobLease: Model<JobLeaseDoc>;
  JobSlot: Model<JobSlotDoc>;
}

export function defineJobModels(connection: Connection): JobModels {
  const job = new mongoose.Schema<JobDoc>(
    {
      _id: { type: String, required: true },
      queue: { type: String, required: true },
      key: { type: String, required: true },
      payload: { type: mongoose.Schema.Types.Mixed },
      state: { type: String, required: true, enum: JOB_STATES },
      attempts: { type: Number, required: true, default: 0 },
      runAt: { type: Date, required: true },
      lastError: { type: String, maxlength: 2000 },
      everyMs: Number,
      createdAt: { type: Date, required: true },
      startedAt: Date,
      finishedAt: Date,
      updatedAt: { type: Date, required: true },
    },
    { versionKey: false, collection: 'host_jobs', minimize: false },
  );
  job.index({ state: 1, queue: 1 });
  const lease = new mongoose.Schema<JobLeaseDoc>(
    {
      _id: { type: String, required: true },
      jobId: { type: String, required: true },
      queue: { type: String, required: true },
      generation: { type: Number, required: true },
      holder: { type: String, required: true },
      expiresAt: { type: Date, required: true },
    },
    { versionKey: false, collection: 'host_job_leases' },
  );
  const slot = new mongoose.Schema<JobSlotDoc>(
    {
      _id: { type: String, required: true },
      at: { type: Date, required: true },
    },
    { versionKey: false, collection: 'host_job_slots' },
  );
  return {
    Job: connection.model<JobDoc>('host_job', job),
    JobLease: connection.model<JobLeaseDoc>('host_job_lease', lease),
    JobSlot: connection.model<JobSlotDoc>('host_job_slot', slot),
  };
}
