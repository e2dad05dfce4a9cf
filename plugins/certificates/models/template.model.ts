import mongoose from 'mongoose';

/**
 * A certificate template: its name, what it applies to, and which version is current. The printed
 * content lives in its versions ({@link TemplateVersionDoc}), which never change once written.
 *
 * `scope` is unique: `programme` (the programme's default) or `course:<courseId>`, so that "which
 * template does this course use" always has one answer. An edition may still prefer any template.
 */
export interface TemplateDoc {
  _id: mongoose.Types.ObjectId;
  name: string;
  /** The course this template is for; absent for the programme's default template. */
  courseId?: string;
  /** `programme` or `course:<courseId>`: unique, one template per course and one default. */
  scope: string;
  /**
   * The last version known to be complete. A hint that readers heal: a save inserts version N+1
   * first (the claim), then moves this; a crash or a lost read-then-write update in between leaves
   * it one behind, and readers probe `<id>:<N+1>` by `_id` before trusting it. 0 = nothing saved yet.
   */
  currentVersion: number;
  updatedBy: string;
  updatedAt: Date;
}

export const templateSchema = new mongoose.Schema<TemplateDoc>(
  {
    name: { type: String, required: true },
    courseId: String,
    scope: { type: String, required: true, unique: true },
    currentVersion: { type: Number, required: true },
    updatedBy: { type: String, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

/** An image of a template version, stored inline (see {@link TemplateVersionDoc}). */
export interface StoredImage {
  contentType: 'image/png' | 'image/jpeg';
  /** The uploaded file's name (sanitised), shown in the editor. */
  filename: string;
  size: number;
  sha256: string;
  data: Buffer;
}

/** A template language as stored (the renderer's TemplateLanguage). */
export interface StoredLanguage {
  lang: string;
  title: string;
  wording: string;
  codeLabel?: string;
}

/** The serialisable template: the renderer's CertificateTemplate with images as {@link StoredImage}. */
export interface StoredTemplateContent {
  page: { size: 'A4' | 'LETTER'; orientation: 'landscape' | 'portrait' };
  colours: { primary: string; accent: string; text: string; muted: string };
  languages: StoredLanguage[];
  logos: { programme?: StoredImage; partners: StoredImage[] };
  /** `title` per template language (`{ en: '…', fr: '…' }`). */
  signatories: Array<{ name: string; title: Record<string, string>; signature?: StoredImage }>;
  /** Whether the e-mail telling the learner of their certificate carries the PDF; absent (versions saved before the option): yes. */
  attachPdf?: boolean;
}

/**
 * One version of a template, written once and never changed: `_id` is `<templateId>:<version>`,
 * so inserting it is the claim on that version number (two people saving at once cannot both
 * create version N+1) and loading it is an `_id` lookup.
 *
 * Images live inside the document as BSON binary rather than in GridFS: each is at most
 * `maxImageKb` (512 KB by default) and a version holds at most nine (programme logo, four partner
 * logos, four signatures), so a version stays far below the 16 MB document limit (the service
 * also refuses a version whose images together pass 12 MB). One document per version makes the
 * save a single insert: a refused or lost save leaves no file behind, there is nothing to clean
 * up and no transaction to miss, and issuing a certificate reads one document. The cost is that
 * an unchanged logo is copied into each new version, which for a few hundred KB per save is cheap.
 */
export interface TemplateVersionDoc {
  _id: string;
  templateId: string;
  version: number;
  /** The template's name when this version was saved (for the version list). */
  name: string;
  content: StoredTemplateContent;
  savedBy: string;
  savedAt: Date;
}

export const templateVersionSchema = new mongoose.Schema<TemplateVersionDoc>(
  {
    _id: { type: String, required: true },
    templateId: { type: String, required: true },
    version: { type: Number, required: true },
    name: { type: String, required: true },
    content: { type: mongoose.Schema.Types.Mixed, required: true },
    savedBy: { type: String, required: true },
    savedAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);

export const versionId = (templateId: string, version: number) => `${templateId}:${version}`;

/** The scope key of a template: `programme`, or `course:<courseId>`. */
export const scopeOf = (courseId: string | undefined | null) => (courseId ? `course:${courseId}` : 'programme');

export interface TemplateModels {
  Template: mongoose.Model<TemplateDoc>;
  TemplateVersion: mongoose.Model<TemplateVersionDoc>;
}

/** Declares the template models on the plugin (`certificates_template`, `certificates_template_version`). */
export function registerTemplateModels(ctx: { model<T>(name: string, schema: mongoose.Schema<T>): mongoose.Model<T> }): TemplateModels {
  return {
    Template: ctx.model<TemplateDoc>('template', templateSchema),
    TemplateVersion: ctx.model<TemplateVersionDoc>('template_version', templateVersionSchema),
  };
}
