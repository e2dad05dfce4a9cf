/**
 * Certificate templates for programme staff: the list, the editor (a plain multipart form with
 * image uploads, working without JavaScript) and PDF previews of any version.
 */
import type { Request, Response } from 'express';
import multer from 'multer';
import {
  allow,
  errorMessage,
  fieldErrors,
  HttpError,
  localized,
  notFound,
  uploadErrorText,
  UN_LANGUAGES,
  Users,
  type PluginContext,
} from '../../../src/index.ts';
import { CourseCatalog, type CourseSummary } from '../../courses/contract.ts';
import type { StoredImage, StoredTemplateContent } from '../models/template.model.ts';
import {
  DEFAULT_MAX_IMAGE_KB,
  MAX_PARTNER_LOGOS,
  MAX_SIGNATORIES,
  noSuchTemplate,
  type ImageInput,
  type TemplateInput,
  type TemplateService,
} from '../services/template.service.ts';
import { DEFAULT_COLOURS, templateWarnings, type CertificateTemplate } from '../render/index.ts';

const BASE = '/certificates/templates';
/** Form blocks shown: two languages (the second optional) and four signatories (blank ones ignored). */
const LANGUAGE_BLOCKS = 2;
const COLOUR_KEYS = ['primary', 'accent', 'text', 'muted'] as const;
const MAX_FIELDS = 120;
/** Files one form may send: the programme logo, partner logos and signatures (and a little slack, refused by validation). */
const MAX_FILES = 1 + MAX_PARTNER_LOGOS + MAX_SIGNATORIES + 3;

type Fields = Record<string, string>;
type Files = Map<string, ImageInput>;

/** The typed values of the form as the view shows them (flat, by field name). */
function valuesOf(content: StoredTemplateContent | null, meta: { name?: string; courseId?: string; version?: number }): Fields {
  const v: Fields = { name: meta.name ?? '', courseId: meta.courseId ?? '' };
  if (meta.version) v.baseVersion = String(meta.version);
  const c = content;
  v['page.size'] = c?.page.size ?? 'A4';
  v['page.orientation'] = c?.page.orientation ?? 'landscape';
  for (const k of COLOUR_KEYS) v[`colours.${k}`] = c?.colours[k] ?? DEFAULT_COLOURS[k];
  c?.languages.forEach((l, i) => {
    v[`languages.${i}.lang`] = l.lang;
    v[`languages.${i}.title`] = l.title;
    v[`languages.${i}.wording`] = l.wording;
    v[`languages.${i}.codeLabel`] = l.codeLabel ?? '';
  });
  if (!c) v['languages.0.lang'] = 'en';
  c?.signatories.forEach((s, i) => {
    v[`signatories.${i}.name`] = s.name;
    c.languages.forEach((l, j) => {
      v[`signatories.${i}.title.${j}`] = s.title[l.lang] ?? '';
    });
  });
  v.attachPdf = c?.attachPdf === false ? '' : 'on';
  return v;
}

/** Reads the multipart form into memory (images are small); too large a file stops the read. */
async function readForm(req: Request, maxImageBytes: number): Promise<{ fields: Fields; files: Files }> {
  if (!req.is('multipart/form-data'))
    throw new HttpError(400, 'MALFORMED_UPLOAD', 'Send the template form as multipart/form-data.', undefined, {
      key: 'certificates:errors.template.notMultipart',
    });
  const parse = multer({
    storage: multer.memoryStorage(),
    // Files up to 4× the limit are read whole, so the form comes back with every problem listed;
    // beyond that the request is cut short.
    limits: { fileSize: maxImageBytes * 4, files: MAX_FILES, fields: MAX_FIELDS, parts: MAX_FILES + MAX_FIELDS, fieldSize: 64 * 1024 },
    defParamCharset: 'utf8',
  }).any();
  try {
    await new Promise<void>((resolve, reject) => parse(req, req.res!, (err?: unknown) => (err ? reject(err) : resolve())));
  } catch (err) {
    if (err instanceof multer.MulterError) {
      const tooLarge = err.code === 'LIMIT_FILE_SIZE';
      const limit = Math.round(maxImageBytes / 1024);
      const message = tooLarge
        ? `An image is far larger than the ${limit} KB limit: make it smaller.`
        : `The form could not be read: ${err.message.toLowerCase()}.`;
      const text = tooLarge ? { key: 'certificates:errors.image.farTooLarge', params: { limit } } : uploadErrorText(err.code);
      throw new HttpError(tooLarge ? 413 : 400, 'VALIDATION_FAILED', message, { fields: { [err.field ?? '_']: message } }, text, { [err.field ?? '_']: text });
    }
    throw new HttpError(400, 'MALFORMED_UPLOAD', 'The form could not be read. Please try again.', undefined, uploadErrorText('other'));
  }
  const fields: Fields = {};
  for (const [key, value] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string') Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true });
  }
  const files: Files = new Map();
  for (const f of (req.files ?? []) as Express.Multer.File[]) {
    if (!files.has(f.fieldname)) files.set(f.fieldname, { filename: f.originalname, data: f.buffer, field: f.fieldname });
  }
  return { fields, files };
}

