/**
 * Bulk issuance jobs: what staff asked for and what became of each person (the progress page, the
 * ZIP and the CSV read these). Running them is the host job service's work (queue
 * `certificates.issue`, keyed by the job's id). Nothing here is a growing array or a counter
 * updated by several writers (updates are not compare-and-set on FerretDB: docs/architecture.md,
 * Data): every contested step is an insert of a small document with a meaningful `_id`.
 *
 *  - `certificates_job`: the job, written once at creation (the list of people is fixed then);
 *    its only later change is `finishedAt`, which every finisher writes with the end marker's time.
 *  - `certificates_job_item`: one outcome per person, inserted once (`<jobId>:<enrolmentId>`).
 *  - `certificates_job_end`: the end of a job, inserted once (`_id` = job id): exactly one worker
 *    writes the finishing audit entry, whatever runs concurrently.
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
  /** Staff ticked "issue anyway": people who have not confirmed their printed name are issued too (else they wait). */
  issueAnyway?: boolean;
  requestedBy: string;
  createdAt: Date;
  finishedAt?: Date;
}

export const jobSchema = new mongoose.Schema<JobDoc>(
  {
    editionId: { type: String, required: true },
    courseId: { type: String, required: true },
    scope: { type: String, required: true, enum: ['all-completed', 'chosen'] },
    people: {
      type: [
        new mongoose.Schema<JobPerson>(
          { enrolmentId: { type: String, required: true }, email: { type: String, required: true }, name: { type: String, required: true } },
          { _id: false },
        ),
      ],
      required: true,
    },
    issueAnyway: Boolean,
    requestedBy: { type: String, required: true },
    createdAt: { type: Date, required: true },
    finishedAt: Date,
  },
  { versionKey: false },
);
jobSchema.index({ editionId: 1, createdAt: -1 });

export type JobOutcome = 'issued' | 'already' | 'error' | 'waiting' | 'waitingAccount';

/**
 * The outcome for one person of a job, inserted once: `_id` = `<jobId>:<enrolmentId>`. Two workers
 * that both processed the person (a job taken over while its holder was still busy) insert the
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
   * - error: not issued, `message` says why (not completed, no account, unprintable name, …);
   * - waiting: not issued, the printed name is unconfirmed (the job did not say "issue anyway"):
   *   the certificate comes when the learner confirms it (if the edition issues on completion), or from staff;
   * - waitingAccount: qualifies but has no account: the certificate waits for them (a waiting
   *   record; they were invited to create their account) and is issued once they confirm their printed name.
   */
  outcome: JobOutcome;
  code?: string;
  /** The name printed on the certificate (for file names and the CSV). */
  name?: string;
  /** Why it was not issued, in English (logs, JSON clients), */
  message?: string;
  /** …and its catalogue entry, for pages and the CSV in the reader's language. */
  text?: { key: string; params?: Record<string, unknown> };
  at: Date;
}

export const jobItemSchema = new mongoose.Schema<JobItemDoc>(
  {
    _id: { type: String, required: true },
    jobId: { type: String, required: true },
    enrolmentId: { type: String, required: true },
    position: { type: Number, required: true },
    outcome: { type: String, required: true, enum: ['issued', 'already', 'error', 'waiting', 'waitingAccount'] },
    code: String,
    name: String,
    message: { type: String, maxlength: 2000 },
    text: { type: mongoose.Schema.Types.Mixed },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
jobItemSchema.index({ jobId: 1, position: 1 });

/** The end of a job, inserted once by the worker that finishes it. */
export interface JobEndDoc {
  _id: string; // job id
  at: Date;
}

export const jobEndSchema = new mongoose.Schema<JobEndDoc>(
  {
    _id: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

export interface JobModels {
  Job: mongoose.Model<JobDoc>;
  JobItem: mongoose.Model<JobItemDoc>;
  JobEnd: mongoose.Model<JobEndDoc>;
}

/** Registers the job models on a plugin context (`certificates_job`, `_job_item`, `_job_end`). */
export function registerJobModels(ctx: { model<T>(name: string, schema: mongoose.Schema<T>): mongoose.Model<T> }): JobModels {
  return {
    Job: ctx.model<JobDoc>('job', jobSchema),
    JobItem: ctx.model<JobItemDoc>('job_item', jobItemSchema),
    JobEnd: ctx.model<JobEndDoc>('job_end', jobEndSchema),
  };
}
