/**
 * An edition's attendance, for programme staff and the edition's own trainers: the grid of who
 * was present at which session (a plain form), the sessions, the completion rule (staff), a CSV
 * import (preview, then confirm), the printed sign-in sheet and the CSV export.
 */
import { readFileSync } from 'node:fs';
import type { Request, Response } from 'express';
import multer from 'multer';
import type mongoose from 'mongoose';
import { z } from 'zod';
import {
  allow,
  badRequest,
  conflict,
  formatBytes,
  formatDate,
  formatDateTime,
  form,
  HttpError,
  isObjectId,
  notFound,
  respond,
  sendCsv,
  type PluginContext,
} from '../../../src/index.ts';
import type { EditionSummary } from '../../enrolment/contract.ts';
import type { AttendanceConfig } from '../config.ts';
import { markKey, RULES, type ImportDoc, type Issue, type SessionDoc } from '../models/attendance.model.ts';
import { assess, isoDay, isStaff, utcDay, type AttendanceService, type Participant } from '../services/attendance.service.ts';
import { readTicks } from '../services/import.ts';

const PRINT_CSS = readFileSync(new URL('../views/sheet.css', import.meta.url), 'utf8');

/** How long a preview may be confirmed. */
const PREVIEW_HOURS = 24;

const daySchema = z
  .string({ error: 'attendance:errors.day' })
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'attendance:errors.day')
  .transform((v) => new Date(`${v}T00:00:00Z`))
  .refine((d) => !Number.isNaN(d.getTime()) && d.getUTCFullYear() >= 1990 && d.getUTCFullYear() <= 2100, 'attendance:errors.day');

const sessionSchema = z.object({
  title: z.string({ error: 'attendance:errors.titleLong' }).trim().max(100, 'attendance:errors.titleLong').default(''),
  day: daySchema,
});

const ruleSchema = z
  .object({
    rule: z.enum(RULES, { error: 'attendance:errors.rule' }),
    percent: z.preprocess(
      (v) => (v === '' || v === undefined ? undefined : v),
      z.coerce
        .number({ error: 'attendance:errors.percent' })
        .int('attendance:errors.percent')
        .min(1, 'attendance:errors.percent')
        .max(100, 'attendance:errors.percent')
        .optional(),
    ),
  })
  .refine((v) => v.rule === 'all' || v.percent !== undefined, { message: 'attendance:errors.percent', path: ['percent'] })
  .transform((v) => ({ rule: v.rule, percent: v.rule === 'all' ? 100 : v.percent! }));

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null || v === '' ? [] : [String(v)]);

