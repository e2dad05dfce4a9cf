/**
 * Serving a stored file: conditional requests (its sha256 is the ETag), byte ranges (a video seeks,
 * a large PDF resumes), inline only for types browsers show safely, and headers that keep browsers
 * from guessing another type.
 */
import { pipeline } from 'node:stream/promises';
import { create as contentDisposition } from 'content-disposition';
import type express from 'express';
import type mongoose from 'mongoose';
import rangeParser from 'range-parser';
import { notFound } from '../../../../src/index.ts';
import type { StoredFile } from '../../models/item.model.ts';

const INLINE_TYPES = /^(application\/pdf|image\/|audio\/|video\/|text\/)/;

export interface StoredFiles {
  files: () => mongoose.mongo.Collection;
  bucket: () => mongoose.mongo.GridFSBucket;
}

/** Streams a stored file with ranges, conditional requests and safe headers. */
export async function serveFile(
  stored: StoredFiles,
  req: express.Request,
  res: express.Response,
  file: StoredFile,
  opts: { download?: boolean } = {},
): Promise<void> {
  const found = await stored.files().findOne({ _id: file.fileId }, { projection: { length: 1 } });
  if (!found) throw notFound('This file is no longer available.', { key: 'courses:errors.fileGone' });
  const size = found.length;

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

  const download = stored.bucket().openDownloadStream(file.fileId, { start, end: end + 1 });
  try {
    await pipeline(download, res);
  } catch (err) {
    // The person closed the tab or stopped a video: not an error of ours.
    if (res.destroyed && !res.writableFinished && (err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw err;
  }
}

/** Ranges only for GET/HEAD, and only when If-Range (if sent) still names this content. */
function rangeApplies(req: express.Request, file: StoredFile): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const ifRange = req.headers['if-range'];
  return ifRange === undefined || ifRange === `"${file.sha256}"`;
}
