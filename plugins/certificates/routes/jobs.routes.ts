/**
 * Bulk issuance: staff (and an edition's trainers, when the programme allows it) start a job for an
 * edition, follow its progress on a page that refreshes itself without JavaScript, then download a
 * ZIP of the PDFs and a CSV of the codes.
 */
import type { Readable } from 'node:stream';
import type { Request } from 'express';
import yazl from 'yazl';
import { z } from 'zod';
import {
  allow,
  conflict,
  errorMessage,
  fieldErrors,
  forbidden,
  HttpError,
  isObjectId,
  localized,
  notFound,
  objectIdSchema,
  parseInput,
  respond,
  sendCsv,
  Users,
  wantsJson,
  type PluginContext,
} from '../../../src/index.ts';
import { CourseCatalog } from '../../courses/contract.ts';
import { EnrolmentDirectory, type EditionSummary } from '../../enrolment/contract.ts';
import { verificationUrl } from '../code.ts';
import type { CertificatesConfig } from '../config.ts';
import type { CertificateDoc } from '../models/certificate.model.ts';
import type { IssuanceService } from '../services/issuance.service.ts';
import type { JobProgress, JobService } from '../services/jobs.service.ts';
import { mayIssue } from '../services/permissions.ts';

const jobForm = z
  .object({
    scope: z.enum(['all-completed', 'chosen'], { error: 'certificates:errors.job.scope' }),
    enrolmentIds: z.preprocess(
      (v) => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]),
      z.array(objectIdSchema('certificates:errors.job.fromList')).max(5000, 'certificates:errors.job.tooManyChosen'),
    ),
    /** People whose printed name is unconfirmed are issued too (with their account name); unticked, they are listed as waiting. */
    anyway: z.preprocess((v) => v === 'on' || v === 'true' || v === true, z.boolean()).default(false),
  })
  .superRefine((v, c) => {
    if (v.scope === 'chosen' && !v.enrolmentIds.length) c.addIssue({ code: 'custom', path: ['enrolmentIds'], message: 'certificates:errors.job.tick' });
  });

/** Why a person's certificate was not issued, in the reader's language ('' when it was). */
const itemMessage = (req: Request, item: JobProgress['items'][number]) =>
  item.message ? errorMessage((key, options) => String(req.t(key, options as never)), { message: item.message, text: item.text }) : '';

/** Seconds between automatic refreshes of a running job's page. */
export const JOB_PAGE_REFRESH_SECONDS = 2;

// Letters that do not decompose into a Latin letter and a mark (NFKD), and Cyrillic, spelt in ASCII.
const SPELLED: Record<string, string> = {
  ß: 'ss',
  æ: 'ae',
  Æ: 'AE',
  œ: 'oe',
  Œ: 'OE',
  ø: 'o',
  Ø: 'O',
  đ: 'd',
  Đ: 'D',
  ð: 'd',
  Ð: 'D',
  ł: 'l',
  Ł: 'L',
  þ: 'th',
  Þ: 'Th',
  ı: 'i',
  ħ: 'h',
  Ħ: 'H',
  а: 'a',
  б: 'b',
  в: 'v',
  г: 'g',
  д: 'd',
  е: 'e',
  ё: 'e',
  ж: 'zh',
  з: 'z',
  и: 'i',
  й: 'y',
  к: 'k',
  л: 'l',
  м: 'm',
  н: 'n',
  о: 'o',
  п: 'p',
  р: 'r',
  с: 's',
  т: 't',
  у: 'u',
  ф: 'f',
  х: 'kh',
  ц: 'ts',
  ч: 'ch',
  ш: 'sh',
  щ: 'shch',
  ъ: '',
  ы: 'y',
  ь: '',
  э: 'e',
  ю: 'yu',
  я: 'ya',
  і: 'i',
  ї: 'yi',
  є: 'ye',
  ґ: 'g',
  ј: 'j',
  љ: 'lj',
  њ: 'nj',
  ћ: 'c',
  ђ: 'dj',
  џ: 'dz',
};

