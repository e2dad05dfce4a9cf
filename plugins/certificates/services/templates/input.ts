/**
 * What a template save is given, and the checks it passes before anything is written: the form's
 * fields, its images, the characters the bundled fonts can print, and finally a test print.
 * Every problem is reported at once, by field.
 */
import { z } from 'zod';
import { HttpError, isObjectId, OBJECT_ID_PATTERN, UN_LANGUAGES } from '../../../../src/index.ts';
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
  .regex(/^#[0-9a-f]{6}$/, 'Give a colour as #rrggbb, e.g. #1f3a5f.');
const known = new Set<string>(PLACEHOLDERS);
const placeholderList = PLACEHOLDERS.map((p) => `{${p}}`).join(' ');

/** Unknown `{placeholders}` of a text, reported by name. */
function placeholderIssue(text: string): string | null {
  const unknown = [...text.matchAll(/\{([^{}\s]*)\}/g)].map((m) => m[1]!).filter((p) => !known.has(p));
  if (!unknown.length) return null;
  return `Unknown placeholder ${[...new Set(unknown)].map((p) => `{${p}}`).join(', ')}: use only ${placeholderList}.`;
}

const imageInput = z.object({ filename: z.string(), data: z.instanceof(Buffer), field: z.string().optional() });

const inputSchema = z
  .object({
    name: z.string().trim().min(1, 'Give the template a name.').max(120, 'Keep the name under 120 characters.'),
    courseId: z.string().trim().regex(OBJECT_ID_PATTERN, 'Choose a course from the list.').nullish().or(z.literal('')),
    baseVersion: z.number().int().min(1).optional(),
    page: z.object({
      size: z.enum(['A4', 'LETTER'], { error: 'Choose A4 or Letter.' }),
      orientation: z.enum(['landscape', 'portrait'], { error: 'Choose landscape or portrait.' }),
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
          lang: z.enum(UN_LANGUAGES, { error: 'Choose one of the six UN languages (English, French, Spanish, Arabic, Russian, Chinese).' }),
          title: z.string().trim().min(1, 'Give the title in this language.').max(200, 'Keep the title under 200 characters.'),
          wording: z.string().trim().min(1, 'Write the wording in this language.').max(2000, 'Keep the wording under 2,000 characters.'),
          codeLabel: z.string().trim().max(60, 'Keep the label under 60 characters.').optional(),
        }),
      )
      .min(1, 'A certificate needs one language, or two (bilingual).')
      .max(2, 'A certificate has one or two languages, not more.'),
    logos: z
      .object({
        programme: imageInput.nullish(),
        partners: z.array(imageInput).max(MAX_PARTNER_LOGOS, `At most ${MAX_PARTNER_LOGOS} partner logos.`).default([]),
      })
      .default({ partners: [] }),
    signatories: z
      .array(
        z.object({
          name: z.string().trim().min(1, 'Give the signatory’s name.').max(120, 'Keep the name under 120 characters.'),
          title: z.array(z.string().trim().max(200, 'Keep the position under 200 characters.')),
          signature: imageInput.nullish(),
        }),
      )
      .min(1, 'A certificate needs at least one signatory.')
      .max(MAX_SIGNATORIES, `A certificate has at most ${MAX_SIGNATORIES} signatories.`),
    attachPdf: z.boolean({ error: 'Say whether the PDF is attached to the e-mail (yes or no).' }).default(true),
  })
  .superRefine((v, zctx) => {
    v.languages.forEach((l, i) => {
      for (const field of ['title', 'wording'] as const) {
        const issue = placeholderIssue(l[field]);
        if (issue) zctx.addIssue({ code: 'custom', path: ['languages', i, field], message: issue });
      }
      if (v.languages.findIndex((o) => o.lang === l.lang) !== i)
        zctx.addIssue({ code: 'custom', path: ['languages', i, 'lang'], message: 'The two languages must differ.' });
    });
    v.signatories.forEach((s, i) => {
      v.languages.forEach((_l, j) => {
        if (!s.title[j])
          zctx.addIssue({
            code: 'custom',
            path: ['signatories', i, 'title', j],
            message: 'Give the signatory’s position in each language of the certificate.',
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
  if (courseId && checks.courseExists && !(await checks.courseExists(courseId)))
    fields.courseId ??= 'This course does not exist (any more): choose one from the list.';
  if (total > MAX_TOTAL_IMAGE_BYTES) fields._ ??= `The images together are larger than ${MAX_TOTAL_IMAGE_BYTES / 1024 / 1024} MB: use smaller images.`;

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

export function invalid(fields: Record<string, string>, status = 400) {
  return new HttpError(status, 'VALIDATION_FAILED', 'Some fields need attention. Nothing was saved.', { fields });
}

function unprintableMessage(characters: string[]): string {
  const list = characters.map((c) => `${c} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`).join(', ');
  return `These characters cannot be printed with the certificate fonts: ${list}.`;
}
