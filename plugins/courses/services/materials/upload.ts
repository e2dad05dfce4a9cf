/**
 * Receiving files: a multipart request (multer, field `files`) or a caller's own bytes, each
 * streamed into GridFS with its type decided from its first 64 KB, its size limited and its sha256
 * taken on the way. A refused or interrupted upload leaves nothing behind: every file the request
 * opened is removed (or its removal retried until the database takes it).
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type express from 'express';
import mongoose from 'mongoose';
import multer from 'multer';
import { formatBytes, HttpError, safeFileName, toObjectId, uploadErrorText } from '../../../../src/index.ts';
import type { StoredFile } from '../../models/item.model.ts';
import { classify, HEAD_BYTES } from './file-types.ts';

const DEFAULT_MAX_FILES = 20;
const MAX_FIELDS = 100;

export interface UploadsOptions {
  bucketName: string;
  bucket: () => mongoose.mongo.GridFSBucket;
  /** Removes a stored file, or hands its removal over to be retried. */
  deleteOrRetry: (id: mongoose.Types.ObjectId) => Promise<void>;
  maxBytes: number;
  maxFiles?: number | undefined;
}

/** A file over the limit (`filename` unknown when the request was cut short before its name). */
const fileTooLarge = (filename: string | undefined, maxBytes: number) =>
  new HttpError(
    413,
    'FILE_TOO_LARGE',
    `${filename ?? 'A file'} is larger than the ${formatBytes(maxBytes)} limit.`,
    { filename, maxBytes },
    filename === undefined
      ? { key: 'courses:errors.upload.tooLargeUnnamed', params: { limit: formatBytes(maxBytes) } }
      : { key: 'courses:errors.upload.tooLarge', params: { filename, limit: formatBytes(maxBytes) } },
  );

