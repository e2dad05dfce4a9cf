import crypto from 'node:crypto';
import type { Connection } from 'mongoose';
import type { Logger } from 'pino';
import { HttpError, isDuplicateKey } from './errors.ts';
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
      entry.value.catch(() => { if (kept.get(key) === entry) kept.delete(key); });
      return entry.value;
    },

    changing<R>(write: () => PromiseLike<R>): Promise<R> {
      // The write is done: a renewal that fails does not make it fail (values age out instead).
      return writeThenRenew(write, () => renew().catch((err: unknown) => options.logger.warn({ err, cache: name }, 'stamp not renewed: other instances may show the old value for up to a minute')));
    },
  };
}
