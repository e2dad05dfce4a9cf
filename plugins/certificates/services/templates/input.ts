/**
 * What a template save is given, and the checks it passes before anything is written: the form's
 * fields, its images, the characters the bundled fonts can print, and finally a test print.
 * Every problem is reported at once, by field.
 */
import { z } from 'zod';
import { checkInput, invalidFields, isObjectId, OBJECT_ID_PATTERN, UN_LANGUAGES, type ErrorText } from '../../../../src/index.ts';
import { DEFAULT_COLOURS, PLACEHOLDERS, TemplateError, renderPreview, uncoveredCharacters, unprintableTexts, SAMPLE_DATA } from '../../render/index.ts';
import type { StoredImage, StoredTemplateContent } from '../../models/template.model.ts';
import { toRenderable } from './content.ts';
import { imageProblem, storedImage, type ImageInput } from './images.ts';

export const DEFAULT_MAX_IMAGE_KB = 512;
/** Partner logos a template may carry, besides the programme logo. */
export const MAX_PARTNER_LOGOS = 4;
export const MAX_SIGNATORIES = 4;
/** All images of one version together: keeps a version document well under MongoDB's 16 MB. */
const MAX_TOTAL_IMAGE_BYTES = 12 * 1024 * 1024;

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

const hex = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^#[0-9a-f]{6}$/, 'certificates:errors.template.colour');
const known = new Set<string>(PLACEHOLDERS);
const placeholderList = PLACEHOLDERS.map((p) => `{${p}}`).join(' ');

/** Unknown `{placeholders}` of a text, reported by name. */
function placeholderIssue(text: string): ErrorText | null {
  const unknown = [...new Set([...text.matchAll(/\{([^{}\s]*)\}/g)].map((m) => m[1]!).filter((p) => !known.has(p)))];
  if (!unknown.length) return null;
  return {
    key: 'certificates:errors.template.unknownPlaceholder',
    params: { count: unknown.length, placeholders: unknown.map((p) => `{${p}}`).join(', '), known: placeholderList },
  };
}

const imageInput = z.object({ filename: z.string(), data: z.instanceof(Buffer), field: z.string().optional() });

const inputSchema = z
  .object({
    name: z.string().trim().min(1, 'certificates:errors.template.name').max(120, 'certificates:errors.template.nameLong'),
    courseId: z.string().trim().regex(OBJECT_ID_PATTERN, 'certificates:errors.template.course').nullish().or(z.literal('')),
    baseVersion: z.number().int().min(1).optional(),
    page: z.object({
      size: z.enum(['A4', 'LETTER'], { error: 'certificates:errors.template.size' }),
      orientation: z.enum(['landscape', 'portrait'], { error: 'certificates:errors.template.orientation' }),
    }),
    colours: z
      .object({
        primary: hex.default(DEFAULT_COLOURS.primary),
        accent: hex.default(DEFAULT_COLOURS.accent),
        text: hex.default(DEFAULT_COLOURS.text),
        muted: hex.default(DEFAULT_COLOURS.muted),
      })
      .default(DEFAULT_COLOURS),
    languages: z
      .array(
        z.object({
          lang: z.enum(UN_LANGUAGES, { error: 'certificates:errors.template.language' }),
          title: z.string().trim().min(1, 'certificates:errors.template.title').max(200, 'certificates:errors.template.titleLong'),
          wording: z.string().trim().min(1, 'certificates:errors.template.wording').max(2000, 'certificates:errors.template.wordingLong'),
          codeLabel: z.string().trim().max(60, 'certificates:errors.template.codeLabelLong').optional(),
        }),
      )
      .min(1, 'certificates:errors.template.noLanguage')
      .max(2, 'certificates:errors.template.tooManyLanguages'),
    logos: z
      .object({
        programme: imageInput.nullish(),
        partners: z.array(imageInput).max(MAX_PARTNER_LOGOS, 'certificates:errors.template.tooManyPartners').default([]),
      })
      .default({ partners: [] }),
    signatories: z
      .array(
        z.object({
          name: z.string().trim().min(1, 'certificates:errors.template.signatoryName').max(120, 'certificates:errors.template.nameLong'),
          title: z.array(z.string().trim().max(200, 'certificates:errors.template.positionLong')),
          signature: imageInput.nullish(),
        }),
      )
      .min(1, 'certificates:errors.template.noSignatory')
      .max(MAX_SIGNATORIES, 'certificates:errors.template.tooManySignatories'),
    attachPdf: z.boolean({ error: 'certificates:errors.template.attachPdf' }).default(true),
  })
  .superRefine((v, zctx) => {
    v.languages.forEach((l, i) => {
      for (const field of ['title', 'wording'] as const) {
        const issue = placeholderIssue(l[field]);
        if (issue) zctx.addIssue({ code: 'custom', path: ['languages', i, field], message: issue.key, params: issue.params });
      }
      if (v.languages.findIndex((o) => o.lang === l.lang) !== i)
        zctx.addIssue({ code: 'custom', path: ['languages', i, 'lang'], message: 'certificates:errors.template.sameLanguage' });
    });
    v.signatories.forEach((s, i) => {
      v.languages.forEach((_l, j) => {
        if (!s.title[j])
          zctx.addIssue({
            code: 'custom',
            path: ['signatories', i, 'title', j],
            message: 'certificates:errors.template.position',
          });
      });
    });
  });