export function createUploads(options: UploadsOptions) {
  const { bucket, deleteOrRetry, maxBytes } = options;
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new TypeError('maxBytes must be a positive integer');
  if (!Number.isSafeInteger(maxFiles) || maxFiles < 1) throw new TypeError('maxFiles must be a positive integer');

  async function storeOne(source: Readable, originalName: string, session: UploadSession): Promise<StoredFile> {
    const filename = safeFileName(originalName);
    const tooLarge = () => fileTooLarge(filename, maxBytes);
    let truncated = false;
    // busboy stops the part at the limit and says so with 'limit' instead of an error.
    source.once('limit', () => {
      truncated = true;
    });
    const onDiscard = () => source.destroy(new Error('upload discarded'));
    session.signal.addEventListener('abort', onDiscard, { once: true });
    // Pulled by hand rather than with for-await, which would end the iteration at the first break.
    // Not destroyOnReturn: after a refusal the rest of the part is drained instead, so busboy and
    // the other parts of the request keep flowing while multer winds down.
    const chunks = source.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
    const nextChunk = async (): Promise<Buffer | null> => {
      const step = await chunks.next();
      return step.done ? null : step.value;
    };
    let upload: mongoose.mongo.GridFSBucketWriteStream | undefined;
    try {
      const headParts: Buffer[] = [];
      let headLength = 0;
      let ended = false;
      while (headLength < HEAD_BYTES) {
        const chunk = await nextChunk();
        if (!chunk) {
          ended = true;
          break;
        }
        headParts.push(chunk);
        headLength += chunk.length;
        if (headLength > maxBytes) throw tooLarge();
      }
      if (truncated) throw tooLarge();
      const head = Buffer.concat(headParts, headLength);
      if (head.length === 0)
        throw new HttpError(400, 'FILE_EMPTY', `${filename} is empty.`, { filename }, { key: 'courses:errors.upload.empty', params: { filename } });

      const kind = await classify(head, filename, ended);
      const hash = crypto.createHash('sha256').update(head);
      let size = head.length;

      const fileId = new mongoose.Types.ObjectId();
      session.ids.add(fileId);
      // Completed with size and sha256 before end(): the driver writes the files document at the end.
      const metadata: Record<string, unknown> = { contentType: kind.contentType, filename };
      upload = bucket().openUploadStream(filename, { id: fileId, metadata });
      // Write failures arrive through write/finish callbacks; without a listener they would also crash the process.
      upload.on('error', () => undefined);
      await write(upload, head);

      for (let chunk = ended ? null : await nextChunk(); chunk; chunk = await nextChunk()) {
        size += chunk.length;
        if (size > maxBytes) throw tooLarge();
        kind.text?.push(chunk, filename);
        hash.update(chunk);
        await write(upload, chunk);
      }
      if (truncated || size > maxBytes) throw tooLarge();
      kind.text?.end(filename);

      const sha256 = hash.digest('hex');
      Object.assign(metadata, { size, sha256 });
      upload.end();
      await finished(upload);
      return { fileId, filename, contentType: kind.contentType, size, sha256 };
    } catch (err) {
      if (upload && !upload.state.streamEnd && !upload.state.aborted) await upload.abort().catch(() => undefined);
      await chunks.return?.().catch(() => undefined);
      // Drain what is left of this part so busboy can move on to the end of the request.
      if (!source.destroyed) source.resume();
      throw err;
    } finally {
      session.signal.removeEventListener('abort', onDiscard);
    }
  }

  function engine(session: UploadSession): multer.StorageEngine {
    return {
      _handleFile(_req, file, callback) {
        const result = storeOne(file.stream, file.originalname, session);
        session.track(result);
        result.then(
          // GridFS terms for multer's fields: the bucket is the destination, the id the name in it.
          (stored) => callback(null, { size: stored.size, destination: options.bucketName, filename: stored.fileId.toHexString() }),
          (err: unknown) => {
            session.reject(err);
            callback(err);
          },
        );
      },
      _removeFile(_req, file, callback) {
        const id = toObjectId(file.filename);
        if (!id) return callback(null);
        deleteOrRetry(id).then(
          () => callback(null),
          (err: Error) => callback(err),
        );
      },
    };
  }

  async function receive(req: express.Request): Promise<{ files: StoredFile[]; fields: Record<string, string> }> {
    if (!req.is('multipart/form-data')) {
      throw new HttpError(400, 'MALFORMED_UPLOAD', 'Send the files as a multipart/form-data form, in the field "files".', undefined, {
        key: 'courses:errors.upload.notMultipart',
      });
    }
    const session = new UploadSession();
    const parse = multer({
      storage: engine(session),
      limits: { fileSize: maxBytes, files: maxFiles, fields: MAX_FIELDS, parts: maxFiles + MAX_FIELDS },
      // Browsers send file names as raw UTF-8; busboy's latin1 default would garble Arabic or Chinese names.
      defParamCharset: 'utf8',
    }).array('files');
    const res = req.res;
    if (!res) throw new Error('receive() needs a request handled by Express.');

    let failure: unknown;
    try {
      await new Promise<void>((resolve, reject) => {
        parse(req, res, (err?: unknown) => (err ? reject(err) : resolve()));
      });
    } catch (err) {
      failure = err;
    }
    const outcomes = await Promise.allSettled(session.results);
    if (failure === undefined) {
      const refused = outcomes.find((o) => o.status === 'rejected');
      if (refused) failure = refused.reason;
    }
    if (failure !== undefined) {
      // multer removes what it knows to be stored, but not a file still being written when the client
      // disconnects, nor chunks of a refused one: the session knows every id it opened.
      await session.discard(deleteOrRetry);
      throw toHttpError(failure, session.firstRefusal, maxBytes, maxFiles);
    }

    const files = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    if (files.length === 0) throw new HttpError(400, 'NO_FILE', 'Choose at least one file to upload.', undefined, { key: 'courses:errors.upload.noFile' });
    return { files, fields: textFields(req.body) };
  }

  async function store(filename: string, data: Buffer | Readable): Promise<StoredFile> {
    // The upload path itself (storeOne) in a session of one file, so that a refusal cleans up
    // exactly as it does for an upload. A Buffer becomes a stream of one chunk.
    const source = Buffer.isBuffer(data) ? Readable.from([data]) : data;
    const session = new UploadSession();
    const result = storeOne(source, filename, session);
    session.track(result);
    try {
      return await result;
    } catch (err) {
      await session.discard(deleteOrRetry);
      // storeOne drains a refused part so busboy can go on; a caller's own stream is simply closed.
      if (!source.destroyed) source.destroy();
      throw err;
    }
  }

  return { receive, store };
}

