/**
 * The branding page (admins): the programme's name, colours (checked for contrast with white text)
 * and logo (PNG or JPEG, never SVG); and what every page needs from it, the logo and the colours'
 * stylesheet (public, cached by their versioned addresses).
 */
import type { Request } from 'express';
import { FileTypeParser } from 'file-type';
import multer from 'multer';
import { z } from 'zod';
import { allow } from '../access.ts';
import { HttpError, type ErrorText } from '../errors.ts';
import { uploadErrorText } from '../http.ts';
import type { PluginRouter } from '../plugin.ts';
import type { Audit } from './audit.ts';
import { contrastWithWhite, DEFAULT_COLOURS, LOGO_MAX_BYTES, MIN_CONTRAST, normaliseHex, type Branding, type LogoDoc } from './branding.ts';

const colourField = z
  .string()
  .max(20)
  .transform((v, ctx) => {
    const hex = normaliseHex(v);
    if (!hex) {
      ctx.addIssue({ code: 'custom', message: 'admin.branding.errors.notHex' });
      return z.NEVER;
    }
    const ratio = contrastWithWhite(hex);
    if (ratio < MIN_CONTRAST) {
      ctx.addIssue({ code: 'custom', message: 'admin.branding.errors.contrast', params: { ratio: ratio.toFixed(2), min: MIN_CONTRAST } });
      return z.NEVER;
    }
    return hex;
  });

const brandingSchema = z.object({
  name: z.string().trim().min(1, 'admin.branding.errors.nameRequired').max(80, 'admin.branding.errors.nameTooLong'),
  brand: colourField,
  accent: colourField,
  removeLogo: z.preprocess((v) => v === 'on' || v === 'true' || v === true, z.boolean()),
});

/** PNG or JPEG by content; SVG and anything else are refused (an SVG can carry scripts and links). */
async function logoProblem(file: {
  data: Buffer;
  filename: string;
}): Promise<{ text: ErrorText; type?: undefined } | { text?: undefined; type: LogoDoc['contentType'] }> {
  const name = file.filename || 'logo';
  if (file.data.length === 0) return { text: { key: 'admin.branding.errors.logoEmpty', params: { name } } };
  if (file.data.length > LOGO_MAX_BYTES)
    return { text: { key: 'admin.branding.errors.logoTooLarge', params: { name, limit: LOGO_MAX_BYTES / 1024, size: Math.ceil(file.data.length / 1024) } } };
  let ext: string | undefined;
  try {
    ext = (await new FileTypeParser().fromBuffer(file.data))?.ext;
  } catch {
    ext = undefined;
  }
  if (ext === 'png') return { type: 'image/png' };
  if (ext === 'jpg') return { type: 'image/jpeg' };
  const head = file.data.subarray(0, 512).toString('utf8').trimStart().toLowerCase();
  const svg = head.startsWith('<') && head.includes('<svg');
  return { text: { key: svg ? 'admin.branding.errors.logoSvg' : 'admin.branding.errors.logoType', params: { name } } };
}

