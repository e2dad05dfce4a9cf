import mongoose from 'mongoose';

/**
 * Errors that cross a boundary carry a stable `code` (for logs, tests and JSON clients) and, where a
 * plugin is involved, the plugin's name. Handlers simply throw; one middleware renders them.
 */

/** A problem while configuring, ordering or running plugins: raised at boot, never per request. */
export class OliveError extends Error {
  readonly code: string;
  readonly plugins: readonly string[];

  constructor(code: string, message: string, options: { plugins?: readonly string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OliveError';
    this.code = code;
    this.plugins = options.plugins ?? [];
  }
}

/** Where the words of an error are in the catalogues: a key (`'certificates:errors.alreadyRevoked'`) and its values. */
export interface ErrorText {
  key: string;
  params?: Record<string, unknown>;
}

/**
 * An error meant for the person or client making a request: its message is shown to them. A
 * service, which has no reader, writes `message` in English (logs, JSON clients) and names with
 * `text` the catalogue entry its code means, so that pages show it in the reader's language.
 * An error about fields (a form's) names each field's entry in `fieldTexts`: see `invalidFields`.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly text: ErrorText | undefined;
  /** The catalogue entry of each field's message (`details.fields`), for the reader's language. */
  readonly fieldTexts: Readonly<Record<string, ErrorText>> | undefined;

  constructor(status: number, code: string, message: string, details?: unknown, text?: ErrorText, fieldTexts?: Record<string, ErrorText>) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.text = text;
    this.fieldTexts = fieldTexts;
  }
}

export const badRequest = (message: string, details?: unknown, text?: ErrorText) => new HttpError(400, 'BAD_REQUEST', message, details, text);
/** An error of a status, in its own words, or else in the host's words for that status (from the catalogue). */
function statusError(status: number, code: string, words: readonly [english: string, key: string], message?: string, text?: ErrorText) {
  return message === undefined ? new HttpError(status, code, words[0], undefined, { key: words[1] }) : new HttpError(status, code, message, undefined, text);
}
export const unauthorized = (message?: string, text?: ErrorText) =>
  statusError(401, 'UNAUTHENTICATED', ['Please sign in to continue.', 'errors.signInToContinue'], message, text);
export const forbidden = (message?: string, text?: ErrorText) =>
  statusError(403, 'FORBIDDEN', ['You do not have permission to do this.', 'errors.noPermission'], message, text);
export const notFound = (message?: string, text?: ErrorText) =>
  statusError(404, 'NOT_FOUND', ['We could not find that page.', 'errors.pageNotFound'], message, text);
export const conflict = (message: string, details?: unknown, text?: ErrorText) => new HttpError(409, 'CONFLICT', message, details, text);
/** The one missing account, as the host's services and pages say it. */
export const noSuchUser = () => notFound('No such user.', { key: 'errors.noSuchUser' });

/** A translation function, as `req.t` and `res.locals.t` are. */
export type Translate = (key: string, options?: object) => string;

/** The message of an error in the reader's language: its catalogue entry if it names one, else its own. */
export function errorMessage(t: Translate, err: { message: string; text?: ErrorText | undefined }): string {
  return err.text ? t(err.text.key, { ...err.text.params, defaultValue: err.message }) : err.message;
}

/** Mongo error codes and driver error names that mean "the database is not reachable right now". */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // By class as well as by name: the driver's subclasses have names of their own (an operation
  // waiting when the monitor loses the server fails at once with PoolClearedOnNetworkError, a
  // MongoNetworkError), and an unrecognised one became a 500 in the outage test.
  const { MongoNetworkError, MongoServerSelectionError, MongoNotConnectedError, MongoTopologyClosedError } = mongoose.mongo;
  if (
    err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError
  )
    return true;
  return (
    /^Mongo(ServerSelection|Network|NetworkTimeout|NotConnected|TopologyClosed|PoolCleared)Error$/.test(err.name) ||
    err.name === 'MongooseServerSelectionError' ||
    (err.name === 'MongooseError' && /buffering timed out|Connection was force closed|not connected/i.test(err.message))
  );
}

/** True for MongoDB's duplicate key error, the one signal our unique-index invariants rely on. */
export function isDuplicateKey(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { code?: unknown }).code === 11000) return true;
  // A bulk insert (insertMany, ordered: false) whose every failed document was a duplicate.
  const writeErrors = (err as { writeErrors?: { code?: unknown }[] }).writeErrors;
  return Array.isArray(writeErrors) && writeErrors.length > 0 && writeErrors.every((w) => w.code === 11000);
}
