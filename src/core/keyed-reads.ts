import type { Model } from 'mongoose';

/**
 * Reads by key. On FerretDB (1.24, SQLite) a filter narrows the search only when it is `_id`
 * alone (docs/design-notes.md, Data): any other filter, `$in` on `_id` included, reads the whole
 * collection. So records that pages read often are keyed by what the page knows, and read with
 * one `_id` look-up each. On MongoDB these are index look-ups either way.
 *
 * They go to the driver directly, not through mongoose's query layer: a page makes dozens, and
 * under load the app's CPU was the limit (bench/web.bench.ts reports it). Keys are strings the
 * caller builds, never request input, so there is nothing for mongoose to cast or sanitise.
 */

/** The documents with these `_id`s that exist, in the keys' order; one look-up each, in parallel. */
export async function findByKeys<T>(model: Model<T>, keys: readonly string[], projection?: Record<string, 1>): Promise<T[]> {
  const found = await Promise.all(keys.map((_id) => model.collection.findOne({ _id } as never, projection ? { projection } : {})));
  return found.filter((r) => r !== null) as T[];
}

/**
 * A numbered run of documents, `key(1)`, `key(2)`, … each claimed by inserting the next number
 * (a unique `_id`, so concurrent writers never overwrite each other and the run has no gaps).
 * Read `batch` numbers at a time until the first missing one.
 */
export async function findNumbered<T>(model: Model<T>, key: (n: number) => string, batch = 4): Promise<T[]> {
  const found: T[] = [];
  for (let from = 1; ; from += batch) {
    const next = await Promise.all(Array.from({ length: batch }, (_, i) => model.collection.findOne({ _id: key(from + i) } as never)));
    for (const doc of next) {
      if (!doc) return found;
      found.push(doc as T);
    }
  }
}
