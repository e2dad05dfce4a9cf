/**
 * Certificate templates: saved as immutable versions once checked (`templates/input.ts`), loaded
 * renderer-ready (cached: a version never changes), and previewed with sample data.
 */
import mongoose, { type Connection } from 'mongoose';
import { HttpError, isDuplicateKey, notFound, toObjectId } from '../../../src/index.ts';
import { renderPreview, type CertificateTemplate } from '../render/index.ts';
import { scopeOf, versionId, type StoredTemplateContent, type TemplateDoc, type TemplateModels, type TemplateVersionDoc } from '../models/template.model.ts';
import { normaliseContent, toRenderable } from './templates/content.ts';
import { DEFAULT_MAX_IMAGE_KB, invalid, validateTemplate, type TemplateInput } from './templates/input.ts';

export { toRenderable } from './templates/content.ts';
export type { ImageInput } from './templates/images.ts';
export { DEFAULT_MAX_IMAGE_KB, MAX_PARTNER_LOGOS, MAX_SIGNATORIES, type TemplateInput } from './templates/input.ts';

/** Renderer-ready templates kept in memory (versions never change, so entries never go stale). */
const CACHE_ENTRIES = 50;

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
  /** Every template by name, A to Z: what staff choose from for an edition. */
  choices(): Promise<Array<{ id: string; name: string }>>;
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

  async function findTemplate(id: string) {
    const oid = toObjectId(id);
    return oid ? Template.findById(oid).lean() : null;
  }

  async function summary(doc: TemplateDoc): Promise<TemplateSummary | null> {
    const version = await currentOf(doc);
    if (version === 0) return null;
    return {
      id: String(doc._id),
      name: doc.name,
      ...(doc.courseId ? { courseId: doc.courseId } : {}),
      version,
      updatedBy: doc.updatedBy,
      updatedAt: doc.updatedAt,
    };
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
    throw new HttpError(409, 'NO_TEMPLATE', 'No certificate template exists yet: programme staff create one under Certificates → Templates.', undefined, {
      key: 'certificates:errors.noTemplate',
    });
  }

  async function readVersion(templateId: string, version: number): Promise<TemplateVersionDoc> {
    const doc = await TemplateVersion.findById(versionId(templateId, version)).lean();
    if (!doc)
      throw notFound(`Certificate template ${templateId} has no version ${version}.`, { key: 'certificates:errors.noSuchVersion', params: { version } });
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

  async function save(id: string | null, input: TemplateInput, byUserId: string): Promise<{ id: string; version: number }> {
    const existing = id === null ? null : await findTemplate(id);
    if (id !== null && !existing) throw noSuchTemplate();
    const { parsed, content } = await validateTemplate(input, { maxImageBytes, courseExists: options.courseExists });
    const courseId = parsed.courseId || undefined;
    const scope = scopeOf(courseId);
    const now = new Date();
    const taken = () =>
      invalid(
        {
          courseId: { key: courseId ? 'certificates:errors.template.courseTaken' : 'certificates:errors.template.defaultTaken' },
        },
        409,
      );

    if (existing) {
      const templateId = String(existing._id);
      const current = await currentOf(existing);
      const base = parsed.baseVersion ?? current;
      if (base !== current) throw changedMeanwhile(current);
      if (scope !== existing.scope && (await Template.exists({ scope }))) throw taken();
      const version = base + 1;
      try {
        await TemplateVersion.create({ _id: versionId(templateId, version), templateId, version, name: parsed.name, content, savedBy: byUserId, savedAt: now });
      } catch (err) {
        if (isDuplicateKey(err)) throw changedMeanwhile(version);
        throw err;
      }
      const metadata = { currentVersion: version, updatedBy: byUserId, updatedAt: now };
      try {
        await Template.updateOne(
          { _id: existing._id },
          courseId
            ? { $set: { ...metadata, name: parsed.name, scope, courseId } }
            : { $set: { ...metadata, name: parsed.name, scope }, $unset: { courseId: 1 } },
        );
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Another template took this course between the check and now: the version is saved, the scope stays.
        await Template.updateOne({ _id: existing._id }, { $set: { ...metadata, name: parsed.name } });
        throw new HttpError(
          409,
          'TEMPLATE_SCOPE_TAKEN',
          `Version ${version} was saved, but another template was given this course meanwhile: this one keeps what it was used for before.`,
          { version },
          { key: 'certificates:errors.template.scopeTakenMeanwhile', params: { version } },
        );
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
    if (!doc) throw noSuchTemplate();
    const v = version ?? (await currentOf(doc));
    if (!Number.isSafeInteger(v) || v < 1) throw notFound('This certificate template has no saved version.', { key: 'certificates:errors.noSavedVersion' });
    return renderPreview(await load(String(doc._id), v));
  }

  async function choices(): Promise<Array<{ id: string; name: string }>> {
    return (await Template.find({}, { name: 1 }).sort({ name: 1 }).lean()).map((t) => ({ id: String(t._id), name: t.name }));
  }

  return { templateFor, load, attachPdf, list, choices, get, versions, save, preview };
}

function changedMeanwhile(version: number) {
  return new HttpError(
    409,
    'TEMPLATE_CHANGED',
    `Someone saved this template meanwhile (version ${version}). Reload it to see their changes, then make yours again. Nothing was saved.`,
    { version },
    { key: 'certificates:errors.template.changedMeanwhile', params: { version } },
  );
}

/** A template that is not there (any more), as the service and the template pages say it. */
export const noSuchTemplate = () => notFound('This certificate template does not exist.', { key: 'certificates:errors.noSuchTemplate' });
