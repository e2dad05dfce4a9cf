/**
 * Quizzes against the real database: grading, attempts, pass marks, the item they complete, and
 * hostile answers. Over 400 lines: each rule is checked through the service and through the page.
 */
import { expect } from 'chai';
import type mongoose from 'mongoose';
import { connectDatabase } from '../../../src/core/db.ts';
import { HttpError } from '../../../src/index.ts';
import { testDatabaseUri, freshDbName } from '../../../test/helpers/app.ts';
import type { QuizQuestion, QuizSettings } from '../models/item.model.ts';
import { quizAttemptSchema, type QuizAttemptDoc } from '../models/progress.model.ts';
import { createQuizAttempts, parseAnswers, parseQuizText, publicQuestions, quizToText, scoreQuiz } from '../services/quiz.service.ts';

const SAMPLE = `? Which approach focuses on the parties' underlying needs?
- Positional bargaining
+ Interest-based negotiation
- Arbitration
> Interest-based negotiation looks behind positions at interests.

? Mediators impose a binding decision on the parties.
- True
+ False
> That is arbitration; mediators help the parties reach their own agreement.

? Which are sources of conflict named in the course? (several answers)
+ Competition over resources
+ Identity and exclusion
- Good governance
`;

/** Runs fn, expects an HttpError, and returns it. */
function thrown(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(HttpError);
    return err as HttpError;
  }
  expect.fail('expected an HttpError');
}

const problemsOf = (text: string) => {
  const err = thrown(() => parseQuizText(text));
  expect(err.status).to.equal(400);
  expect(err.code).to.equal('QUIZ_INVALID');
  expect(err.message).to.match(/^The quiz has problems: /);
  return (err.details as { lines: { line: number; message: string }[] }).lines;
};

