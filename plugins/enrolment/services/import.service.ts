/**
 * Bulk enrolment from a CSV file, against the database: a file is read (`import/read.ts`) and
 * planned (`import/plan.ts`) into a stored preview staff see, then carried out (commit).
 *
 * The commit is a job of the host's job service (queue `enrolment.import-commit`, keyed by the
 * batch id): confirming twice is one job, one instance runs it at a time, and one cut short (an
 * outage, a crash, a restart) runs again by itself. Every step of a commit is idempotent (person
 * upserts, `addByStaff`, `$addToSet` of trainers), so running it again finishes it; only the job
 * writes the batch once it is queued (FerretDB applies an update as read-then-write).
 */
import mongoose, { type Model } from 'mongoose';
import {
  HttpError,
  upsertOne,
  isObjectId,
  notFound,
  PermanentFailure,
  RetryLater,
  safeFileName,
  type JobSummary,
  type MailService,
  type PluginJobs,
  type RunningJob,
  type SessionUser,
  type UsersService,
} from '../../../src/index.ts';
import type { EnrolmentStatus } from '../contract.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { ImportBatchDoc } from '../models/import-batch.model.ts';
import { closedEdition, refusal, type EnrolmentModels } from './records.ts';
import type { EnrolmentService } from './enrolment.service.ts';
import { countResults, planRows, type PlanContext, type StoredRow } from './import/plan.ts';
import { isLegacyEncoding, type LegacyEncoding } from './import/encodings.ts';
import { readImportFile, type ImportRow, type PersonFields } from './import/read.ts';

export * from './import/read.ts';
export * from './import/plan.ts';
export * from './import/encodings.ts';

// ---- Database --------------------------------------------------------------------------------------

/** The plan's context, plus when each enrolment was last imported (to recognise an interrupted commit's own work). */
type CommitContext = Omit<PlanContext, 'enrolments'> & { enrolments: Map<string, { status: EnrolmentStatus; importedAt?: Date | undefined }> };

/** The batches are the import's own; it reads and writes people, enrolments and editions' trainers as the enrolment service's other parts do. */
export interface ImportModels extends Pick<EnrolmentModels, 'Edition' | 'Enrolment' | 'Person'> {
  ImportBatch: Model<ImportBatchDoc>;
}

/** Previews are kept a day; older ones are removed when the next file is uploaded. */
export const BATCH_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** Largest file whose bytes a preview keeps, to be read again in another encoding (the batch is one document). */
export const SOURCE_MAX_BYTES = 4 * 1024 * 1024;

const ACCOUNT_LOOKUPS_AT_ONCE = 8;
/** How long a commit request waits for the import to finish before answering with its progress page (the default of `importCommitWaitMs`). */
export const COMMIT_WAIT_MS = 10_000;
/** How often a running commit records how far it is (for its page). */
const PROGRESS_EVERY_MS = 2_000;
/** The host job queue of commits (`enrolment.import-commit`), one job per batch. */
export const COMMIT_QUEUE = 'import-commit';

/** What a commit job is given. */
export interface CommitPayload {
  batchId: string;
  /** Who confirmed: the enrolments are theirs, and they are told when it is done. */
  by: { id: string; name: string };
}

/** Where a batch's commit stands, for its page. */
export interface CommitState {
  /** Queued or running: it finishes by itself. */
  running: boolean;
  /** Given up after its retries (or dropped by an admin): confirming again starts it anew. */
  stopped?: { reason?: string | undefined } | undefined;
}
const IN_CHUNK = 500;

async function inChunks<T, R>(items: readonly T[], size: number, run: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await run(items.slice(i, i + size))));
  return out;
}

export interface ImportServiceDeps {
  users: () => UsersService;
  /** The plugin's job queues (the commit's worker is `runCommit`, declared on `COMMIT_QUEUE`). */
  jobs: Pick<PluginJobs, 'enqueue' | 'get'>;
  mail: Pick<MailService, 'send'>;
  /** The host job id of a job of this plugin's queue (`<plugin>.<queue>:<key>`). */
  jobId: (queue: string, key: string) => string;
}