/** Indices `n` of keys like `<prefix>.<n>.…` in the fields and files. */
function indices(prefix: string, fields: Fields, files: Files): number[] {
  const re = new RegExp(`^${prefix.replace('.', '\\.')}\\.(\\d{1,2})(\\.|$)`);
  const found = new Set<number>();
  for (const key of [...Object.keys(fields), ...files.keys()]) {
    const m = re.exec(key);
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}

const kept = (img: StoredImage | undefined, field: string): ImageInput | undefined => (img ? { filename: img.filename, data: img.data, field } : undefined);

/**
 * The form as the service's input. `base` is the version edited, whose images are kept unless
 * replaced or removed. Returns, per service path, the form field it came from.
 */
function toInput(
  fields: Fields,
  files: Files,
  base: StoredTemplateContent | null,
): { input: TemplateInput; formIndex: { languages: number[]; signatories: number[] } } {
  const f = (k: string) => (fields[k] ?? '').replace(/\r\n/g, '\n');
  const image = (field: string, existing: StoredImage | undefined) => files.get(field) ?? (fields[`remove.${field}`] ? undefined : kept(existing, field));

  const langIdx = [...new Set([0, ...indices('languages', fields, files)])]
    // A later block counts when its language is chosen: "None" drops it, whatever is typed in it.
    .filter((i) => i === 0 || f(`languages.${i}.lang`).trim() !== '');
  const languages = langIdx.map((i) => ({
    lang: f(`languages.${i}.lang`),
    title: f(`languages.${i}.title`),
    wording: f(`languages.${i}.wording`),
    ...(f(`languages.${i}.codeLabel`).trim() ? { codeLabel: f(`languages.${i}.codeLabel`) } : {}),
  }));

  const sigIdx = indices('signatories', fields, files).filter((i) => {
    const texts = [f(`signatories.${i}.name`), ...langIdx.map((_l, j) => f(`signatories.${i}.title.${j}`))];
    return texts.some((x) => x.trim()) || files.has(`signatories.${i}.signature`);
  });
  const signatories = sigIdx.map((i) => {
    const signature = image(`signatories.${i}.signature`, base?.signatories[i]?.signature);
    return {
      name: f(`signatories.${i}.name`),
      title: langIdx.map((_l, j) => f(`signatories.${i}.title.${j}`)),
      ...(signature ? { signature } : {}),
    };
  });

  const partnerSlots = [...new Set([...Array.from({ length: MAX_PARTNER_LOGOS }, (_, i) => i), ...indices('logos.partners', fields, files)])].sort(
    (a, b) => a - b,
  );
  const partners = partnerSlots.map((i) => image(`logos.partners.${i}`, base?.logos.partners[i])).filter((p): p is ImageInput => !!p);
  const programme = image('logos.programme', base?.logos.programme);
  const baseVersion = Number(fields.baseVersion);
  // An unticked box sends nothing: the form says it showed the box, so that its absence means "no".
  const attachPdf = fields['attachPdf.shown'] ? fields.attachPdf === 'on' : true;

  const input: TemplateInput = {
    name: f('name'),
    courseId: f('courseId') || null,
    ...(Number.isSafeInteger(baseVersion) && baseVersion > 0 ? { baseVersion } : {}),
    page: { size: f('page.size') as 'A4', orientation: f('page.orientation') as 'landscape' },
    colours: Object.fromEntries(COLOUR_KEYS.filter((k) => f(`colours.${k}`)).map((k) => [k, f(`colours.${k}`)])),
    languages,
    logos: { ...(programme ? { programme } : {}), partners },
    signatories,
    attachPdf,
  };
  return { input, formIndex: { languages: langIdx, signatories: sigIdx } };
}

/** Service paths (`signatories.2.title.1`, indexing the blocks kept) back to the form's field names. */
function formErrors(errors: Record<string, string>, formIndex: { languages: number[]; signatories: number[] }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, message] of Object.entries(errors)) {
    const m = /^(languages|signatories)\.(\d+)(.*)$/.exec(key);
    const mapped = m ? `${m[1]}.${formIndex[m[1] as 'languages' | 'signatories'][Number(m[2])] ?? m[2]}${m[3]}` : key;
    out[mapped] ??= message;
  }
  return out;
}