describe('courses: quizzes', () => {
  describe('parseQuizText', () => {
    it('reads the three kinds of question, with feedback and positional ids', () => {
      const questions = parseQuizText(SAMPLE);
      expect(questions).to.deep.equal([
        {
          id: 'q1',
          kind: 'single',
          text: "Which approach focuses on the parties' underlying needs?",
          options: [
            { id: 'a', text: 'Positional bargaining', correct: false },
            { id: 'b', text: 'Interest-based negotiation', correct: true },
            { id: 'c', text: 'Arbitration', correct: false },
          ],
          feedback: 'Interest-based negotiation looks behind positions at interests.',
        },
        {
          id: 'q2',
          kind: 'truefalse',
          text: 'Mediators impose a binding decision on the parties.',
          options: [
            { id: 'a', text: 'True', correct: false },
            { id: 'b', text: 'False', correct: true },
          ],
          feedback: 'That is arbitration; mediators help the parties reach their own agreement.',
        },
        {
          id: 'q3',
          kind: 'multiple',
          text: 'Which are sources of conflict named in the course? (several answers)',
          options: [
            { id: 'a', text: 'Competition over resources', correct: true },
            { id: 'b', text: 'Identity and exclusion', correct: true },
            { id: 'c', text: 'Good governance', correct: false },
          ],
        },
      ]);
    });

    it('recognises Vrai/Faux in any case as true/false, but not three options or two correct', () => {
      expect(parseQuizText('? Q\n+ VRAI\n- faux')[0]?.kind).to.equal('truefalse');
      expect(parseQuizText('? Q\n- true\n+ FALSE')[0]?.kind).to.equal('truefalse');
      expect(parseQuizText('? Q\n- True\n+ False\n- Sometimes')[0]?.kind).to.equal('single');
      expect(parseQuizText('? Q\n+ True\n+ False')[0]?.kind).to.equal('multiple');
      expect(parseQuizText('? Q\n- Yes\n+ No')[0]?.kind).to.equal('single');
    });

    it('recognises true/false in the six UN languages, in any case, with accents or final punctuation; not two true words', () => {
      const kind = (a: string, b: string) => parseQuizText(`? Q\n+ ${a}\n- ${b}`)[0]?.kind;
      for (const [yes, no] of [
        ['Верно', 'Неверно'],
        ['ВЕРНО', 'неверно.'],
        ['Правда', 'Ложь'],
        ['对', '错'],
        ['正确', '错误'],
        ['對', '錯'],
        ['对。', '错！'],
        ['صح', 'خطأ'],
        ['صحيح', 'خاطئ'],
        ['صَحِيح', 'خطا'],
        ['Verdadero', 'Falso'],
        ['verdadero', 'FALSO'],
        ['Vrai !', 'Faux'],
      ]) {
        expect(kind(yes!, no!), `${yes}/${no}`).to.equal('truefalse');
        expect(kind(no!, yes!), `${no}/${yes}`).to.equal('truefalse');
      }
      // Words of two languages still make one true and one false; two true words, or yes/no, do not.
      expect(kind('True', 'Неверно')).to.equal('truefalse');
      expect(kind('Верно', '对')).to.equal('single');
      expect(kind('Да', 'Нет')).to.equal('single');
      expect(kind('是', '否')).to.equal('single');
      // The options keep their text as written.
      expect(parseQuizText('? Q\n+ Верно\n- Неверно')[0]?.options.map((o) => o.text)).to.deep.equal(['Верно', 'Неверно']);
    });

    it('forgives whitespace, Windows line ends, a byte-order mark and missing blank lines', () => {
      const messy =
        "\uFEFF\r\n\r\n   ?Which approach focuses on the parties' underlying needs?   \r\n" +
        '\t-Positional bargaining\r\n\r\n+    Interest-based negotiation\t\r\n  -   Arbitration\r\n' +
        '>Interest-based negotiation looks behind positions at interests.\r\n' +
        '? Mediators impose a binding decision on the parties.\r\n-True\r\n+False\r\n' +
        '> That is arbitration; mediators help the parties reach their own agreement.\r\n' +
        '?Which are sources of conflict named in the course? (several answers)\r\n' +
        '+Competition over resources\r\n+Identity and exclusion\r\n-Good governance';
      expect(parseQuizText(messy)).to.deep.equal(parseQuizText(SAMPLE));
    });

    it('joins several feedback lines, and continues wrapped question and feedback lines', () => {
      const [q] = parseQuizText(
        [
          '? Which approach focuses',
          "on the parties' underlying needs?",
          '- Positional bargaining',
          '+ Interest-based negotiation',
          '> Interest-based negotiation looks',
          'behind positions at interests.',
          '> See module 2.',
        ].join('\n'),
      );
      expect(q?.text).to.equal("Which approach focuses on the parties' underlying needs?");
      expect(q?.feedback).to.equal('Interest-based negotiation looks behind positions at interests.\nSee module 2.');
    });

    it('reports every problem with its line number', () => {
      expect(problemsOf('? Q\n- a\n- b\n\n? R\n+ c')).to.deep.equal([
        { line: 1, message: "This question has no correct option: mark at least one with '+'." },
        { line: 5, message: "This question needs at least 2 options ('-' wrong, '+' correct)." },
      ]);
    });

    it('reports text before the first question once, at its first line', () => {
      const lines = problemsOf('Quiz on mediation\nPlease answer all questions.\n? Q\n- a\n+ b');
      expect(lines).to.deep.equal([{ line: 1, message: "Start the quiz with a question: a line beginning with '?'." }]);
    });

    it('reports an empty option, an empty question and a line without a marker', () => {
      const lines = problemsOf('? Q\n- a\n+\n+ b\n\n?\n- x\n+ y\nforgot the marker');
      expect(lines.map((l) => l.line)).to.deep.equal([3, 6, 9]);
      expect(lines[0]?.message).to.equal('This option is empty.');
      expect(lines[1]?.message).to.equal("Write the question after the '?'.");
      expect(lines[2]?.message).to.match(/^Start this line with '\?'/);
    });

    it('reports a repeated option', () => {
      expect(problemsOf('? Q\n- Arbitration\n+ Mediation\n- arbitration')).to.deep.equal([{ line: 4, message: 'This option repeats the one on line 2.' }]);
    });

    it('reports an empty quiz', () => {
      for (const text of ['', '   \n\n\t\n']) {
        expect(problemsOf(text)).to.deep.equal([{ line: 1, message: "The quiz is empty: write at least one question starting with '?'." }]);
      }
    });

    it('reports more than 50 questions at the 51st, and more than 10 options at the 11th', () => {
      const many = Array.from({ length: 51 }, (_, i) => `? Question ${i + 1}\n- no\n+ yes`).join('\n');
      expect(problemsOf(many)).to.deep.equal([{ line: 151, message: 'A quiz can have at most 50 questions.' }]);
      expect(parseQuizText(Array.from({ length: 50 }, (_, i) => `? Question ${i + 1}\n- no\n+ yes`).join('\n'))).to.have.length(50);

      const options = ['? Q', '+ option 1', ...Array.from({ length: 10 }, (_, i) => `- option ${i + 2}`)].join('\n');
      expect(problemsOf(options)).to.deep.equal([{ line: 12, message: 'A question can have at most 10 options.' }]);
      const ten = parseQuizText(['? Q', '+ option 1', ...Array.from({ length: 9 }, (_, i) => `- option ${i + 2}`)].join('\n'));
      expect(ten[0]?.options.map((o) => o.id)).to.deep.equal(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
    });

    it('reports lines over 2000 characters', () => {
      expect(problemsOf(`? Q\n- ${'x'.repeat(2001)}\n+ b`)).to.deep.equal([{ line: 2, message: 'This line is longer than 2000 characters.' }]);
      expect(parseQuizText(`? Q\n- ${'x'.repeat(1998)}\n+ b`)[0]?.options[0]?.text).to.have.length(1998);
    });

    it('lists all problems in the message, and the first five with a count when there are many', () => {
      const err = thrown(() => parseQuizText('? Q\n- a\n- b\n\n? R\n+ c'));
      expect(err.message).to.contain('line 1: This question has no correct option');
      expect(err.message).to.contain('line 5: This question needs at least 2 options');
      const seven = Array.from({ length: 7 }, (_, i) => `? Q${i}\n- only`).join('\n');
      const many = thrown(() => parseQuizText(seven));
      expect((many.details as { lines: unknown[] }).lines).to.have.length(14);
      expect(many.message).to.match(/\(and 9 more\)$/);
    });

    it('never makes ids with "." or "$"', () => {
      for (const q of parseQuizText(SAMPLE)) {
        expect(q.id).to.match(/^q\d+$/);
        for (const o of q.options) expect(o.id).to.match(/^[a-j]$/);
      }
    });
  });

  describe('quizToText', () => {
    it('round-trips: parseQuizText(quizToText(q)) equals q', () => {
      const questions = parseQuizText(SAMPLE);
      const text = quizToText(questions);
      expect(parseQuizText(text)).to.deep.equal(questions);
      expect(text).to.equal(SAMPLE);
    });

    it('round-trips multi-line feedback and text that begins with a marker character', () => {
      const questions = parseQuizText('? ? or ! - which?\n- -5 degrees\n+ +5 degrees\n> first\n> > second');
      expect(questions[0]?.options.map((o) => o.text)).to.deep.equal(['-5 degrees', '+5 degrees']);
      expect(parseQuizText(quizToText(questions))).to.deep.equal(questions);
    });

    it('keeps each question and option on one line even when stored text has newlines', () => {
      const stored: QuizQuestion[] = [
        {
          id: 'q1',
          kind: 'single',
          text: 'Line one\n- not an option',
          options: [
            { id: 'a', text: 'x', correct: true },
            { id: 'b', text: 'y\n+ z', correct: false },
          ],
        },
      ];
      const [q] = parseQuizText(quizToText(stored));
      expect(q?.text).to.equal('Line one - not an option');
      expect(q?.options).to.have.length(2);
    });
  });

  describe('publicQuestions', () => {
    it('sends neither the correct answers nor the feedback', () => {
      const questions = parseQuizText(SAMPLE);
      const json = JSON.stringify(publicQuestions(questions));
      expect(json).to.not.contain('correct');
      expect(json).to.not.contain('feedback');
      expect(json).to.not.contain('looks behind positions');
      expect(publicQuestions(questions)[1]).to.deep.equal({
        id: 'q2',
        text: 'Mediators impose a binding decision on the parties.',
        kind: 'truefalse',
        options: [
          { id: 'a', text: 'True' },
          { id: 'b', text: 'False' },
        ],
      });
    });
  });

  describe('parseAnswers', () => {
    const questions = parseQuizText(SAMPLE);
    const invalid = (body: unknown) => {
      const err = thrown(() => parseAnswers(questions, body));
      expect(err.status).to.equal(400);
      expect(err.code).to.equal('QUIZ_ANSWER_INVALID');
      return err;
    };

    it('reads single, true/false and multiple answers, and ignores other form fields', () => {
      expect(parseAnswers(questions, { _csrf: 'token', q1: 'b', q2: 'b', q3: ['a', 'b'] })).to.deep.equal({ q1: ['b'], q2: ['b'], q3: ['a', 'b'] });
      expect(parseAnswers(questions, { q3: 'a' })).to.deep.equal({ q3: ['a'] });
      expect(parseAnswers(questions, { q1: ['c'], q3: ['a', 'a'] })).to.deep.equal({ q1: ['c'], q3: ['a'] });
    });

    it('allows unanswered questions', () => {
      expect(parseAnswers(questions, {})).to.deep.equal({});
      expect(parseAnswers(questions, undefined)).to.deep.equal({});
      expect(parseAnswers(questions, { q1: '' })).to.deep.equal({});
    });

    it('refuses unknown question and option ids', () => {
      expect(invalid({ q4: 'a' }).details).to.deep.equal({ field: 'q4' });
      expect(invalid({ q1: 'z' }).details).to.deep.equal({ field: 'q1' });
      invalid({ q3: ['a', 'x'] });
    });

    it('refuses several answers to a single-answer question', () => {
      invalid({ q1: ['a', 'b'] });
      invalid({ q2: ['a', 'b'] });
    });

    it('refuses operator-looking and other non-string input', () => {
      invalid({ q1: { $ne: 'a' } });
      invalid({ q3: [{ $gt: '' }] });
      invalid({ q1: 1 });
      invalid({ q3: [['a']] });
      invalid(['q1']);
      invalid('q1=a');
    });
  });

  describe('scoreQuiz', () => {
    const quiz: QuizSettings = { questions: parseQuizText(SAMPLE), passMark: 67, maxAttempts: 3, required: true };

    it('scores right answers and gives the correct options and feedback', () => {
      const { score, passed, results } = scoreQuiz(quiz, { q1: ['b'], q2: ['b'], q3: ['b', 'a'] });
      expect(score).to.equal(100);
      expect(passed).to.equal(true);
      expect(results[0]).to.deep.equal({
        questionId: 'q1',
        correct: true,
        chosen: ['b'],
        correctOptionIds: ['b'],
        feedback: 'Interest-based negotiation looks behind positions at interests.',
      });
      expect(results[2]).to.deep.equal({ questionId: 'q3', correct: true, chosen: ['b', 'a'], correctOptionIds: ['a', 'b'] });
    });

    it('counts a partial or excessive multiple answer as wrong', () => {
      expect(scoreQuiz(quiz, { q3: ['a'] }).results[2]?.correct).to.equal(false);
      expect(scoreQuiz(quiz, { q3: ['a', 'b', 'c'] }).results[2]?.correct).to.equal(false);
    });

    it('scores unanswered questions 0 and rounds the score', () => {
      const r = scoreQuiz(quiz, { q1: ['b'] });
      expect(r.score).to.equal(33);
      expect(r.results[1]).to.include({ correct: false });
      expect(r.results[1]?.chosen).to.deep.equal([]);
    });

    it('passes when the score equals the pass mark, and not below it', () => {
      const twoOfThree = { q1: ['b'], q2: ['b'] };
      expect(scoreQuiz(quiz, twoOfThree)).to.include({ score: 67, passed: true });
      expect(scoreQuiz({ ...quiz, passMark: 68 }, twoOfThree)).to.include({ score: 67, passed: false });
      expect(scoreQuiz({ ...quiz, passMark: 0 }, {})).to.include({ score: 0, passed: true });
    });
  });

  describe('attempts (database)', () => {
    let conn: mongoose.Connection;
    let attempts: ReturnType<typeof createQuizAttempts>;
    let M: mongoose.Model<QuizAttemptDoc>;
    const questions = parseQuizText(SAMPLE);
    const quiz = (maxAttempts: number): QuizSettings => ({ questions, passMark: 67, maxAttempts, required: true });
    let seq = 0;
    /** A learner of their own for each test. */
    const learner = () => `learner${++seq}`;
    const base = (learnerId: string, maxAttempts: number, answers: Record<string, string[]> = {}) => ({
      learnerId,
      courseId: 'c1',
      editionId: 'open',
      itemId: 'item1',
      quiz: quiz(maxAttempts),
      answers,
    });

    before(async () => {
      conn = await connectDatabase({ uri: testDatabaseUri(), dbName: freshDbName('quiz') });
      M = conn.model<QuizAttemptDoc>('courses_quiz_attempt', quizAttemptSchema);
      await M.init();
      attempts = createQuizAttempts(M);
    });
    after(async () => {
      await conn.db?.dropDatabase();
      await conn.close();
    });

    it('records numbered attempts and refuses one over the limit with 409', async () => {
      const id = learner();
      const first = await attempts.submit(base(id, 2, { q1: ['a'] }));
      expect(first).to.include({ attempt: 1, score: 0, passed: false, attemptsLeft: 1 });
      const second = await attempts.submit(base(id, 2, { q1: ['b'], q2: ['b'] }));
      expect(second).to.include({ attempt: 2, score: 67, passed: true, attemptsLeft: 0 });

      let err: unknown;
      try {
        await attempts.submit(base(id, 2));
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(HttpError);
      expect(err).to.include({ status: 409, code: 'NO_ATTEMPTS_LEFT', message: 'You have used all 2 attempts at this quiz.' });
      expect(await M.countDocuments({ learnerId: id })).to.equal(2);

      const stored = await M.findById(`${id}:open:item1:2`).lean();
      expect(stored).to.include({ learnerId: id, courseId: 'c1', editionId: 'open', itemId: 'item1', attempt: 2, score: 67, passed: true });
      expect(stored?.answers).to.deep.equal({ q1: ['b'], q2: ['b'], q3: [] });
    });

    it('says "your only attempt" when the limit is one', async () => {
      const id = learner();
      await attempts.submit(base(id, 1));
      let err: unknown;
      try {
        await attempts.submit(base(id, 1));
      } catch (e) {
        err = e;
      }
      expect(err).to.include({ status: 409, message: 'You have used your only attempt at this quiz.' });
    });

    it('never exceeds the limit under concurrent submissions', async () => {
      const id = learner();
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => attempts.submit(base(id, 3, { q1: ['b'] }))));
      const ok = outcomes.filter((o) => o.status === 'fulfilled');
      const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(ok).to.have.length(3);
      expect(refused).to.have.length(7);
      for (const r of refused) expect(r.reason).to.include({ status: 409, code: 'NO_ATTEMPTS_LEFT' });
      const stored = await M.find({ learnerId: id }).lean();
      expect(stored.map((d) => d.attempt).sort()).to.deep.equal([1, 2, 3]);
    });

    it('allows any number of attempts when maxAttempts is 0, also concurrently', async () => {
      const id = learner();
      for (let i = 0; i < 5; i++) expect(await attempts.submit(base(id, 0))).to.include({ attempt: i + 1, attemptsLeft: null });
      await Promise.all(Array.from({ length: 6 }, () => attempts.submit(base(id, 0))));
      const stored = await M.find({ learnerId: id }).lean();
      expect(stored.map((d) => d.attempt).sort((a, b) => a - b)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    });

    it('lets a learner who passed retry within the limit; history keeps the best score', async () => {
      const id = learner();
      expect(await attempts.history(id, 'open', 'item1')).to.deep.equal({ attempts: [], bestScore: null, passed: false, attemptsUsed: 0 });
      await attempts.submit(base(id, 3, { q1: ['b'], q2: ['b'], q3: ['a', 'b'] }));
      await attempts.submit(base(id, 3, { q1: ['a'] }));
      const history = await attempts.history(id, 'open', 'item1');
      expect(history).to.include({ bestScore: 100, passed: true, attemptsUsed: 2 });
      expect(history.attempts.map((a) => [a.attempt, a.score])).to.deep.equal([
        [1, 100],
        [2, 0],
      ]);
    });

    it('keeps attempts apart per edition and per quiz', async () => {
      const id = learner();
      await attempts.submit(base(id, 1));
      await attempts.submit({ ...base(id, 1), editionId: 'e2027' });
      await attempts.submit({ ...base(id, 1), itemId: 'item2' });
      expect((await attempts.history(id, 'open', 'item1')).attemptsUsed).to.equal(1);
      expect((await attempts.history(id, 'e2027', 'item1')).attemptsUsed).to.equal(1);
      expect((await attempts.history(id, 'open', 'item2')).attemptsUsed).to.equal(1);
    });
  });
});
