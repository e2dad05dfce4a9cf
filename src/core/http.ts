import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { errorMessage, HttpError, isDatabaseUnavailable, notFound, type ErrorText, type Translate } from './errors.ts';
import { renderInLayout } from './views.ts';

/** JSON for API clients (Accept: application/json, or a JSON body), pages for browsers. */
export function wantsJson(req: Request): boolean {
  return req.accepts(['html', 'json']) === 'json' || (!!req.is('application/json') && req.accepts('html') !== 'html');
}

/**
 * Validates input at the edge: a zod failure becomes a 400 listing each field's problem. A
 * schema's messages are catalogue keys (`z.string().min(1, 'courses:errors.titleRequired')`), as
 * are the host's words for the checks that name none (`max(200)` alone: `errors.fields.tooLong`);
 * the issue's limits are their values (`{{min}}`, `{{max}}`, `{{count}}`, or a refinement's
 * `params`). Whoever shows the error puts them in a language: `fieldErrors(err, t)`.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, message?: string, text?: ErrorText): z.output<S> {
  const checked = checkInput(schema, input);
  if (checked.ok) return checked.data;
  throw invalidFields(checked.fields, message, text);
}

/** `parseInput` without the throw, for checks that add problems of their own: the output, or each field's first problem. */
export function checkInput<S extends z.ZodType>(schema: S, input: unknown): { ok: true; data: z.output<S> } | { ok: false; fields: Record<string, ErrorText> } {
  const result = schema.safeParse(input ?? {}, { error: hostIssueKey });
  if (result.success) return { ok: true, data: result.data };
  const fields: Record<string, ErrorText> = {};
  for (const issue of result.error.issues) {
    const key = issue.path.join('.') || '_';
    fields[key] ??= { key: issue.message, params: issueParams(issue) };
  }
  return { ok: false, fields };
}

/** The host's words for the limits a schema sets without a message of its own, by the kind of value. */
const LIMIT_KEYS: Record<string, { small: string; big: string }> = {
  string: { small: 'errors.fields.tooShort', big: 'errors.fields.tooLong' },
  number: { small: 'errors.fields.tooSmall', big: 'errors.fields.tooBig' },
  int: { small: 'errors.fields.tooSmall', big: 'errors.fields.tooBig' },
  array: { small: 'errors.fields.tooFew', big: 'errors.fields.tooMany' },
  set: { small: 'errors.fields.tooFew', big: 'errors.fields.tooMany' },
};

/** The host's key for an issue whose schema gives no message of its own. */
function hostIssueKey(issue: z.core.$ZodRawIssue): string {
  const limits = LIMIT_KEYS[(issue as { origin?: string }).origin ?? ''];
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined || issue.input === null) return 'errors.fields.required';
      return issue.expected === 'number' || issue.expected === 'int' ? 'errors.fields.notANumber' : 'errors.fields.invalid';
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'errors.fields.required';
      return limits?.small ?? 'errors.fields.invalid';
    case 'too_big':
      return limits?.big ?? 'errors.fields.invalid';
    case 'invalid_format':
      return issue.format === 'email' ? 'errors.fields.email' : issue.format === 'url' ? 'errors.fields.url' : 'errors.fields.invalid';
    case 'invalid_value':
      return 'errors.fields.choose';
    default:
      return 'errors.fields.invalid';
  }
}

/** The values a message can name: a limit as `min`/`max` (and `count`, for plurals), a refinement's own `params`. */
function issueParams(issue: z.core.$ZodIssue): Record<string, unknown> | undefined {
  if (issue.code === 'too_small') return { min: Number(issue.minimum), count: Number(issue.minimum) };
  if (issue.code === 'too_big') return { max: Number(issue.maximum), count: Number(issue.maximum) };
  if (issue.code === 'custom') return issue.params;
  return undefined;
}

/**
 * A 400 naming the fields at fault, as a schema's failure does: for checks a schema cannot make (a
 * wrong password). A field's message is its catalogue entry (`{ key, params }`), or words already
 * in the reader's language (`req.t(…)`); `message` (English, with its `text`) is the error's own.
 */
export function invalidFields(
  fields: Record<string, string | ErrorText>,
  message = 'Some fields need attention.',
  text: ErrorText | undefined = message === 'Some fields need attention.' ? { key: 'errors.fieldsNeedAttention' } : undefined,
  status = 400,
): HttpError {
  const words: Record<string, string> = {};
  const texts: Record<string, ErrorText> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string') words[name] = value;
    else {
      words[name] = value.key;
      texts[name] = value;
    }
  }
  return new HttpError(status, 'VALIDATION_FAILED', message, { fields: words }, text, Object.keys(texts).length ? texts : undefined);
}