const courseTitle = (c: CourseSummary, lang: string) => localized(c.title, lang) || c.slug;

export function mountTemplateRoutes(ctx: PluginContext<{ maxImageKb?: number | undefined }>, templates: TemplateService) {
  const staff = allow.roles('staff');
  const maxImageKb = ctx.config?.maxImageKb ?? DEFAULT_MAX_IMAGE_KB;
  const maxImageBytes = maxImageKb * 1024;

  async function courseOptions(req: Request, current?: string) {
    const catalog = ctx.get(CourseCatalog);
    const list = await catalog.listPublished();
    if (current && !list.some((c) => c.id === current)) {
      const c = await catalog.findById(current);
      if (c) list.push(c);
    }
    return list.map((c) => ({ id: c.id, title: courseTitle(c, req.language) })).sort((a, b) => a.title.localeCompare(b.title));
  }

  async function renderForm(
    req: Request,
    res: Response,
    o: {
      id?: string;
      values: Fields;
      errors?: Record<string, string>;
      content: StoredTemplateContent | null;
      version?: number;
      uploadsDropped?: boolean;
    },
  ) {
    const versions = o.id ? await templates.versions(o.id) : [];
    res.render('certificates/template-form', {
      title: o.id ? req.t('certificates:templates.editTitle', { name: o.values.name || '' }) : req.t('certificates:templates.newTitle'),
      templateId: o.id ?? null,
      values: o.values,
      errors: o.errors ?? {},
      existing: o.content,
      currentVersion: o.version ?? null,
      versions,
      uploadsDropped: !!o.uploadsDropped,
      unLanguages: UN_LANGUAGES,
      courses: await courseOptions(req, o.values.courseId),
      languageBlocks: LANGUAGE_BLOCKS,
      signatoryBlocks: MAX_SIGNATORIES,
      partnerBlocks: MAX_PARTNER_LOGOS,
      maxImageKb,
      uploadToken: res.locals.csrfToken(),
    });
  }

  /** Saves a form (new template when `id` is null); problems show the form again with the typed values. */
  async function handleSave(req: Request, res: Response, id: string | null) {
    const detail = id ? await templates.get(id) : null;
    if (id && !detail) throw noSuchTemplate();
    let fields: Fields = {};
    let files: Files = new Map();
    let formIndex = { languages: [0, 1], signatories: [0, 1, 2, 3] };
    try {
      ({ fields, files } = await readForm(req, maxImageBytes));
      const parsed = toInput(fields, files, detail?.content ?? null);
      formIndex = parsed.formIndex;
      const saved = await templates.save(id, parsed.input, req.user!.id);
      req.flash('success', req.t('certificates:templates.saved', { version: saved.version }));
      // Saved as written (old templates print as before), with a word on what will print wrongly.
      for (const w of templateWarnings({ languages: parsed.input.languages } as unknown as CertificateTemplate)) req.flash('info', req.t(w.key, w.params));
      res.redirect(303, `${BASE}/${saved.id}`);
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err;
      const t = (key: string, options?: object) => String(req.t(key, options as never));
      const errors = err.code === 'VALIDATION_FAILED' ? formErrors(fieldErrors(err, t) ?? {}, formIndex) : { _: errorMessage(t, err) };
      // With a single general message the page shows no "Nothing was saved" heading: the message says
      // it (a version saved with its old scope, or a save on top of another one, says so itself).
      if (Object.keys(errors).length === 1 && errors._ && err.code !== 'TEMPLATE_SCOPE_TAKEN' && err.code !== 'TEMPLATE_CHANGED')
        errors._ = req.t('certificates:errors.template.nothingSaved', { message: errors._ });
      res.status(err.status);
      if (!Object.keys(fields).length) {
        // The read stopped early (a file far too large): keep whatever text fields came before it.
        for (const [k, v] of Object.entries((req.body ?? {}) as Record<string, unknown>)) if (typeof v === 'string') fields[k] = v;
      }
      const values = { ...fields };
      if (!values['page.size']) Object.assign(values, { ...valuesOf(null, {}), ...fields });
      await renderForm(req, res, {
        ...(id ? { id } : {}),
        values,
        errors,
        content: detail?.content ?? null,
        ...(detail ? { version: detail.version } : {}),
        uploadsDropped: files.size > 0,
      });
    }
  }

  ctx.router.get(BASE, staff, async (req, res) => {
    const list = await templates.list();
    const catalog = ctx.get(CourseCatalog);
    const users = ctx.get(Users);
    const names = new Map<string, string>();
    const rows = [];
    for (const t of list) {
      const course = t.courseId ? await catalog.findById(t.courseId) : null;
      if (!names.has(t.updatedBy)) names.set(t.updatedBy, (await users.findById(t.updatedBy))?.name ?? t.updatedBy);
      rows.push({ ...t, course: course ? courseTitle(course, req.language) : t.courseId ? t.courseId : null, updatedByName: names.get(t.updatedBy) });
    }
    res.render('certificates/template-list', { title: req.t('certificates:templates.title'), rows });
  });

  ctx.router.get(`${BASE}/new`, staff, async (req, res) => {
    await renderForm(req, res, { values: valuesOf(null, {}), content: null });
  });

  ctx.router.post(BASE, staff, (req, res) => handleSave(req, res, null));

  ctx.router.get(`${BASE}/:id`, staff, async (req, res) => {
    const detail = await templates.get(String(req.params.id));
    if (!detail) throw noSuchTemplate();
    await renderForm(req, res, {
      id: detail.id,
      content: detail.content,
      version: detail.version,
      values: valuesOf(detail.content, { name: detail.name, ...(detail.courseId ? { courseId: detail.courseId } : {}), version: detail.version }),
    });
  });

  ctx.router.post(`${BASE}/:id`, staff, (req, res) => handleSave(req, res, String(req.params.id)));

  async function sendPreview(res: Response, pdf: Buffer, name: string) {
    res.setHeader('Content-Type', 'application/pdf');
    res.setHeader('Content-Disposition', `inline; filename="${name}"`);
    res.setHeader('Cache-Control', 'private, no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.end(pdf);
  }

  ctx.router.get(`${BASE}/:id/preview.pdf`, staff, async (req, res) => {
    const id = String(req.params.id);
    await sendPreview(res, await templates.preview(id), `template-${id}-preview.pdf`);
  });

  ctx.router.get(`${BASE}/:id/versions/:version/preview.pdf`, staff, async (req, res) => {
    const id = String(req.params.id);
    const version = Number(req.params.version);
    if (!/^\d{1,6}$/.test(String(req.params.version)) || version < 1)
      throw notFound('This template version does not exist.', { key: 'certificates:errors.noSuchTemplateVersion' });
    await sendPreview(res, await templates.preview(id, version), `template-${id}-v${version}-preview.pdf`);
  });
}
