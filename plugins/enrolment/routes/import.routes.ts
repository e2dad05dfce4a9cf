/**
 * Bulk enrolment from a CSV file (staff and admins): upload → preview of what each row will do →
 * commit → result. Nothing changes before the commit; the preview is stored (24 hours) so that the
 * commit carries out exactly the file that was previewed, re-checked against the database.
 */
import type { Request, Response } from 'express';
import multer from 'multer';
import {
  allow,
  errorMessage,
  formatBytes,
  formatDateTime,
  formatList,
  HttpError,
  respond,
  sendCsv,
  wantsJson,
  type PluginContext,
} from '../../../src/index.ts';
import type { EnrolmentConfig } from '../config.ts';
import type { EditionDoc } from '../models/edition.model.ts';
import type { ImportBatchDoc } from '../models/import-batch.model.ts';
import type { EnrolmentService } from '../services/enrolment.service.ts';
import {
  IMPORT_FIELDS,
  isLegacyEncoding,
  type ImportField,
  type Issue,
  type LegacyEncoding,
  type StoredRow,
  type createImportService,
} from '../services/import.service.ts';
import { IMPORT_INVITATIONS_QUEUE } from '../services/notices.ts';
import type { ImportRole } from '../services/import/read.ts';
import { countryName, type Gender, type OrganisationType } from '../services/profile.ts';

type ImportService = ReturnType<typeof createImportService>;

/** Rows listed on a preview or result page unless the person asks for all of them (the page stays light). */
const ROWS_SHOWN = 200;

/** Problems with the whole file that mean "this is not a CSV" (415) rather than "this CSV is wrong" (400). */
const NOT_CSV = new Set(['workbook', 'legacyWorkbook', 'pdf', 'binary']);

/**
 * The template's example rows. It is written in the reader's language (column labels, gender,
 * organisation type, country and role as their pages name them), and reads back in any.
 */
const TEMPLATE_ROWS: (Record<Exclude<ImportField, 'gender' | 'organisationType' | 'role'>, string> & {
  gender: Gender;
  organisationType: OrganisationType;
  role: ImportRole;
})[] = [
  {
    email: 'amina.diallo@example.org',
    givenName: 'Amina',
    familyName: 'Diallo',
    organisation: 'Ministry of Foreign Affairs, Senegal',
    organisationType: 'government',
    country: 'SN',
    gender: 'woman',
    jobTitle: 'Counsellor',
    role: 'learner',
  },
  {
    email: 'lucas.moreau@example.org',
    givenName: 'Lucas',
    familyName: 'Moreau',
    organisation: 'MINUSCA',
    organisationType: 'un-secretariat',
    country: 'FR',
    gender: 'man',
    jobTitle: 'Civil Affairs Officer',
    role: 'learner',
  },
];