export function mountAttendanceRoutes(ctx: PluginContext<AttendanceConfig>, service: AttendanceService, Import: mongoose.Model<ImportDoc>) {
  // Learners never reach an edition's attendance; trainers only their own editions' (checked per edition).
  const runners = allow.roles('trainer', 'staff');
  const base = (edition: Pick<EditionSummary, 'id'>) => `/attendance/editions/${edition.id}`;
  const maxBytes = () => Math.floor(ctx.config.maxImportMb * 1024 * 1024);

  async function load(req: Request) {
    return service.requireEdition(String(req.params.id), req.user!);
  }

  function requireStaff(req: Request) {
    if (!isStaff(req.user!))
      throw new HttpError(403, 'FORBIDDEN', 'Only programme staff set the completion rule.', undefined, { key: 'attendance:errors.ruleStaffOnly' });
  }

  /** A session's name as pages show it: its title, else its day. */
  const label = (req: Request, s: Pick<SessionDoc, 'title' | 'day'>) => s.title || formatDate(req.language, s.day);
  const personName = (p: Participant) => p.name || p.email;

  /** Everything the grid and the summary show. */
  async function attendance(req: Request, edition: EditionSummary) {
    const [{ active, removed }, people, rule] = await Promise.all([
      service.sessionsOf(edition),
      service.participants(edition, req.language),
      service.ruleOf(edition.id),
    ]);
    const marks = await service.marksOf(
      people.map((p) => p.enrolmentId),
      active.map((s) => s._id),
    );
    const rows = people.map((p) => ({
      ...p,
      display: personName(p),
      ticks: active.map((s) => marks.get(markKey(p.enrolmentId, s._id)) === true),
      result: assess(p.enrolmentId, active, (s) => marks.get(markKey(p.enrolmentId, s)) === true, rule),
    }));
    return { active, removed, people, rule, rows };
  }

  const ruleText = (req: Request, rule: { rule: string; percent: number }) =>
    rule.rule === 'all' ? req.t('attendance:rule.allText') : req.t('attendance:rule.percentText', { percent: rule.percent });

  /** People per page of the grid: as many as fit in the page's boxes, at least 5. */
  const perPage = (sessions: number) => Math.max(5, Math.floor(ctx.config.gridCellsPerPage / Math.max(1, sessions)));
  /** The page asked for, within the pages there are (a page past the last is the last). */
  const pageOf = (req: Request, pages: number) => {
    const asked = Number(typeof req.query.page === 'string' ? req.query.page : 1);
    return Number.isSafeInteger(asked) && asked >= 1 ? Math.min(asked, pages) : 1;
  };

  ctx.router.get('/editions/:id', runners, async (req, res) => {
    const edition = await load(req);
    const { active, rows, rule } = await attendance(req, edition);
    const size = perPage(active.length);
    const pages = Math.max(1, Math.ceil(rows.length / size));
    const page = pageOf(req, pages);
    // The form holds this page's people only: saving writes their changed boxes, never the others'.
    const shown = rows.slice((page - 1) * size, page * size);
    const was = shown.flatMap((r, i) => r.ticks.flatMap((t, j) => (t ? [`${i}.${j}`] : []))).join(',');
    res.render('attendance/edition', {
      title: req.t('attendance:title', { edition: edition.title }),
      edition,
      base: base(edition),
      sessions: active.map((s) => ({ id: s._id, label: label(req, s), day: formatDate(req.language, s.day) })),
      rows: shown,
      total: rows.length,
      page,
      pages,
      first: (page - 1) * size + 1,
      was,
      ruleText: ruleText(req, rule),
      qualifying: rows.filter((r) => r.result.qualifies).length,
      staff: isStaff(req.user!),
    });
  });

  // The grid: only the cells that differ from what the page showed are written, so two people
  // saving at once (each ticking other boxes) keep each other's ticks.
  ctx.router.post('/editions/:id/marks', runners, async (req, res) => {
    const edition = await load(req);
    const sessionIds = list(req.body?.s);
    const enrolmentIds = list(req.body?.e);
    const cell = /^(\d{1,4})\.(\d{1,4})$/;
    const parse = (values: string[]) => {
      const out = new Set<string>();
      for (const v of values) {
        const m = cell.exec(v);
        if (!m || Number(m[1]) >= enrolmentIds.length || Number(m[2]) >= sessionIds.length)
          throw badRequest('The attendance form could not be read: open the page again.', undefined, { key: 'attendance:errors.badForm' });
        out.add(v);
      }
      return out;
    };
    const ticked = parse(list(req.body?.c));
    const shown = parse(
      list(req.body?.w)
        .flatMap((w) => w.split(','))
        .filter(Boolean),
    );
    const { active } = await service.sessionsOf(edition);
    const people = await service.participants(edition);
    const liveSessions = new Set(active.map((s) => s._id));
    const livePeople = new Set(people.map((p) => p.enrolmentId));
    const changes: { enrolmentId: string; sessionId: string; present: boolean }[] = [];
    let skipped = 0;
    for (let i = 0; i < enrolmentIds.length; i++)
      for (let j = 0; j < sessionIds.length; j++) {
        const key = `${i}.${j}`;
        const now = ticked.has(key);
        if (now === shown.has(key)) continue;
        // A session removed, or a person withdrawn, since the page was shown: not written.
        if (!liveSessions.has(sessionIds[j]!) || !livePeople.has(enrolmentIds[i]!)) {
          skipped++;
          continue;
        }
        changes.push({ enrolmentId: enrolmentIds[i]!, sessionId: sessionIds[j]!, present: now });
      }
    const saved = await service.saveMarks(edition.id, changes, req.user!.id);
    if (skipped) req.flash('info', req.t('attendance:grid.skipped', { count: skipped }));
    // Back to the page of the grid that was saved.
    const page = Number(req.body?.page);
    respond(req, res, {
      json: { saved, skipped },
      flash: ['success', saved ? req.t('attendance:grid.saved', { count: saved }) : req.t('attendance:grid.nothing')],
      redirect: Number.isSafeInteger(page) && page > 1 ? `${base(edition)}?page=${page}` : base(edition),
    });
  });

  // ---- Sessions -----------------------------------------------------------------------------------

  async function sessionsPage(
    req: Request,
    edition: EditionSummary,
    errors: Record<string, string> = {},
    values: Record<string, unknown> = {},
    failed?: string,
  ) {
    const [{ active, removed }, rule] = await Promise.all([service.sessionsOf(edition), service.ruleOf(edition.id)]);
    const view = (s: SessionDoc) => ({ id: s._id, title: s.title, day: isoDay(s.day), label: label(req, s), dayText: formatDate(req.language, s.day) });
    return {
      title: req.t('attendance:sessions.title', { edition: edition.title }),
      edition,
      base: base(edition),
      sessions: active.map(view),
      removed: removed.map(view),
      rule,
      ruleText: ruleText(req, rule),
      staff: isStaff(req.user!),
      defaultDay: isoDay(utcDay(edition.startsAt ?? new Date())),
      errors,
      values,
      /** Which form the errors are about: 'add', 'rule', or a session's id. */
      failed,
    };
  }

  ctx.router.get('/editions/:id/sessions', runners, async (req, res) => {
    res.render('attendance/sessions', await sessionsPage(req, await load(req)));
  });

  ctx.router.post(
    '/editions/:id/sessions',
    runners,
    form({
      schema: sessionSchema,
      view: 'attendance/sessions',
      locals: async (req, { errors, values }) => sessionsPage(req, await load(req), errors, values, 'add'),
      async handle(req, res, input) {
        const edition = await load(req);
        await service.addSession(edition, input);
        respond(req, res, { status: 201, json: { ok: true }, flash: ['success', req.t('attendance:sessions.added')], redirect: `${base(edition)}/sessions` });
      },
    }),
  );

  ctx.router.post(
    '/editions/:id/sessions/:sessionId',
    runners,
    form({
      schema: sessionSchema,
      view: 'attendance/sessions',
      locals: async (req, { errors, values }) => sessionsPage(req, await load(req), errors, values, String(req.params.sessionId)),
      async handle(req, res, input) {
        const edition = await load(req);
        await service.updateSession(edition, String(req.params.sessionId), input);
        respond(req, res, { json: { ok: true }, flash: ['success', req.t('attendance:sessions.saved')], redirect: `${base(edition)}/sessions` });
      },
    }),
  );

  ctx.router.post('/editions/:id/sessions/:sessionId/remove', runners, async (req, res) => {
    const edition = await load(req);
    const sessionId = String(req.params.sessionId);
    const confirmed = req.body?.confirm === 'on' || req.body?.confirm === 'true';
    try {
      const { ticks } = await service.removeSession(edition, sessionId, confirmed);
      respond(req, res, {
        json: { removed: true, ticks },
        flash: ['success', ticks ? req.t('attendance:sessions.removedKept', { count: ticks }) : req.t('attendance:sessions.removed')],
        redirect: `${base(edition)}/sessions`,
      });
    } catch (err) {
      if (!(err instanceof HttpError) || err.code !== 'HAS_TICKS') throw err;
      // Ticks are recorded at this session: say how many, and ask again.
      const session = await service.requireSession(edition, sessionId);
      const ticks = (err.details as { ticks: number }).ticks;
      respond(req, res, {
        json: err,
        render: [
          'attendance/remove',
          { title: req.t('attendance:sessions.removeTitle'), edition, base: base(edition), session: { id: session._id, label: label(req, session) }, ticks },
        ],
      });
    }
  });

  ctx.router.post('/editions/:id/sessions/:sessionId/restore', runners, async (req, res) => {
    const edition = await load(req);
    await service.restoreSession(edition, String(req.params.sessionId));
    respond(req, res, { json: { ok: true }, flash: ['success', req.t('attendance:sessions.restored')], redirect: `${base(edition)}/sessions` });
  });

  ctx.router.post(
    '/editions/:id/rule',
    runners,
    form({
      schema: ruleSchema,
      view: 'attendance/sessions',
      locals: async (req, { errors, values }) => sessionsPage(req, await load(req), errors, values, 'rule'),
      async handle(req, res, input) {
        const edition = await load(req);
        requireStaff(req);
        await service.setRule(edition.id, input, req.user!.id);
        respond(req, res, { json: input, flash: ['success', req.t('attendance:rule.saved')], redirect: `${base(edition)}/sessions` });
      },
    }),
  );

  // ---- Sheet and export ---------------------------------------------------------------------------

  ctx.router.get('/print.css', allow.public, (_req, res) => {
    res.type('text/css').set('Cache-Control', 'public, max-age=3600').send(PRINT_CSS);
  });

  // A page to print: the participants and a signature box per session (the browser prints it, or saves it as PDF).
  ctx.router.get('/editions/:id/sheet', runners, async (req, res) => {
    const edition = await load(req);
    const { active, people } = await attendance(req, edition);
    res.render('attendance/sheet', {
      layout: false,
      title: req.t('attendance:sheet.title', { edition: edition.title }),
      edition,
      base: base(edition),
      when: edition.startsAt ? `${formatDate(req.language, edition.startsAt)}${edition.endsAt ? ` – ${formatDate(req.language, edition.endsAt)}` : ''}` : '',
      sessions: active.map((s) => ({ label: label(req, s), day: formatDate(req.language, s.day) })),
      people: people.map((p) => ({ name: personName(p), email: p.email })),
    });
  });

  ctx.router.get('/editions/:id/attendance.csv', runners, async (req, res) => {
    const edition = await load(req);
    const { active, rows } = await attendance(req, edition);
    const t = (k: string) => req.t(`attendance:csv.${k}`).split(',')[0]!;
    sendCsv(
      res,
      `attendance-${edition.title}.csv`,
      [t('name'), t('email'), ...active.map((s) => label(req, s)), t('attended'), t('percent'), t('qualifies')],
      rows.map((r) => [r.name, r.email, ...r.ticks.map((x) => (x ? '1' : '0')), r.result.attended, r.result.percent, r.result.qualifies ? t('yes') : t('no')]),
    );
  });

  // ---- Import -------------------------------------------------------------------------------------

  const describe = (req: Request) => (issue: Issue) => req.t(`attendance:import.issues.${issue.code}`, { ...issue.params });

  function importPage(req: Request, res: Response, edition: EditionSummary, problems: string[] = []) {
    return {
      title: req.t('attendance:import.title'),
      edition,
      base: base(edition),
      problems,
      maxSize: formatBytes(maxBytes(), req.language),
      uploadToken: res.locals.csrfToken(),
    };
  }

  async function receive(req: Request, res: Response): Promise<{ name: string; bytes: Buffer }> {
    if (!req.is('multipart/form-data'))
      throw new HttpError(400, 'MALFORMED_UPLOAD', 'Send the file as a form upload.', undefined, { key: 'attendance:import.upload.notMultipart' });
    const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: maxBytes(), files: 1, fields: 5, parts: 6 }, defParamCharset: 'utf8' }).single(
      'file',
    );
    try {
      await new Promise<void>((resolve, reject) => upload(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
    } catch (err) {
      if (err instanceof multer.MulterError && err.code === 'LIMIT_FILE_SIZE')
        throw new HttpError(413, 'FILE_TOO_LARGE', 'The file is too large.', undefined, {
          key: 'attendance:import.upload.tooLarge',
          params: { size: formatBytes(maxBytes(), req.language) },
        });
      throw new HttpError(400, 'MALFORMED_UPLOAD', 'The upload could not be read.', undefined, { key: 'attendance:import.upload.unreadable' });
    }
    const file = req.file;
    if (!file || file.size === 0) throw new HttpError(400, 'NO_FILE', 'Choose a file.', undefined, { key: 'attendance:import.upload.noFile' });
    return { name: file.originalname || 'attendance.csv', bytes: file.buffer };
  }

  async function requireBatch(edition: EditionSummary, id: string) {
    const batch = isObjectId(id) ? await Import.findById(id).lean() : null;
    if (!batch || batch.editionId !== edition.id) throw notFound('No such import.', { key: 'attendance:errors.noImport' });
    return batch;
  }

  ctx.router.get('/editions/:id/import', runners, async (req, res) => {
    res.render('attendance/import', importPage(req, res, await load(req)));
  });

  // Upload: the CSRF token travels in the form's action URL (multipart, read here after the host's check).
  ctx.router.post('/editions/:id/import', runners, async (req, res) => {
    const edition = await load(req);
    let file: { name: string; bytes: Buffer };
    try {
      file = await receive(req, res);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      return respond(req, res, {
        json: err,
        render: ['attendance/import', importPage(req, res, edition, [String(req.t(err.text!.key, err.text!.params as never))])],
      });
    }
    const [{ active }, people] = await Promise.all([service.sessionsOf(edition), service.participants(edition)]);
    const read = readTicks(file.bytes, active, people, ctx.config.maxImportRows);
    if (read.problems.length) {
      // Nothing to preview: the form again with what is wrong with the file.
      const problems = read.problems.map(describe(req));
      return respond(req, res, {
        json: new HttpError(400, 'FILE_REFUSED', 'The file cannot be imported.', { problems }),
        render: ['attendance/import', importPage(req, res, edition, problems)],
      });
    }
    const batch = await Import.create({
      editionId: edition.id,
      fileName: file.name,
      format: read.format,
      problems: [],
      rows: read.rows,
      status: 'previewed',
      createdBy: req.user!.id,
      createdAt: new Date(),
    });
    respond(req, res, {
      status: 201,
      json: { batchId: batch._id.toString(), rows: read.rows.length, errors: read.rows.filter((r) => r.issues.length).length },
      redirect: `${base(edition)}/import/${batch._id}`,
    });
  });

  ctx.router.get('/editions/:id/import/:batchId', runners, async (req, res) => {
    const edition = await load(req);
    const batch = await requireBatch(edition, String(req.params.batchId));
    const [{ active, removed }, people] = await Promise.all([service.sessionsOf(edition), service.participants(edition)]);
    const sessions = new Map([...active, ...removed].map((s) => [s._id, s]));
    const names = new Map(people.map((p) => [p.enrolmentId, personName(p)]));
    const t = describe(req);
    const errors = batch.rows.filter((r) => r.issues.length).length;
    res.render('attendance/import-preview', {
      title: req.t('attendance:import.preview.title'),
      edition,
      base: base(edition),
      batch,
      errors,
      ticks: batch.rows.reduce((n, r) => n + r.marks.length, 0),
      expired: batch.status === 'previewed' && Date.now() - batch.createdAt.getTime() > PREVIEW_HOURS * 3600_000,
      uploadedAt: formatDateTime(req.language, batch.createdAt),
      rows: [...batch.rows]
        .sort((a, b) => Number(!a.issues.length) - Number(!b.issues.length) || a.line - b.line)
        .map((r) => ({
          line: r.line,
          email: r.email,
          name: names.get(r.enrolmentId) ?? '',
          problem: r.issues.map(t).join(' '),
          present: r.marks.filter((m) => m.present).map((m) => (sessions.has(m.sessionId) ? label(req, sessions.get(m.sessionId)!) : '')),
          absent: r.marks.filter((m) => !m.present).map((m) => (sessions.has(m.sessionId) ? label(req, sessions.get(m.sessionId)!) : '')),
        })),
    });
  });

  // Confirm: a file with a row in error is refused whole (nothing is written); else every tick of the preview.
  ctx.router.post('/editions/:id/import/:batchId/commit', runners, async (req, res) => {
    const edition = await load(req);
    const batch = await requireBatch(edition, String(req.params.batchId));
    const page = `${base(edition)}/import/${batch._id}`;
    if (batch.status === 'committed')
      return respond(req, res, { json: { written: batch.written ?? 0 }, flash: ['info', req.t('attendance:import.already')], redirect: page });
    const errors = batch.rows.filter((r) => r.issues.length).length;
    if (errors)
      throw conflict('Rows of the file have problems: nothing was saved.', { errors }, { key: 'attendance:import.refused', params: { count: errors } });
    if (Date.now() - batch.createdAt.getTime() > PREVIEW_HOURS * 3600_000)
      throw conflict('This preview is too old: upload the file again.', undefined, { key: 'attendance:import.expired' });
    // Sessions removed or people withdrawn since the preview: refused too, so that what is written is what was shown.
    const [{ active }, people] = await Promise.all([service.sessionsOf(edition), service.participants(edition)]);
    const liveSessions = new Set(active.map((s) => s._id));
    const livePeople = new Set(people.map((p) => p.enrolmentId));
    const changes = batch.rows.flatMap((r) => r.marks.map((m) => ({ enrolmentId: r.enrolmentId, sessionId: m.sessionId, present: m.present })));
    if (changes.some((c) => !liveSessions.has(c.sessionId) || !livePeople.has(c.enrolmentId)))
      throw conflict('The sessions or participants changed since the preview: upload the file again.', undefined, { key: 'attendance:import.changed' });
    const written = await service.saveMarks(edition.id, changes, req.user!.id);
    await Import.updateOne({ _id: batch._id }, { $set: { status: 'committed', committedAt: new Date(), written } });
    respond(req, res, { json: { written }, flash: ['success', req.t('attendance:import.done', { count: written })], redirect: base(edition) });
  });
}
