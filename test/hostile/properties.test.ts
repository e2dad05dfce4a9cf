/**
 * Property-based tests (fast-check) of the validators and parsers that stand between a request and
 * the database or a page: whatever they are given, they answer with a value of the promised shape
 * or a 4xx HttpError, never anything else, and what they let through is safe.
 *
 * (The verification codes and the CSV importer have their own properties in their plugins' tests.)
 *
 * Over 400 lines: one property set per validator, kept together so each is read beside the others.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { HttpError } from '../../src/core/errors.ts';
import { safeReturnTo } from '../../src/core/auth/return-to.ts';
import { safeFileName } from '../../src/index.ts';
import { renderMarkdown } from '../../plugins/courses/services/markdown.ts';
import { parseAnswers, parseQuizText, quizToText, QUIZ_LIMITS } from '../../plugins/courses/services/quiz.service.ts';
import { parseQuestions, questionsToText } from '../../plugins/enrolment/routes/manage.routes.ts';
import {
  countryName,
  countryOptions,
  GENDERS,
  ORGANISATION_TYPES,
  parseCountry,
  parseGender,
  parseOrganisationType,
} from '../../plugins/enrolment/services/profile.ts';

const RUNS = { numRuns: 400 };

/** Strings built from the characters attacks are made of, mixed with ordinary text. */
const hostileChar = fc.constantFrom(
  '/',
  '\\',
  '.',
  ':',
  '@',
  '%',
  '?',
  '#',
  '&',
  '=',
  '$',
  '{',
  '}',
  '[',
  ']',
  '<',
  '>',
  '"',
  "'",
  '`',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u0000',
  '\u001f',
  '\u007f',
  '\u00a0',
  '\u200b',
  '\u200e',
  '\u202e',
  '\u2028',
  '\u3000',
  '\uff0f',
  '\ufeff',
  'é',
  'ß',
  'ا',
  '中',
  '😀',
  'a',
  'b',
  'x',
  '1',
  '-',
  '*',
  '+',
  '>',
  '?',
  'http',
  'https',
  'javascript',
  'evil.example',
  'script',
  'onerror',
  'on',
  'src',
  'href',
);
const hostileString = (maxLength = 60) =>
  fc.oneof(fc.string({ unit: hostileChar, maxLength }), fc.string({ maxLength }), fc.string({ unit: 'binary', maxLength }));

/** Calls fn; returns its value, or the HttpError it threw. Anything else thrown fails the property. */
function valueOrHttpError<T>(fn: () => T): T | HttpError {
  try {
    return fn();
  } catch (err) {
    if (err instanceof HttpError) {
      expect(err.status, err.message).to.be.within(400, 499);
      expect(err.message, 'a clear message').to.be.a('string').and.not.equal('');
      return err;
    }
    throw new Error(`threw something other than an HttpError: ${String(err)}`, { cause: err });
  }
}

