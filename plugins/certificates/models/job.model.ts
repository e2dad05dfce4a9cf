/**
 * Bulk issuance jobs, stored in MongoDB so that they survive a restart and run once across several
 * app instances. Nothing here is a growing array or a counter updated by several writers
 * (FerretDB applies an update as read-then-write, so concurrent updates of one document can lose
 * one): every contested step is an insert of a small document with a meaningful `_id`.
 *
 *  - `certificates_job`: the job, written once at creation (the list of people is fixed then);
 *    its only later change is `finishedAt`, written by the one worker whose end marker went in.
 *  - `certificates_job_item`: one outcome per person, inserted once (`<jobId>:<enrolmentId>`).
 *  - `certificates_job_lease`: the queue, and who works on a job now. See {@link JobLeaseDoc}.
 *  - `certificates_job_end`: the end of a job, inserted once (`_id` = job id): exactly one worker
 *    finishes a job (sets `finishedAt`, writes the audit entry), whatever runs concurrently.
 */
import mongoose from 'mongoose';

/** A person in a job, as they were when it was created (for the progress page before any outcome). */
export interface JobPerson {
  enrolmentId: string;
  email: string;
  name: string;
}

export interface JobDoc {
  _id: mongoose.Types.ObjectId;
  editionId: string;
  courseId: string;
  /** How the list was made: everyone who had completed at creation, or a list staff chose. */
  scope: 'all-completed' | 'chosen';
  /** The people, in the order they are processed; fixed when the job is created. */
  people: JobPerson[];
  requestedBy: string;
  createdAt: Date;
  finishedAt?: Date;
}

export const jobSchema = new mongoose.Schema<JobDoc>({
  editionId: { type: String, required: true },
  courseId: { type: String, required: true },
  scope: { type: String, required: true, enum: ['all-completed', 'chosen'] },
  people: {
    type: [new mongoose.Schema<JobPerson>({ enrolmentId: { type: String, required: true }, email: { type: String, required: true }, name: { type: String, required: true } }, { _id: false })],
    required: true,
  },
  requestedBy: { type: String, required: true },
  createdAt: { type: Date, required: true },
  finishedAt: Date,
}, { versionKey: false });
jobSchema.index({ editionId: 1, createdAt: -1 });

export type JobOutcome = 'issued' | 'already' | 'error';

/**
 * The outcome for one person of a job, inserted once: `_id` = `<jobId>:<enrolmentId>`. Two workers
 * that both processed the person (a lease taken over while its holder was still busy) insert the
 * same `_id`: the first stands and the second is a duplicate key, ignored.
 */
export interface JobItemDoc {
  _id: string;
  jobId: string;
  enrolmentId: string;
  /** Place in the job's list. */
  position: number;
  /**
   * - issued: this job issued the certificate;
   * - already: the person had it before (another job, staff, or completion);
   * - error: not issued, `message` says why (not completed, no account, unprintable name, …).
   */
  outcome: JobOutcome;
  code?: string;
  /** The name printed on the certificate (for file names and the CSV). */
  name?: string;
  message?: string;
  at: Date;
}

export const jobItemSchema = new mongoose.Schema<JobItemDoc>({
  _id: { type: String, required: true },
  jobId: { type: String, required: true },
  enrolmentId: { type: String, required: true },
  position: { type: Number, required: true },
  outcome: { type: String, required: true, enum: ['issued', 'already', 'error'] },
  code: String,
  name: String,
  message: { type: String, maxlength: 2000 },
  at: { type: Date, required: true },
}, { versionKey: false });
jobItemSchema.index({ jobId: 1, position: 1 });

/**
 * A lease on a job: `_id` = `<jobId>:<generation>`. The current lease of a job is its highest
 * generation. Creating a job inserts generation 0, held by nobody and already expired: the lease
 * collection is the queue of unfinished jobs (a job's leases are deleted when it ends), which is
 * what runners poll. Taking a job is inserting the generation after an *expired* current lease, so
 * of several instances racing for it, exactly one insert succeeds. No lease is ever deleted or rewritten by anyone but its holder: a take-over is
 * decided by the unique `_id` alone, not by a conditional update or delete (neither is a
 * compare-and-set on FerretDB).
 *
 * The holder extends `expiresAt` while it works (heartbeat) and sets it to now when it stops
 * (release). Before each person it checks that its lease is still the current one and unexpired.
 * If its lease expired meanwhile (a long pause, a lost database connection) and another instance
 * took the job over, the old holder stops at its next check; the person it was busy with may be
 * attempted by both, which still yields one certificate (issuance claims by enrolment id) and one
 * outcome (insert-once item).
 */
export interface JobLeaseDoc {
  _id: string;
  jobId: string;
  generation: number;
  /** The instance holding it (random per runner). */
  holder: string;
  takenAt: Date;
  expiresAt: Date;
}

export const jobLeaseSchema = new mongoose.Schema<JobLeaseDoc>({
  _id: { type: String, required: true },
  jobId: { type: String, required: true },
  generation: { type: Number, required: true },
  holder: { type: String, required: true },
  takenAt: { type: Date, required: true },
  expiresAt: { type: Date, required: true },
}, { versionKey: false });
jobLeaseSchema.index({ jobId: 1, generation: -1 });

/** The end of a job, inserted once by the worker that finishes it. */
export interface JobEndDoc {
  _id: string; // job id
  at: Date;
  holder: string;
}

export const jobEndSchema = new mongoose.Schema<JobEndDoc>({
  _id: { type: String, required: true },
  at: { type: Date, required: true },
  holder: { type: String, required: true },
}, { versionKey: false });

export interface JobModels {
  Job: mongoose.Model<JobDoc>;
  JobItem: mongoose.Model<JobItemDoc>;
  JobLease: mongoose.Model<JobLeaseDoc>;
  JobEnd: mongoose.Model<JobEndDoc>;
}

/** Registers the job models on a plugin context (`certificates_job`, `_job_item`, `_job_lease`, `_job_end`). */
export function registerJobModels(ctx: { model<T>(name: string, schema: mongoose.Schema<T>): mongoose.Model<T> }): JobModels {
  return {
    Job: ctx.model<JobDoc>('job', jobSchema),
    JobItem: ctx.model<JobItemDoc>('job_item', jobItemSchema),
    JobLease: ctx.model<JobLeaseDoc>('job_lease', jobLeaseSchema),
    JobEnd: ctx.model<JobEndDoc>('job_end', jobEndSchema),
  };
}