export function mountImportRoutes(ctx: PluginContext<EnrolmentConfig>, service: EnrolmentService, imports: ImportService) {
  const staff = allow.roles('staff');
  const maxBytes = () => Math.floor(ctx.config.maxImportMb * 1024 * 1024);
  const pageOf = (edition: Pick<EditionDoc, '_id'>) => `/enrolment/manage/editions/${edition._id}/import`;
  const closed = (edition: Pick<EditionDoc, 'status'>) => edition.status === 'cancelled' || edition.status === 'archived';

  /** An issue in the reader's language. */
  const describe = (req: Request) => (issue: Issue) => {
    const params: Record<string, string | number> = { ...issue.params };
    if (issue.code === 'tooLong' && typeof params.field === 'string') params.field = req.t(`enrolment:import.fields.${params.field}`);
    return req.t(`enrolment:import.issues.${issue.code}`, params);
  };

  function formPage(req: Request, res: Response, edition: EditionDoc, problems: string[] = []) {
    return {
      title: req.t('enrolment:import.title'),
      edition,
      closed: closed(edition),
      problems,
      fields: IMPORT_FIELDS,
      maxSize: formatBytes(maxBytes(), req.language),
      maxRows: ctx.config.maxImportRows,
      uploadToken: res.locals.csrfToken(),
    };
  }

  /** The uploaded file, read into memory (at most maxImportMb): multer's refusals become clear messages. */
  async function receive(req: Request, res: Response): Promise<{ name: string; bytes: Buffer }> {
    if (!req.is('multipart/form-data')) throw new HttpError(400, 'MALFORMED_UPLOAD', req.t('enrolment:import.upload.notMultipart'));
    const upload = multer({
      storage: multer.memoryStorage(),
      limits: { fileSize: maxBytes(), files: 1, fields: 10, parts: 11 },
      // Browsers send file names as raw UTF-8; busboy's latin1 default would garble "Liste_participants_é.csv".
      defParamCharset: 'utf8',
    }).single('file');
    try {
      await new Promise<void>((resolve, reject) => upload(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
    } catch (err) {
      if (err instanceof multer.MulterError) {
        if (err.code === 'LIMIT_FILE_SIZE')
          throw new HttpError(413, 'FILE_TOO_LARGE', req.t('enrolment:import.upload.tooLarge', { size: formatBytes(maxBytes(), req.language) }));
        if (err.code === 'LIMIT_UNEXPECTED_FILE' || err.code === 'LIMIT_FILE_COUNT')
          throw new HttpError(400, 'MALFORMED_UPLOAD', req.t('enrolment:import.upload.oneFile'));
        throw new HttpError(400, 'MALFORMED_UPLOAD', req.t('enrolment:import.upload.unreadable'));
      }
      const message = err instanceof Error ? err.message : '';
      if (/^(Request (aborted|closed)|Malformed|Unexpected end of (form|file)|Multipart: Boundary not found)/.test(message)) {
        throw new HttpError(400, 'MALFORMED_UPLOAD', req.t('enrolment:import.upload.unreadable'));
      }
      throw err;
    }
    const file = req.file;
    if (!file || (!file.originalname && file.size === 0)) throw new HttpError(400, 'NO_FILE', req.t('enrolment:import.upload.noFile'));
    return { name: file.originalname || 'file.csv', bytes: file.buffer };
  }

  /** What a preview or result page shows of each row. */
  function rowView(req: Request, row: StoredRow) {
    const t = describe(req);
    const name = [row.cells.givenName, row.cells.familyName].filter(Boolean).join(' ');
    const action = row.result ?? row.action;
    let what: string;
    if (action === 'error') what = row.errors.map(t).join(' ');
    else if (action === 'already') what = req.t('enrolment:import.actions.already', { status: req.t(`enrolment:import.statuses.${row.status ?? 'enrolled'}`) });
    else what = req.t(`enrolment:import.actions.${action}`);
    return {
      line: row.lastLine > row.line ? `${row.line}–${row.lastLine}` : String(row.line),
      email: row.email || row.cells.email || '',
      name,
      organisation: row.cells.organisation ?? '',
      country: row.person.country ? countryName(row.person.country, req.language) : (row.cells.country ?? ''),
      role: row.role,
      action,
      what,
      profile:
        row.profile === 'update'
          ? req.t('enrolment:import.profile.update', {
              fields: formatList(
                req.language,
                row.changed.map((f) => req.t(`enrolment:import.fields.${f}`)),
              ),
            })
          : row.profile
            ? req.t(`enrolment:import.profile.${row.profile}`)
            : '',
      account: action === 'error' ? '' : req.t(row.account ? 'enrolment:import.account.yes' : 'enrolment:import.account.no'),
    };
  }

  /** Counts of the plan (preview) by what will happen. */
  function planCounts(rows: StoredRow[]) {
    const counts = { enrol: 0, waitlist: 0, already: 0, trainers: 0, errors: 0, newPeople: 0 };
    for (const r of rows) {
      if (r.action === 'enrol') counts.enrol++;
      else if (r.action === 'waitlist') counts.waitlist++;
      else if (r.action === 'addTrainer') counts.trainers++;
      else if (r.action === 'error') counts.errors++;
      else counts.already++;
      if (r.action !== 'error' && !r.account) counts.newPeople++;
    }
    return counts;
  }

  async function requireEdition(req: Request) {
    return service.requireEdition(String(req.params.id));
  }

  ctx.router.get('/manage/editions/:id/import', staff, async (req, res) => {
    res.render('enrolment/import', formPage(req, res, await requireEdition(req)));
  });

  /** A column's label in the reader's language: the template's and the rows in error's headers (read back in any language). */
  const columnLabel = (req: Request, field: ImportField) => req.t(`enrolment:import.fields.${field}`);

  // The template: UTF-8 with a BOM so that Excel shows every script right when it opens it.
  ctx.router.get('/manage/editions/:id/import/template.csv', staff, async (req, res) => {
    await requireEdition(req);
    const header = IMPORT_FIELDS.map((f) => columnLabel(req, f));
    const cell = (row: (typeof TEMPLATE_ROWS)[number], field: ImportField) =>
      field === 'gender'
        ? req.t(`enrolment:gender.${row.gender}`)
        : field === 'organisationType'
          ? req.t(`enrolment:organisationType.${row.organisationType}`)
          : field === 'role'
            ? req.t(`enrolment:import.roles.${row.role}`)
            : field === 'country'
              ? countryName(row.country, req.language)
              : row[field];
    const lines = TEMPLATE_ROWS.map((r) => IMPORT_FIELDS.map((f) => cell(r, f)));
    sendCsv(res, 'enrolment-template.csv', header, lines);
  });

  // Upload: the CSRF token travels in the form's action URL (multipart, read here after the host's check).
  ctx.router.post('/manage/editions/:id/import', staff, async (req, res) => {
    const edition = await requireEdition(req);
    let batch: ImportBatchDoc;
    try {
      if (closed(edition)) throw new HttpError(409, 'EDITION_CLOSED', req.t('enrolment:import.closed'));
      const file = await receive(req, res);
      batch = await imports.preview(edition._id.toString(), file, req.user!, { maxRows: ctx.config.maxImportRows, language: req.language });
    } catch (err) {
      return refused(req, res, edition, err);
    }
    respond(req, res, {
      status: 201,
      json: { batchId: batch._id.toString(), rows: batch.rows.length, counts: planCounts(batch.rows) },
      redirect: `${pageOf(edition)}/${batch._id}`,
    });
  });

  /** A file that cannot be previewed: the upload form again with its problems; JSON clients get them as the error's details. */
  function refused(req: Request, res: Response, edition: EditionDoc, err: unknown) {
    if (!(err instanceof HttpError) || err.status >= 500) throw err;
    const problems = (err.details as { problems?: Issue[] } | undefined)?.problems;
    const status = problems?.some((p) => NOT_CSV.has(p.code)) ? 415 : err.status;
    return respond(req, res, {
      json: new HttpError(status, err.code, err.message, problems ? { problems: problems.map(describe(req)) } : undefined),
      render: [
        'enrolment/import',
        formPage(
          req,
          res,
          edition,
          problems
            ? problems.map(describe(req))
            : [err.code === 'EDITION_CLOSED' ? req.t('enrolment:import.closed') : errorMessage((key, options) => String(req.t(key, options as never)), err)],
        ),
      ],
    });
  }

  ctx.router.get('/manage/editions/:id/import/:batchId', staff, async (req, res) => {
    const edition = await requireEdition(req);
    const batch = await imports.requireBatch(edition._id.toString(), String(req.params.batchId));
    const rows = batch.rows;
    const all = req.query.all === '1';
    // Rows in error first on a preview: they are what staff need to look at.
    const ordered = batch.status === 'committed' ? rows : [...rows.filter((r) => r.action === 'error'), ...rows.filter((r) => r.action !== 'error')];
    const shown = all ? ordered : ordered.slice(0, ROWS_SHOWN);
    const { running, stopped } = await imports.commitState(batch);
    // While a large file is being imported the page reloads itself (the Refresh header needs no script).
    if (running) res.setHeader('Refresh', '3');
    res.render(batch.status === 'committed' ? 'enrolment/import-result' : 'enrolment/import-preview', {
      title: req.t(batch.status === 'committed' ? 'enrolment:import.result.title' : 'enrolment:import.preview.title'),
      edition,
      batch,
      base: pageOf(edition),
      plan: planCounts(rows),
      counts: batch.counts ?? null,
      rows: shown.map((r) => rowView(req, r)),
      hidden: ordered.length - shown.length,
      ignored: batch.columns.filter((c) => !c.field && c.header).map((c) => c.header),
      read: batch.columns.filter((c) => c.field).map((c) => ({ header: c.header, field: req.t(`enrolment:import.fields.${c.field}`) })),
      running,
      progress: batch.progress ?? 0,
      resumable: !!stopped,
      uploadedAt: formatDateTime(req.language, batch.createdAt),
      closed: closed(edition),
      legacy: isLegacyEncoding(batch.encoding) ? encodingChoice(batch) : null,
    });
  });

  /** What the preview says of a file in a legacy encoding, and the others it offers to read it in. */
  function encodingChoice(batch: ImportBatchDoc) {
    return {
      chosen: !!batch.encodingChosen,
      others: batch.status === 'previewed' && batch.hasSource ? ((batch.encodingAlternatives ?? []) as LegacyEncoding[]) : [],
    };
  }

  // The same file read again in another legacy encoding: a new preview, or the upload form with the problems it then has.
  ctx.router.post('/manage/editions/:id/import/:batchId/encoding', staff, async (req, res) => {
    const edition = await requireEdition(req);
    const encoding = typeof req.body?.encoding === 'string' ? req.body.encoding : '';
    let batch: ImportBatchDoc;
    try {
      batch = await imports.readAgain(edition._id.toString(), String(req.params.batchId), encoding, req.user!, ctx.config.maxImportRows);
    } catch (err) {
      // Not found, started, or not offered: the error page says so; a file read wrongly is refused as an upload is.
      if (!(err instanceof HttpError) || !(err.details as { problems?: Issue[] } | undefined)?.problems) throw err;
      return refused(req, res, edition, err);
    }
    respond(req, res, {
      status: 201,
      json: { batchId: batch._id.toString(), encoding: batch.encoding, rows: batch.rows.length, counts: planCounts(batch.rows) },
      redirect: `${pageOf(edition)}/${batch._id}`,
    });
  });

  // The rows in error, with their reasons in the reader's language, to fix in a spreadsheet and upload again.
  ctx.router.get('/manage/editions/:id/import/:batchId/errors.csv', staff, async (req, res) => {
    const edition = await requireEdition(req);
    const batch = await imports.requireBatch(edition._id.toString(), String(req.params.batchId));
    const t = describe(req);
    const present = IMPORT_FIELDS.filter((f) => batch.columns.some((c) => c.field === f));
    const header = [req.t('enrolment:import.table.line'), req.t('enrolment:import.table.problem'), ...present.map((f) => columnLabel(req, f))];
    const lines = batch.rows
      .filter((r) => (r.result ?? r.action) === 'error')
      .map((r) => [String(r.line), r.errors.map(t).join(' '), ...present.map((f) => r.cells[f] ?? '')]);
    sendCsv(res, `errors-${batch.fileName.replace(/\.[^.]*$/, '')}.csv`, header, lines);
  });

  ctx.router.post('/manage/editions/:id/import/:batchId/commit', staff, async (req, res) => {
    const edition = await requireEdition(req);
    const before = await imports.requireBatch(edition._id.toString(), String(req.params.batchId));
    // Invitations go once the commit is done (whenever and wherever it finishes): one job per batch,
    // so a second click asking for them too is the same job.
    const invite = async () => {
      if (before.status === 'committed' || !(req.body?.invite === 'on' || req.body?.invite === true || req.body?.invite === 'true')) return;
      await ctx.jobs.enqueue(IMPORT_INVITATIONS_QUEUE, { batchId: before._id.toString(), by: req.user!.id }, { key: before._id.toString() });
    };
    let outcome: Awaited<ReturnType<typeof imports.commit>>;
    try {
      outcome = await imports.commit(edition._id.toString(), before._id.toString(), req.user!, ctx.config.importCommitWaitMs);
    } catch (err) {
      // A second click while the first one runs: show the running import, not an error page.
      if (!(err instanceof HttpError) || err.code !== 'IMPORT_RUNNING') throw err;
      await invite();
      if (wantsJson(req)) throw err;
      return res.redirect(303, `${pageOf(edition)}/${before._id}`);
    }
    await invite();
    const { batch, finished } = outcome;
    if (wantsJson(req))
      return res
        .status(finished ? 200 : 202)
        .json({ batchId: batch._id.toString(), status: finished ? batch.status : 'committing', counts: batch.counts ?? null });
    if (before.status === 'committed') req.flash('info', req.t('enrolment:import.result.already'));
    else if (finished && batch.counts) req.flash('success', String(req.t('enrolment:import.result.done', { ...batch.counts })));
    res.redirect(303, `${pageOf(edition)}/${batch._id}`);
  });
}
