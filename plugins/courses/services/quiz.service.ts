/**
 * Quizzes: the plain-text format trainers write, answers read from a form, scoring on the server,
 * and attempts claimed as unique slots.
 *
 * ## The text format
 *
 * Trainers write a quiz in a textarea, without JavaScript; the same text comes back for editing
 * (`quizToText`), so `parseQuizText(quizToText(q))` gives `q` again.
 *
 * ```
 * ? Which approach focuses on the parties' underlying needs?
 * - Positional bargaining
 * + Interest-based negotiation
 * > Interest-based negotiation looks behind positions at interests.
 *
 * ? Mediators impose a binding decision on the parties.
 * - True
 * + False
 * ```
 *
 * - `?` starts a question, `-` is a wrong option, `+` a correct option, `>` feedback shown after
 *   submission (optional; several `>` lines are kept as several lines).
 * - The kind follows from the options: one correct option is 'single', several are 'multiple', and
 *   exactly two options reading True/False in one of the six UN languages (Vrai/Faux,
 *   Verdadero/Falso, Верно/Неверно, صح/خطأ, 对/错 and their variants: `TRUE_WORDS`; any case,
 *   accents or final punctuation) with one correct is 'truefalse'.
 * - Forgiving: blank lines are optional and may appear anywhere; indentation, tabs, trailing
 *   spaces, Windows line ends and a byte-order mark are ignored; the space after a marker is
 *   optional (`+Arbitration`).
 * - A line without a marker directly under a question or feedback line continues it (text pasted
 *   from a document often arrives wrapped). Anywhere else such a line is a problem, because after
 *   an option or a blank line it is far more likely a forgotten marker than a wrapped line.
 * - Ids are positional: questions 'q1', 'q2', ...; options 'a', 'b', ... in each question. They
 *   become keys of stored answers, so they never contain '.' or '$'.
 *
 * Every problem is reported at once, with its line number, so a trainer fixes the text in one go.
 */
import type mongoose from 'mongoose';
import { findNumbered, HttpError, insertOnce, searchFold, type ErrorText } from '../../../src/index.ts';
import type { StoredText } from '../contract.ts';
import type { QuestionKind, QuizQuestion, QuizSettings } from '../models/item.model.ts';
import { progressKey, type QuizAttemptDoc } from '../models/progress.model.ts';

export const QUIZ_LIMITS = { questions: 50, options: 10, lineLength: 2000 } as const;

/** An option's text as the true/false words are compared: no case, accents, Arabic marks or final punctuation. */
const foldOption = (text: string) => searchFold(text).replace(/[\p{P}\s]+$/u, '');
/**
 * The two options of a true-or-false question, in the six UN languages (and the traditional
 * Chinese characters): True/False, Vrai/Faux, Verdadero/Falso (Cierto), Верно/Неверно
 * (Правда/Ложь, Правильно/Неправильно), صح/خطأ (صحيح/خاطئ, صواب), 对/错 (正确/错误).
 */
const TRUE_WORDS = new Set(
  ['true', 'vrai', 'verdadero', 'cierto', 'верно', 'правда', 'правильно', 'صح', 'صحيح', 'صواب', '对', '正确', '對', '正確'].map(foldOption),
);
const FALSE_WORDS = new Set(['false', 'faux', 'falso', 'неверно', 'ложь', 'неправильно', 'خطأ', 'خاطئ', '错', '错误', '錯', '錯誤'].map(foldOption));
const OPTION_IDS = 'abcdefghijklmnopqrstuvwxyz';

export interface QuizProblem {
  line: number;
  message: string;
}

/** A quiz text refused: `details.lines` says each problem in English, `problems` names its catalogue entry. */
export class QuizInvalid extends HttpError {
  readonly problems: readonly { line: number; text: ErrorText }[];

  constructor(found: readonly (QuizProblem & { text: ErrorText })[]) {
    const shown = found
      .slice(0, 5)
      .map((p) => `line ${p.line}: ${p.message}`)
      .join(' ');
    const more = found.length > 5 ? ` (and ${found.length - 5} more)` : '';
    super(
      400,
      'QUIZ_INVALID',
      `The quiz has problems: ${shown}${more}`,
      { lines: found.map(({ line, message }) => ({ line, message })) },
      { key: 'courses:errors.quiz.invalid', params: { count: found.length } },
    );
    this.problems = found.map(({ line, text }) => ({ line, text }));
  }
}

export interface PublicQuestion {
  id: string;
  text: StoredText;
  kind: QuestionKind;
  options: { id: string; text: StoredText }[];
}

export interface QuestionResult {
  questionId: string;
  correct: boolean;
  chosen: string[];
  correctOptionIds: string[];
  feedback?: StoredText;
}