/** A name in ASCII letters, digits and dashes, or '' when its script has no ASCII spelling here (Arabic, Chinese, …). */
export function asciiName(text: string): string {
  const spelled = [...text.normalize('NFKD').replace(/\p{M}/gu, '')]
    .map((ch) => {
      const lower = ch.toLowerCase();
      if (SPELLED[ch] !== undefined) return SPELLED[ch];
      if (SPELLED[lower] !== undefined) {
        const s = SPELLED[lower]!;
        return s.charAt(0).toUpperCase() + s.slice(1);
      }
      return ch;
    })
    .join('');
  return spelled
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
}

/**
 * The file name of a certificate in a job's ZIP: `<family-name>-<code>.pdf`, in ASCII whatever the
 * script (the code makes it unique). The family name is the last word of the printed name (the
 * certificate records one name, as printed); a name with no ASCII spelling tries the name in the
 * other script, then falls back to `certificate`.
 */
export function certificateFileName(snapshot: { name: string; nameAlt?: string | undefined }, code: string): string {
  const lastWord = (s: string) => s.trim().split(/\s+/).pop() ?? '';
  const stem =
    asciiName(lastWord(snapshot.name)) ||
    asciiName(snapshot.name) ||
    (snapshot.nameAlt ? asciiName(lastWord(snapshot.nameAlt)) || asciiName(snapshot.nameAlt) : '') ||
    'certificate';
  return `${stem}-${code.replace(/[^A-Z0-9-]/gi, '')}.pdf`;
}

