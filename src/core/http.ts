import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { errorMessage, HttpError, isDatabaseUnavailable, notFound } from './errors.ts';
import { renderInLayout } from './views.ts';

/** JSON for API clients (Accept: application/json, or a JSON body), pages for browsers. */
export function wantsJson(req: Request): boolean {
  return req.accepts(['html', 'json']) === 'json' || (!!req.is('application/json') && req.accepts('html') !== 'html');
}

/** Validates input at the edge: a zod failure becomes a 400 listing each field's problem. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, message = 'Some fields need attention.'): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const fields: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const key = issue.path.join('.') || '_';
    fields[key] ??= issue.message;
  }
  throw invalidFields(fields, message);
}

/** A 400 naming the fields at fault, as a schema's failure does: for checks a schema cannot make (a wrong password). */
export function invalidFields(fields: Record<string, string>, message = 'Some fields need attention.'): HttpError {
  return new HttpError(400, 'VALIDATION_FAILED', message, { fields });
}

/** The messages by field of an error that names fields (a validation failure, a refusal of one field). */
export function fieldErrors(err: unknown): Record<string, string> | null {
  if (!(err instanceof HttpError)) return null;
  const fields = (err.details as { fields?: unknown } | undefined)?.fields;
  return fields && typeof fields === 'object' ? (fields as Record<string, string>) : null;
}

/** How every error reaches a JSON client: `{ error: { code, message, details } }` (no `details` when there are none). */
export function errorBody(err: { code: string; message: string; details?: unknown }) {
  return { error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) } };
}

export function notFoundHandler(req: Request, _res: Response, next: NextFunction) {
  next(notFound());
}

/**
 * The one error renderer: typed errors keep their status and message; anything else is a logged
 * 500, unless the database cannot be reached at that moment (`databaseReachable`): then it is the
 * outage's 503. The driver fails in many ways when its server dies mid-operation, and an error of a
 * kind `isDatabaseUnavailable` does not know (yet) must not tell people the app is broken.
 */
export function errorHandler(logger: Logger, databaseReachable: () => Promise<boolean> = async () => true) {
  const unavailable = (err: unknown, req: Request, res: Response) => {
    res.setHeader('Retry-After', '30');
    logger.warn({ err, url: req.originalUrl }, 'database unavailable');
    return {
      status: 503,
      code: 'DATABASE_UNAVAILABLE',
      message: 'The service is briefly unavailable: its database cannot be reached. Please try again in a minute.',
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
    let status = 500;
    let code = 'INTERNAL';
    let message = 'Something went wrong on our side. The problem has been logged; please try again.';
    let details: unknown;
    const anyErr = err as { status?: number; statusCode?: number; code?: string; type?: string; expose?: boolean; message?: string };
    if (err instanceof HttpError) {
      ({ status, code, message, details } = err);
    } else if (isDatabaseUnavailable(err)) {
      ({ status, code, message } = unavailable(err, req, res));
    } else if (anyErr?.code === 'EBADCSRFTOKEN') {
      status = 403;
      code = 'CSRF_INVALID';
      message = 'This form has expired or was not sent from this site. Please go back, reload the page and try again.';
    } else if (typeof (anyErr?.status ?? anyErr?.statusCode) === 'number' && anyErr.expose) {
      // body-parser and friends: a malformed or oversized body is the client's problem, described safely.
      status = (anyErr.status ?? anyErr.statusCode)!;
      code = anyErr.type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : anyErr.type === 'entity.parse.failed' ? 'MALFORMED_BODY' : 'BAD_REQUEST';
      message =
        code === 'PAYLOAD_TOO_LARGE'
          ? 'The request is too large.'
          : code === 'MALFORMED_BODY'
            ? 'The request body could not be read.'
            : (anyErr.message ?? message);
    } else if (err instanceof URIError || (anyErr?.status === 400 && /decode param/i.test(anyErr.message ?? ''))) {
      // A malformed percent-encoding in the address (`/verify/%E0%A4%A`): the router cannot decode it.
      status = 400;
      code = 'MALFORMED_URL';
      message = 'This address is malformed. Check it and try again.';
    } else if (!(await databaseReachable())) {
      ({ status, code, message } = unavailable(err, req, res));
    } else {
      logger.error({ err, url: req.originalUrl, method: req.method }, 'unhandled error');
    }
    if (res.headersSent) return;
    res.status(status);
    if (wantsJson(req)) {
      res.json(errorBody({ code, message, details }));
      return;
    }
    // People read a typed error in their language when it names its catalogue entry; JSON clients
    // keep the English message, which is stable.
    if (err instanceof HttpError && res.locals.t) message = errorMessage(res.locals.t, err);
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

/** An error page's heading (and title): its status's own, else the one of its class (4xx, 5xx). */
function errorHeading(res: Response, status: number): string {
  const t = (res.locals.t ?? res.app.locals.t) as ((key: string, options?: object) => string) | undefined;
  if (!t) return String(status);
  return t(`errors.${status}`, { defaultValue: t(status < 500 ? 'errors.400' : 'errors.500') });
}
