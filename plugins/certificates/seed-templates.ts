/**
 * The demo programme's certificate templates (`fixtures/certificates/templates.json`, images beside
 * it), saved through the same service staff use, so the demo passes the same checks as a form.
 * Only adds: a template whose name exists, or whose course (or the programme default) already has
 * one, is skipped.
 */
import fs from 'node:fs/promises';
import { z } from 'zod';
import { Users, type SeedContext } from '../../src/index.ts';
import { CourseCatalog } from '../courses/contract.ts';
import type { ImageInput, TemplateInput, TemplateService } from './services/template.service.ts';

export const TEMPLATES_FIXTURE = 'templates.json';

const fileName = z.string().regex(/^[A-Za-z0-9][\w.-]*\.(png|jpe?g)$/, 'Name a PNG or JPEG file in fixtures/certificates/.');
const lines = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v.join('\n') : v));

const fixtureSchema = z.strictObject({
  templates: z.array(
    z.strictObject({
      name: z.string(),
      /** A course's slug, or null for the programme default. */
      course: z.string().nullable(),
      page: z.strictObject({ size: z.enum(['A4', 'LETTER']), orientation: z.enum(['landscape', 'portrait']) }),
      colours: z.record(z.string(), z.string()).optional(),
      languages: z.array(z.strictObject({ lang: z.string(), title: z.string(), wording: lines, codeLabel: z.string().optional() })),
      logos: z.strictObject({ programme: fileName.optional(), partners: z.array(fileName).default([]) }).default({ partners: [] }),
      signatories: z.array(z.strictObject({ name: z.string(), title: z.array(z.string()), signature: fileName.optional() })),
    }),
  ),
});

/** Seeds the demo templates; returns the names of those created. */
export async function seedTemplates(ctx: SeedContext, templates: TemplateService): Promise<string[]> {
  const fixture = fixtureSchema.parse(await ctx.readFixture(TEMPLATES_FIXTURE));
  const existing = await templates.list();
  const by = (await ctx.get(Users).findByEmail('staff@olive.example'))?.id ?? 'seed';
  const image = async (file: string | undefined): Promise<ImageInput | undefined> =>
    file ? { filename: file, data: await fs.readFile(ctx.fixturePath(file)) } : undefined;
  const created: string[] = [];

  for (const t of fixture.templates) {
    if (existing.some((e) => e.name === t.name)) continue;
    let courseId: string | null = null;
    if (t.course) {
      const course = await ctx.get(CourseCatalog).findBySlug(t.course);
      if (!course) {
        ctx.logger.warn({ template: t.name, course: t.course }, 'demo certificate template skipped: its course does not exist');
        continue;
      }
      courseId = course.id;
    }
    if (existing.some((e) => (e.courseId ?? null) === courseId)) continue;
    const programme = await image(t.logos.programme);
    const input: TemplateInput = {
      name: t.name,
      courseId,
      page: t.page,
      ...(t.colours ? { colours: t.colours } : {}),
      languages: t.languages,
      logos: { ...(programme ? { programme } : {}), partners: await Promise.all(t.logos.partners.map(async (p) => (await image(p))!)) },
      signatories: await Promise.all(
        t.signatories.map(async (s) => {
          const signature = await image(s.signature);
          return { name: s.name, title: s.title, ...(signature ? { signature } : {}) };
        }),
      ),
    };
    // A fixture the service refuses fails the seed with the service's own field messages.
    await templates.save(null, input, by);
    created.push(t.name);
  }
  return created;
}
