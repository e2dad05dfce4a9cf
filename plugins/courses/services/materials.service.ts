/**
 * The course-material store: uploads streamed into GridFS (bucket `courses_material`), their type
 * decided from the content, and served back with ranges and caching.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { create as contentDisposition } from 'content-disposition';
import type express from 'express';
import { FileTypeParser, type FileTypeResult } from 'file-type';
import mongoose from 'mongoose';
import multer from 'multer';
import rangeParser from 'range-parser';
import { HttpError, notFound } from '../../../src/index.ts';
import type { StoredFile } from '../models/item.model.ts';

export interface MaterialStoreOptions {
  maxBytes: number;
  /** Files in one request; 20 when not set. */
  maxFiles?: number;
  /** Where removals that must wait for the database are reported. */
  logger?: { warn(obj: object, msg: string): void };
  /**
   * Records a removal the database refused so that it is retried until it succeeds (the courses
   * plugin queues a job). Without it, a refused removal is only the error thrown.
   */
  retryRemoval?: (fileId: string) => Promise<unknown>;
}

export interface MaterialStore {
  /**
   * Parses a multipart request (field `files`, several files allowed), streaming each file into
   * GridFS. On any rejection every file of the request already written is removed, then an
   * HttpError naming the file and the reason is thrown.
   */
  receive(req: express.Request): Promise<{ files: StoredFile[]; fields: Record<string, string> }>;
  /**
   * Stores one file that does not come from a request (demo material, imports) through the same
   * path as an upload: the name sanitised, the type decided from the content, the size limit, the
   * sha256, the GridFS metadata. A refused file leaves nothing behind and throws the same HttpError.
   */
  store(filename: string, data: Buffer | Readable): Promise<StoredFile>;
  /**
   * Deletes a stored file (its GridFS file and chunks). A missing file is not an error. When the
   * database refuses (it is away), the error is thrown and the removal is handed to `retryRemoval`.
   */
  remove(fileId: mongoose.Types.ObjectId | string): Promise<void>;
  /** `remove` without the hand-over: the retried removal's own step. */
  removeOnce(fileId: mongoose.Types.ObjectId | string): Promise<void>;
  /** Streams a stored file with ranges, conditional requests and safe headers. */
  serve(req: express.Request, res: express.Response, file: StoredFile, opts?: { download?: boolean }): Promise<void>;
}

export const MATERIAL_BUCKET = 'courses_material';

/**
 * Bytes kept in memory to decide a file's type. More than file-type's 4100-byte default so that an
 * Office package's manifest or a long MP4 header is still inside the sample; the rest of the file
 * is never buffered.
 */
const HEAD_BYTES = 64 * 1024;
const DEFAULT_MAX_FILES = 20;
const MAX_FIELDS = 100;

const OFFICE_BY_EXTENSION: Record<string, string> = {
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odp: 'application/vnd.oasis.opendocument.presentation',
};

/** Old (compound-file) Office formats: file-type only says `cfb`, which is also what .msi installers are. */
const LEGACY_OFFICE_BY_EXTENSION: Record<string, string> = {
  doc: 'application/msword',
  xls: 'application/vnd.ms-excel',
  ppt: 'application/vnd.ms-powerpoint',
};

/** Detected type (file-type's `ext`) → the Content-Type we store and serve. */
const ALLOWED_DETECTED: Record<string, string> = {
  pdf: 'application/pdf',
  ...OFFICE_BY_EXTENSION,
  png: 'image/png',
  apng: 'image/png',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  mp4: 'video/mp4',
  webm: 'video/webm',
  ogv: 'video/ogg',
  zip: 'application/zip',
};

const TEXT_BY_EXTENSION: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
};

