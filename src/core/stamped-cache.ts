import crypto from 'node:crypto';
import mongoose, { type Connection, type Schema } from 'mongoose';
import type { Logger } from 'pino';
import { HttpError, isDatabaseUnavailable, isDuplicateKey } from './errors.ts';
import { readOncePerPage } from './page-reads.ts';

/**
 * Runs a write of data that copies are kept of, then `renew` (what tells every copy it is stale).
 * Also when the write failed in the database, as part of it may be written (a move is two writes);
 * not when it was refused before writing (an HttpError: bad input, a wrong id), which changes
 * nothing, stamps included.
 */
export async function writeThenRenew<R>(write: () => PromiseLike<R>, renew: () => Promise<void>): Promise<R> {
  let result: R;
  try {
    result = await write();
  } catch (err) {
    if (!(err instanceof HttpError)) await renew().catch(() => undefined);
    throw err;
  }
  await renew();
  return result;
}

/** Where the stamps live: one small document per cache, `{ _id: <name>, stamp }`. */
export const STAMPS_COLLECTION = 'host_stamps';

/** Values kept per cache (the oldest is dropped first). */
const MAX_KEYS = 200;

export interface StampedCache {
  /**
   * The value kept under `key` if the cache's stamp is still the one it was computed under and it
   * is younger than the cache's maximum age; otherwise `load()`, kept for next time. The value is
   * shared between requests: callers must not modify it.
   */
  get<T>(key: string, load: () => Promise<T>): Promise<T>;
  /**
   * Runs a write of what the cache is computed from, then renews the stamp, so that every instance
   * computes its values again. Also when the write failed in the database (part of it may be
   * written); not when it was refused before writing (an HttpError), which changes nothing.
   */
  changing<R>(write: () => PromiseLike<R>): Promise<R>;
  /** Tells every instance its values are stale (never throws: a failed renewal is logged, values age out). */
  renew(): Promise<void>;
}

/**
 * Values computed from data that many pages read and few requests change (the editions open for
 * enrolment, the announcements), kept in this instance and recomputed when the data changes on
 * any instance. Checking costs one look-up by `_id` (once per page); the value itself may be a
 * query FerretDB answers by decoding a whole collection.
 *
 * Every writer of the data must write through `changing`. As a safety net for a renewal that
 * failed (the database went away between the write and the stamp), a value is also recomputed
 * once it is `maxAgeMs` old.
 */
export function stampedCache(connection: Connection, name: string, options: { logger: Logger; maxAgeMs?: number }): StampedCache {
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const stamps = connection.collection<{ _id: string; stamp: string }>(STAMPS_COLLECTION);
  const kept = new Map<string, { stamp: string; at: number; value: Promise<unknown> }>();

  // A cache nobody has changed yet has no stamp document: 'none' is its stamp until then.
  const currentStamp = () => readOncePerPage(`host.stamp:${name}`, async () => (await stamps.findOne({ _id: name }))?.stamp ?? 'none');

  async function renew() {
    kept.clear();
    try {
      await stamps.updateOne({ _id: name }, { $set: { stamp: crypto.randomUUID() } }, { upsert: true });
    } catch (err) {
      // Two first renewals at once: the other one created the document with a new stamp.
      if (!isDuplicateKey(err)) throw err;
    }
  }

  return {
    async get<T>(key: string, load: () => Promise<T>): Promise<T> {
      // The stamp is read before the value is computed: a change landing in between is computed
      // under the old stamp, and the renewed stamp makes the next reader compute it again.
      const stamp = await currentStamp();
      const known = kept.get(key);
      if (known && known.stamp === stamp && Date.now() - known.at < maxAgeMs) return known.value as Promise<T>;
      const entry = { stamp, at: Date.now(), value: load() };
      kept.delete(key);
      if (kept.size >= MAX_KEYS) kept.delete(kept.keys().next().value!);
      kept.set(key, entry);
      entry.value.catch(() => {
        if (kept.get(key) === entry) kept.delete(key);
      });
      return entry.value;
    },

    changing<R>(write: () => PromiseLike<R>): Promise<R> {
      return writeThenRenew(write, renewLogged);
    },

    renew: renewLogged,
  };

  // The write is done: a renewal that fails does not make it fail (values age out instead).
  function renewLogged(): Promise<void> {
    return renew().catch((err: unknown) =>
      options.logger.warn({ err, cache: name }, 'stamp not renewed: other instances may show the old value for up to a minute'),
    );
  }
}

/** Every way mongoose writes through a model: document, query and model middleware. */
const QUERY_WRITES = ['updateOne', 'updateMany', 'replaceOne', 'deleteOne', 'deleteMany', 'findOneAndUpdate', 'findOneAndReplace', 'findOneAndDelete'] as const;

/** Whether a write's result says it changed something (a filter that matched nothing did not). */
function changedSomething(result: unknown): boolean {
  if (result == null) return false;
  if (Array.isArray(result)) return result.length > 0;
  const r = result as { modifiedCount?: unknown; upsertedCount?: unknown; deletedCount?: unknown; insertedCount?: unknown };
  const counts = [r.modifiedCount, r.upsertedCount, r.deletedCount, r.insertedCount].filter((n): n is number => typeof n === 'number');
  // A document (save, findOneAndUpdate, …): it was written.
  return counts.length === 0 || counts.some((n) => n > 0);
}

/**
 * Makes every write through a model's methods renew a cache, after a write that changed something,
 * and after a write the database failed part-way (part of it may be written) — not after one
 * refused before it reached the database (an id of the wrong shape, a validation error) nor a
 * duplicate key, which wrote nothing. No writer can forget to. Writes that bypass mongoose
 * (`Model.collection.*`) are not seen: a cached model is written through its methods only.
 */
export function renewOnWrite(schema: Schema, renew: () => Promise<void>): void {
  const after = async (result: unknown) => {
    if (changedSomething(result)) await renew();
  };
  const afterFailure = (err: Error, _res: unknown, next: (err?: Error) => void) => {
    if (!(err instanceof mongoose.mongo.MongoError) || isDuplicateKey(err)) return next(err);
    // With the database away the renewal cannot reach it either (it clears this instance's copies
    // at once, and tries the stamp): the person's 503 does not wait for that attempt to time out.
    if (isDatabaseUnavailable(err)) {
      void renew().catch(() => undefined);
      return next(err);
    }
    renew()
      .catch(() => undefined)
      .then(() => next(err));
  };
  for (const op of ['save', ...QUERY_WRITES, 'insertMany', 'bulkWrite'] as const) {
    schema.post(op as never, { document: true, query: true }, after as never);
    schema.post(op as never, { document: true, query: true }, afterFailure as never);
  }
}