describe('hostile input: properties of the validators (fast-check)', () => {
  describe('safeReturnTo (where sign-in and the language switch send people back)', () => {
    const BASE = 'https://olive.example';

    it('never returns an address off this site, whatever it is given', () => {
      const tricky = fc.oneof(
        hostileString(),
        fc
          .tuple(
            fc.constantFrom('/', '//', '/\\', '\\/', '/\t/', '/%2F', '/.//', '///', 'http:', 'https://', 'javascript:', '/\u3000/', ' /', '\n/'),
            hostileString(30),
          )
          .map(([a, b]) => a + b),
        fc.webUrl().map((u) => u),
        fc.webPath(),
      );
      fc.assert(
        fc.property(tricky, (value) => {
          const out = safeReturnTo(value, '/fallback');
          expect(out === '/fallback' || out === value, 'returns the value as given or the fallback').to.equal(true);
          const url = new URL(out, BASE);
          expect(url.origin, `${JSON.stringify(value)} → ${out}`).to.equal(BASE);
          // What a browser does with the Location header: the same, tabs and newlines stripped first.
          expect(new URL(out.replace(/[\t\n\r]/g, ''), BASE).origin).to.equal(BASE);
        }),
        { numRuns: 3000 },
      );
    });

    it('keeps ordinary paths on this site as they are', () => {
      fc.assert(
        fc.property(
          fc.webPath().filter((p) => p.startsWith('/') && !p.startsWith('//')),
          fc.webQueryParameters(),
          (path, query) => {
            const value = query ? `${path}?${query}` : path;
            fc.pre(!/[\\\u0000-\u001f\u007f]/.test(value));
            expect(safeReturnTo(value)).to.equal(value);
          },
        ),
        RUNS,
      );
    });

    it('refuses non-strings (a returnTo sent as an object or an array) with the fallback', () => {
      fc.assert(
        fc.property(
          fc.anything().filter((v) => typeof v !== 'string'),
          (value) => {
            expect(safeReturnTo(value, '/x')).to.equal('/x');
          },
        ),
        RUNS,
      );
    });
  });

  describe('parseQuestions (the application questions of the edition form)', () => {
    const line = fc.oneof(
      hostileString(40),
      fc.tuple(fc.constantFrom('*', '* ', '**', ' *', ''), fc.string({ minLength: 1, maxLength: 600 })).map(([a, b]) => a + b),
    );
    const text = fc.array(line, { maxLength: 25 }).chain((lines) => fc.constantFrom('\n', '\r\n').map((eol) => lines.join(eol)));

    it('returns at most 20 questions with unique, safe ids, or a 400 that names the field', () => {
      fc.assert(
        fc.property(text, (t) => {
          const out = valueOrHttpError(() => parseQuestions(t));
          if (out instanceof HttpError) {
            expect(out.status).to.equal(400);
            expect((out.details as { fields: Record<string, string> }).fields).to.have.property('questions');
            return;
          }
          expect(out.length).to.be.at.most(20);
          expect(new Set(out.map((q) => q.id)).size).to.equal(out.length);
          for (const q of out) {
            // Ids become keys of stored answers and parts of field names (answer_<id>).
            expect(q.id).to.match(/^q[0-9a-f]{8}$/);
            expect(q.label.length).to.be.within(1, 500);
            expect(q.label).not.to.match(/[\r\n]/);
            expect(q.required).to.be.a('boolean');
          }
        }),
        RUNS,
      );
    });

    it('saving the form again keeps every question, its label and its id (answers already given still match)', () => {
      fc.assert(
        fc.property(text, (t) => {
          let first;
          try {
            first = parseQuestions(t);
          } catch {
            return;
          }
          const again = parseQuestions(questionsToText(first), first);
          expect(again, JSON.stringify(t)).to.deep.equal(first);
        }),
        RUNS,
      );
    });
  });

  describe('profile vocabularies (application form and CSV import)', () => {
    const codes = countryOptions('en').map((c) => c.code);

    it('parseCountry returns null or a known ISO code, and never throws', () => {
      fc.assert(
        fc.property(hostileString(), (s) => {
          const code = parseCountry(s);
          if (code === null) return;
          expect(code).to.match(/^[A-Z]{2}$/);
          expect(codes).to.include(code);
        }),
        { numRuns: 2000 },
      );
    });

    it('parseCountry reads every country by its code (any case, padded) and by its name in the six UN languages', () => {
      fc.assert(
        fc.property(fc.constantFrom(...codes), fc.constantFrom('en', 'fr', 'es', 'ru', 'ar', 'zh'), fc.constantFrom('', ' ', '\t'), (code, lang, pad) => {
          expect(parseCountry(`${pad}${code.toLowerCase()}${pad}`)).to.equal(code);
          const name = countryName(code, lang);
          expect(parseCountry(name), `${lang}: ${name}`).to.equal(code);
        }),
        RUNS,
      );
    });

    it('parseGender is total: one of the four answers or null; blank means undisclosed; case and padding do not matter', () => {
      fc.assert(
        fc.property(hostileString(), (s) => {
          const g = parseGender(s);
          expect(g === null || (GENDERS as readonly string[]).includes(g)).to.equal(true);
          if (!s.trim()) expect(g).to.equal('undisclosed');
        }),
        { numRuns: 2000 },
      );
      const words = ['woman', 'Female', 'F', 'femme', 'man', 'MALE', 'homme', 'non-binary', 'Non Binary', 'x', 'prefer not to say', 'Non communiqué'];
      fc.assert(
        fc.property(fc.constantFrom(...words), fc.constantFrom('', ' ', '  \t'), fc.boolean(), (w, pad, upper) => {
          const expected = parseGender(w);
          expect(expected).to.not.equal(null);
          expect(parseGender(`${pad}${upper ? w.toUpperCase() : w.toLowerCase()}${pad}`)).to.equal(expected);
        }),
        RUNS,
      );
    });

    it('the vocabularies answer only their own words, not the names every object has (__proto__, constructor, …)', () => {
      for (const word of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__']) {
        expect(parseGender(word), word).to.equal(null);
        expect(parseOrganisationType(word), word).to.equal(null);
        expect(parseCountry(word), word).to.equal(null);
      }
    });

    it('parseOrganisationType is total: one of the known types or null', () => {
      fc.assert(
        fc.property(hostileString(), (s) => {
          const t = parseOrganisationType(s);
          expect(t === null || (ORGANISATION_TYPES as readonly string[]).includes(t)).to.equal(true);
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('the quiz text format (trainers) and quiz answers (learners)', () => {
    const fragment = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('True', 'false', 'Vrai', 'FAUX', '$where', 'a.b', '__proto__', 'constructor', '<script>alert(1)</script>'),
    );
    const quizLine = fc.oneof(
      fc.tuple(fc.constantFrom('?', '+', '-', '>', '? ', '+ ', '- ', '> ', '', ' ', '\t*', '\ufeff?'), fragment).map(([m, s]) => m + s),
      hostileString(20),
      fc.constant(''),
    );
    const quizText = fc.array(quizLine, { maxLength: 40 }).chain((lines) => fc.constantFrom('\n', '\r\n', '\r').map((eol) => lines.join(eol)));

    it('parseQuizText returns well-formed questions or throws a 400 listing lines, nothing else', () => {
      fc.assert(
        fc.property(fc.oneof(quizText, hostileString(200)), (text) => {
          const out = valueOrHttpError(() => parseQuizText(text));
          if (out instanceof HttpError) {
            expect(out.status).to.equal(400);
            expect(out.code).to.equal('QUIZ_INVALID');
            const lines = (out.details as { lines: { line: number; message: string }[] }).lines;
            expect(lines.length).to.be.greaterThan(0);
            for (const l of lines) expect(l.line).to.be.a('number').and.at.least(1);
            return;
          }
          expect(out.length).to.be.within(1, QUIZ_LIMITS.questions);
          out.forEach((q, i) => {
            expect(q.id).to.equal(`q${i + 1}`);
            expect(q.options.length).to.be.within(2, QUIZ_LIMITS.options);
            expect(q.options.some((o) => o.correct)).to.equal(true);
            for (const o of q.options) expect(o.id).to.match(/^[a-z]$/);
          });
          // What the editor shows again reads back as the same quiz.
          expect(parseQuizText(quizToText(out))).to.deep.equal(out);
        }),
        { numRuns: 1500 },
      );
    });

    it('parseAnswers takes only option ids of the quiz; any other body (operators, objects, prototypes) is a 400', () => {
      const questions = parseQuizText('? One\n- a\n+ b\n? Several\n+ a\n+ b\n- c\n? T/F\n+ True\n- False');
      const value = fc.oneof(
        fc.constantFrom('a', 'b', 'c', 'd', '', 'A'),
        fc.array(fc.constantFrom('a', 'b', 'c', ''), { maxLength: 4 }),
        fc.constantFrom({ $ne: null }, { $gt: '' }, ['a', { $ne: 1 }], { 0: 'a' }, null, 1, true),
        fc.anything(),
      );
      const key = fc.constantFrom('q1', 'q2', 'q3', 'q4', 'q0', 'q99', '_csrf', '__proto__', 'constructor', '$where', 'q1.x');
      const body = fc.oneof(fc.dictionary(key, value, { maxKeys: 5 }), fc.anything());
      fc.assert(
        fc.property(body, (b) => {
          const out = valueOrHttpError(() => parseAnswers(questions, b));
          if (out instanceof HttpError) {
            expect(out.code).to.equal('QUIZ_ANSWER_INVALID');
            return;
          }
          for (const [qid, chosen] of Object.entries(out)) {
            const q = questions.find((x) => x.id === qid);
            expect(q, qid).to.not.equal(undefined);
            expect(chosen.length).to.be.greaterThan(0);
            for (const c of chosen) expect(q!.options.map((o) => o.id)).to.include(c);
            if (q!.kind !== 'multiple') expect(chosen).to.have.length(1);
          }
        }),
        { numRuns: 2000 },
      );
    });
  });

  describe('the lesson Markdown renderer (its output is inserted unescaped)', () => {
    const ALLOWED = new Map<string, string[]>([
      ['a', ['href', 'title', 'rel', 'target']],
      ['img', ['src', 'alt', 'title']],
      ['th', ['align']],
      ['td', ['align']],
    ]);
    const TAGS = new Set([
      'h2',
      'h3',
      'h4',
      'p',
      'br',
      'hr',
      'strong',
      'em',
      'del',
      'code',
      'pre',
      'blockquote',
      'ul',
      'ol',
      'li',
      'a',
      'table',
      'thead',
      'tbody',
      'tr',
      'th',
      'td',
      'img',
    ]);
    const payload = fc.constantFrom(
      '<script>alert(1)</script>',
      '"><img src=x onerror=alert(1)>',
      '<img src="x" onerror="alert(1)">',
      '<svg onload=alert(1)>',
      '<a href="javascript:alert(1)">x</a>',
      '[x](javascript:alert(1))',
      '[x](JaVaScRiPt:alert(1))',
      '[x](  javascript:alert(1))',
      '[x](java&#x09;script:alert(1))',
      '![x](javascript:alert(1))',
      '![x](data:image/svg+xml;base64,PHN2Zz4=)',
      '<iframe src="https://evil.example">',
      '<style>body{display:none}</style>',
      '<p style="position:fixed">x</p>',
      '<a href="https://x.org" onclick="x()">x</a>',
      '<math><mi xlink:href="javascript:alert(1)">',
      '<details open ontoggle=alert(1)>',
      '<object data="x.swf">',
      '<form action="https://evil.example"><button>x</button></form>',
      '<base href="https://evil.example/">',
      '<meta http-equiv="refresh" content="0;url=https://evil.example">',
      '<div onmouseover="alert(1)">x</div>',
      '<!--<script>-->',
      '<scr<script>ipt>alert(1)</script>',
      '`<script>`',
      '```\n<script>alert(1)</script>\n```',
      '<a href="vbscript:msgbox(1)">x</a>',
      '<a href="//evil.example">x</a>',
      '<img src="//evil.example/x.png">',
    );
    const markdown = fc
      .array(
        fc.oneof(
          payload,
          fc.string({ maxLength: 20 }),
          fc.constantFrom('\n', '\n\n', '# ', '* ', '> ', '| a | b |\n|---|---|\n| ', '[', '](', ')', '<', '>', '"', "'"),
        ),
        { maxLength: 25 },
      )
      .map((parts) => parts.join(''));

    it('never emits script, event handlers, styles, frames or script/data/protocol-relative URLs', () => {
      fc.assert(
        fc.property(markdown, (source) => {
          const html = renderMarkdown(source);
          // Every raw '<' in the output starts a tag (text has it escaped): check each tag and its attributes.
          for (const m of html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>/g)) {
            const tag = m[1]!.toLowerCase();
            expect(TAGS.has(tag), `tag <${tag}> in ${html}`).to.equal(true);
            const attrs = [...m[2]!.matchAll(/([^\s"'=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)];
            for (const a of attrs) {
              const name = a[1]!.toLowerCase();
              expect(ALLOWED.get(tag) ?? [], `attribute ${name} on <${tag}> in ${html}`).to.include(name);
              const value = (a[2] ?? a[3] ?? a[4] ?? '')
                .replace(/&#x?0*(9|a|d|10|13);?/gi, '')
                .replace(/[\s\u0000-\u001f]/g, '')
                .toLowerCase();
              if (name === 'href') expect(value, html).to.match(/^(https?:|mailto:|\/(?!\/)|#|[^:/]*$|[^:]*\/)/);
              if (name === 'href' || name === 'src') {
                expect(value, html).not.to.match(/^(javascript|vbscript|data):/);
                expect(value, html).not.to.match(/^\/\//);
              }
              if (name === 'src') expect(value, html).not.to.match(/^[a-z][a-z0-9+.-]*:/);
            }
          }
          expect(html).not.to.match(/<(script|iframe|style|object|embed|form|base|meta|svg|math)\b/i);
        }),
        { numRuns: 1500 },
      );
    });
  });

  describe('safeFileName (names of uploaded material, shown on pages and sent back in downloads)', () => {
    const name = fc.oneof(
      hostileString(80),
      fc
        .tuple(
          fc.constantFrom('../../etc/passwd', '..\\..\\win.ini', '/abs/path/', 'C:\\x\\', '.htaccess', '...', '\u202egpj.exe', 'a\u0000b', ''),
          hostileString(20),
        )
        .map(([a, b]) => a + b),
      fc.string({ minLength: 150, maxLength: 400, unit: 'grapheme' }).map((s) => `${s}.pdf`),
    );

    it('gives a non-empty name of at most 200 units, without path, control, bidi or Windows-reserved characters', () => {
      fc.assert(
        fc.property(name, (n) => {
          const out = safeFileName(n);
          expect(out.length, JSON.stringify(n)).to.be.within(1, 200);
          expect(out).not.to.match(/[/\\<>:"|?*\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/);
          expect(out).not.to.match(/^[.\s]/);
          expect(out).not.to.match(/^\.\.?$/);
          // Stable: a name once cleaned stays as it is.
          expect(safeFileName(out)).to.equal(out);
        }),
        { numRuns: 2000 },
      );
    });
  });
});