/** Words for the types people are most likely to upload by mistake, or on purpose. */
const DESCRIBED: Record<string, string> = {
  exe: 'a Windows program',
  elf: 'a Linux program',
  macho: 'a macOS program',
  dmg: 'a macOS disk image',
  jar: 'a Java program',
  class: 'a Java program',
  apk: 'an Android app',
  xpi: 'a browser extension',
  crx: 'a browser extension',
  wasm: 'a WebAssembly program',
  lnk: 'a Windows shortcut',
  swf: 'a Flash file',
  xml: 'XML (such as SVG, which can carry script)',
  rar: 'a RAR archive',
  '7z': 'a 7-Zip archive',
  gz: 'a gzip archive',
  tar: 'a tar archive',
};

/**
 * Names that make a saved download run or render as something else (a PDF saved as .html, a ZIP
 * as .jar): refused whatever the content, since the name travels with the file to people's disks.
 */
const DANGEROUS_EXTENSIONS = new Set([
  'exe', 'msi', 'com', 'scr', 'bat', 'cmd', 'ps1', 'vbs', 'vbe', 'js', 'jse', 'wsf', 'wsh', 'hta', 'cpl', 'lnk', 'reg',
  'jar', 'apk', 'xpi', 'crx', 'appx', 'msix', 'app', 'dmg', 'pkg', 'deb', 'rpm', 'sh', 'command',
  'html', 'htm', 'xhtml', 'shtml', 'svg', 'svgz', 'xml', 'mht', 'mhtml',
]);

const INLINE_TYPES = /^(application\/pdf|image\/|audio\/|video\/|text\/)/;

