import type { Request } from 'express';
import mongoose from 'mongoose';
import type { Model } from 'mongoose';
import { z } from 'zod';
import { allow, forbidden, form, notFound, refusalFor, sharedRateLimit, type PluginContext } from '../../../src/index.ts';
import { EnrolmentDirectory, runsEdition, type EditionSummary } from '../../enrolment/contract.ts';
import { ANSWER_MAX, QUESTION_MAX, type QuestionDoc } from '../models/question.model.ts';

const askSchema = z.object({
  text: z.string().trim().min(10, 'questions:errors.short').max(QUESTION_MAX, 'questions:errors.long'),
});
const answerSchema = z.object({
  answer: z.string().trim().min(1, 'questions:errors.answerMissing').max(ANSWER_MAX, 'questions:errors.answerLong'),
});

/** Asking (participants) and answering (the edition's trainers and staff), under /questions. */
export function mountQuestionRoutes(
  ctx: PluginContext<{ perHour: number }>,
  Question: Model<QuestionDoc>,
  ofEdition: (editionId: string) => Promise<QuestionDoc[]>,
) {
  const directory = () => ctx.get(EnrolmentDirectory);
  async function editionOf(id: string): Promise<EditionSummary> {
    const edition = await directory().edition(id);
    if (!edition) throw notFound('No such edition.', { key: 'questions:errors.noSuchEdition' });
    return edition;
  }
  /** Only the edition's enrolled participants ask; others are refused (403). */
  async function askable(req: Request): Promise<EditionSummary> {
    const edition = await editionOf(String(req.params.editionId));
    const enrolment = await directory().enrolmentOf(req.user!.id, edition.id);
    if (enrolment?.status !== 'enrolled') throw forbidden('Only the edition’s participants ask its trainers.', { key: 'questions:errors.notParticipant' });
    return edition;
  }
  async function runnable(req: Request): Promise<EditionSummary> {
    const edition = await editionOf(String(req.params.editionId));
    if (!runsEdition(req.user, edition)) throw forbidden('Only the edition’s trainers and staff answer.', { key: 'questions:errors.notYours' });
    return edition;
  }
  const limiter = sharedRateLimit({
    connection: ctx.connection,
    name: 'questions.ask',
    windowMs: 60 * 60 * 1000,
    limit: ctx.config.perHour,
    standardHeaders: 'draft-7',
    key: (req) => `${req.user?.id ?? 'anonymous'}`,
    onLimited: (req) => {
      throw refusalFor(req, 429, 'TOO_MANY_QUESTIONS', 'questions:errors.tooMany');
    },
  });

  const askPage = async (req: Request, edition: EditionSummary, values: Record<string, unknown>, errors: Record<string, string>) => ({
    title: req.t('questions:ask'),
    edition,
    values,
    errors,
    mine: (await ofEdition(edition.id)).filter((q) => q.askerId === req.user!.id),
  });

  ctx.router.post(
    '/editions/:editionId',
    allow.signedIn,
    async (req, _res, next) => {
      await askable(req);
      next();
    },
    limiter,
    form({
      schema: askSchema,
      view: 'questions/ask',
      locals: async (req, { values, errors }) => askPage(req, await askable(req), values, errors),
      async handle(req, res, input) {
        const edition = await askable(req);
        await Question.create({ editionId: edition.id, askerId: req.user!.id, askerName: req.user!.name, text: input.text, createdAt: new Date() });
        req.flash('success', req.t('questions:sent'));
        res.redirect(303, `/enrolment/editions/${edition.id}#questions`);
      },
    }),
  );

  const listPage = async (req: Request, edition: EditionSummary, errors: Record<string, Record<string, string>> = {}, values: Record<string, string> = {}) => {
    const all = await ofEdition(edition.id);
    return {
      title: req.t('questions:listTitle', { edition: edition.title }),
      edition,
      open: all.filter((q) => !q.answer),
      answered: all.filter((q) => q.answer),
      errors,
      values,
    };
  };

  ctx.router.get('/editions/:editionId', allow.roles('staff', 'trainer'), async (req, res) => {
    res.render('questions/list', await listPage(req, await runnable(req)));
  });

  ctx.router.post('/editions/:editionId/:id/answer', allow.roles('staff', 'trainer'), async (req, res, next) => {
    try {
      const edition = await runnable(req);
      const id = String(req.params.id);
      if (!mongoose.isValidObjectId(id)) throw notFound('No such question.', { key: 'questions:errors.noSuchQuestion' });
      const question = await Question.findOne({ _id: id, editionId: edition.id }).lean();
      if (!question) throw notFound('No such question.', { key: 'questions:errors.noSuchQuestion' });
      const parsed = answerSchema.safeParse(req.body ?? {});
      if (!parsed.success) {
        const key = parsed.error.issues[0]?.message ?? 'questions:errors.answerMissing';
        res.status(400);
        return res.render(
          'questions/list',
          await listPage(
            req,
            edition,
            { [id]: { answer: req.t(key, { max: ANSWER_MAX }) } },
            { [id]: String((req.body as { answer?: unknown })?.answer ?? '') },
          ),
        );
      }
      const first = !question.answer;
      await Question.updateOne(
        { _id: id },
        { $set: { answer: parsed.data.answer, answeredById: req.user!.id, answeredByName: req.user!.name, answeredAt: new Date() } },
      );
      // The asker is told once that an answer came (the key names the question), without its text.
      if (first) {
        try {
          await ctx.mail.send({
            key: `questions.answered:${id}`,
            to: { userId: question.askerId },
            category: 'notice',
            compose: (t) => ({
              subject: t('questions:mail.subject', { edition: edition.title }),
              paragraphs: [t('questions:mail.body', { name: req.user!.name, edition: edition.title })],
              action: { label: t('questions:mail.open'), url: `/enrolment/editions/${edition.id}#questions` },
            }),
          });
        } catch (err) {
          ctx.logger.warn({ err, question: id }, 'answer notice not recorded');
        }
      }
      req.flash('success', req.t('questions:answered'));
      res.redirect(303, `/questions/editions/${edition.id}`);
    } catch (err) {
      next(err);
    }
  });
}
