/**
 * A quiz in several languages: trainers write the whole quiz in the course's first language, and
 * the same quiz again in each other language they translate it into, in the same text format
 * (quiz.service.ts). Each translation must have the same questions and options in the same order,
 * with the same correct options; its feedback may be left out. The questions stored hold each text
 * per language; their ids and kinds come from the first language's text.
 */
import type { Request } from 'express';
import type { QuizQuestion } from '../models/item.model.ts';
import { parseQuizText, QuizInvalid } from './quiz.service.ts';
import { languageNames, refuseOtherLanguages } from './texts.ts';

/** The longest quiz text, in characters, in each language. */
export const QUIZ_TEXT_MAX = 100000;

type Translate = Pick<Request, 't' | 'language'>;

/** Parses one language's text; its problems, line by line, go into `errors[field]`. */
function parseOne(req: Translate, text: string, field: string, errors: Record<string, string>): QuizQuestion[] | null {
  try {
    return parseQuizText(text);
  } catch (err) {
    if (!(err instanceof QuizInvalid)) throw err;
    errors[field] ??= err.problems.map((p) => req.t('courses:texts.quizLine', { line: p.line, message: req.t(p.text.key, p.text.params) })).join(' ');
    return null;
  }
}

/** How a translation differs from the first language's quiz. */
export type QuizMismatch =
  | { kind: 'questions'; found: number; expected: number }
  | { kind: 'options'; number: number; found: number; expected: number }
  | { kind: 'answers'; number: number };

/** Why a translation does not match the first language's quiz, or null when it does. */
export function quizMismatch(main: QuizQuestion[], other: QuizQuestion[]): QuizMismatch | null {
  if (other.length !== main.length) return { kind: 'questions', found: other.length, expected: main.length };
  for (const [i, q] of main.entries()) {
    const o = other[i]!;
    if (o.options.length !== q.options.length) return { kind: 'options', number: i + 1, found: o.options.length, expected: q.options.length };
    if (o.options.some((option, j) => option.correct !== q.options[j]!.correct)) return { kind: 'answers', number: i + 1 };
  }
  return null;
}

/**
 * One quiz from its texts in several languages, each parsed and matching the first (see
 * `quizMismatch`): the first language's ids and kinds, each text per language.
 */
export function mergeQuizLanguages(texts: readonly (readonly [lang: string, questions: QuizQuestion[]])[]): QuizQuestion[] {
  const [first] = texts;
  if (!first) return [];
  return first[1].map((q, i): QuizQuestion => {
    const of = (pick: (question: QuizQuestion) => unknown) =>
      Object.fromEntries(
        texts.flatMap(([lang, questions]) => {
          const value = questions[i] ? pick(questions[i]) : undefined;
          return typeof value === 'string' && value ? [[lang, value]] : [];
        }),
      );
    const feedback = of((x) => x.feedback);
    return {
      id: q.id,
      text: of((x) => x.text),
      kind: q.kind,
      options: q.options.map((o, j) => ({ id: o.id, text: of((x) => x.options[j]?.text), correct: o.correct })),
      ...(Object.keys(feedback).length ? { feedback } : {}),
    };
  });
}

/**
 * Reads a quiz from `questions_<lang>` fields, one per course language (a plain `questions` is the
 * first language's when its own field is not sent): the first language's is required, the others
 * optional. Problems go into `errors` by field; null when the quiz cannot be built.
 */
export function readQuizLanguages(req: Translate, body: Record<string, unknown>, languages: readonly string[], errors: Record<string, string>) {
  const names = languageNames(req);
  const main = languages[0] ?? 'en';
  const textOf = (lang: string): string | null => {
    const raw = body[`questions_${lang}`] ?? (lang === main ? body.questions : undefined);
    if (raw === undefined || raw === '') return '';
    return typeof raw === 'string' ? raw : null;
  };
  const parsed = new Map<string, QuizQuestion[]>();
  for (const lang of languages) {
    const field = `questions_${lang}`;
    const text = textOf(lang);
    if (text === null) errors[field] ??= req.t('courses:texts.unreadable');
    else if (text.length > QUIZ_TEXT_MAX)
      errors[field] ??= req.t('courses:texts.tooLong', { language: names[lang] ?? lang, max: new Intl.NumberFormat(req.language).format(QUIZ_TEXT_MAX) });
    else if (!text.trim()) {
      if (lang === main) errors[field] ??= req.t('courses:texts.quizRequired', { language: names[lang] ?? lang });
    } else {
      const questions = parseOne(req, text, field, errors);
      if (questions) parsed.set(lang, questions);
    }
  }
  refuseOtherLanguages(req, body, 'questions', languages, errors);
  const first = parsed.get(main);
  if (!first) return null;
  const mainName = names[main] ?? main;
  for (const [lang, questions] of parsed) {
    const problem = lang === main ? null : quizMismatch(first, questions);
    if (problem) errors[`questions_${lang}`] ??= req.t(`courses:texts.quiz.${problem.kind}`, { ...problem, main: mainName });
  }
  if (languages.some((l) => errors[`questions_${l}`])) return null;
  return mergeQuizLanguages([...parsed]);
}
