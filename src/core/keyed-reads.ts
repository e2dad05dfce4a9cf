import DataLoader from 'dataloader';
import { BSON, type Document } from 'mongodb';
import type { Model, Types } from 'mongoose';

/**
 * Reads by key. On FerretDB (1.24, SQLite) a filter narrows the search only when it names `_id`
 * alone: an equality, or (with Olive's patch, tools/ferretdb/patches.json) an `$in` of keys. Any
 * other filter reads the whole collection (docs/design-notes.md, Data). So records that pages read
 * often are keyed by what the page knows, and read here by their keys in one query. On MongoDB
 * these are index look-ups either way.
 *
 * They go to the driver directly, not through mongoose's query layer: a page makes many, and
 * under load the app's CPU was the limit (bench/web.bench.ts reports it). Keys are strings the
 * caller builds, never request input, so there is nothing for mongoose to cast or sanitise.
 *
 * Reads of one collection asked for in the same turn of the event loop, by any requests, go to the
 * database together, as one `$in` query sent at the end of that turn (`dataloader`). Per key, an
 * `$in` of ten costs FerretDB about two fifths of a look-up of its own, and the app a sixth
 * (`npm run bench:database`, docs/performance.md): under load a page's look-ups are shared so. A read is sent
 * after it was asked for, never before, so it sees every write acknowledged before it was asked.
 * Each caller gets documents of its own (decoded from the bytes the database sent), never an
 * object another request may change.
 */

/** FerretDB's patch narrows an `$in` of up to 1,000 keys; longer lists are read in slices of this. */
const KEYS_PER_QUERY = 1000;

type Key = string | Types.ObjectId;
/** What a read needs of a collection: the driver's, or mongoose's wrapper of it. */
export interface KeyedCollection {
  find(filter: never, options: { raw: true; projection?: Document }): { toArray(): Promise<unknown[]> };
}

/** A key as a map key: an object id and a string with the same characters are different keys. */
const keyOf = (key: unknown) => (typeof key === 'string' ? `s:${key}` : `o:${String(key)}`);

async function readBatch(collection: KeyedCollection, keys: readonly Key[], projection: Document | undefined): Promise<(Document | null)[]> {
  const unique = [...new Map(keys.map((k) => [keyOf(k), k])).values()];
  const found = (await collection
    .find((unique.length === 1 ? { _id: unique[0] } : { _id: { $in: unique } }) as never, { raw: true, ...(projection ? { projection } : {}) })
    .toArray()) as Uint8Array[];
  const bytes = new Map<string, Uint8Array>();
  const decoded = new Map<string, Document>();
  for (const b of found) {
    const doc = BSON.deserialize(b);
    bytes.set(keyOf(doc._id), b);
    decoded.set(keyOf(doc._id), doc);
  }
  // The first caller of a key takes the document decoded above; any other caller of the same key
  // in this batch gets a copy decoded again.
  return keys.map((k) => {
    const first = decoded.get(keyOf(k));
    if (first) {
      decoded.delete(keyOf(k));
      return first;
    }
    const b = bytes.get(keyOf(k));
    return b ? BSON.deserialize(b) : null;
  });
}

const loaders = new WeakMap<KeyedCollection, Map<string, DataLoader<Key, Document | null>>>();
function loaderFor(collection: KeyedCollection, projection: Document | undefined) {
  let byProjection = loaders.get(collection);
  if (!byProjection) loaders.set(collection, (byProjection = new Map()));
  const name = projection ? JSON.stringify(projection) : '';
  let loader = byProjection.get(name);
  if (!loader) {
    loader = new DataLoader<Key, Document | null>((keys) => readBatch(collection, keys, projection), {
      // Every read goes to the database: nothing is kept between batches.
      cache: false,
      maxBatchSize: KEYS_PER_QUERY,
      // At the end of this turn of the event loop, once every request's callbacks of the turn ran.
      batchScheduleFn: (send) => setImmediate(send),
    });
    byProjection.set(name, loader);
  }
  return loader;
}

/** The documents of a collection (the driver's) with these `_id`s that exist, in the keys' order. */
export async function readByKeys<T = Document>(collection: KeyedCollection, keys: readonly Key[], projection?: Record<string, 1>): Promise<T[]> {
  if (!keys.length) return [];
  const found = await loaderFor(collection, projection ? { ...projection, _id: 1 } : undefined).loadMany(keys);
  return found.flatMap((doc) => {
    if (doc instanceof Error) throw doc;
    return doc ? [doc as T] : [];
  });
}

/**
 * The documents with these `_id`s (strings, or object ids for collections keyed by them) that
 * exist, in the keys' order: one query per 1,000 keys, shared with the other reads of the turn.
 */
export function findByKeys<T>(model: Model<T>, keys: readonly Key[], projection?: Record<string, 1>): Promise<T[]> {
  return readByKeys<T>(model.collection as unknown as KeyedCollection, keys, projection);
}

/**
 * A numbered run of documents, `key(1)`, `key(2)`, … each claimed by inserting the next number
 * (a unique `_id`, so concurrent writers never overwrite each other and the run has no gaps).
 * Read `batch` numbers at a time (one query) until the first missing one.
 */
export async function findNumbered<T>(model: Model<T>, key: (n: number) => string, batch = 8): Promise<T[]> {
  const found: T[] = [];
  for (let from = 1; ; from += batch) {
    const keys = Array.from({ length: batch }, (_, i) => key(from + i));
    const next = await findByKeys(model, keys);
    // Claimed in order, so a run ends at its first missing number.
    for (const [i, doc] of next.entries()) {
      if (String((doc as { _id: unknown })._id) !== keys[i]) return found;
      found.push(doc);
    }
    if (next.length < batch) return found;
  }
}