/** The branding page (admins) and what every page needs from it: the logo and the colours' stylesheet (public). */
export function mountBrandingRoutes(router: PluginRouter, deps: { branding: Branding; audit: Audit }) {
  const { branding, audit } = deps;
  const admin = allow.roles('admin');

  router.get('/branding/logo/:sha', allow.public, async (req, res) => {
    const sha = String(req.params.sha);
    if (!/^[0-9a-f]{16}$/.test(sha) || !(await branding.sendLogo(sha, res))) throw new HttpError(404, 'NOT_FOUND', 'No such logo.');
  });

  router.get('/branding/colours/:version.css', allow.public, async (req, res) => {
    const view = await branding.view();
    // Served as immutable: only the current colours' version, never another address's content.
    if (view.css !== `/branding/colours/${String(req.params.version)}.css`) throw new HttpError(404, 'NOT_FOUND', 'No such stylesheet.');
    res.type('text/css').setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    // Only validated `#rrggbb` values are ever stored: nothing else can reach this text.
    res.send(`:root{--brand:${view.brand};--accent:${view.accent}}\n`);
  });

  const pageLocals = async (req: Request, values?: Record<string, string>, errors: Record<string, string> = {}) => {
    const current = await branding.view();
    return {
      title: req.t('admin.branding.title'),
      current,
      values: values ?? { name: current.name, brand: current.brand, accent: current.accent },
      errors,
      // Upload forms carry their CSRF token in the action address (src/core/security.ts).
      uploadToken: (req.res!.locals.csrfToken as () => string)(),
      updated: (await branding.doc())?.updatedAt,
      logoMaxKb: LOGO_MAX_BYTES / 1024,
      minContrast: MIN_CONTRAST,
    };
  };

  router.get('/admin/branding', admin, async (req, res) => {
    res.render('admin/branding', await pageLocals(req));
  });

  const upload = multer({
    storage: multer.memoryStorage(),
    // Twice the limit is read whole, so that the page can say by how much the file is too large.
    limits: { fileSize: LOGO_MAX_BYTES * 2, files: 1, fields: 6, parts: 7, fieldSize: 4096 },
    defParamCharset: 'utf8',
  }).single('logo');

  router.post('/admin/branding', admin, async (req, res) => {
    const fail = async (status: number, values: Record<string, string>, errors: Record<string, string>) => {
      res.status(status).render('admin/branding', await pageLocals(req, values, errors));
    };
    if (!req.is('multipart/form-data')) {
      // A plain form (or JSON client) without a logo is read as it is.
      if (!req.body || typeof req.body !== 'object') throw new HttpError(400, 'BAD_REQUEST', 'Send the branding form.', undefined, uploadErrorText('other'));
    } else {
      try {
        await new Promise<void>((resolve, reject) => upload(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
      } catch (err) {
        if (err instanceof multer.MulterError && err.code === 'LIMIT_FILE_SIZE') {
          const current = await branding.view();
          return fail(
            413,
            { name: current.name, brand: current.brand, accent: current.accent },
            {
              logo: req.t('admin.branding.errors.logoFarTooLarge', { limit: LOGO_MAX_BYTES / 1024 }),
            },
          );
        }
        const text = err instanceof multer.MulterError ? uploadErrorText(err.code) : uploadErrorText('other');
        throw new HttpError(400, 'MALFORMED_UPLOAD', 'The form could not be read. Please try again.', undefined, text);
      }
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const values = Object.fromEntries(['name', 'brand', 'accent'].map((k) => [k, typeof body[k] === 'string' ? (body[k] as string) : '']));
    const errors: Record<string, string> = {};
    const parsed = brandingSchema.safeParse({ ...values, removeLogo: body.removeLogo });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = String(issue.path[0] ?? '_');
        const params = (issue as { params?: Record<string, unknown> }).params ?? {};
        errors[field] ??= req.t(issue.message.includes('.') ? issue.message : 'errors.fields.invalid', params);
      }
    }
    let logo: { data: Buffer; contentType: LogoDoc['contentType'] } | null | undefined = parsed.success && parsed.data.removeLogo ? null : undefined;
    const file = req.file;
    if (file && file.size > 0) {
      const checked = await logoProblem({ data: file.buffer, filename: file.originalname });
      if (checked.text) errors.logo = req.t(checked.text.key, checked.text.params);
      else logo = { data: file.buffer, contentType: checked.type };
    }
    if (!parsed.success || Object.keys(errors).length) return fail(400, values, errors);
    const by = req.user!.id;
    {
      const { before } = await branding.save({ name: parsed.data.name, brand: parsed.data.brand, accent: parsed.data.accent, logo }, by);
      const changes = [
        before?.name !== parsed.data.name ? `name: ${parsed.data.name}` : '',
        (before?.brand ?? DEFAULT_COLOURS.brand) !== parsed.data.brand ? `colour ${parsed.data.brand}` : '',
        (before?.accent ?? DEFAULT_COLOURS.accent) !== parsed.data.accent ? `accent ${parsed.data.accent}` : '',
        logo ? 'new logo' : logo === null ? 'logo removed' : '',
      ].filter(Boolean);
      await audit.record({ actor: by, action: 'branding-changed', userId: by, details: changes.join('; ') || 'saved unchanged' });
    }
    req.flash('success', req.t('admin.branding.saved'));
    res.redirect(303, '/admin/branding');
  });
}