export function createMaterialStore(connection: mongoose.Connection, options: MaterialStoreOptions): MaterialStore {
  const maxBytes = options.maxBytes;
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new TypeError('maxBytes must be a positive integer');
  if (!Number.isSafeInteger(maxFiles) || maxFiles < 1) throw new TypeError('maxFiles must be a positive integer');

  // One bucket for the store's lifetime: the driver checks the GridFS indexes once per bucket.
  let cachedBucket: mongoose.mongo.GridFSBucket | undefined;
  function bucket(): mongoose.mongo.GridFSBucket {
    cachedBucket ??= new mongoose.mongo.GridFSBucket(database(), { bucketName: MATERIAL_BUCKET });
    return cachedBucket;
  }
  function database(): mongoose.mongo.Db {
    const db = connection.db;
    if (!db) throw new Error('The course-material store needs an open database connection.');
    return db;
  }
  const filesCollection = () => database().collection(`${MATERIAL_BUCKET}.files`);
  const chunksCollection = () => database().collection(`${MATERIAL_BUCKET}.chunks`);

  /** Idempotent: the file document first (the file vanishes at once), then every chunk, even orphans. */
  async function deleteStored(id: mongoose.Types.ObjectId): Promise<void> {
    await filesCollection().deleteOne({ _id: id });
    await chunksCollection().deleteMany({ files_id: id });
  }

  /**
   * deleteStored, or, when the database refuses (it failed under an upload, or was away during a
   * delete), the removal handed over to be retried until it succeeds, so that no partial or
   * unlisted file is left once the database is back. Not awaited: the request answers now.
   */
  async function deleteOrRetry(id: mongoose.Types.ObjectId): Promise<void> {
    try {
      await deleteStored(id);
    } catch (err) {
      if (options.retryRemoval) {
        options.logger?.warn({ err, fileId: id.toHexString() }, 'course material: could not remove a file now; it is retried until it succeeds');
        options.retryRemoval(id.toHexString()).catch((failure: unknown) => options.logger?.warn({ err: failure, fileId: id.toHexString() }, 'course material: a removal could not be queued; the file stays in GridFS until removed by this id'));
      }
      throw err;
    }
  }

  async function storeOne(source: Readable, originalName: string, session: UploadSession): Promise<StoredFile> {
    const filename = sanitizeFilename(originalName);
    const tooLarge = () => new HttpError(413, 'FILE_TOO_LARGE', `${filename} is larger than the ${formatBytes(maxBytes)} limit.`, { filename, maxBytes });
    let truncated = false;
    // busboy stops the part at the limit and says so with 'limit' instead of an error.
    source.once('limit', () => { truncated = true; });
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
        if (!chunk) { ended = true; break; }
        headParts.push(chunk);
        headLength += chunk.length;
        if (headLength > maxBytes) throw tooLarge();
      }
      if (truncated) throw tooLarge();
      const head = Buffer.concat(headParts, headLength);
      if (head.length === 0) throw new HttpError(400, 'FILE_EMPTY', `${filename} is empty.`, { filename });

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
          (stored) => callback(null, { size: stored.size, destination: MATERIAL_BUCKET, filename: stored.fileId.toHexString() }),
          (err: unknown) => {
            session.reject(err);
            callback(err);
          },
        );
      },
      _removeFile(_req, file, callback) {
        const id = parseId(file.filename);
        if (!id) return callback(null);
        deleteOrRetry(id).then(() => callback(null), (err: Error) => callback(err));
      },
    };
  }

  async function receive(req: express.Request): Promise<{ files: StoredFile[]; fields: Record<string, string> }> {
    if (!req.is('multipart/form-data')) {
      throw new HttpError(400, 'MALFORMED_UPLOAD', 'Send the files as a multipart/form-data form, in the field "files".');
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
    if (files.length === 0) throw new HttpError(400, 'NO_FILE', 'Choose at least one file to upload.');
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

  async function remove(fileId: mongoose.Types.ObjectId | string): Promise<void> {
    const id = typeof fileId === 'string' ? parseId(fileId) : fileId;
    // A string that is no ObjectId cannot name a stored file: there is nothing to remove.
    if (!id) return;
    await deleteOrRetry(id);
  }

  async function removeOnce(fileId: mongoose.Types.ObjectId | string): Promise<void> {
    const id = typeof fileId === 'string' ? parseId(fileId) : fileId;
    if (id) await deleteStored(id);
  }

  async function serve(req: express.Request, res: express.Response, file: StoredFile, opts: { download?: boolean } = {}): Promise<void> {
    const stored = await filesCollection().findOne({ _id: file.fileId }, { projection: { length: 1 } });
    if (!stored) throw notFound('This file is no longer available.');
    const size = stored.length;

    res.setHeader('ETag', `"${file.sha256}"`);
    // Never shared caches; and revalidated on each use, so that access checks run every time (304s are cheap).
    res.setHeader('Cache-Control', 'private, no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Accept-Ranges', 'bytes');
    if (req.fresh) {
      res.status(304).end();
      return;
    }

    const type = INLINE_TYPES.test(file.contentType) && !opts.download ? 'inline' : 'attachment';
    res.setHeader('Content-Type', file.contentType.startsWith('text/') ? `${file.contentType}; charset=utf-8` : file.contentType);
    res.setHeader('Content-Disposition', contentDisposition(file.filename, { type }));

    let start = 0;
    let end = size - 1;
    const range = req.headers.range;
    if (range && rangeApplies(req, file)) {
      const ranges = rangeParser(size, range, { combine: true });
      if (ranges === -1) {
        res.status(416).setHeader('Content-Range', `bytes */${size}`);
        res.removeHeader('Content-Disposition');
        res.removeHeader('Content-Type');
        res.end();
        return;
      }
      // A malformed header, another unit or several ranges: the whole file (RFC 9110 allows it).
      if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1 && ranges[0]) {
        ({ start, end } = ranges[0]);
        res.status(206).setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
      }
    }
    res.setHeader('Content-Length', String(Math.max(0, end - start + 1)));
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }

    const download = bucket().openDownloadStream(file.fileId, { start, end: end + 1 });
    try {
      await pipeline(download, res);
    } catch (err) {
      // The person closed the tab or stopped a video: not an error of ours.
      if (res.destroyed && !res.writableFinished && (err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
      throw err;
    }
  }

  return { receive, store, remove, removeOnce, serve };
}

/** Ranges only for GET/HEAD, and only when If-Range (if sent) still names this content. */
function rangeApplies(req: express.Request, file: StoredFile): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const ifRange = req.headers['if-range'];
  return ifRange === undefined || ifRange === `"${file.sha256}"`;
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

interface Classification {
  contentType: string;
  /** Present for text: keeps checking the rest of the file. */
  text?: TextCheck;
}

async function classify(head: Buffer, filename: string, complete: boolean): Promise<Classification> {
  const extension = extensionOf(filename);
  // A UTF-16 byte-order mark looks like an MPEG audio frame to file-type; say what it really is.
  if (isUtf16(head)) throw notText(filename, UTF16_REASON);
  if (DANGEROUS_EXTENSIONS.has(extension)) {
    throw new HttpError(415, 'FILE_TYPE_NOT_ALLOWED', `${filename} is not an allowed type: files named .${extension} are not accepted, whatever their content.`, { filename });
  }
  let detected: FileTypeResult | undefined;
  try {
    // A parser per call: it keeps the file being parsed in its own fields, and the files of a
    // request are classified concurrently.
    detected = await new FileTypeParser().fromBuffer(head);
  } catch {
    // A parser failure on a truncated or hostile head means "not recognised", which is judged below.
    detected = undefined;
  }
  const refuse = (reason: string) => new HttpError(415, 'FILE_TYPE_NOT_ALLOWED', `${filename} is not an allowed type: ${reason}.`, { filename, detected: detected?.mime ?? null });

  if (detected) {
    if (detected.ext === 'cfb') {
      const legacy = LEGACY_OFFICE_BY_EXTENSION[extension];
      if (legacy) return { contentType: legacy };
      throw refuse('its content is a compound binary file (such as a Windows installer); only old Office files named .doc, .xls or .ppt are accepted in that format');
    }
    // Office files are ZIP packages; when the package's manifest lies beyond the sample file-type
    // can only say "zip", and the extension then names which Office type it is.
    if (detected.ext === 'zip' && OFFICE_BY_EXTENSION[extension]) return { contentType: OFFICE_BY_EXTENSION[extension] };
    const allowed = ALLOWED_DETECTED[detected.ext];
    if (allowed) return { contentType: allowed };
    throw refuse(`its content is ${DESCRIBED[detected.ext] ?? `${detected.mime} (.${detected.ext})`}`);
  }

  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    // A ZIP whose first entry is larger than the sample: file-type gives up, but the signature is clear.
    return { contentType: OFFICE_BY_EXTENSION[extension] ?? ALLOWED_DETECTED.zip! };
  }

  const text = new TextCheck();
  text.push(head, filename);
  if (complete) text.end(filename);
  const textType = TEXT_BY_EXTENSION[extension];
  if (!textType) throw refuse('text files are accepted only as .txt, .md or .csv');
  return { contentType: textType, text };
}