export function createImportService(models: ImportModels, service: EnrolmentService, deps: ImportServiceDeps) {
  const { users } = deps;
  const { ImportBatch, Edition, Enrolment, Person } = models;

  const closed = (edition: Pick<EditionDoc, 'status'>) => edition.status === 'cancelled' || edition.status === 'archived';

  /** What the database says about these rows' people, for `planRows`. */
  async function context(edition: EditionDoc, rows: readonly ImportRow[]): Promise<CommitContext> {
    const editionId = edition._id.toString();
    const emails = [...new Set(rows.map((r) => r.email).filter(Boolean))];
    const [persons, enrolments] = await Promise.all([
      inChunks(emails, IN_CHUNK, (chunk) => Person.find({ _id: mongoose.trusted({ $in: chunk }) }).lean()),
      inChunks(emails, IN_CHUNK, (chunk) => Enrolment.find({ editionId, email: mongoose.trusted({ $in: chunk }) }, { email: 1, status: 1, history: 1 }).lean()),
    ]);
    const accounts = new Map<string, { id: string; roles: readonly string[] }>();
    const queue = [...emails];
    await Promise.all(
      Array.from({ length: ACCOUNT_LOOKUPS_AT_ONCE }, async () => {
        for (let email = queue.shift(); email !== undefined; email = queue.shift()) {
          const user = await users().findByEmail(email);
          if (user) accounts.set(email, { id: user.id, roles: user.roles });
        }
      }),
    );
    let seatsLeft: number | null = null;
    if (edition.capacity != null) {
      // Someone waiting means no seat is free for a newcomer (service.place() keeps the order).
      const waiting = await Enrolment.exists({ editionId, status: 'waitlisted' });
      seatsLeft = waiting ? 0 : Math.max(0, edition.capacity - (await service.seatsTaken(editionId)));
    }
    return {
      seatsLeft,
      persons: new Map(persons.map((p) => [p._id, p])),
      enrolments: new Map(
        enrolments.map((e) => [
          e.email,
          {
            status: e.status,
            importedAt: e.history
              .filter((h) => h.action === 'imported')
              .map((h) => h.at)
              .sort((a, b) => b.getTime() - a.getTime())[0],
          },
        ]),
      ),
      accounts,
      trainerIds: new Set(edition.trainerIds),
    };
  }

  /** Removes previews and results older than a day (FerretDB has no TTL indexes). */
  async function expireOld(): Promise<void> {
    const before = new Date(Date.now() - BATCH_LIFETIME_MS);
    const old = await ImportBatch.find({ createdAt: mongoose.trusted({ $lt: before }) }, { _id: 1 }).lean();
    if (!old.length) return;
    await ImportBatch.deleteMany({ _id: mongoose.trusted({ $in: old.map((b) => b._id) }) });
  }

  /**
   * Reads an uploaded file and plans it against the database. A file that cannot be imported at
   * all throws a 400 listing its problems (as `details.problems`), storing nothing; otherwise the
   * preview is stored and returned. `language` (the reader's) breaks a tie between legacy
   * encodings; `encoding` reads the file in that one instead of the most plausible.
   */
  async function preview(
    editionId: string,
    file: { name: string; bytes: Uint8Array },
    by: SessionUser,
    options: { maxRows: number; language?: string | undefined; encoding?: LegacyEncoding | undefined },
  ): Promise<ImportBatchDoc> {
    const edition = await service.requireEdition(editionId);
    if (closed(edition)) throw closedEdition();
    await expireOld();
    const read = readImportFile(file.bytes, options);
    if (read.problems.length || !('rows' in read)) {
      throw new HttpError(
        400,
        'IMPORT_UNREADABLE',
        'This file cannot be imported.',
        { problems: read.problems },
        { key: 'enrolment:errors.import.unreadable' },
      );
    }
    const plans = planRows(read.rows, await context(edition, read.rows));
    const rows: StoredRow[] = read.rows.map((row, i) => ({ ...row, ...plans[i]! }));
    // A file in a legacy encoding keeps its bytes, to be read again if the preview shows the wrong one.
    const keep = isLegacyEncoding(read.encoding) && file.bytes.length <= SOURCE_MAX_BYTES;
    const doc = await ImportBatch.create({
      editionId,
      uploadedBy: by.id,
      uploadedByName: by.name,
      fileName: safeFileName(file.name, 'file.csv'),
      encoding: read.encoding,
      encodingAlternatives: read.alternatives,
      encodingChosen: read.encodingChosen,
      ...(keep ? { source: Buffer.from(file.bytes) } : {}),
      hasSource: keep,
      bom: read.bom,
      delimiter: read.delimiter,
      columns: read.columns,
      rows,
      status: 'previewed',
    });
    const stored = doc.toObject();
    delete stored.source;
    return stored;
  }

  /**
   * The preview of a batch's file read again in another legacy encoding (a new preview; the first
   * one expires as usual). 409 when the batch is being or has been imported, or did not keep its
   * file; 400 for an encoding it cannot be read in.
   */
  async function readAgain(editionId: string, batchId: string, encoding: string, by: SessionUser, maxRows: number): Promise<ImportBatchDoc> {
    const batch = await requireBatch(editionId, batchId);
    if (batch.status !== 'previewed')
      throw refusal(409, 'IMPORT_STARTED', 'This file is being or has been imported: upload it again.', 'enrolment:import.reread.started');
    if (!isLegacyEncoding(encoding) || !(batch.encodingAlternatives ?? []).includes(encoding))
      throw refusal(400, 'BAD_ENCODING', 'This file cannot be read in that encoding.', 'enrolment:import.reread.badEncoding');
    const source: unknown = (await ImportBatch.findById(batch._id).select('+source').select({ source: 1 }).lean())?.source;
    // Read back plain (lean), the bytes are the driver's Binary, whose `buffer` holds them.
    const bytes = source instanceof Uint8Array ? source : (source as { buffer?: unknown } | undefined)?.buffer;
    if (!(bytes instanceof Uint8Array))
      throw refusal(409, 'IMPORT_NO_SOURCE', 'This preview did not keep its file: upload it again.', 'enrolment:import.reread.noSource');
    return preview(editionId, { name: batch.fileName, bytes }, by, { maxRows, encoding });
  }

  /** The batch of this edition, while it has not expired; 404 otherwise (malformed ids too). */
  async function requireBatch(editionId: string, batchId: string): Promise<ImportBatchDoc> {
    const noSuchImport = () => notFound('No such import.', { key: 'enrolment:errors.import.noSuchImport' });
    if (!isObjectId(batchId)) throw noSuchImport();
    const doc = await ImportBatch.findById(batchId).lean();
    if (!doc || doc.editionId !== editionId) throw noSuchImport();
    if (Date.now() - doc.createdAt.getTime() > BATCH_LIFETIME_MS)
      throw notFound('This preview has expired (previews are kept for 24 hours): upload the file again.', { key: 'enrolment:errors.import.expired' });
    return doc;
  }

  const pending = (job: JobSummary) => job.state === 'waiting' || job.state === 'running';

  /**
   * The batch's latest commit job: the first is keyed by the batch id, and each one started again
   * after the previous one stopped for good by `<batchId>.<n>`, so that two confirmations of the
   * same round are still one job.
   */
  async function latestCommit(batchId: string): Promise<{ round: number; job: JobSummary | null }> {
    const keyOf = (round: number) => (round === 1 ? batchId : `${batchId}.${round}`);
    let round = 1;
    let job = await deps.jobs.get(deps.jobId(COMMIT_QUEUE, keyOf(round)));
    for (;;) {
      if (!job || pending(job)) return { round, job };
      const next = await deps.jobs.get(deps.jobId(COMMIT_QUEUE, keyOf(round + 1)));
      if (!next) return { round, job };
      round += 1;
      job = next;
    }
  }

  /** Where the batch's commit stands (nothing to say for a committed or never confirmed batch). */
  async function commitState(batch: ImportBatchDoc): Promise<CommitState> {
    if (batch.status === 'committed') return { running: false };
    const { job } = await latestCommit(batch._id.toString());
    if (job && pending(job)) return { running: true };
    // A commit that ended without committing, or one from before commits were jobs.
    if (job || batch.status === 'committing') return { running: false, stopped: { reason: job?.lastError } };
    return { running: false };
  }

  /** Writes the profile fields the file gives; existing values are never wiped by empty cells. */
  async function writePerson(email: string, fields: PersonFields, userId: string | undefined): Promise<void> {
    const set = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== ''));
    const update = { $set: set, $setOnInsert: { ...(userId ? { userId } : {}) } };
    // Two writers inserting the same new person: the second finds it and updates it (upsertOne).
    await upsertOne(Person, { _id: email }, update, { runValidators: true });
    // The account exists: the profile names it, so addByStaff puts it on the enrolment (an `_id`
    // write, unlike linkAccount's search of every enrolment, which sign-in runs anyway).
    if (userId) await Person.updateOne({ _id: email, userId: mongoose.trusted({ $exists: false }) }, { $set: { userId } });
  }

  /**
   * Queues the commit of a previewed batch and waits for it up to `waitMs` (a large file goes on
   * after the answer, and its page shows the progress). Committing a committed batch does nothing.
   * Throws (before queueing) when the batch expired or its edition is closed, and IMPORT_RUNNING
   * when its commit is queued or running already.
   */
  async function commit(editionId: string, batchId: string, by: SessionUser, waitMs: number): Promise<{ batch: ImportBatchDoc; finished: boolean }> {
    const batch = await requireBatch(editionId, batchId);
    if (batch.status === 'committed') return { batch, finished: true };
    const edition = await service.requireEdition(editionId);
    if (closed(edition)) throw closedEdition();
    const running = () =>
      refusal(
        409,
        'IMPORT_RUNNING',
        'This file is being imported right now. Reload this page in a minute to see the result.',
        'enrolment:errors.import.running',
      );
    const latest = await latestCommit(batchId);
    if (latest.job && pending(latest.job)) throw running();
    const round = latest.job ? latest.round + 1 : 1;
    const payload: CommitPayload = { batchId, by: { id: by.id, name: by.name } };
    const { id, created } = await deps.jobs.enqueue(COMMIT_QUEUE, payload, { key: round === 1 ? batchId : `${batchId}.${round}` });
    // Another confirmation queued this round first: its request shows the progress.
    if (!created) throw running();
    const deadline = Date.now() + waitMs;
    for (let pause = 20; Date.now() < deadline; pause = Math.min(pause * 2, 250)) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, deadline - Date.now())));
      const job = await deps.jobs.get(id);
      if (job?.state === 'done') break;
    }
    const now = (await ImportBatch.findById(batch._id).lean()) ?? batch;
    return { batch: now, finished: now.status === 'committed' };
  }

  /**
   * The commit job: carries out the batch against the database as it is now (re-planned row by
   * row) and stores what each row did, then tells the person who confirmed it. Run again after an
   * interruption, it finishes the work: people it placed before count as placed by it.
   */
  async function runCommit(payload: CommitPayload, job: RunningJob): Promise<void> {
    const batch = isObjectId(payload.batchId) ? await ImportBatch.findById(payload.batchId).lean() : null;
    if (!batch) throw new PermanentFailure('the preview has expired (previews are kept for 24 hours)');
    if (batch.status === 'committed') return tellCommitted(batch);
    const edition = await Edition.findById(batch.editionId).lean();
    if (!edition || closed(edition)) throw new PermanentFailure('the edition is cancelled, archived or gone: nobody can be added');
    const editionId = edition._id.toString();
    const startedAt = batch.commitStartedAt ?? new Date();
    if (batch.status !== 'committing' || !batch.commitStartedAt) {
      await ImportBatch.updateOne({ _id: batch._id }, { $set: { status: 'committing', commitStartedAt: startedAt, progress: 0 } });
    }
    const stored = batch.rows as StoredRow[];
    const now = await context(edition, stored);
    const plans = planRows(stored, now);
    const out: StoredRow[] = [];
    let lastReport = Date.now();
    for (const [i, row] of stored.entries()) {
      // Between two rows: each row's writes are whole, and the next attempt re-plans the rest.
      if (job.signal.aborted) throw new RetryLater('the app is stopping', 0);
      const plan = plans[i]!;
      const next: StoredRow = { ...row, ...plan, result: 'error' };
      out.push(next);
      if (plan.action !== 'error') {
        const account = now.accounts.get(row.email);
        await writePerson(row.email, row.person, account?.id);
        if (row.role === 'trainer') {
          if (!account) continue;
          const res = await Edition.updateOne({ _id: edition._id }, { $addToSet: { trainerIds: account.id } });
          next.result = res.modifiedCount ? 'trainer' : 'alreadyTrainer';
        } else {
          const before = now.enrolments.get(row.email);
          const { enrolment } = await service.addByStaff(editionId, { email: row.email, source: 'import' }, payload.by.id);
          // A person placed by an earlier, interrupted attempt of this same commit counts as placed by it.
          const ours = !!before?.importedAt && before.importedAt >= startedAt;
          const active = before && before.status !== 'withdrawn';
          next.result = (active && !ours) || (enrolment.status !== 'enrolled' && enrolment.status !== 'waitlisted') ? 'already' : enrolment.status;
        }
      }
      if (Date.now() - lastReport > PROGRESS_EVERY_MS) {
        lastReport = Date.now();
        if (!(await job.stillHolding())) throw new RetryLater('the commit was taken over by another instance', 0);
        await ImportBatch.updateOne({ _id: batch._id }, { $set: { progress: i + 1 } });
      }
    }
    // The batch is ours to write only while we hold the job (another instance may have taken it over).
    if (!(await job.stillHolding())) throw new RetryLater('the commit was taken over by another instance', 0);
    const counts = countResults(out);
    const committedAt = new Date();
    await ImportBatch.updateOne(
      { _id: batch._id },
      { $set: { status: 'committed', rows: out, counts, progress: out.length, committedBy: payload.by.id, committedAt } },
    );
    await tellCommitted({ ...batch, status: 'committed', rows: out, counts, committedBy: payload.by.id, committedAt });
  }

  /** E-mails the person who confirmed the import what it did (once per batch, whoever sends it). */
  async function tellCommitted(batch: ImportBatchDoc): Promise<void> {
    if (!batch.committedBy || !batch.counts) return;
    const edition = await Edition.findById(batch.editionId, { title: 1 }).lean();
    const counts = batch.counts;
    await deps.mail.send({
      key: `enrolment.import-committed:${batch._id}`,
      to: { userId: batch.committedBy },
      category: 'notice',
      compose: (t) => ({
        subject: t('enrolment:import.mail.subject', { edition: edition?.title ?? batch.editionId }),
        paragraphs: [
          t('enrolment:import.mail.intro', { file: batch.fileName, edition: edition?.title ?? batch.editionId }),
          t('enrolment:import.result.done', { ...counts }),
        ],
        action: { label: t('enrolment:import.mail.action'), url: `/enrolment/manage/editions/${batch.editionId}/import/${batch._id}` },
      }),
    });
  }

  return { preview, readAgain, commit, runCommit, commitState, requireBatch, expireOld, context };
}

export type ImportService = ReturnType<typeof createImportService>;