export interface QuizScore {
  score: number;
  passed: boolean;
  results: QuestionResult[];
}

export interface QuizSubmission extends QuizScore {
  attempt: number;
  /** null when the quiz allows unlimited attempts. */
  attemptsLeft: number | null;
}

export interface QuizHistory {
  attempts: QuizAttemptDoc[];
  bestScore: number | null;
  passed: boolean;
  attemptsUsed: number;
}

interface DraftOption {
  line: number;
  text: string;
  correct: boolean;
}
interface DraftQuestion {
  line: number;
  text: string;
  options: DraftOption[];
  feedback: string[];
}

/** What the previous line was, to decide what an unmarked line continues. */
type Last = 'none' | 'question' | 'option' | 'feedback' | 'blank';

export function parseQuizText(text: string): QuizQuestion[] {
  const problems: (QuizProblem & { text: ErrorText })[] = [];
  const problem = (line: number, message: string, key: string, params?: Record<string, unknown>) =>
    problems.push({ line, message, text: { key, ...(params ? { params } : {}) } });
  const drafts: DraftQuestion[] = [];
  let current: DraftQuestion | undefined;
  let last: Last = 'none';
  let reportedPreamble = false;

  const lines = text.split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '') {
      last = 'blank';
      return;
    }
    if (line.length > QUIZ_LIMITS.lineLength) {
      problem(lineNo, `This line is longer than ${QUIZ_LIMITS.lineLength} characters.`, 'courses:errors.quiz.lineTooLong', { max: QUIZ_LIMITS.lineLength });
    }
    const marker = line[0];
    const rest = line.slice(1).trim();

    if (marker === '?') {
      current = { line: lineNo, text: rest, options: [], feedback: [] };
      drafts.push(current);
      if (drafts.length === QUIZ_LIMITS.questions + 1) {
        problem(lineNo, `A quiz can have at most ${QUIZ_LIMITS.questions} questions.`, 'courses:errors.quiz.tooManyQuestions', { max: QUIZ_LIMITS.questions });
      }
      last = 'question';
      return;
    }
    if (!current) {
      // One problem for the whole preamble: a line-by-line list would bury the single fix.
      if (!reportedPreamble) {
        problem(lineNo, "Start the quiz with a question: a line beginning with '?'.", 'courses:errors.quiz.startWithQuestion');
        reportedPreamble = true;
      }
      return;
    }
    if (marker === '-' || marker === '+') {
      current.options.push({ line: lineNo, text: rest, correct: marker === '+' });
      if (current.options.length === QUIZ_LIMITS.options + 1) {
        problem(lineNo, `A question can have at most ${QUIZ_LIMITS.options} options.`, 'courses:errors.quiz.tooManyOptions', { max: QUIZ_LIMITS.options });
      }
      last = 'option';
      return;
    }
    if (marker === '>') {
      current.feedback.push(rest);
      last = 'feedback';
      return;
    }
    if (last === 'question') {
      current.text = current.text ? `${current.text} ${line}` : line;
      return;
    }
    if (last === 'feedback') {
      const i = current.feedback.length - 1;
      current.feedback[i] = current.feedback[i] ? `${current.feedback[i]} ${line}` : line;
      return;
    }
    problem(lineNo, "Start this line with '?' (a question), '-' (a wrong option), '+' (a correct option) or '>' (feedback).", 'courses:errors.quiz.noMarker');
  });

  if (drafts.length === 0 && problems.length === 0) {
    problem(1, "The quiz is empty: write at least one question starting with '?'.", 'courses:errors.quiz.empty');
  }

  const questions = drafts.map((draft, qi): QuizQuestion => {
    if (!draft.text) problem(draft.line, "Write the question after the '?'.", 'courses:errors.quiz.noQuestionText');
    for (const option of draft.options) {
      if (!option.text) problem(option.line, 'This option is empty.', 'courses:errors.quiz.emptyOption');
    }
    if (draft.options.length < 2) {
      problem(draft.line, "This question needs at least 2 options ('-' wrong, '+' correct).", 'courses:errors.quiz.tooFewOptions', { min: 2 });
    }
    const correctCount = draft.options.filter((o) => o.correct).length;
    if (draft.options.length > 0 && correctCount === 0) {
      problem(draft.line, "This question has no correct option: mark at least one with '+'.", 'courses:errors.quiz.noCorrect');
    }
    const seen = new Map<string, number>();
    for (const option of draft.options) {
      const key = option.text.toLowerCase();
      if (option.text && seen.has(key)) {
        problem(option.line, `This option repeats the one on line ${seen.get(key)}.`, 'courses:errors.quiz.repeatedOption', { line: seen.get(key) });
      } else {
        seen.set(key, option.line);
      }
    }
    const question: QuizQuestion = {
      id: `q${qi + 1}`,
      text: draft.text,
      kind: kindOf(draft.options),
      options: draft.options.map((o, oi) => ({ id: OPTION_IDS[oi] ?? `o${oi + 1}`, text: o.text, correct: o.correct })),
    };
    const feedback = draft.feedback.filter(Boolean).join('\n');
    if (feedback) question.feedback = feedback;
    return question;
  });

  if (problems.length > 0) throw new QuizInvalid(problems.sort((x, y) => x.line - y.line));
  return questions;
}

