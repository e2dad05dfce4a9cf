import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import multer from 'multer';
import { addressKey, allow, localized, refusalFor, respond, sharedRateLimit, wantsJson, type PluginContext } from '../../../src/index.ts';
import { isValidCode, normaliseCode } from '../code.ts';
import type { CertificatesConfig } from '../config.ts';
import type { CertificateStatus, IssuanceService } from '../services/issuance.service.ts';

/** Largest file the verification page reads (certificates are a few tens of KB). */
const MAX_CHECKED_PDF = 10 * 1024 * 1024;

/** What the public learns about a certificate: who, which course and edition, when issued, and its status; nothing more. */
export function publicView(s: CertificateStatus, lang: string) {
  const snap = s.certificate.snapshot;
  return {
    code: s.certificate._id,
    status: s.state,
    valid: s.state === 'valid',
    name: snap.name,
    ...(snap.nameAlt ? { nameAlt: snap.nameAlt } : {}),
    course: localized(snap.course, lang),
    edition: localized(snap.edition, lang),
    issuedOn: snap.issueDate,
    ...(s.replacedBy ? { replacedBy: s.replacedBy } : {}),
    ...(s.revokedAt ? { revokedOn: s.revokedAt.toISOString().slice(0, 10) } : {}),
  };
}

/**
 * The public verification pages: by code (typed, or from the QR code), and by the PDF file itself.
 * No sign-in; rate-limited per address; nothing can be listed, and a miss says nothing about
 * which codes exist.
 */
export function mountVerificationRoutes(ctx: PluginContext<CertificatesConfig>, issuance: IssuanceService) {
  const limiter = sharedRateLimit({
    connection: ctx.connection,
    name: 'certificates.verify',
    windowMs: 60_000,
    limit: ctx.config.verifyPerMinute,
    standardHeaders: 'draft-7',
    key: addressKey,
    onLimited: (req) => {
      throw refusalFor(req, 429, 'TOO_MANY_LOOKUPS', 'certificates:verify.tooMany');
    },
  });

  const notFoundPage = (req: Request, res: Response, reason: 'malformed' | 'mistyped' | 'unknown') => {
    // Not the error page: the verification page again, saying what is wrong with the code.
    respond(req, res, {
      json: refusalFor(req, 404, { malformed: 'MALFORMED_CODE', mistyped: 'MISTYPED_CODE', unknown: 'UNKNOWN_CODE' }[reason], `certificates:verify.${reason}`),
      render: [
        'certificates/verify',
        { title: req.t('certificates:verify.title'), result: null, miss: reason, code: String(req.params.code ?? req.query.code ?? '').slice(0, 40) },
      ],
    });
  };

  ctx.router.get('/verify', allow.public, limiter, (req, res) => {
    // The form sends ?code=…: normalise and go to the certificate's own address.
    if (typeof req.query.code === 'string' && req.query.code.trim()) {
      const code = normaliseCode(req.query.code);
      if (!code) return notFoundPage(req, res, 'malformed');
      if (!isValidCode(code)) return notFoundPage(req, res, 'mistyped');
      return res.redirect(303, `/verify/${code}`);
    }
    res.render('certificates/verify', { title: req.t('certificates:verify.title'), result: null, miss: null, code: '' });
  });

  ctx.router.get('/verify/:code', allow.public, limiter, async (req, res) => {
    const code = normaliseCode(String(req.params.code));
    if (!code) return notFoundPage(req, res, 'malformed');
    // The check character catches a mistyped code before any look-up.
    if (!isValidCode(code)) return notFoundPage(req, res, 'mistyped');
    const status = await issuance.status(code);
    if (!status) return notFoundPage(req, res, 'unknown');
    // The canonical address shows the grouped code (a QR scanner or a typed code may differ in case).
    if (code !== req.params.code && !wantsJson(req)) return res.redirect(301, `/verify/${code}`);
    const view = publicView(status, req.language);
    respond(req, res, { json: view, render: ['certificates/verify', { title: req.t('certificates:verify.title'), result: view, miss: null, code }] });
  });

  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: MAX_CHECKED_PDF, files: 1, fields: 5, parts: 6 } });
  const readPdf = (req: Request, res: Response, next: NextFunction) =>
    upload.single('pdf')(req, res, (err: unknown) => {
      if (!err) return next();
      if (err instanceof multer.MulterError) {
        return next(
          err.code === 'LIMIT_FILE_SIZE'
            ? refusalFor(req, 413, 'BAD_UPLOAD', 'certificates:verify.fileTooLarge')
            : refusalFor(req, 400, 'BAD_UPLOAD', 'certificates:verify.badUpload'),
        );
      }
      // busboy's words for a body that is not a well-formed multipart form (no boundary, a broken part
      // header, cut short): the sender's problem, not ours.
      const message = err instanceof Error ? err.message : '';
      if (/^(Malformed|Unexpected end of (form|file)|Multipart: Boundary not found|Request (aborted|closed))/.test(message)) {
        return next(refusalFor(req, 400, 'BAD_UPLOAD', 'certificates:verify.badUpload'));
      }
      next(err);
    });

  // Was this exact file issued by Olive? Its SHA-256 is compared with every certificate's.
  ctx.router.post('/verify/file', allow.public, limiter, readPdf, async (req, res) => {
    const file = req.file;
    if (!file || !file.size) throw refusalFor(req, 400, 'NO_FILE', 'certificates:verify.noFile');
    const sha256 = crypto.createHash('sha256').update(file.buffer).digest('hex');
    const certificate = await issuance.byHash(sha256);
    const status = certificate ? await issuance.status(certificate._id) : null;
    const view = status ? publicView(status, req.language) : null;
    respond(req, res, {
      status: view ? 200 : 404,
      json: view ? { match: true, ...view } : { match: false, sha256 },
      render: ['certificates/verify-file', { title: req.t('certificates:verify.fileTitle'), result: view, fileName: file.originalname.slice(0, 200), sha256 }],
    });
  });
}