export type ParsedInput = z.output<typeof inputSchema>;

export interface TemplateChecks {
  maxImageBytes: number;
  /** Whether a course exists (the course catalogue); when given, a template for an unknown course is refused. */
  courseExists?: ((courseId: string) => Promise<boolean>) | undefined;
}

/** Checks everything, builds the stored content, and proves it prints; throws every problem at once. */
export async function validateTemplate(input: TemplateInput, checks: TemplateChecks): Promise<{ parsed: ParsedInput; content: StoredTemplateContent }> {
  const result = checkInput(inputSchema, input);
  const fields: Record<string, ErrorText> = result.ok ? {} : result.fields;
  // Images are checked even when other fields are wrong, so that every problem shows at once.
  const images = new Map<ImageInput, StoredImage>();
  let total = 0;
  const checkImage = async (img: ImageInput | null | undefined, path: string) => {
    if (!img) return;
    const field = img.field ?? path;
    const problem = await imageProblem(img, checks.maxImageBytes);
    if (problem) fields[field] ??= problem;
    else {
      images.set(img, storedImage(img));
      total += img.data.length;
    }
  };
  await checkImage(input.logos?.programme, 'logos.programme');
  for (const [i, p] of (input.logos?.partners ?? []).slice(0, MAX_PARTNER_LOGOS).entries()) await checkImage(p, `logos.partners.${i}`);
  for (const [i, s] of (input.signatories ?? []).slice(0, MAX_SIGNATORIES).entries()) await checkImage(s?.signature, `signatories.${i}.signature`);
  const courseId = isObjectId(input.courseId) ? input.courseId : null;
  if (courseId && checks.courseExists && !(await checks.courseExists(courseId))) fields.courseId ??= { key: 'certificates:errors.template.noSuchCourse' };
  if (total > MAX_TOTAL_IMAGE_BYTES)
    fields._ ??= { key: 'certificates:errors.template.imagesTooLarge', params: { limit: MAX_TOTAL_IMAGE_BYTES / 1024 / 1024 } };

  // Characters no bundled font has, per field, in the words people typed.
  const texts: Array<[string, string | undefined]> = [];
  (input.languages ?? []).forEach((l, i) =>
    texts.push([`languages.${i}.title`, l?.title], [`languages.${i}.wording`, l?.wording], [`languages.${i}.codeLabel`, l?.codeLabel]),
  );
  (input.signatories ?? []).forEach((s, i) => {
    texts.push([`signatories.${i}.name`, s?.name]);
    (s?.title ?? []).forEach((t, j) => texts.push([`signatories.${i}.title.${j}`, t]));
  });
  for (const [field, text] of texts) {
    if (typeof text !== 'string') continue;
    const missing = uncoveredCharacters(text);
    if (missing.length) fields[field] ??= unprintableMessage(missing);
  }

  if (!result.ok || Object.keys(fields).length) throw invalid(fields);
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
  for (const u of unprintableTexts(renderable, SAMPLE_DATA)) fields._ ??= unprintableMessage(u.characters, u.text);
  if (!fields._) {
    try {
      await renderPreview(renderable);
    } catch (err) {
      // The renderer's own words (in English): its checks repeat the ones above, so this is a last resort.
      const problems = err instanceof TemplateError ? err.problems.join('; ') : err instanceof Error ? err.message : String(err);
      fields._ = { key: 'certificates:errors.template.cannotPrint', params: { problems } };
    }
  }
  if (Object.keys(fields).length) throw invalid(fields);
  return { parsed, content };
}

export function invalid(fields: Record<string, string | ErrorText>, status = 400) {
  return invalidFields(fields, 'Some fields need attention. Nothing was saved.', { key: 'certificates:errors.template.notSaved' }, status);
}

/** The characters no bundled font has, named with their code points; `text`: the text they were found in. */
function unprintableMessage(characters: string[], text?: string): ErrorText {
  const list = characters.map((c) => `${c} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`).join(', ');
  return text === undefined
    ? { key: 'certificates:errors.template.unprintable', params: { characters: list } }
    : { key: 'certificates:errors.template.unprintableIn', params: { characters: list, text } };
}