function kindOf(options: DraftOption[]): QuestionKind {
  const correct = options.filter((o) => o.correct).length;
  if (correct > 1) return 'multiple';
  if (options.length === 2 && correct === 1) {
    const words = options.map((o) => foldOption(o.text));
    const trues = words.filter((w) => TRUE_WORDS.has(w)).length;
    const falses = words.filter((w) => FALSE_WORDS.has(w)).length;
    if (trues === 1 && falses === 1) return 'truefalse';
  }
  return 'single';
}

/** Newlines inside question or option text (possible only in data not made by the parser) would
 *  split a line and change the meaning of the text, so they become spaces. */
const oneLine = (s: string) => s.replace(/\s*[\r\n]+\s*/g, ' ').trim();

/**
 * The quiz as its text in one language (`lang`; a plain string counts as `main`'s), '' when no
 * question is written in it; without `lang`, a plain string or a text's first language.
 */
export function quizToText(questions: QuizQuestion[], lang?: string, main?: string): string {
  const textOf = (t: StoredText | undefined): string => {
    if (typeof t === 'string') return !lang || lang === main ? t : '';
    return (lang ? t?.[lang] : Object.values(t ?? {})[0]) ?? '';
  };
  if (lang && !questions.some((q) => textOf(q.text))) return '';
  return (
    questions
      .map((q) => {
        const lines = [`? ${oneLine(textOf(q.text))}`];
        for (const o of q.options) lines.push(`${o.correct ? '+' : '-'} ${oneLine(textOf(o.text))}`);
        const feedback = textOf(q.feedback);
        if (feedback) {
          for (const f of feedback.split(/\r\n|\r|\n/)) if (f.trim()) lines.push(`> ${f.trim()}`);
        }
        return lines.join('\n');
      })
      .join('\n\n') + (questions.length ? '\n' : '')
  );
}

/** What may be sent to the browser before submission: no `correct`, no `feedback`. */
export function publicQuestions(questions: QuizQuestion[]): PublicQuestion[] {
  // Built field by field rather than by deleting keys, so a field added to QuizQuestion later
  // stays on the server until someone decides it is public.
  return questions.map((q) => ({
    id: q.id,
    text: q.text,
    kind: q.kind,
    options: q.options.map((o) => ({ id: o.id, text: o.text })),
  }));
}

const answerInvalid = (field: string, message: string, key: string, params?: Record<string, unknown>) =>
  new HttpError(400, 'QUIZ_ANSWER_INVALID', message, { field }, { key, ...(params ? { params } : {}) });

/**
 * Reads answers from a urlencoded form body: field `q1` = option id (single/truefalse) or array of
 * ids (multiple). Fields that look like answers (`q<number>`) but name no question of this quiz, and
 * option ids the question does not have, are refused with 400 'QUIZ_ANSWER_INVALID'; other fields
 * (`_csrf`, buttons) are ignored. Unanswered questions are allowed (they score 0).
 */
export function parseAnswers(questions: QuizQuestion[], body: unknown): Record<string, string[]> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw answerInvalid('', 'The answers could not be read.', 'courses:errors.answers.unreadable');
  const fields = body as Record<string, unknown>;
  const byId = new Map(questions.map((q) => [q.id, q]));

  for (const key of Object.keys(fields)) {
    if (/^q\d+$/.test(key) && !byId.has(key))
      throw answerInvalid(key, `There is no question ${key} in this quiz.`, 'courses:errors.answers.noQuestion', { question: key });
  }

  const answers: Record<string, string[]> = {};
  for (const question of questions) {
    if (!Object.hasOwn(fields, question.id)) continue;
    const value = fields[question.id];
    // Only strings or arrays of strings: anything else (e.g. `q1[$ne]=a`, parsed into an object by
    // the extended urlencoded parser) is not an answer.
    const values = typeof value === 'string' ? [value] : Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : null;
    if (!values)
      throw answerInvalid(question.id, `The answer to question ${question.id} could not be read.`, 'courses:errors.answers.unreadableAnswer', {
        question: question.id,
      });
    const chosen = [...new Set(values.filter((v) => v !== ''))];
    const known = new Set(question.options.map((o) => o.id));
    const unknown = chosen.find((id) => !known.has(id));
    if (unknown !== undefined)
      throw answerInvalid(question.id, `Question ${question.id} has no option "${unknown.slice(0, 20)}".`, 'courses:errors.answers.noOption', {
        question: question.id,
        option: unknown.slice(0, 20),
      });
    if (question.kind !== 'multiple' && chosen.length > 1) {
      throw answerInvalid(question.id, `Question ${question.id} takes one answer.`, 'courses:errors.answers.oneAnswer', { question: question.id });
    }
    if (chosen.length > 0) answers[question.id] = chosen;
  }
  return answers;
}

