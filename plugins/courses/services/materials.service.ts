/**
 * The course-material store: uploads streamed into GridFS (bucket `courses_material`), their type
 * decided from the content (`materials/file-types.ts`, `materials/upload.ts`), and served back with
 * ranges and caching (`materials/serve.ts`).
 */
import type { Readable } from 'node:stream';
import type express from 'express';
import mongoose from 'mongoose';
import { toObjectId } from '../../../src/index.ts';
import type { StoredFile } from '../models/item.model.ts';
import { serveFile } from './materials/serve.ts';
import { createUploads } from './materials/upload.ts';

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

export function createMaterialStore(connection: mongoose.Connection, options: MaterialStoreOptions): MaterialStore {
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
        options
          .retryRemoval(id.toHexString())
          .catch((failure: unknown) =>
            options.logger?.warn(
              { err: failure, fileId: id.toHexString() },
              'course material: a removal could not be queued; the file stays in GridFS until removed by this id',
            ),
          );
      }
      throw err;
    }
  }

  const uploads = createUploads({ bucketName: MATERIAL_BUCKET, bucket, deleteOrRetry, maxBytes: options.maxBytes, maxFiles: options.maxFiles });

  async function remove(fileId: mongoose.Types.ObjectId | string): Promise<void> {
    const id = typeof fileId === 'string' ? toObjectId(fileId) : fileId;
    // A string that is no ObjectId cannot name a stored file: there is nothing to remove.
    if (!id) return;
    await deleteOrRetry(id);
  }

  async function removeOnce(fileId: mongoose.Types.ObjectId | string): Promise<void> {
    const id = typeof fileId === 'string' ? toObjectId(fileId) : fileId;
    if (id) await deleteStored(id);
  }

  return {
    ...uploads,
    remove,
    removeOnce,
    serve: (req, res, file, opts) => serveFile({ files: filesCollection, bucket }, req, res, file, opts),
  };
}