/**
 * The messages by field of an error that names fields (a validation failure, a refusal of one
 * field), in the language of `t`: the reader's for a page, English (`englishT(req)`) for JSON.
 */
export function fieldErrors(err: unknown, t: Translate): Record<string, string> | null {
  if (!(err instanceof HttpError)) return null;
  const fields = (err.details as { fields?: unknown } | undefined)?.fields;
  if (!fields || typeof fields !== 'object') return null;
  const out: Record<string, string> = {};
  for (const [name, words] of Object.entries(fields as Record<string, string>)) {
    const text = err.fieldTexts && Object.hasOwn(err.fieldTexts, name) ? err.fieldTexts[name] : undefined;
    out[name] = text ? t(text.key, { ...text.params, defaultValue: words }) : words;
  }
  return out;
}

/** The reasons multer gives for an unreadable upload form, each with the host's words (`errors.upload.<code>`). */
const UPLOAD_CODES = new Set([
  'LIMIT_PART_COUNT',
  'LIMIT_FILE_SIZE',
  'LIMIT_FILE_COUNT',
  'LIMIT_FIELD_KEY',
  'LIMIT_FIELD_VALUE',
  'LIMIT_FIELD_COUNT',
  'LIMIT_UNEXPECTED_FILE',
  'MISSING_FIELD_NAME',
  'LIMIT_FIELD_NESTING',
  'LIMIT_FIELD_ARRAY_INDEX',
  'STREAM_DESTROYED',
  'INVALID_FIELD_NAME',
]);

/** Why an upload form could not be read, by multer's error code (`err.code`), as a catalogue entry: "The form could not be read: too many files." */
export function uploadErrorText(code: string): ErrorText {
  return { key: UPLOAD_CODES.has(code) ? `errors.upload.${code}` : 'errors.upload.other' };
}

/**
 * A refusal a route words from the catalogue, as services do: the English words for JSON clients
 * and logs, its entry (`text`) for pages in the reader's language.
 */
export function refusalFor(req: Request, status: number, code: string, key: string, params?: Record<string, unknown>, details?: unknown): HttpError {
  return new HttpError(status, code, englishT(req)(key, params), details, { key, ...(params ? { params } : {}) });
}

/** English, the language of JSON answers and logs (the app's default `t`). */
export function englishT(req: Request): Translate {
  const t = req.app?.locals?.t as Translate | undefined;
  return t ?? ((key: string, options?: object) => String((options as { defaultValue?: unknown } | undefined)?.defaultValue ?? key));
}

/** How every error reaches a JSON client: `{ error: { code, message, details } }` (no `details` when there are none), its field messages in English. */
export function errorBody(err: { code: string; message: string; details?: unknown }, t?: Translate) {
  let details = err.details;
  if (t && err instanceof HttpError && err.fieldTexts) details = { ...(details as object), fields: fieldErrors(err, t) };
  return { error: { code: err.code, message: err.message, ...(details === undefined ? {} : { details }) } };
}

export function notFoundHandler(req: Request, _res: Response, next: NextFunction) {
  next(notFound());
}

/**
 * The one error renderer: typed errors keep their status and message; anything else is a logged
 * 500, unless the database cannot be reached at that moment (`databaseReachable`): then it is the
 * outage's 503. The driver fails in many ways when its server dies mid-operation, and an error of a
 * kind `isDatabaseUnavailable` does not know (yet) must not tell people the app is broken.
 * Pages say it in the reader's language; an error raised before the request's language was chosen
 * (an unreadable body) has it chosen by `chooseLanguage`, as the language middleware does.
 */