export function mountJobRoutes(ctx: PluginContext<CertificatesConfig>, jobs: JobService, issuance: IssuanceService) {
  const refusal = () =>
    forbidden('Only programme staff (and, if the programme allows it, the edition’s trainers) issue certificates.', { key: 'certificates:errors.mayNotIssue' });

  async function issuableEdition(req: Request, editionId: string): Promise<EditionSummary> {
    const edition = isObjectId(editionId) ? await ctx.get(EnrolmentDirectory).edition(editionId) : null;
    if (!edition) throw notFound('No such edition.', { key: 'certificates:errors.noSuchEdition' });
    if (!mayIssue(req.user!, edition, ctx.config)) throw refusal();
    return edition;
  }

  /** The job's progress, if this person may issue its edition's certificates. */
  async function issuableJob(req: Request): Promise<{ progress: JobProgress; edition: EditionSummary | null }> {
    const progress = await jobs.progress(String(req.params.id));
    if (!progress) throw notFound('No such certificate job.', { key: 'certificates:errors.job.noSuchJob' });
    const edition = await ctx.get(EnrolmentDirectory).edition(progress.editionId);
    // An edition deleted since: its jobs stay visible to staff only.
    if (!mayIssue(req.user!, edition ?? { trainerIds: [] }, ctx.config)) throw refusal();
    return { progress, edition };
  }

  ctx.router.post('/certificates/editions/:editionId/jobs', allow.signedIn, async (req, res) => {
    const edition = await issuableEdition(req, String(req.params.editionId));
    const back = `/certificates/editions/${edition.id}`;
    let job;
    try {
      const input = parseInput(jobForm, req.body);
      job = await jobs.create(edition.id, input.scope === 'all-completed' ? 'all-completed' : input.enrolmentIds, req.user!.id, { issueAnyway: input.anyway });
    } catch (err) {
      // A person at the edition page sees the problem there, with their ticks to redo.
      if (err instanceof HttpError && err.status === 400 && !wantsJson(req)) {
        const t = (key: string, options?: object) => String(req.t(key, options as never));
        const fields = fieldErrors(err, t);
        req.flash('error', fields ? Object.values(fields).join(' ') : errorMessage(t, err));
        return res.redirect(303, back);
      }
      throw err;
    }
    const href = `/certificates/jobs/${job._id}`;
    res.location(href);
    respond(req, res, { status: 202, json: { jobId: String(job._id), total: job.people.length, href }, redirect: href });
  });

  ctx.router.get('/certificates/jobs/:id', allow.signedIn, async (req, res) => {
    const { progress, edition } = await issuableJob(req);
    if (wantsJson(req)) return res.json(progress);
    const course = await ctx.get(CourseCatalog).findById(progress.courseId);
    const requester = await ctx.get(Users).findById(progress.requestedBy);
    // While the job runs the page refreshes itself with a Refresh header (declarative, no script,
    // nothing for the strict CSP to refuse), and says so with a link that turns it off
    // (`?follow=0`): a page that reloads by itself must let people stop it (WCAG 2.2.1).
    const follow = req.query.follow !== '0';
    if (!progress.finished && follow) res.set('Refresh', String(JOB_PAGE_REFRESH_SECONDS));
    res.set('Cache-Control', 'no-store');
    res.render('certificates/job', {
      title: req.t('certificates:jobs.title', { edition: edition?.title ?? progress.editionId }),
      progress: { ...progress, items: progress.items.map((i) => ({ ...i, message: itemMessage(req, i) })) },
      edition,
      courseTitle: localized(course?.title, req.language),
      requester: requester?.name ?? '',
      refreshSeconds: JOB_PAGE_REFRESH_SECONDS,
      baseUrl: ctx.host.baseUrl,
      follow,
    });
  });

  ctx.router.get('/certificates/jobs/:id/certificates.zip', allow.signedIn, async (req, res) => {
    const { progress } = await issuableJob(req);
    if (!progress.finished)
      throw conflict('This job is still running: the ZIP is ready when it has finished.', undefined, { key: 'certificates:errors.job.zipNotReady' });
    const withCode = progress.items.filter((i) => i.code);
    const certificates = await issuance.byCodes(withCode.map((i) => i.code!));
    const byCode = new Map(certificates.map((c) => [c._id, c]));
    const ordered = withCode.map((i) => byCode.get(i.code!)).filter((c): c is CertificateDoc => !!c);

    const zip = new yazl.ZipFile();
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      ctx.logger.error({ err, job: progress.id }, 'certificate ZIP cut short');
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    };
    zip.on('error', fail);
    const open = new Set<Readable>();
    for (const c of ordered) {
      // PDFs are compressed already: stored as they are, each read from GridFS only when its turn comes.
      zip.addReadStreamLazy(certificateFileName(c.snapshot, c._id), { mtime: c.issuedAt, compress: false, size: c.size }, (cb) => {
        const pdf = issuance.openPdf(c);
        open.add(pdf);
        pdf.on('close', () => open.delete(pdf));
        pdf.on('error', fail);
        cb(null, pdf);
      });
    }
    let length = -1;
    // Sizes are known and nothing is compressed, so yazl knows the ZIP's length before writing it.
    // (@types/yazl declares this callback without its argument.)
    zip.end({ forceZip64Format: false, comment: '' }, ((size: number) => {
      length = size;
    }) as () => void);
    await issuance.audit('downloaded', req.user!.id, { editionId: progress.editionId, details: `ZIP of job ${progress.id} (${ordered.length} certificates)` });
    res.set({
      'Content-Type': 'application/zip',
      'Content-Disposition': `attachment; filename="certificates-${progress.id}.zip"`,
      'Cache-Control': 'private, no-store',
      ...(length >= 0 ? { 'Content-Length': String(length) } : {}),
    });
    const output = zip.outputStream as unknown as Readable;
    // A download given up midway: close the GridFS reads too, not only the ZIP.
    res.on('close', () => {
      if (res.writableFinished) return;
      for (const pdf of open) pdf.destroy();
      output.destroy();
    });
    output.pipe(res);
  });

  ctx.router.get('/certificates/jobs/:id/codes.csv', allow.signedIn, async (req, res) => {
    const { progress } = await issuableJob(req);
    const rows = progress.items.map((i) => [
      i.printedName ?? i.name,
      i.email,
      i.code ?? '',
      i.code ? verificationUrl(ctx.host.baseUrl, i.code) : '',
      req.t(`certificates:jobs.csvOutcomes.${i.outcome ?? 'pending'}`),
      itemMessage(req, i),
    ]);
    const header = ['name', 'email', 'code', 'verificationUrl', 'outcome', 'message'].map((c) => req.t(`certificates:jobs.csvColumns.${c}`));
    sendCsv(res, `certificate-codes-${progress.id}.csv`, header, rows);
  });
}