/** Everything one receive() call opened, so a failure can remove all of it and nothing else. */
class UploadSession {
  readonly ids = new Set<mongoose.Types.ObjectId>();
  readonly results: Promise<StoredFile>[] = [];
  firstRefusal: HttpError | undefined;
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;

  track(result: Promise<StoredFile>) {
    // Settled through allSettled in receive(); this keeps an early rejection from being "unhandled".
    result.catch(() => undefined);
    this.results.push(result);
  }

  reject(err: unknown) {
    if (err instanceof HttpError && !this.firstRefusal) this.firstRefusal = err;
  }

  /**
   * Removes every file the request opened. Never throws: a removal the database refuses is retried
   * (deleteOrRetry hands it over), and the request's own failure is what the caller reports.
   */
  async discard(deleteOrRetry: (id: mongoose.Types.ObjectId) => Promise<void>) {
    this.controller.abort();
    // Wait for every writer to stop before deleting, or a chunk insert in flight could land afterwards.
    await Promise.allSettled(this.results);
    for (const id of this.ids) await deleteOrRetry(id).catch(() => undefined);
  }
}

function write(stream: mongoose.mongo.GridFSBucketWriteStream, chunk: Buffer): Promise<void> {
  // One write at a time, each awaited: its callback comes once the chunks it filled are inserted,
  // so when a writer stops nothing of it is still in flight.
  return new Promise((resolve, reject) => {
    stream.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

function toHttpError(err: unknown, refusal: HttpError | undefined, maxBytes: number, maxFiles: number): unknown {
  if (refusal) return refusal;
  if (err instanceof HttpError) return err;
  if (err instanceof multer.MulterError) {
    // multer 2.5 names the file on its errors; its type definitions do not know that yet.
    const original = (err as multer.MulterError & { filename?: string }).filename;
    const filename = original ? safeFileName(original) : undefined;
    switch (err.code) {
      case 'LIMIT_FILE_SIZE':
        return fileTooLarge(filename, maxBytes);
      case 'LIMIT_FILE_COUNT':
        return new HttpError(
          400,
          'TOO_MANY_FILES',
          `Send at most ${maxFiles} files at once.`,
          { maxFiles },
          { key: 'courses:errors.upload.tooMany', params: { count: maxFiles } },
        );
      case 'LIMIT_UNEXPECTED_FILE':
        return new HttpError(400, 'MALFORMED_UPLOAD', `Files must be sent in the field "files", not "${err.field ?? ''}".`, undefined, {
          key: 'courses:errors.upload.wrongField',
          params: { field: err.field ?? '' },
        });
      default:
        return new HttpError(400, 'MALFORMED_UPLOAD', `The upload form could not be read: ${err.message.toLowerCase()}.`, undefined, uploadErrorText(err.code));
    }
  }
  const message = err instanceof Error ? err.message : '';
  // multer's words for a connection that went away, and ours for a writer stopped because of it.
  if (/^(Request (aborted|closed)|upload discarded)$/.test(message) || (err as { code?: string } | null)?.code === 'ECONNRESET') {
    return new HttpError(400, 'UPLOAD_INTERRUPTED', 'The upload was interrupted before it finished. Please try again.', undefined, {
      key: 'courses:errors.upload.interrupted',
    });
  }
  // busboy's words for a body that is not a well-formed multipart form.
  if (/^(Malformed|Unexpected end of (form|file)|Multipart: Boundary not found|Unsupported content type|Missing Content-Type)/.test(message)) {
    return new HttpError(400, 'MALFORMED_UPLOAD', 'The upload form could not be read.', undefined, uploadErrorText('other'));
  }
  // Database failures and the unexpected keep their own identity for the error handler (503/500).
  return err;
}

function textFields(body: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  if (!body || typeof body !== 'object') return fields;
  for (const [key, value] of Object.entries(body)) {
    // Forms of this store send flat text fields; nested or repeated names are not ours to guess at.
    if (typeof value === 'string') Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return fields;
}