/** Plain text means UTF-8 without NUL bytes, over the whole file (it is served as charset=utf-8). */
class TextCheck {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  push(chunk: Uint8Array, filename: string) {
    if (chunk.includes(0)) throw notText(filename, 'its content is binary data, not a recognised document, image, audio, video or text format');
    try {
      this.decoder.decode(chunk, { stream: true });
    } catch {
      throw notText(filename, 'its text is not UTF-8; save it as UTF-8 and try again');
    }
  }

  end(filename: string) {
    try {
      this.decoder.decode();
    } catch {
      throw notText(filename, 'its text is not UTF-8 (it ends in the middle of a character)');
    }
  }
}

const UTF16_REASON = 'its text is UTF-16; save it as UTF-8 and try again';

function isUtf16(chunk: Uint8Array): boolean {
  return (chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff);
}

function notText(filename: string, reason: string) {
  return new HttpError(415, 'FILE_TYPE_NOT_ALLOWED', `${filename} is not an allowed type: ${reason}.`, { filename });
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
    const filename = original ? sanitizeFilename(original) : undefined;
    switch (err.code) {
      case 'LIMIT_FILE_SIZE':
        return new HttpError(413, 'FILE_TOO_LARGE', `${filename ?? 'A file'} is larger than the ${formatBytes(maxBytes)} limit.`, { filename, maxBytes });
      case 'LIMIT_FILE_COUNT':
        return new HttpError(400, 'TOO_MANY_FILES', `Send at most ${maxFiles} files at once.`, { maxFiles });
      case 'LIMIT_UNEXPECTED_FILE':
        return new HttpError(400, 'MALFORMED_UPLOAD', `Files must be sent in the field "files", not "${err.field ?? ''}".`);
      default:
        return new HttpError(400, 'MALFORMED_UPLOAD', `The upload form could not be read: ${err.message.toLowerCase()}.`);
    }
  }
  const message = err instanceof Error ? err.message : '';
  // multer's words for a connection that went away, and ours for a writer stopped because of it.
  if (/^(Request (aborted|closed)|upload discarded)$/.test(message) || (err as { code?: string } | null)?.code === 'ECONNRESET') {
    return new HttpError(400, 'UPLOAD_INTERRUPTED', 'The upload was interrupted before it finished. Please try again.');
  }
  // busboy's words for a body that is not a well-formed multipart form.
  if (/^(Malformed|Unexpected end of (form|file)|Multipart: Boundary not found|Unsupported content type|Missing Content-Type)/.test(message)) {
    return new HttpError(400, 'MALFORMED_UPLOAD', 'The upload form could not be read.');
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

function parseId(value: string | undefined): mongoose.Types.ObjectId | undefined {
  return value && /^[0-9a-f]{24}$/i.test(value) ? new mongoose.Types.ObjectId(value) : undefined;
}

function extensionOf(filename: string): string {
  const match = /\.([^.]+)$/.exec(filename);
  return match ? match[1]!.toLowerCase() : '';
}

function formatBytes(bytes: number): string {
  const units: [number, string][] = [[1024 ** 3, 'GB'], [1024 ** 2, 'MB'], [1024, 'KB']];
  for (const [unit, name] of units) {
    if (bytes >= unit) return `${Number((bytes / unit).toFixed(1))} ${name}`;
  }
  return `${bytes} bytes`;
}

const MAX_FILENAME_LENGTH = 200;

/**
 * A file name safe to store, show and send back: no path (either separator), no control or bidi
 * formatting characters (which can disguise "exe" as "pdf"), no leading dots, whitespace collapsed,
 * at most 200 characters with the extension kept. Letters of every script survive.
 */
export function sanitizeFilename(name: string): string {
  let clean = name.normalize('NFC');
  clean = clean.slice(Math.max(clean.lastIndexOf('/'), clean.lastIndexOf('\\')) + 1);
  clean = clean
    // Control characters, and format characters except the joiners some scripts (Persian, Indic) need.
    .replace(/[\p{Cc}\p{Cs}\u2028\u2029]|(?![\u200c\u200d])\p{Cf}/gu, '')
    // Characters Windows refuses in names, so a download keeps its name there too.
    .replace(/[<>:"|?*]/g, '_')
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(/^[.\s]+/u, '')
    .replace(/[.\s]+$/u, '');
  // The limit counts UTF-16 units (what the item title's maxlength counts), cutting only between
  // whole characters, so a name of emoji cannot pass here and then fail as an item title.
  if (clean.length > MAX_FILENAME_LENGTH) {
    const ext = /\.[^.\s]{1,20}$/u.exec(clean)?.[0] ?? '';
    let stem = '';
    for (const char of Array.from(clean.slice(0, clean.length - ext.length))) {
      if (stem.length + char.length + ext.length > MAX_FILENAME_LENGTH) break;
      stem += char;
    }
    clean = stem.trimEnd() + ext;
  }
  return clean || 'file';
}
