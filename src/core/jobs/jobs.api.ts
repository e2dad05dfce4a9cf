/**
 * What the job service offers its callers (the host, and plugins through `ctx.jobs`), and what a
 * worker is given and may throw.
 */
import type { Logger } from 'pino';
import type { JobState } from './jobs.models.ts';

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
  constructor(
    message: string,
    readonly delayMs: number,
    readonly options: { pauseQueue?: boolean } = {},
  ) {
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

/** A queue as defined, with its period when it is recurring. */
export type QueueDefinition = QueueOptions<unknown> & { everyMs?: number };