export function errorHandler(
  logger: Logger,
  databaseReachable: () => Promise<boolean> = async () => true,
  chooseLanguage?: (req: Request, res: Response) => void,
) {
  const unavailable = (err: unknown, req: Request, res: Response): Shown => {
    res.setHeader('Retry-After', '30');
    logger.warn({ err, url: req.originalUrl }, 'database unavailable');
    return {
      status: 503,
      code: 'DATABASE_UNAVAILABLE',
      message: 'The service is briefly unavailable: its database cannot be reached. Please try again in a minute.',
      text: { key: 'errors.databaseUnavailable' },
    };
  };
  return async (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      // Too late to answer (e.g. the session store failed to extend a session after the page was
      // sent, as happens while shutting down): log it rather than let Express print a stack.
      logger.warn({ err, url: req.originalUrl }, 'error after the response was sent');
      if (!res.writableEnded) res.end();
      return;
    }
    let shown: Shown = {
      status: 500,
      code: 'INTERNAL',
      message: 'Something went wrong on our side. The problem has been logged; please try again.',
      text: { key: 'errors.internal' },
    };
    const anyErr = err as { status?: number; statusCode?: number; code?: string; type?: string; expose?: boolean; message?: string };
    if (err instanceof HttpError) {
      shown = err;
    } else if (isDatabaseUnavailable(err)) {
      shown = unavailable(err, req, res);
    } else if (anyErr?.code === 'EBADCSRFTOKEN') {
      shown = {
        status: 403,
        code: 'CSRF_INVALID',
        message: 'This form has expired or was not sent from this site. Please go back, reload the page and try again.',
        text: { key: 'errors.csrf' },
      };
    } else if (typeof (anyErr?.status ?? anyErr?.statusCode) === 'number' && anyErr.expose) {
      // body-parser and friends: a malformed or oversized body is the client's problem, described safely.
      const status = (anyErr.status ?? anyErr.statusCode)!;
      if (anyErr.type === 'entity.too.large')
        shown = { status, code: 'PAYLOAD_TOO_LARGE', message: 'The request is too large.', text: { key: 'errors.tooLarge' } };
      else if (anyErr.type === 'entity.parse.failed')
        shown = { status, code: 'MALFORMED_BODY', message: 'The request body could not be read.', text: { key: 'errors.malformedBody' } };
      else
        shown = {
          status,
          code: 'BAD_REQUEST',
          message: anyErr.message ?? shown.message,
          text: { key: status === 413 ? 'errors.tooLarge' : 'errors.badRequest' },
        };
    } else if (err instanceof URIError || (anyErr?.status === 400 && /decode param/i.test(anyErr.message ?? ''))) {
      // A malformed percent-encoding in the address (`/verify/%E0%A4%A`): the router cannot decode it.
      shown = { status: 400, code: 'MALFORMED_URL', message: 'This address is malformed. Check it and try again.', text: { key: 'errors.malformedUrl' } };
    } else if (!(await databaseReachable())) {
      shown = unavailable(err, req, res);
    } else {
      logger.error({ err, url: req.originalUrl, method: req.method }, 'unhandled error');
    }
    if (res.headersSent) return;
    const { status, code } = shown;
    res.status(status);
    if (wantsJson(req)) {
      // JSON clients keep the English words, which are stable.
      res.json(errorBody(err instanceof HttpError ? err : { code, message: shown.message }, englishT(req)));
      return;
    }
    if (!res.locals.t && chooseLanguage) {
      try {
        chooseLanguage(req, res);
      } catch (langErr) {
        logger.warn({ err: langErr }, 'no language for the error page');
      }
    }
    // People read an error in their language when it names its catalogue entry.
    const t = res.locals.t as Translate | undefined;
    const message = t ? errorMessage(t, shown) : shown.message;
    // An error page never takes the queued flash messages: a stray request (the browser's favicon,
    // a missing image) must not swallow the "Saved." meant for the page being loaded.
    const heading = errorHeading(res, status);
    const locals = { status, code, message, heading, title: heading, takeFlash: () => [] };
    // The bare view through `res.render` with a callback (the layout middleware's, or Express's own
    // when the error came before it), then the layout once, as on every page.
    const render = (view: string, viewLocals: object, done: (err: Error | null, html?: string) => void) => res.render(view, viewLocals, done);
    renderInLayout(render, 'errors/error', locals, (renderErr, html) => {
      // A broken template or unreachable session must still give the person a page, even a plain one.
      if (renderErr) {
        logger.error({ err: renderErr }, 'error page failed to render');
        res.type('text/plain').send(`${status} – ${message}`);
      } else res.send(html);
    });
  };
}

/** What an error page or JSON answer says: an `HttpError`, or the host's words for another failure. */
interface Shown {
  status: number;
  code: string;
  message: string;
  text?: ErrorText | undefined;
}

/** An error page's heading (and title): its status's own, else the one of its class (4xx, 5xx). */
function errorHeading(res: Response, status: number): string {
  const t = (res.locals.t ?? res.app.locals.t) as ((key: string, options?: object) => string) | undefined;
  if (!t) return String(status);
  return t(`errors.${status}`, { defaultValue: t(status < 500 ? 'errors.400' : 'errors.500') });
}
