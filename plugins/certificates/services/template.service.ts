/**
 * Certificate templates: validated, saved as immutable versions, loaded renderer-ready (cached),
 * and previewed with sample data.
 */
import crypto from 'node:crypto';
import { FileTypeParser } from 'file-type';
import mongoose, { type Connection } from 'mongoose';
import PDFDocument from 'pdfkit';
import { z } from 'zod';
import { HttpError, isDuplicateKey, notFound } from '../../../src/index.ts';
import {
  DEFAULT_COLOURS, PLACEHOLDERS, TemplateError, renderPreview, uncoveredCharacters, unprintableTexts, SAMPLE_DATA,
  type CertificateTemplate,
} from '../render/index.ts';
import {
  scopeOf, versionId,
  type StoredImage, type StoredTemplateContent, type TemplateDoc, type TemplateModels, type TemplateVersionDoc,
} from '../models/template.model.ts';

/** The six UN languages a template may be written in. */
export const TEMPLATE_LANGUAGES = ['en', 'fr', 'es', 'ar', 'ru', 'zh'] as const;
export type TemplateLanguageCode = (typeof TEMPLATE_LANGUAGES)[number];

export const DEFAULT_MAX_IMAGE_KB = 512;
/** Partner logos a template may carry, besides the programme logo. */
export const MAX_PARTNER_LOGOS = 4;
export const MAX_SIGNATORIES = 4;
/** All images of one version together: keeps a version document well under MongoDB's 16 MB. */
const MAX_TOTAL_IMAGE_BYTES = 12 * 1024 * 1024;
/** Renderer-ready templates kept in memory (versions never change, so entries never go stale). */
const CACHE_ENTRIES = 50;

/** An image given to {@link TemplateService.save}: a new upload, or an image of an earlier version kept. */
export interface ImageInput {
  filename: string;
  data: Buffer;
  /** The form field it came from, so that a refusal is shown next to it. */
  field?: string;
}

/** What {@link TemplateService.save} takes: the form, read into shape (it is checked again here). */
export interface TemplateInput {
  name: string;
  /** The course it is for; empty or absent: the programme's default template. */
  courseId?: string | null;
  /** The version the person edited; a save on top of another version is a 409. Absent: the current one. */
  baseVersion?: number;
  page: { size: 'A4' | 'LETTER'; orientation: 'landscape' | 'portrait' };
  colours?: Partial<StoredTemplateContent['colours']>;
  languages: Array<{ lang: string; title: string; wording: string; codeLabel?: string }>;
  logos?: { programme?: ImageInput | null; partners?: ImageInput[] };
  /** `title[i]` is the position in the template's i-th language. */
  signatories: Array<{ name: string; title: string[]; signature?: ImageInput | null }>;
  /** Attach the PDF to the e-mail that tells the learner of their certificate. Default: yes. */
  attachPdf?: boolean;
}

export interface TemplateSummary {
  id: string;
  name: string;
  courseId?: string;
  version: number;
  updatedBy: string;
  updatedAt: Date;
}

export interface TemplateDetail extends TemplateSummary {
  /** The current version's content (images with their bytes). */
  content: StoredTemplateContent;
  savedAt: Date;
}

export interface TemplateService {
  /**
   * The template a certificate of this course is printed with: the preferred one (an edition's
   * choice) when it exists, else the course's own, else the programme's default. 409 NO_TEMPLATE
   * when there is none at all.
   */
  templateFor(courseId: string, preferredTemplateId?: string): Promise<{ templateId: string; version: number }>;
  /** A version, renderer-ready (image bytes included); cached, since versions never change. 404 if unknown. */
  load(templateId: string, version: number): Promise<CertificateTemplate>;
  /** Whether certificates printed with this version have their PDF attached to the learner's e-mail. */
  attachPdf(templateId: string, version: number): Promise<boolean>;
  /** Every template with its current version, newest change first. */
  list(): Promise<TemplateSummary[]>;
  /** A template with its current version's content; null if unknown. */
  get(id: string): Promise<TemplateDetail | null>;
  /** The versions of a template, newest first (no content). */
  versions(id: string): Promise<Array<{ version: number; savedBy: string; savedAt: Date }>>;
  /**
   * Saves a new version (a new template when `id` is null). Every problem is reported at once as a
   * 400 VALIDATION_FAILED with `fields` (and nothing is written); a template that cannot print is
   * refused the same way. Someone else's save since `baseVersion` is a 409 TEMPLATE_CHANGED.
   */
  save(id: string | null, input: TemplateInput, byUserId: string): Promise<{ id: string; version: number }>;
  /** A PDF of the version (the current one if not given) with sample data and "SPECIMEN". */
  preview(id: string, version?: number): Promise<Buffer>;
}

