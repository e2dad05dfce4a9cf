import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { errorMessage, HttpError } from './errors.ts';
import type { FlashType } from './flash.ts';
import { englishT, errorBody, fieldErrors, parseInput, wantsJson } from './http.ts';

/**
 * The one path for forms: a route declares the body's schema, the page that shows the form again
 * and what to do with valid input; a form that fails its schema, or that a service refuses, comes
 * back with the messages by its fields and what was typed (in the spirit of hapi's `failAction`).
 * JSON clients get the error itself, `{ error: { code, message, details } }`, as from any route.
 */

/** Why a form comes back, for its page. */
export interface FormFailure {
  /** Messages by field name; `_` is for the form as a whole (a refusal that names no field). */
  errors: Record<string, string>;
  /** What was sent, secrets left out, to fill the fields in again. */
  values: Record<string, unknown>;
  /** The error itself: its status is the page's. */
  error: HttpError;
}

/** How a form's body becomes its input: a schema, or a reader for fields that depend on each other beyond one. */
type FormReading<T> =
  /**
   * The body's schema, whose messages are catalogue keys (see `parseInput`): the form comes back
   * with them in the reader's language. A function of the request for a schema that depends on it.
   */
  | { schema: z.ZodType<T> | ((req: Request, res: Response) => z.ZodType<T>); read?: never }
  /** Reads the body, throwing `invalidFields(…)` (or `parseInput`'s error) for every problem at once. */
  | { read: (req: Request, res: Response) => T | Promise<T>; schema?: never };

export type FormRoute<T> = FormReading<T> & {
  /** The page that shows the form again (`'<plugin>/<view>'`). */
  view: string;
  /** Its locals, given why the form came back: the page's own data, `failure.values` and `failure.errors`. */
  locals: (req: Request, failure: FormFailure, res: Response) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Error codes of refusals that concern one field: `{ EMAIL_TAKEN: 'email' }`. */
  fields?: Readonly<Record<string, string>>;
  /** Fields never sent back to the page (passwords). */
  secret?: readonly string[];
  /** Does the work with valid input, and answers (see `respond`). */
  handle: (req: Request, res: Response, input: T) => unknown;
};

/**
 * What a refusal says by field, or null when it is not a refusal of this form (a missing page, a
 * denied access, a fault): those go to the error handler. A refusal is an error with field
 * messages, a conflict with what is there (409), or an error whose code the route maps to a field.
 */
export function refusalFields(req: Request, err: unknown, fields: Readonly<Record<string, string>> = {}): Record<string, string> | null {
  if (!(err instanceof HttpError)) return null;
  const t = (key: string, options?: object) => String(req.t(key, options as never));
  const own = fieldErrors(err, t);
  if (own) return own;
  const field = Object.hasOwn(fields, err.code) ? fields[err.code] : err.status === 409 ? '_' : undefined;
  return field === undefined ? null : { [field]: errorMessage(t, err) };
}

/** A route handler for a form: see `FormRoute`. */
export function form<T>(route: FormRoute<T>): RequestHandler {
  const read = async (req: Request, res: Response): Promise<T> => {
    if (route.read) return route.read(req, res);
    const schema = typeof route.schema === 'function' ? route.schema(req, res) : route.schema;
    return parseInput(schema, req.body);
  };
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      await route.handle(req, res, await read(req, res));
    } catch (err) {
      const errors = wantsJson(req) || res.headersSent ? null : refusalFields(req, err, route.fields);
      if (!errors) return next(err);
      const values = Object.fromEntries(
        Object.entries((req.body ?? {}) as Record<string, unknown>).filter(([name]) => name !== '_csrf' && !route.secret?.includes(name)),
      );
      try {
        const locals = await route.locals(req, { errors, values, error: err as HttpError }, res);
        res.status((err as HttpError).status).render(route.view, locals);
      } catch (pageErr) {
        next(pageErr);
      }
    }
  };
}

/** One answer for both kinds of client: API clients get `json`, browsers a page. */
export interface Answer {
  /** What API clients get. An `HttpError` is written as every error is, `{ error: { … } }`, with its status. */
  json: unknown;
  /** The status of the JSON answer, and of the page when one is rendered (a redirect is a 303). */
  status?: number;
  /** For browsers: a message shown on the next page… */
  flash?: readonly [FlashType, string];
  /** …which is this address (a 303 after a post), */
  redirect?: string;
  /** …or this page, rendered now. */
  render?: readonly [view: string, locals: Record<string, unknown>];
}

/** Answers a request as its client wants it: JSON, or the page (see `Answer`). */
export function respond(req: Request, res: Response, answer: Answer): void {
  const status = answer.json instanceof HttpError ? answer.json.status : answer.status;
  if (wantsJson(req)) {
    if (status !== undefined) res.status(status);
    res.json(answer.json instanceof HttpError ? errorBody(answer.json, englishT(req)) : answer.json);
    return;
  }
  if (answer.flash) req.flash(answer.flash[0], answer.flash[1]);
  if (answer.render) {
    if (status !== undefined) res.status(status);
    res.render(answer.render[0], answer.render[1]);
  } else if (answer.redirect) res.redirect(303, answer.redirect);
  else throw new Error('respond: a page answer needs `redirect` or `render`');
}
