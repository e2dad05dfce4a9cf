import { z } from 'zod';
import { DashboardPanels, definePlugin, hasRole, Users } from '../../src/index.ts';
import { CourseCatalog } from '../courses/contract.ts';
import { EditionSections, EnrolmentDirectory, runsEdition } from '../enrolment/contract.ts';
import { QUESTION_MAX, questionSchema, type QuestionDoc } from './models/question.model.ts';
import { mountQuestionRoutes } from './routes/questions.routes.ts';

/**
 * Questions: a participant of an edition asks its trainers and staff from the edition's page; they
 * answer in Olive; the participant reads the answer on the page and is told by mail that it came
 * (without its text: the page is where it is read, signed in).
 */
export default definePlugin({
  name: 'questions',
  version: '1.0.0',
  description: 'Participants’ questions to an edition’s trainers and staff, answered in Olive.',
  requires: [EnrolmentDirectory, CourseCatalog],
  config: z.object({ perHour: z.number().int().min(1).max(1000).default(10) }),

  register(ctx) {
    // Cached: the edition pages and the home pages of trainers and staff read questions on every
    // view, and only asking and answering change them (each write renews the cache everywhere).
    const { model: Question, cache } = ctx.cachedModel<QuestionDoc>('question', questionSchema);
    const directory = () => ctx.get(EnrolmentDirectory);
    ctx.views(new URL('./views', import.meta.url));
    ctx.translations(new URL('./locales', import.meta.url));

    // Only `_id` is indexed on FerretDB: an edition's questions are a small collection read whole per edition.
    const ofEdition = (editionId: string) =>
      cache.get(`edition:${editionId}`, () => Question.find({ editionId }).sort({ createdAt: -1 }).limit(500).lean<QuestionDoc[]>().exec());
    mountQuestionRoutes(ctx, Question, ofEdition);

    ctx.contribute(EditionSections, {
      id: 'questions',
      order: 20,
      async render(req, reader) {
        if (!req.user) return null;
        if (reader.runs) {
          const asked = await ofEdition(reader.edition.id);
          return { view: 'questions/section-runner', locals: { edition: reader.edition, asked: asked.length, open: asked.filter((q) => !q.answer).length } };
        }
        if (reader.enrolment?.status !== 'enrolled') return null;
        const mine = (await ofEdition(reader.edition.id)).filter((q) => q.askerId === req.user!.id);
        return { view: 'questions/section', locals: { edition: reader.edition, mine, values: {}, errors: {}, max: QUESTION_MAX } };
      },
    });
    // On the home page of trainers and staff: the editions they run with questions waiting for an answer.
    ctx.contribute(DashboardPanels, {
      id: 'questions',
      order: 15,
      async render(req) {
        if (!hasRole(req.user, ['staff', 'trainer'])) return null;
        const waiting = await cache.get('waiting', async () => {
          const counts = new Map<string, number>();
          for (const q of await Question.find({ answeredAt: null }, { editionId: 1 }).limit(2000).lean())
            counts.set(q.editionId, (counts.get(q.editionId) ?? 0) + 1);
          return counts;
        });
        const rows = [];
        for (const [editionId, count] of waiting) {
          const edition = await directory().edition(editionId);
          if (edition && runsEdition(req.user, edition)) rows.push({ edition, count });
        }
        if (!rows.length) return null;
        return { view: 'questions/panel', locals: { rows } };
      },
    });

    return {
      async seed(seed) {
        const items =
          await seed.readFixture<
            { edition: { course: string; titleStartsWith: string }; asker: string; text: string; answerer?: string; answer?: string; daysAgo: number }[]
          >('questions.json');
        for (const item of items) {
          // Idempotent: a question with this text is only added once.
          if (await Question.exists({ text: item.text })) continue;
          const course = await ctx.get(CourseCatalog).findBySlug(item.edition.course);
          const edition = course && (await directory().editionsOfCourse(course.id)).find((e) => e.title.startsWith(item.edition.titleStartsWith));
          const asker = await ctx.get(Users).findByEmail(item.asker);
          const answerer = item.answerer ? await ctx.get(Users).findByEmail(item.answerer) : null;
          if (!edition || !asker) continue;
          const at = new Date(Date.now() - item.daysAgo * 86400000);
          await Question.create({
            editionId: edition.id,
            askerId: asker.id,
            askerName: asker.name,
            text: item.text,
            createdAt: at,
            ...(answerer && item.answer
              ? { answer: item.answer, answeredById: answerer.id, answeredByName: answerer.name, answeredAt: new Date(at.getTime() + 86400000) }
              : {}),
          });
        }
      },
    };
  },
});