export interface TemplateServiceOptions {
  /** Largest image, in kilobytes (the plugin's `maxImageKb`); 512 when not given. */
  maxImageKb?: number | undefined;
  /** Whether a course exists (the course catalogue); when given, a template for an unknown course is refused. */
  courseExists?: ((courseId: string) => Promise<boolean>) | undefined;
}

const hex = z.string().trim().toLowerCase().regex(/^#[0-9a-f]{6}$/, 'Give a colour as #rrggbb, e.g. #1f3a5f.');
const known = new Set<string>(PLACEHOLDERS);
const placeholderList = PLACEHOLDERS.map((p) => `{${p}}`).join(' ');

/** Unknown `{placeholders}` of a text, reported by name. */
function placeholderIssue(text: string): string | null {
  const unknown = [...text.matchAll(/\{([^{}\s]*)\}/g)].map((m) => m[1]!).filter((p) => !known.has(p));
  if (!unknown.length) return null;
  return `Unknown placeholder ${[...new Set(unknown)].map((p) => `{${p}}`).join(', ')}: use only ${placeholderList}.`;
}

const imageInput = z.object({ filename: z.string(), data: z.instanceof(Buffer), field: z.string().optional() });

const inputSchema = z.object({
  name: z.string().trim().min(1, 'Give the template a name.').max(120, 'Keep the name under 120 characters.'),
  courseId: z.string().trim().regex(/^[0-9a-f]{24}$/i, 'Choose a course from the list.').nullish().or(z.literal('')),
  baseVersion: z.number().int().min(1).optional(),
  page: z.object({
    size: z.enum(['A4', 'LETTER'], { error: 'Choose A4 or Letter.' }),
    orientation: z.enum(['landscape', 'portrait'], { error: 'Choose landscape or portrait.' }),
  }),
  colours: z.object({
    primary: hex.default(DEFAULT_COLOURS.primary),
    accent: hex.default(DEFAULT_COLOURS.accent),
    text: hex.default(DEFAULT_COLOURS.text),
    muted: hex.default(DEFAULT_COLOURS.muted),
  }).default(DEFAULT_COLOURS),
  languages: z.array(z.object({
    lang: z.enum(TEMPLATE_LANGUAGES, { error: 'Choose one of the six UN languages (English, French, Spanish, Arabic, Russian, Chinese).' }),
    title: z.string().trim().min(1, 'Give the title in this language.').max(200, 'Keep the title under 200 characters.'),
    wording: z.string().trim().min(1, 'Write the wording in this language.').max(2000, 'Keep the wording under 2,000 characters.'),
    codeLabel: z.string().trim().max(60, 'Keep the label under 60 characters.').optional(),
  })).min(1, 'A certificate needs one language, or two (bilingual).').max(2, 'A certificate has one or two languages, not more.'),
  logos: z.object({
    programme: imageInput.nullish(),
    partners: z.array(imageInput).max(MAX_PARTNER_LOGOS, `At most ${MAX_PARTNER_LOGOS} partner logos.`).default([]),
  }).default({ partners: [] }),
  signatories: z.array(z.object({
    name: z.string().trim().min(1, 'Give the signatory’s name.').max(120, 'Keep the name under 120 characters.'),
    title: z.array(z.string().trim().max(200, 'Keep the position under 200 characters.')),
    signature: imageInput.nullish(),
  })).min(1, 'A certificate needs at least one signatory.').max(MAX_SIGNATORIES, `A certificate has at most ${MAX_SIGNATORIES} signatories.`),
  attachPdf: z.boolean({ error: 'Say whether the PDF is attached to the e-mail (yes or no).' }).default(true),
}).superRefine((v, zctx) => {
  v.languages.forEach((l, i) => {
    for (const field of ['title', 'wording'] as const) {
      const issue = placeholderIssue(l[field]);
      if (issue) zctx.addIssue({ code: 'custom', path: ['languages', i, field], message: issue });
    }
    if (v.languages.findIndex((o) => o.lang === l.lang) !== i) zctx.addIssue({ code: 'custom', path: ['languages', i, 'lang'], message: 'The two languages must differ.' });
  });
  v.signatories.forEach((s, i) => {
    v.languages.forEach((_l, j) => {
      if (!s.title[j]) zctx.addIssue({ code: 'custom', path: ['signatories', i, 'title', j], message: 'Give the signatory’s position in each language of the certificate.' });
    });
  });
});

type ParsedInput = z.output<typeof inputSchema>;

export function createTemplateService(models: TemplateModels, _connection: Connection, options: TemplateServiceOptions = {}): TemplateService {
  const { Template, TemplateVersion } = models;
  const maxImageBytes = (options.maxImageKb ?? DEFAULT_MAX_IMAGE_KB) * 1024;
  const cache = new Map<string, Promise<CertificateTemplate>>();
  /** Per version, whether its PDFs go with the e-mail: read once (a version never changes), without re-reading its images per certificate. */
  const attachments = new Map<string, Promise<boolean>>();

  /** The last complete version, healing `currentVersion` when a save stopped between its two writes. */
  async function currentOf(doc: Pick<TemplateDoc, '_id' | 'currentVersion'>): Promise<number> {
    const id = String(doc._id);
    let v = doc.currentVersion;
    while (await TemplateVersion.exists({ _id: versionId(id, v + 1) })) v++;
    if (v !== doc.currentVersion) await Template.updateOne({ _id: doc._id }, { $set: { currentVersion: v } });
    return v;
  }

  const objectId = (id: string) => (/^[0-9a-f]{24}$/i.test(id) ? new mongoose.Types.ObjectId(id) : null);

  async function findTemplate(id: string) {
    const oid = objectId(id);
    return oid ? Template.findById(oid).lean() : null;
  }

  async function summary(doc: TemplateDoc): Promise<TemplateSummary | null> {
    const version = await currentOf(doc);
    if (version === 0) return null;
    return { id: String(doc._id), name: doc.name, ...(doc.courseId ? { courseId: doc.courseId } : {}), version, updatedBy: doc.updatedBy, updatedAt: doc.updatedAt };
  }

  async function templateFor(courseId: string, preferredTemplateId?: string) {
    const candidates: Array<() => Promise<TemplateDoc | null>> = [
      async () => (preferredTemplateId ? findTemplate(preferredTemplateId) : null),
      async () => Template.findOne({ scope: scopeOf(courseId) }).lean(),
      async () => Template.findOne({ scope: scopeOf(null) }).lean(),
    ];
    for (const find of candidates) {
      const doc = await find();
      if (!doc) continue;
      const version = await currentOf(doc);
      if (version > 0) return { templateId: String(doc._id), version };
    }
    throw new HttpError(409, 'NO_TEMPLATE', 'No certificate template exists yet: programme staff create one under Certificates → Templates.');
  }

  async function readVersion(templateId: string, version: number): Promise<TemplateVersionDoc> {
    const doc = await TemplateVersion.findById(versionId(templateId, version)).lean();
    if (!doc) throw notFound(`Certificate template ${templateId} has no version ${version}.`);
    return { ...doc, content: normaliseContent(doc.content) };
  }

  function load(templateId: string, version: number): Promise<CertificateTemplate> {
    const key = versionId(templateId, version);
    const hit = cache.get(key);
    if (hit) {
      // Most recently used last: the first entry is the one to drop.
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const loading = readVersion(templateId, version).then((doc) => toRenderable(doc.content));
    cache.set(key, loading);
    loading.catch(() => cache.delete(key));
    while (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    return loading;
  }

  function attachPdf(templateId: string, version: number): Promise<boolean> {
    const key = versionId(templateId, version);
    let known = attachments.get(key);
    if (!known) {
      known = readVersion(templateId, version).then((doc) => doc.content.attachPdf !== false);
      known.catch(() => attachments.delete(key));
      attachments.set(key, known);
      while (attachments.size > CACHE_ENTRIES * 20) attachments.delete(attachments.keys().next().value!);
    }
    return known;
  }

  async function list(): Promise<TemplateSummary[]> {
    const docs = await Template.find().lean();
    const out: TemplateSummary[] = [];
    for (const doc of docs) {
      const s = await summary(doc);
      if (s) out.push(s);
    }
    return out.sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
  }

  async function get(id: string): Promise<TemplateDetail | null> {
    const doc = await findTemplate(id);
    if (!doc) return null;
    const s = await summary(doc);
    if (!s) return null;
    const v = await readVersion(s.id, s.version);
    return { ...s, content: v.content, savedAt: v.savedAt };
  }

  async function versions(id: string) {
    const doc = await findTemplate(id);
    if (!doc) return [];
    const current = await currentOf(doc);
    const ids = Array.from({ length: current }, (_, i) => versionId(String(doc._id), i + 1));
    const found = await TemplateVersion.find({ _id: mongoose.trusted({ $in: ids }) }, { version: 1, savedBy: 1, savedAt: 1 }).lean();
    return found.map((v) => ({ version: v.version, savedBy: v.savedBy, savedAt: v.savedAt })).sort((a, b) => b.version - a.version);
  }

  /** Checks everything, builds the stored content, and proves it prints; throws every problem at once. */
  async function validate(input: TemplateInput): Promise<{ parsed: ParsedInput; content: StoredTemplateContent }> {
    const fields: Record<string, string> = {};
    const result = inputSchema.safeParse(input);
    if (!result.success) {
      for (const issue of result.error.issues) fields[issue.path.join('.') || '_'] ??= issue.message;
    }
    // Images are checked even when other fields are wrong, so that every problem shows at once.
    const images = new Map<ImageInput, StoredImage>();
    let total = 0;
    const checkImage = async (img: ImageInput | null | undefined, path: string) => {
      if (!img) return;
      const field = img.field ?? path;
      const problem = await imageProblem(img, maxImageBytes);
      if (problem) fields[field] ??= problem;
      else {
        images.set(img, storedImage(img));
        total += img.data.length;
      }
    };
    await checkImage(input.logos?.programme, 'logos.programme');
    for (const [i, p] of (input.logos?.partners ?? []).slice(0, MAX_PARTNER_LOGOS).entries()) await checkImage(p, `logos.partners.${i}`);
    for (const [i, s] of (input.signatories ?? []).slice(0, MAX_SIGNATORIES).entries()) await checkImage(s?.signature, `signatories.${i}.signature`);
    const courseId = typeof input.courseId === 'string' && /^[0-9a-f]{24}$/i.test(input.courseId) ? input.courseId : null;
    if (courseId && options.courseExists && !(await options.courseExists(courseId))) fields.courseId ??= 'This course does not exist (any more): choose one from the list.';
    if (total > MAX_TOTAL_IMAGE_BYTES) fields._ ??= `The images together are larger than ${MAX_TOTAL_IMAGE_BYTES / 1024 / 1024} MB: use smaller images.`;

    // Characters no bundled font has, per field, in the words people typed.
    const texts: Array<[string, string | undefined]> = [];
    (input.languages ?? []).forEach((l, i) => texts.push([`languages.${i}.title`, l?.title], [`languages.${i}.wording`, l?.wording], [`languages.${i}.codeLabel`, l?.codeLabel]));
    (input.signatories ?? []).forEach((s, i) => {
      texts.push([`signatories.${i}.name`, s?.name]);
      (s?.title ?? []).forEach((t, j) => texts.push([`signatories.${i}.title.${j}`, t]));
    });
    for (const [field, text] of texts) {
      if (typeof text !== 'string') continue;
      const missing = uncoveredCharacters(text);
      if (missing.length) fields[field] ??= unprintableMessage(missing);
    }

    if (!result.success || Object.keys(fields).length) throw invalid(fields);
    const parsed = result.data;
    const image = (img: ImageInput | null | undefined) => (img ? images.get(img as ImageInput) : undefined);
    const content: StoredTemplateContent = {
      page: parsed.page,
      colours: parsed.colours,
      languages: parsed.languages.map((l) => ({ lang: l.lang, title: l.title, wording: l.wording, ...(l.codeLabel ? { codeLabel: l.codeLabel } : {}) })),
      logos: {
        ...(image(input.logos?.programme) ? { programme: image(input.logos?.programme)! } : {}),
        partners: (input.logos?.partners ?? []).map((p) => image(p)!),
      },
      signatories: parsed.signatories.map((s, i) => {
        const signature = image(input.signatories[i]?.signature);
        return {
          name: s.name,
          title: Object.fromEntries(parsed.languages.map((l, j) => [l.lang, s.title[j]!])),
          ...(signature ? { signature } : {}),
        };
      }),
      attachPdf: parsed.attachPdf,
    };

    // The renderer has the last word: a template that cannot print is never saved.
    const renderable = toRenderable(content);
    for (const u of unprintableTexts(renderable, SAMPLE_DATA)) fields._ ??= `${unprintableMessage(u.characters)} (in “${u.text}”)`;
    if (!fields._) {
      try {
        await renderPreview(renderable);
      } catch (err) {
        if (err instanceof TemplateError) fields._ = `This template cannot be printed: ${err.problems.join('; ')}.`;
        else fields._ = `This template cannot be printed: ${err instanceof Error ? err.message : String(err)}.`;
      }
    }
    if (Object.keys(fields).length) throw invalid(fields);
    return { parsed, content };
  }

  async function save(id: string | null, input: TemplateInput, byUserId: string): Promise<{ id: string; version: number }> {
    const existing = id === null ? null : await findTemplate(id);
    if (id !== null && !existing) throw notFound('This certificate template does not exist.');
    const { parsed, content } = await validate(input);
    const courseId = parsed.courseId || undefined;
    const scope = scopeOf(courseId);
    const now = new Date();
    const taken = () => invalid({ courseId: courseId ? 'This course already has a certificate template: edit that one instead.' : 'A programme default template already exists: edit that one instead, or choose a course.' }, 409);

    if (existing) {
      const templateId = String(existing._id);
      const current = await currentOf(existing);
      const base = parsed.baseVersion ?? current;
      if (base !== current) throw changedMeanwhile(current);
      if (scope !== existing.scope && await Template.exists({ scope })) throw taken();
      const version = base + 1;
      try {
        await TemplateVersion.create({ _id: versionId(templateId, version), templateId, version, name: parsed.name, content, savedBy: byUserId, savedAt: now });
      } catch (err) {
        if (isDuplicateKey(err)) throw changedMeanwhile(version);
        throw err;
      }
      const metadata = { currentVersion: version, updatedBy: byUserId, updatedAt: now };
      try {
        await Template.updateOne({ _id: existing._id }, courseId
          ? { $set: { ...metadata, name: parsed.name, scope, courseId } }
          : { $set: { ...metadata, name: parsed.name, scope }, $unset: { courseId: 1 } });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Another template took this course between the check and now: the version is saved, the scope stays.
        await Template.updateOne({ _id: existing._id }, { $set: { ...metadata, name: parsed.name } });
        throw new HttpError(409, 'TEMPLATE_SCOPE_TAKEN', `Version ${version} was saved, but another template was given this course meanwhile: this one keeps what it was used for before.`, { version });
      }
      return { id: templateId, version };
    }

    if (await Template.exists({ scope })) throw taken();
    const _id = new mongoose.Types.ObjectId();
    const templateId = String(_id);
    try {
      // The template first, with no version yet: it claims the scope (unique) before anything else.
      await Template.create({ _id, name: parsed.name, ...(courseId ? { courseId } : {}), scope, currentVersion: 0, updatedBy: byUserId, updatedAt: now });
    } catch (err) {
      if (isDuplicateKey(err)) throw taken();
      throw err;
    }
    try {
      await TemplateVersion.create({ _id: versionId(templateId, 1), templateId, version: 1, name: parsed.name, content, savedBy: byUserId, savedAt: now });
    } catch (err) {
      await Template.deleteOne({ _id });
      throw err;
    }
    await Template.updateOne({ _id }, { $set: { currentVersion: 1 } });
    return { id: templateId, version: 1 };
  }

  async function preview(id: string, version?: number): Promise<Buffer> {
    const doc = await findTemplate(id);
    if (!doc) throw notFound('This certificate template does not exist.');
    const v = version ?? await currentOf(doc);
    if (!Number.isSafeInteger(v) || v < 1) throw notFound('This certificate template has no saved version.');
    return renderPreview(await load(String(doc._id), v));
  }

  return { templateFor, load, attachPdf, list, get, versions, save, preview };
}

function invalid(fields: Record<string, string>, status = 400) {
  return new HttpError(status, 'VALIDATION_FAILED', 'Some fields need attention. Nothing was saved.', { fields });
}

function changedMeanwhile(version: number) {
  return new HttpError(409, 'TEMPLATE_CHANGED', `Someone saved this template meanwhile (version ${version}). Reload it to see their changes, then make yours again. Nothing was saved.`, { version });
}

function unprintableMessage(characters: string[]): string {
  const list = characters.map((c) => `${c} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`).join(', ');
  return `These characters cannot be printed with the certificate fonts: ${list}.`;
}

/** What is wrong with an image, or null: PNG or JPEG by content, within the size limit, readable. */
async function imageProblem(img: ImageInput, maxBytes: number): Promise<string | null> {
  const name = img.filename || 'The image';
  if (img.data.length === 0) return `${name} is empty.`;
  if (img.data.length > maxBytes) return `${name} is larger than the ${Math.round(maxBytes / 1024)} KB limit for images (it is ${Math.ceil(img.data.length / 1024)} KB): make it smaller.`;
  const kind = await imageKind(img.data);
  if (!kind) {
    let detected: string | undefined;
    try {
      detected = (await new FileTypeParser().fromBuffer(img.data))?.ext;
    } catch {
      detected = undefined;
    }
    const head = img.data.subarray(0, 512).toString('utf8').trimStart().toLowerCase();
    const what = detected ? DESCRIBED[detected] ?? `a .${detected} file`
      : head.startsWith('<') ? 'XML or SVG (SVG can carry script)' : 'not a recognised image';
    return `${name} is not a PNG or JPEG image: its content is ${what}. Save it as PNG or JPEG and choose it again.`;
  }
  try {
    // pdfkit reads the image's header here, as it will when printing.
    (new PDFDocument({ autoFirstPage: false }) as unknown as { openImage(b: Buffer): unknown }).openImage(img.data);
  } catch {
    return `${name} could not be read as a ${kind === 'image/png' ? 'PNG' : 'JPEG'} image (it may be damaged). Save it again and choose it again.`;
  }
  return null;
}

const DESCRIBED: Record<string, string> = {
  exe: 'a Windows program', elf: 'a Linux program', pdf: 'a PDF document', gif: 'a GIF image', webp: 'a WebP image',
  bmp: 'a BMP image', tif: 'a TIFF image', ico: 'an icon', xml: 'XML or SVG (SVG can carry script)', zip: 'a ZIP archive',
  heic: 'a HEIC photo', avif: 'an AVIF image',
};

async function imageKind(data: Buffer): Promise<StoredImage['contentType'] | null> {
  let ext: string | undefined;
  try {
    ext = (await new FileTypeParser().fromBuffer(data))?.ext;
  } catch {
    return null;
  }
  return ext === 'png' ? 'image/png' : ext === 'jpg' ? 'image/jpeg' : null;
}

function storedImage(img: ImageInput): StoredImage {
  const contentType = img.data[0] === 0x89 ? 'image/png' : 'image/jpeg';
  return {
    contentType,
    filename: img.filename.replace(/[\p{Cc}\p{Cf}\\/]/gu, '').slice(-120) || 'image',
    size: img.data.length,
    sha256: crypto.createHash('sha256').update(img.data).digest('hex'),
    data: img.data,
  };
}

/** BSON binary read back from the database (mongodb `Binary`) as a Buffer. */
function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  const bin = value as { buffer?: Uint8Array; value?: () => Uint8Array } | undefined;
  if (bin?.buffer instanceof Uint8Array) return Buffer.from(bin.buffer.buffer, bin.buffer.byteOffset, bin.buffer.byteLength);
  throw new Error('certificates: a stored template image is not binary data');
}

function normaliseImage(img: StoredImage | undefined): StoredImage | undefined {
  return img ? { ...img, data: toBuffer(img.data) } : undefined;
}

/** Stored content with every image as a Buffer. */
function normaliseContent(c: StoredTemplateContent): StoredTemplateContent {
  const programme = normaliseImage(c.logos?.programme);
  return {
    ...c,
    logos: { ...(programme ? { programme } : {}), partners: (c.logos?.partners ?? []).map((p) => normaliseImage(p)!) },
    signatories: c.signatories.map((s) => {
      const signature = normaliseImage(s.signature);
      return { name: s.name, title: s.title, ...(signature ? { signature } : {}) };
    }),
  };
}

/** The renderer's template from stored content. */
export function toRenderable(c: StoredTemplateContent): CertificateTemplate {
  const languages = c.languages.map((l) => ({ lang: l.lang, title: l.title, wording: l.wording, ...(l.codeLabel ? { codeLabel: l.codeLabel } : {}) }));
  return {
    page: { size: c.page.size, orientation: c.page.orientation },
    colours: { ...c.colours },
    languages: languages as unknown as CertificateTemplate['languages'],
    logos: {
      ...(c.logos.programme ? { programme: c.logos.programme.data } : {}),
      partners: c.logos.partners.map((p) => p.data),
    },
    signatories: c.signatories.map((s) => ({ name: s.name, title: { ...s.title }, ...(s.signature ? { signature: s.signature.data } : {}) })),
  };
}