/** Server-side scoring only. A multiple-choice question is right only if exactly the correct set is
 *  chosen. score = round(100 * right / total); passed when score >= passMark. */
export function scoreQuiz(quiz: QuizSettings, answers: Record<string, string[]>): QuizScore {
  const results = quiz.questions.map((q): QuestionResult => {
    const given = Object.hasOwn(answers, q.id) ? answers[q.id] : undefined;
    const chosen = Array.isArray(given) ? [...new Set(given.filter((v) => typeof v === 'string'))] : [];
    const correctOptionIds = q.options.filter((o) => o.correct).map((o) => o.id);
    const correct = correctOptionIds.length > 0 && chosen.length === correctOptionIds.length && chosen.every((id) => correctOptionIds.includes(id));
    return { questionId: q.id, correct, chosen, correctOptionIds, ...(q.feedback ? { feedback: q.feedback } : {}) };
  });
  const right = results.filter((r) => r.correct).length;
  // An empty quiz (which the editor cannot save) scores 0 rather than NaN.
  const score = results.length ? Math.round((100 * right) / results.length) : 0;
  return { score, passed: score >= quiz.passMark, results };
}

export function createQuizAttempts(QuizAttempt: mongoose.Model<QuizAttemptDoc>) {
  const noAttemptsLeft = (max: number) =>
    new HttpError(
      409,
      'NO_ATTEMPTS_LEFT',
      max === 1 ? 'You have used your only attempt at this quiz.' : `You have used all ${max} attempts at this quiz.`,
      { maxAttempts: max },
      { key: 'courses:errors.quiz.noAttemptsLeft', params: { count: max } },
    );
  // Attempts are numbered slots (below), so a learner's attempts are read by key, oldest first.
  const attemptsOf = (learnerId: string, editionId: string, itemId: string) =>
    findNumbered(QuizAttempt, (n) => progressKey(learnerId, editionId, itemId, String(n)));

  return {
    /**
     * Scores and records one attempt. The attempt number is claimed by inserting the slot document
     * `learner:edition:item:n`: its unique `_id` is what keeps concurrent submissions within
     * quiz.maxAttempts (0 = unlimited), never a count (two requests would both see room). A learner
     * who already passed may retry within the limit; the best attempt counts.
     */
    async submit(input: {
      learnerId: string;
      courseId: string;
      editionId: string;
      itemId: string;
      quiz: QuizSettings;
      answers: Record<string, string[]>;
    }): Promise<QuizSubmission> {
      const { learnerId, courseId, editionId, itemId, quiz } = input;
      const max = quiz.maxAttempts;
      const scored = scoreQuiz(quiz, input.answers);
      // Stored under the quiz's own question ids (never keys from the request), with every question
      // present, so the document is never an empty object that mongoose would minimise away.
      const answers = Object.fromEntries(scored.results.map((r) => [r.questionId, r.chosen]));

      // Only a hint to skip slots known to be taken: the unique _id decides.
      const used = (await attemptsOf(learnerId, editionId, itemId)).length;
      for (let n = used + 1; ; n++) {
        if (max > 0 && n > max) throw noAttemptsLeft(max);
        const claimed = await insertOnce(QuizAttempt, {
          _id: progressKey(learnerId, editionId, itemId, String(n)),
          learnerId,
          courseId,
          editionId,
          itemId,
          attempt: n,
          answers,
          score: scored.score,
          passed: scored.passed,
          submittedAt: new Date(),
        });
        if (claimed) return { attempt: n, ...scored, attemptsLeft: max > 0 ? max - n : null };
      }
    },

    /** All attempts of this learner at this quiz in this edition, oldest first. */
    async history(learnerId: string, editionId: string, itemId: string): Promise<QuizHistory> {
      const attempts = await attemptsOf(learnerId, editionId, itemId);
      return {
        attempts,
        bestScore: attempts.length ? Math.max(...attempts.map((a) => a.score)) : null,
        passed: attempts.some((a) => a.passed),
        attemptsUsed: attempts.length,
      };
    },
  };
}

export type QuizAttempts = ReturnType<typeof createQuizAttempts>;
