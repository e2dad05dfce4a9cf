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
 */

/** FerretDB's patch narrows an `$in` of up to 1,000 keys; longer lists are read in slices of this. */
const KEYS_PER_QUERY = 1000;

/**
 * The documents with these `_id`s (strings, or object ids for collections keyed by them) that
 * exist, in the keys' order: one query per 1,000 keys.
 */
export async function findByKeys<T>(model: Model<T>, keys: readonly (string | Types.ObjectId)[], projection?: Record<string, 1>): Promise<T[]> {
  const unique = [...new Map(keys.map((k) => [String(k), k])).values()];
  if (!unique.length) return [];
  const slices = [];
  for (let i = 0; i < unique.length; i += KEYS_PER_QUERY) slices.push(unique.slice(i, i + KEYS_PER_QUERY));
  const found = (
    await Promise.all(
      slices.map((slice) =>
        model.collection
          .find((slice.length === 1 ? { _id: slice[0] } : { _id: { $in: slice } }) as never, projection ? { projection: { ...projection, _id: 1 } } : {})
          .toArray(),
      ),
    )
  ).flat();
  const byKey = new Map(found.map((doc) => [String((doc as { _id: unknown })._id), doc]));
  return keys.flatMap((key) => (byKey.has(String(key)) ? [byKey.get(String(key)) as T] : []));
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
